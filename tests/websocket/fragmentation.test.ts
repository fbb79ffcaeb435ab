/**
 * WebSocket conformance, modelled on the Autobahn testsuite's case group 5: fragmentation. A
 * binary message in any number of fragments (empty ones too), with control frames between them,
 * split across packets anywhere, is taken whole and answered; fragmented control frames,
 * continuations of nothing and messages that start inside another are protocol errors (1002); a
 * text message is refused (1003) at its first fragment. Raw TCP sockets against a real server;
 * every case also checks that the document under attack is intact.
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, fragments, OPCODE } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isPong, SYNC_STEP_1, syncStep1OfSize } from './suite.js';

const suite = conformanceSuite([]);

describe('5.x fragmentation', () => {
  it('5.1 a ping in two fragments is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.ping, Buffer.from('frag'), { fin: false }), clientFrame(OPCODE.continuation, Buffer.from('ment')));
    await expectClose(raw, 1002);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('5.2 a pong in two fragments is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.pong, Buffer.from('frag'), { fin: false }), clientFrame(OPCODE.continuation, Buffer.from('ment')));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.x a close frame with FIN clear is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, Buffer.from([0x03, 0xe8]), { fin: false }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.3 a message in two fragments is answered', async () => {
    const raw = await suite.open();
    raw.write(...fragments(SYNC_STEP_1, 2));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.4 a message in two fragments, written one byte at a time, is answered', async () => {
    const raw = await suite.open();
    await raw.trickle(Buffer.concat(fragments(SYNC_STEP_1, 2)));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.5 a message in fragments of one byte each is answered', async () => {
    const raw = await suite.open();
    raw.write(...fragments(syncStep1OfSize(200), 1));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.5 a message of 70,000 bytes in fragments of 1,000 is answered', async () => {
    const raw = await suite.open();
    raw.write(...fragments(syncStep1OfSize(70_000), 1000));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.6 a ping between two fragments is answered, and so is the message', async () => {
    const raw = await suite.open();
    const [first, second] = fragments(SYNC_STEP_1, 2);
    raw.write(first!, clientFrame(OPCODE.ping, Buffer.from('between')), second!);
    await raw.take(isPong(Buffer.from('between')), 'the pong');
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.7 the same, written one byte at a time', async () => {
    const raw = await suite.open();
    const [first, second] = fragments(SYNC_STEP_1, 2);
    await raw.trickle(Buffer.concat([first!, clientFrame(OPCODE.ping, Buffer.from('between')), second!]));
    await raw.take(isPong(Buffer.from('between')), 'the pong');
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.8 an unsolicited pong between two fragments is ignored, and the message answered', async () => {
    const raw = await suite.open();
    const [first, second] = fragments(SYNC_STEP_1, 2);
    raw.write(first!, clientFrame(OPCODE.pong, Buffer.from('unsolicited')), second!);
    await expectAnswered(raw);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('5.x a ping between every two fragments: each answered, the message too', async () => {
    const raw = await suite.open();
    const parts = fragments(syncStep1OfSize(40), 4);
    raw.write(...parts.flatMap((part, i) => (i === parts.length - 1 ? [part] : [part, clientFrame(OPCODE.ping, Buffer.from(`ping ${i}`))])));
    for (let i = 0; i < parts.length - 1; i++) await raw.take(isPong(Buffer.from(`ping ${i}`)), `pong ${i}`);
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.x a ping answered while a message waits for its last fragment, which comes after the pong', async () => {
    const raw = await suite.open();
    const [first, second] = fragments(SYNC_STEP_1, 3);
    raw.write(first!, clientFrame(OPCODE.ping, Buffer.from('still there?')));
    await raw.take(isPong(Buffer.from('still there?')), 'the pong');
    raw.write(second!);
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.x empty fragments before, between and after the content: the message is answered', async () => {
    const raw = await suite.open();
    const empty = new Uint8Array(0);
    raw.write(
      clientFrame(OPCODE.binary, empty, { fin: false }),
      clientFrame(OPCODE.continuation, SYNC_STEP_1.subarray(0, 2), { fin: false }),
      clientFrame(OPCODE.continuation, empty, { fin: false }),
      clientFrame(OPCODE.continuation, SYNC_STEP_1.subarray(2), { fin: false }),
      clientFrame(OPCODE.continuation, empty, { fin: true }),
    );
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.x a hundred empty fragments, then the content in the last: the message is answered', async () => {
    const raw = await suite.open();
    raw.write(
      clientFrame(OPCODE.binary, new Uint8Array(0), { fin: false }),
      ...Array.from({ length: 99 }, () => clientFrame(OPCODE.continuation, new Uint8Array(0), { fin: false })),
      clientFrame(OPCODE.continuation, SYNC_STEP_1),
    );
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('5.x two fragmented messages in a row are each answered', async () => {
    const raw = await suite.open();
    raw.write(...fragments(SYNC_STEP_1, 1), ...fragments(syncStep1OfSize(130), 50));
    await expectAnswered(raw, 2);
    await suite.witness.expectIntact();
  });

  it('5.9 a continuation frame with no message started (FIN set) is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.continuation, SYNC_STEP_1));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.10 a continuation frame with no message started (FIN clear) is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.continuation, SYNC_STEP_1, { fin: false }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.11 a continuation frame after an answered message is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(...fragments(SYNC_STEP_1, 2));
    await expectAnswered(raw);
    raw.write(clientFrame(OPCODE.continuation, SYNC_STEP_1));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.12 a continuation frame written one byte at a time, with nothing to continue, is a protocol error (1002)', async () => {
    const raw = await suite.open();
    await raw.trickle(clientFrame(OPCODE.continuation, SYNC_STEP_1, { fin: false }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.x a binary frame while a fragmented message is unfinished is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1.subarray(0, 2), { fin: false }), clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.x a text frame while a fragmented binary message is unfinished is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1.subarray(0, 2), { fin: false }), clientFrame(OPCODE.text, Buffer.from('interleaved')));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('5.x a text message is refused (1003) at its first fragment, without waiting for the rest', async () => {
    const raw = await suite.open();
    // FIN clear: the rest never comes, and the server must not wait for it (nor buffer it).
    raw.write(clientFrame(OPCODE.text, Buffer.from('the first fragment of a text message'), { fin: false }));
    await expectClose(raw, 1003, 3000);
    await suite.witness.expectIntact();
  });

  it('5.x a text message whose first fragment is empty is refused (1003) at that fragment', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.text, new Uint8Array(0), { fin: false }));
    await expectClose(raw, 1003, 3000);
    await suite.witness.expectIntact();
  });

  it('5.x a text message in fragments, all sent, is refused (1003)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.text, Buffer.from('frag'), { fin: false }), clientFrame(OPCODE.continuation, Buffer.from('ment')));
    await expectClose(raw, 1003);
    await suite.witness.expectIntact();
  });
});
