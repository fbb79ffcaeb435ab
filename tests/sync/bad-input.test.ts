/**
 * Every byte from the network is untrusted. Each bad input gets a clear refusal, the process
 * stays up, the document is exactly as it was, and the other clients are not disturbed.
 */
import * as encoding from 'lib0/encoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { connectClient, connectRaw, refusedUpgrade, seededRandom, testSeed, waitForDoc, type YClient } from '../helpers/clients.js';
import { removeDir, startServer, type ServerProcess } from '../helpers/server-process.js';

const DOC = 'target';
let server: ServerProcess;
let bystander: YClient;
let edits = 0;

beforeAll(async () => {
  server = await startServer({ args: ['--max-message-size', '64KiB'] });
  bystander = connectClient(server.wsUrl, DOC);
  await bystander.synced;
  bystander.doc.getText('t').insert(0, 'original content');
});

afterAll(async () => {
  bystander.destroy();
  await server.stop();
  await removeDir(server.dataDir);
});

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}

function awarenessFrame(json: string): Uint8Array {
  const update = frame((e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, 4242);
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, json);
  });
  return frame((e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint8Array(e, update);
  });
}

function updateFrame(update: Uint8Array): Uint8Array {
  return frame((e) => {
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, 2);
    encoding.writeVarUint8Array(e, update);
  });
}

/** A real update to a doc, to mutate: inserting text into a fresh doc. */
function realUpdate(): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, 'injected by an attacker');
  return Y.encodeStateAsUpdate(doc);
}

async function snapshot(): Promise<Uint8Array> {
  const reader = connectClient(server.wsUrl, DOC);
  await reader.synced;
  const state = Y.encodeStateAsUpdate(reader.doc);
  reader.destroy();
  return state;
}

/** Sends `payload` on a raw connection and returns how the server closed it. */
async function sendBad(payload: Uint8Array | string): Promise<{ code: number; reason: string }> {
  const raw = connectRaw(`${server.wsUrl}/${DOC}`);
  await raw.opened;
  raw.socket.send(payload);
  return raw.closed;
}

/** The aftermath every refusal must have: server up, document unchanged, bystander still live. */
async function expectUndisturbed(before: Uint8Array): Promise<void> {
  const health = await fetch(`${server.httpUrl}/healthz`);
  expect(health.status).toBe(200);
  const after = await snapshot();
  const docBefore = new Y.Doc();
  Y.applyUpdate(docBefore, before);
  const docAfter = new Y.Doc();
  Y.applyUpdate(docAfter, after);
  expect(docAfter.getText('t').toString()).toBe(docBefore.getText('t').toString());
  expect(Y.encodeStateVector(docAfter)).toEqual(Y.encodeStateVector(docBefore));
  expect(bystander.provider.wsconnected).toBe(true);
  // the bystander's next edit still reaches a newcomer
  const marker = `+${++edits}`;
  bystander.doc.getText('log').insert(bystander.doc.getText('log').length, marker);
  const newcomer = connectClient(server.wsUrl, DOC);
  await waitForDoc(newcomer.doc, () => newcomer.doc.getText('log').toString().endsWith(marker), 'bystander edit');
  newcomer.destroy();
}

