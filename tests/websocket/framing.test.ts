/**
 * WebSocket conformance, modelled on the Autobahn testsuite's case groups 1 to 4: framing, pings
 * and pongs, reserved bits, opcodes. Raw TCP sockets against a real server; where Autobahn expects
 * an echo, the case sends a y-websocket message and checks the server's answer (a sync step 1 is
 * answered with a sync step 2). Every case also checks that the document under attack is intact.
 * Titles carry Autobahn's group numbers; the cases within a group are ours.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientFrame, closePayload, OPCODE } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isPong, SYNC_STEP_1, syncStep1OfSize } from './suite.js';

const suite = conformanceSuite([]);

describe('1.x framing', () => {
  it('1.0 the handshake answer negotiates no extension when the client offers none', async () => {
    const raw = await suite.open();
    expect(raw.handshake).not.toMatch(/Sec-WebSocket-Extensions/i);
    await suite.witness.expectIntact();
  });

  // Around each boundary of the length encodings: 7 bits, 16 bits, 64 bits.
  for (const size of [4, 125, 126, 127, 128, 65_535, 65_536, 65_537, 200_000]) {
    it(`1.2 a binary message of ${size} bytes in one frame is answered`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.binary, syncStep1OfSize(size)));
      await expectAnswered(raw);
      await suite.witness.expectIntact();
    });
  }

  it('1.2 a binary message of 70,000 bytes written in chunks of 997 bytes is answered', async () => {
    const raw = await suite.open();
    await raw.trickle(clientFrame(OPCODE.binary, syncStep1OfSize(70_000)), 997);
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('1.2 a frame written one byte at a time, its 16-bit length split, is answered', async () => {
    const raw = await suite.open();
    await raw.trickle(clientFrame(OPCODE.binary, syncStep1OfSize(300)));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('1.2 three messages in one write are each answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1), clientFrame(OPCODE.binary, syncStep1OfSize(126)), clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw, 3);
    await suite.witness.expectIntact();
  });

  it('1.2 a frame whose mask is all zeros is read as it is', async () => {
    const raw = await suite.open();
    raw.write(Buffer.concat([Buffer.from([0x82, 0x80 | SYNC_STEP_1.length, 0, 0, 0, 0]), SYNC_STEP_1]));
    await expectAnswered(raw);
    await suite.witness.expectIntact();
  });

  it('1.1 a text message is refused with 1003: the protocol is binary', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.text, Buffer.from('hello')));
    await expectClose(raw, 1003);
    await suite.witness.expectIntact();
  });

  it('1.1 an empty text message is refused with 1003', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.text));
    await expectClose(raw, 1003);
    await suite.witness.expectIntact();
  });

  it('1.x an unmasked binary frame is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1, { masked: false }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('1.x an unmasked ping is a protocol error (1002), and is not answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.ping, Buffer.from('unmasked'), { masked: false }));
    await expectClose(raw, 1002);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('1.x an unmasked frame after an answered message is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1, { masked: false }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });
});

describe('2.x pings and pongs', () => {
  const pings: Array<[string, Buffer]> = [
    ['no payload', Buffer.alloc(0)],
    ['a text payload', Buffer.from('Hello, world!')],
    ['a binary payload of every kind of byte', Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])],
    ['125 bytes, the most a control frame holds', randomBytes(125)],
  ];
  for (const [what, payload] of pings) {
    it(`2.x a ping with ${what} is answered with a pong echoing it`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.ping, payload));
      await raw.take(isPong(payload), 'the pong');
      expect(raw.closeReceived).toBeNull();
      await suite.witness.expectIntact();
    });
  }

  it('2.5 a ping of 126 bytes is a protocol error (1002), and is not answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.ping, randomBytes(126)));
    await expectClose(raw, 1002);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('2.6 a ping of 125 bytes written one byte at a time is answered', async () => {
    const raw = await suite.open();
    const payload = randomBytes(125);
    await raw.trickle(clientFrame(OPCODE.ping, payload));
    await raw.take(isPong(payload), 'the pong');
    await suite.witness.expectIntact();
  });

  it('2.7 an unsolicited empty pong is ignored', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.pong), clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('2.8 an unsolicited pong with a payload is ignored', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.pong, Buffer.from('unsolicited pong payload')), clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('2.9 an unsolicited pong, then a ping: only the ping is answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.pong, Buffer.from('unsolicited')), clientFrame(OPCODE.ping, Buffer.from('solicited')));
    await raw.take(isPong(Buffer.from('solicited')), 'the pong');
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    expect(raw.pongs).toBe(1);
    await suite.witness.expectIntact();
  });

  it('2.10 ten pings in one write are answered in order (the last one at least, as RFC 6455 5.5.3 allows)', async () => {
    const raw = await suite.open();
    const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
    raw.write(...payloads.map((payload) => clientFrame(OPCODE.ping, payload)));
    await raw.take(isPong(payloads[9]!), 'the pong of the last ping');
    const echoed = [...raw.frames.filter((frame) => frame.opcode === OPCODE.pong).map((frame) => frame.payload.toString()), 'payload-9'];
    // Every pong echoes a ping, in the order they were sent.
    const order = echoed.map((payload) => payloads.findIndex((sent) => sent.toString() === payload));
    expect(order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1]!))).toBe(true);
    await suite.witness.expectIntact();
  });

  it('2.11 ten pings, each written once the last was answered, are each answered', async () => {
    const raw = await suite.open();
    for (let i = 0; i < 10; i++) {
      const payload = Buffer.from(`payload-${i}`);
      raw.write(clientFrame(OPCODE.ping, payload));
      await raw.take(isPong(payload), `pong ${i}`);
    }
    await suite.witness.expectIntact();
  });
});

describe('3.x reserved bits', () => {
  for (let rsv = 1; rsv <= 7; rsv++) {
    it(`3.x RSV ${rsv} on a binary frame is a protocol error (1002): no extension was negotiated`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1, { rsv }));
      await expectClose(raw, 1002);
      await suite.witness.expectIntact();
    });
  }

  it('3.2 RSV 2 on a frame after an answered message is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1, { rsv: 2 }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('3.4 RSV 4 on a frame written one byte at a time, after a ping, is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.ping, Buffer.from('before')));
    await raw.take(isPong(Buffer.from('before')), 'the pong');
    await raw.trickle(clientFrame(OPCODE.binary, SYNC_STEP_1, { rsv: 4 }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('3.x RSV 1 on a text frame is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.text, Buffer.from('compressed?'), { rsv: 4 }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('3.6 RSV 6 on a ping is a protocol error (1002), and is not answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.ping, Buffer.from('ping'), { rsv: 6 }));
    await expectClose(raw, 1002);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('3.7 RSV 7 on a close frame is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000), { rsv: 7 }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('3.x RSV 1 on a continuation frame is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1.subarray(0, 2), { fin: false }), clientFrame(OPCODE.continuation, SYNC_STEP_1.subarray(2), { rsv: 4 }));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });
});

describe('4.x opcodes', () => {
  for (const opcode of [3, 4, 5, 6, 7]) {
    it(`4.1 reserved non-control opcode ${opcode} is a protocol error (1002)`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(opcode, opcode % 2 === 0 ? SYNC_STEP_1 : new Uint8Array(0)));
      await expectClose(raw, 1002);
      await suite.witness.expectIntact();
    });
  }

  for (const opcode of [11, 12, 13, 14, 15]) {
    it(`4.2 reserved control opcode ${opcode} is a protocol error (1002)`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(opcode, opcode % 2 === 0 ? Buffer.from('payload') : new Uint8Array(0)));
      await expectClose(raw, 1002);
      await suite.witness.expectIntact();
    });
  }

  it('4.1.3 a reserved opcode after an answered message, with a ping behind it, is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    raw.write(clientFrame(5, SYNC_STEP_1), clientFrame(OPCODE.ping, Buffer.from('behind')));
    await expectClose(raw, 1002);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('4.2.3 a reserved control opcode between the fragments of a message is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(
      clientFrame(OPCODE.binary, SYNC_STEP_1.subarray(0, 2), { fin: false }),
      clientFrame(12),
      clientFrame(OPCODE.continuation, SYNC_STEP_1.subarray(2)),
    );
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });
});
