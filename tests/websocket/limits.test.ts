/**
 * WebSocket conformance, modelled on the Autobahn testsuite's case group 9 (limits), adapted to a
 * server with `--max-message-size 65536`: messages up to the limit, in one frame or in many
 * fragments, are taken; one past it is refused (1009) as soon as the header that crosses the limit
 * arrives, before its payload; a 64-bit length with its most significant bit set is a protocol
 * error (1002); a message in more than 16,384 fragments is refused (1008). The message rate is
 * unlimited here (it has its own file), so that only these limits apply. Raw TCP sockets against a
 * real server; every case also checks that the document under attack is intact.
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, fragments, OPCODE } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isPong, SYNC_STEP_1, syncStep1OfSize } from './suite.js';

const LIMIT = 65_536;
const MAX_FRAGMENTS = 16_384;

const suite = conformanceSuite(['--max-message-size', String(LIMIT), '--max-message-rate', '0']);

/** The header (and mask) of a frame declaring `length` bytes of payload, sent without them. */
const headerOnly = (opcode: number, length: number | bigint, fin = true) => clientFrame(opcode, new Uint8Array(0), { declaredLength: length, fin });

describe('9.x limits', () => {
  it('9.1 a message of exactly the limit, in one frame, is answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, syncStep1OfSize(LIMIT)));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  for (const size of [64, 1024, 16_384]) {
    it(`9.2 a message of exactly the limit, in fragments of ${size} bytes, is answered`, async () => {
      const raw = await suite.open();
      raw.write(...fragments(syncStep1OfSize(LIMIT), size));
      await expectAnswered(raw);
      await suite.witness.expectIntact();
    });
  }

  it('9.1 a frame one byte over the limit is refused (1009) as soon as its header arrives', async () => {
    const raw = await suite.open();
    raw.write(headerOnly(OPCODE.binary, LIMIT + 1));
    await expectClose(raw, 1009);
    await suite.witness.expectIntact();
  });

  it('9.1 a frame of 16 MiB is refused (1009) as soon as its header arrives', async () => {
    const raw = await suite.open();
    raw.write(headerOnly(OPCODE.binary, 16 * 1024 * 1024));
    await expectClose(raw, 1009);
    await suite.witness.expectIntact();
  });

  it('9.1 a 64-bit length past 2^32 (its top bit clear) is refused (1009) at the header', async () => {
    const raw = await suite.open();
    raw.write(headerOnly(OPCODE.binary, 2n ** 32n));
    await expectClose(raw, 1009);
    await suite.witness.expectIntact();
  });

  it('9.x a 64-bit length with its most significant bit set is a protocol error (1002), not a size', async () => {
    // RFC 6455, section 5.2: "the most significant bit MUST be 0".
    const raw = await suite.open();
    raw.write(headerOnly(OPCODE.binary, 2n ** 63n + 4n));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('9.x a 64-bit length of all ones is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(headerOnly(OPCODE.binary, 2n ** 64n - 1n));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('9.2 a fragment that takes the message past the limit is refused (1009) as soon as its header arrives', async () => {
    const raw = await suite.open();
    const message = syncStep1OfSize(LIMIT);
    raw.write(clientFrame(OPCODE.binary, message.subarray(0, 40_000), { fin: false }));
    raw.write(clientFrame(OPCODE.ping, Buffer.from('first fragment read')));
    await raw.take(isPong(Buffer.from('first fragment read')), 'the pong after the first fragment');
    // 40,000 + 25,537 = limit + 1: only the header goes out.
    raw.write(headerOnly(OPCODE.continuation, LIMIT + 1 - 40_000));
    await expectClose(raw, 1009);
    await suite.witness.expectIntact();
  });

  it('9.2 fragments one byte past the limit in all are refused (1009) at the last fragment', async () => {
    const raw = await suite.open();
    const parts = fragments(syncStep1OfSize(LIMIT), 1024);
    // The last fragment declares one byte more than the message has; its header is all that is sent.
    const last = parts.pop()!;
    const lastLength = last[1]! & 0x7f;
    const declared = lastLength === 126 ? last.readUInt16BE(2) : lastLength;
    raw.write(...parts, headerOnly(OPCODE.continuation, declared + 1));
    await expectClose(raw, 1009);
    await suite.witness.expectIntact();
  });

  it('9.x a control frame does not count towards the size of the message it interrupts', async () => {
    const raw = await suite.open();
    const [first, ...rest] = fragments(syncStep1OfSize(LIMIT), LIMIT - 10);
    raw.write(first!, clientFrame(OPCODE.ping, Buffer.alloc(125, 0x2a)), ...rest);
    await raw.take(isPong(Buffer.alloc(125, 0x2a)), 'the pong');
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it(`9.x a message in ${MAX_FRAGMENTS} fragments is answered`, async () => {
    const raw = await suite.open();
    raw.write(
      clientFrame(OPCODE.binary, SYNC_STEP_1, { fin: false }),
      ...Array.from({ length: MAX_FRAGMENTS - 2 }, () => clientFrame(OPCODE.continuation, new Uint8Array(0), { fin: false })),
      clientFrame(OPCODE.continuation, new Uint8Array(0)),
    );
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it(`9.x a message in more than ${MAX_FRAGMENTS} fragments is refused (1008)`, async () => {
    const raw = await suite.open();
    raw.write(
      clientFrame(OPCODE.binary, SYNC_STEP_1, { fin: false }),
      ...Array.from({ length: MAX_FRAGMENTS }, () => clientFrame(OPCODE.continuation, new Uint8Array(0), { fin: false })),
    );
    await expectClose(raw, 1008);
    await suite.witness.expectIntact();
  });

  it('9.x a refused message leaves the limit as it was for the next connection', async () => {
    const refused = await suite.open();
    refused.write(headerOnly(OPCODE.binary, LIMIT + 1));
    await expectClose(refused, 1009);
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, syncStep1OfSize(LIMIT)));
    await expectAnswered(raw);
    expect(raw.closeReceived).toBeNull();
    await suite.witness.expectIntact();
  });
});