describe('bad input', () => {
  it('refuses random bytes', async () => {
    const random = seededRandom(testSeed('random bytes'));
    for (let i = 0; i < 10; i++) {
      const before = await snapshot();
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256));
      const closed = await sendBad(bytes);
      expect(closed.code).toBe(1007);
      expect(closed.reason).toMatch(/^invalid message: /);
      await expectUndisturbed(before);
    }
  });

  it('refuses a truncated varint', async () => {
    const before = await snapshot();
    const closed = await sendBad(Uint8Array.of(0x80));
    expect(closed).toEqual({ code: 1007, reason: 'invalid message: message ends inside the message type' });
    await expectUndisturbed(before);
  });

  it('refuses an unknown message type, and the auth type a client never sends', async () => {
    for (const type of [7, 2, 100, 99999]) {
      const before = await snapshot();
      const closed = await sendBad(frame((e) => encoding.writeVarUint(e, type)));
      expect(closed).toEqual({ code: 1007, reason: `invalid message: unknown message type ${type}` });
      await expectUndisturbed(before);
    }
  });

  it('refuses a text frame', async () => {
    const before = await snapshot();
    const closed = await sendBad('{"hello":"server"}');
    expect(closed.code).toBe(1003);
    expect(closed.reason).toMatch(/text frames are not supported/);
    await expectUndisturbed(before);
  });

  it('refuses updates that do not decode, applying nothing of them', async () => {
    const update = realUpdate();
    const broken = [
      update.slice(0, update.length - 3), // truncated
      update.slice(0, 5),
      Uint8Array.of(...update.slice(0, 4), 0xff, 0xff, 0xff, 0xff, 0x0f, ...update.slice(4)), // absurd length
      Uint8Array.of(1, 1, 1, 1, 0x07, 200, ...update.slice(6)), // bad struct info
    ];
    for (const payload of broken) {
      const before = await snapshot();
      const closed = await sendBad(updateFrame(payload));
      expect(closed.code).toBe(1007);
      expect(closed.reason).toMatch(/invalid message: (update does not decode|update holds a malformed struct|message ends)/);
      await expectUndisturbed(before);
    }
  });

  it('refuses an update with bytes after its end, or listing one client twice, applying nothing of them', async () => {
    // Applying would ignore both the extra bytes and the first of the two lists; a room relays an
    // update's own bytes, so it must hold nothing that applying it ignores.
    const before = await snapshot();
    const trailing = await sendBad(updateFrame(Uint8Array.of(...realUpdate(), 7, 7)));
    expect(trailing).toEqual({ code: 1007, reason: 'invalid message: 2 unexpected bytes after the update' });
    await expectUndisturbed(before);

    // Two keystrokes of one client, each update [1 client][its structs][empty delete set], joined
    // into one update that lists the client twice.
    const doc = new Y.Doc();
    const keystrokes: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => keystrokes.push(update));
    doc.getText('t').insert(0, 'x');
    doc.getText('t').insert(1, 'y');
    const [x, y] = keystrokes.map((update) => update.subarray(1, update.length - 1));
    const twice = Uint8Array.of(2, ...x!, ...y!, 0);
    const beforeTwice = await snapshot();
    const listedTwice = await sendBad(updateFrame(twice));
    expect(listedTwice).toEqual({ code: 1007, reason: `invalid message: update lists the structs of client ${doc.clientID} twice` });
    await expectUndisturbed(beforeTwice);
  });

  it('refuses an update whose deleted ranges overlap or go back, applying nothing of it', async () => {
    // Yjs walks every struct a range spans once per range: one range repeated thousands of times
    // over many deleted characters held the server for seconds.
    const deletions = (ranges: Array<[number, number]>): Uint8Array =>
      frame((e) => {
        encoding.writeVarUint(e, 0);
        encoding.writeVarUint(e, 2);
        const update = encoding.createEncoder();
        encoding.writeVarUint(update, 0); // no structs
        encoding.writeVarUint(update, 1); // one client's deletions
        encoding.writeVarUint(update, 77);
        encoding.writeVarUint(update, ranges.length);
        for (const [clock, len] of ranges) {
          encoding.writeVarUint(update, clock);
          encoding.writeVarUint(update, len);
        }
        encoding.writeVarUint8Array(e, encoding.toUint8Array(update));
      });
    for (const [ranges, clock] of [
      [Array.from({ length: 1000 }, (): [number, number] => [0, 20]), 0],
      [
        [
          [0, 10],
          [5, 10],
        ],
        5,
      ],
      [
        [
          [10, 1],
          [3, 1],
        ],
        3,
      ],
    ] as Array<[Array<[number, number]>, number]>) {
      const before = await snapshot();
      expect(await sendBad(deletions(ranges))).toEqual({
        code: 1007,
        reason: `invalid message: update deletes from client 77's clock ${clock} again, or out of order`,
      });
      await expectUndisturbed(before);
    }
  });

  it('refuses a sync message with bytes after it, or an unknown sync type', async () => {
    const before = await snapshot();
    const trailing = Uint8Array.of(...updateFrame(realUpdate()), 1, 2, 3);
    expect((await sendBad(trailing)).reason).toBe('invalid message: 3 unexpected bytes after the message');
    const unknownSync = frame((e) => {
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 9);
      encoding.writeVarUint8Array(e, new Uint8Array(0));
    });
    expect(await sendBad(unknownSync)).toEqual({ code: 1007, reason: 'invalid message: unknown sync message type 9' });
    await expectUndisturbed(before);
  });

  it('refuses malformed awareness: bad JSON, non-object states, __proto__ keys', async () => {
    const cases = ['{not json', '[1,2]', '42', '{"__proto__":{"polluted":true}}', '{"user":{"__proto__":{"admin":true}}}'];
    for (const json of cases) {
      const before = await snapshot();
      const closed = await sendBad(awarenessFrame(json));
      expect(closed.code).toBe(1007);
      expect(closed.reason).toMatch(/^invalid message: awareness update does not decode/);
      await expectUndisturbed(before);
      expect(bystander.provider.awareness.getStates().has(4242)).toBe(false);
    }
  });

  it('refuses a frame over the size limit with 1009', async () => {
    const before = await snapshot();
    const closed = await sendBad(new Uint8Array(100 * 1024));
    expect(closed.code).toBe(1009);
    await expectUndisturbed(before);
  });

  it('refuses invalid document names before the upgrade, with the reason', async () => {
    const names = ['', 'a'.repeat(257), 'has%20space', 'semi;colon', 'a/%2E%2E/b', 'a//b', '%E0%A4%A', 'nul%00byte', '..', 'a/%CC%81mark-first'];
    for (const name of names) {
      const [status, body] = await refusedUpgrade(`${server.wsUrl}/${name}`);
      expect(status, name).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ error: 'invalid-document-name' });
      expect(JSON.parse(body).message).toMatch(/^invalid document name: /);
    }
    const [status] = await refusedUpgrade(`ws://127.0.0.1:${server.port}/elsewhere`);
    expect(status).toBe(404);
    const plain = await fetch(`${server.httpUrl}/ws/fine-name`);
    expect(plain.status).toBe(426);
    expect(await fetch(`${server.httpUrl}/healthz`).then((r) => r.status)).toBe(200);
  });

  it('accepts names with letters of any script, digits and / between parts', async () => {
    // Hindi and Tamil write vowels with combining marks, which the names refused before.
    const name = 'team/Ünïcode-名前_1.2~x:y@z/हिन्दी-தமிழ்';
    const client = connectClient(server.wsUrl, encodeURIComponent(name).replaceAll('%2F', '/'));
    await client.synced;
    client.doc.getText('t').insert(0, 'ok');
    client.destroy();
    const listing = (await (await fetch(`${server.httpUrl}/api/documents`)).json()) as { documents: Array<{ name: string }> };
    await expect
      .poll(async () => {
        const refreshed = (await (await fetch(`${server.httpUrl}/api/documents`)).json()) as { documents: Array<{ name: string }> };
        return refreshed.documents.map((d) => d.name);
      })
      .toContain(name);
    expect(listing.documents.length).toBeGreaterThan(0);
  });

  it("counts a name's length in characters, a letter outside the Basic Multilingual Plane as one", async () => {
    // U+20000, a CJK letter: one character, two UTF-16 units.
    const longest = encodeURIComponent('\u{20000}'.repeat(256));
    const client = connectClient(server.wsUrl, longest);
    await client.synced;
    client.destroy();
    const [status, body] = await refusedUpgrade(`${server.wsUrl}/${longest}${encodeURIComponent('\u{20000}')}`);
    expect(status).toBe(400);
    expect(JSON.parse(body).message).toBe('invalid document name: it is longer than 256 characters');
  });
});
