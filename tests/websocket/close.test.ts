/**
 * WebSocket conformance, modelled on the Autobahn testsuite's case groups 6 and 7: UTF-8 (here of
 * close reasons: the protocol is binary, so text messages never get as far as their UTF-8) and
 * close handling. A valid close is answered with the same code and the TCP connection ended; a
 * close frame of 1 byte or with a code no endpoint may send is a protocol error (1002), one whose
 * reason is not UTF-8 is 1007; what follows a close frame is ignored. Raw TCP sockets against a
 * real server; every case also checks that the document under attack is intact.
 */
import { describe, expect, it } from 'vitest';
import { clientFrame, closePayload, fragments, OPCODE } from '../helpers/raw-socket.js';
import { conformanceSuite, expectAnswered, expectClose, isSyncStep2, SYNC_STEP_1 } from './suite.js';

const suite = conformanceSuite([]);

describe('6.x UTF-8 of close reasons', () => {
  const valid: Array<[string, Buffer]> = [
    ['ASCII', Buffer.from('Hello, world!')],
    ['two-byte sequences', Buffer.from('κόσμε')],
    ['three-byte sequences', Buffer.from('€ 日本語')],
    ['four-byte sequences', Buffer.from('𝄞 😀')],
    ['the last code point, U+10FFFF', Buffer.from([0xf4, 0x8f, 0xbf, 0xbf])],
    ['U+FFFE and U+FFFF (noncharacters, still valid UTF-8)', Buffer.from([0xef, 0xbf, 0xbe, 0xef, 0xbf, 0xbf])],
    ['123 bytes, the most a close frame holds', Buffer.from(`${'é'.repeat(61)}x`)],
  ];
  for (const [what, reason] of valid) {
    it(`6.x a close reason of ${what} is valid: the close is answered with its code`, async () => {
      expect(reason.length).toBeLessThanOrEqual(123);
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.close, closePayload(1000, reason)));
      await expectClose(raw, 1000);
      await suite.witness.expectIntact();
    });
  }

  const invalid: Array<[string, number[]]> = [
    ['a lone continuation byte', [0x80]],
    ['a lead byte without its continuation', [0xc3]],
    ['a sequence cut short at the end', [0x48, 0x69, 0xe2, 0x82]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an overlong encoding of U+0000', [0xe0, 0x80, 0x80]],
    ['a UTF-16 surrogate, U+D800', [0xed, 0xa0, 0x80]],
    ['a surrogate pair encoded as two sequences', [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]],
    ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['the byte 0xFE', [0xfe]],
    ['the byte 0xFF', [0xff]],
    ['a five-byte sequence', [0xf8, 0x88, 0x80, 0x80, 0x80]],
    ['valid text, then an invalid byte', [...Buffer.from('κόσμε'), 0xed, 0xa0, 0x80, ...Buffer.from('edited')]],
  ];
  for (const [what, bytes] of invalid) {
    it(`6.x 7.5.1 a close reason with ${what} is not UTF-8: 1007`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.close, closePayload(1000, Buffer.from(bytes))));
      await expectClose(raw, 1007);
      await suite.witness.expectIntact();
    });
  }
});

describe('7.x close handling', () => {
  it('7.1.1 a close after an answered message is answered with its code, and the TCP connection ended', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectAnswered(raw);
    raw.write(clientFrame(OPCODE.close, closePayload(1000)));
    await expectClose(raw, 1000);
    await suite.witness.expectIntact();
  });

  it('7.1.2 a second close frame after the first is ignored', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000)), clientFrame(OPCODE.close, closePayload(1001)));
    await expectClose(raw, 1000);
    await suite.witness.expectIntact();
  });

  it('7.1.3 a ping after the close frame is not answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000)), clientFrame(OPCODE.ping, Buffer.from('after the close')));
    await expectClose(raw, 1000);
    expect(raw.pongs).toBe(0);
    await suite.witness.expectIntact();
  });

  it('7.1.4 a message after the close frame is not answered', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000)), clientFrame(OPCODE.binary, SYNC_STEP_1));
    await expectClose(raw, 1000);
    expect(raw.frames.filter(isSyncStep2)).toEqual([]);
    await suite.witness.expectIntact();
  });

  it('7.1.5 a close between the fragments of a message ends it: the rest is not answered', async () => {
    const raw = await suite.open();
    const [first, second] = fragments(SYNC_STEP_1, 2);
    raw.write(first!, clientFrame(OPCODE.close, closePayload(1000)), second!);
    await expectClose(raw, 1000);
    expect(raw.frames.filter(isSyncStep2)).toEqual([]);
    await suite.witness.expectIntact();
  });

  it('7.1.6 broken frames after the close frame are ignored, not answered with a protocol error', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(3000)), clientFrame(7, SYNC_STEP_1), clientFrame(OPCODE.binary, SYNC_STEP_1, { masked: false }));
    await expectClose(raw, 3000);
    await suite.witness.expectIntact();
  });

  it('7.1.7 a close frame written one byte at a time is answered with its code', async () => {
    const raw = await suite.open();
    await raw.trickle(clientFrame(OPCODE.close, closePayload(4000, 'bye')));
    await expectClose(raw, 4000);
    await suite.witness.expectIntact();
  });

  it('7.3.1 an empty close frame is answered with an empty close frame (or 1000)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close));
    const close = await raw.closed();
    expect([null, 1000]).toContain(close.code);
    await raw.endedWithin(5000);
    expect(raw.violations).toEqual([]);
    await suite.witness.expectIntact();
  });

  it('7.3.2 a close frame of 1 byte is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, Buffer.from([0x03])));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  it('7.3.3 a close frame with a code and no reason is answered with its code', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000)));
    await expectClose(raw, 1000);
    await suite.witness.expectIntact();
  });

  it('7.3.4 a close frame with a code and a reason is answered with its code', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000, 'Hello World!')));
    await expectClose(raw, 1000);
    await suite.witness.expectIntact();
  });

  it('7.3.5 a close frame with a reason of 123 bytes (125 in all) is answered with its code', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000, '*'.repeat(123))));
    await expectClose(raw, 1000);
    await suite.witness.expectIntact();
  });

  it('7.3.6 a close frame with a reason of 124 bytes (126 in all) is a protocol error (1002)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1000, '*'.repeat(124))));
    await expectClose(raw, 1002);
    await suite.witness.expectIntact();
  });

  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  for (const code of validCodes) {
    it(`7.7 a close with the valid code ${code} is answered with ${code}`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.close, closePayload(code, 'a valid code')));
      await expectClose(raw, code);
      await suite.witness.expectIntact();
    });
  }

  const invalidCodes = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535];
  for (const code of invalidCodes) {
    it(`7.9 a close with the invalid code ${code} is a protocol error (1002)`, async () => {
      const raw = await suite.open();
      raw.write(clientFrame(OPCODE.close, closePayload(code)));
      await expectClose(raw, 1002);
      await suite.witness.expectIntact();
    });
  }

  it('7.9 an invalid code with a reason that is not UTF-8 either is refused (1002 or 1007)', async () => {
    const raw = await suite.open();
    raw.write(clientFrame(OPCODE.close, closePayload(1005, Buffer.from([0xff]))));
    const close = await raw.closed();
    expect([1002, 1007]).toContain(close.code);
    await suite.witness.expectIntact();
  });
});
