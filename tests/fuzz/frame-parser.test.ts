/**
 * A byte-level fuzz of the WebSocket frame parser (`ServerWebSocket`), in process: a loopback TCP
 * pair, the server side wrapped as the server wraps an upgraded socket, and on the client side
 * byte sequences no client should send: valid messages in any fragmentation, control frames
 * between fragments, close frames with any code and reason, frames with any bits, opcode and
 * declared length, random bytes, all of it mutated and written in chunks split anywhere (the
 * first chunk sometimes as the `head` read with the handshake).
 *
 * Invariants, for every input: nothing throws; no message longer than the limit is delivered;
 * every close frame the server sends carries a code a server may send (RFC 6455, section 7.4),
 * and nothing follows it, on the wire or to the listener; the socket is ended once the input broke
 * the protocol. And against a reference reading of RFC 6455 (`expectationOf`): the messages
 * delivered are exactly those the input completed before anything broke the protocol, and the
 * close code is one the first broken frame calls for (text is refused at its first frame, 1003).
 * If the socket reports the bytes it holds (`bufferedInput`, once it exists), they never pass the
 * limit plus a header plus a control frame's payload.
 *
 * `npm test` runs 200 inputs; `FUZZ_RUNS` (`npm run fuzz`) more. A failure prints fast-check's
 * seed and counterexample; rerun with `TEST_SEED=<seed>`, `FUZZ_SHRINK=1` to shrink it.
 */
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { createServer, type Server, type Socket, connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ServerWebSocket } from '../../server/websocket/websocket.js';
import { testSeed } from '../helpers/clients.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
/** The longest frame header: 2 bytes, 8 of extended length, 4 of mask. */
const MAX_HEADER = 14;
/** A control frame's payload, at most: one may be held beside a message of the limit. */
const MAX_CONTROL_PAYLOAD = 125;
const MAX_FRAGMENTS = 16_384;
/** Close codes a server may send (RFC 6455, section 7.4.1): never 1004 to 1006, nor 1015. */
const SERVER_CODES = (code: number) => (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || code === 1013 || (code >= 3000 && code <= 4999);
/** Close codes a client may send, which the server echoes. */
const CLIENT_CODES = (code: number) => (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
const WAIT_MS = 3000;

// What the fuzzer writes: frames described by their fields, so fast-check shrinks them.

interface FrameSpec {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly mask: number;
  readonly payload: Uint8Array;
  /** A length declared in place of the payload's own, whose payload is then not sent (a header alone). */
  readonly declared?: bigint;
  /** The length written in more bytes than it needs (RFC 6455 asks for the fewest). */
  readonly wideLength?: boolean;
}

function encodeFrame(spec: FrameSpec): Uint8Array {
  const length = spec.declared ?? BigInt(spec.payload.length);
  const header: number[] = [(spec.fin ? 0x80 : 0) | (spec.rsv << 4) | spec.opcode];
  const maskBit = spec.masked ? 0x80 : 0;
  if (length < 126n && !spec.wideLength) header.push(maskBit | Number(length));
  else if (length < 65_536n) header.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn));
  else {
    header.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) header.push(Number((length >> shift) & 0xffn));
  }
  const mask = [spec.mask >>> 24, (spec.mask >>> 16) & 0xff, (spec.mask >>> 8) & 0xff, spec.mask & 0xff];
  if (spec.masked) header.push(...mask);
  const payload = spec.declared !== undefined ? new Uint8Array(0) : spec.payload.map((byte, i) => (spec.masked ? byte ^ mask[i % 4]! : byte));
  return Buffer.concat([Uint8Array.from(header), payload]);
}

const mask = fc.integer({ min: 0, max: 0xffff_ffff });

const controlFrame = fc.record({
  fin: fc.constant(true),
  rsv: fc.constant(0),
  opcode: fc.constantFrom(0x9, 0xa),
  masked: fc.constant(true),
  mask,
  payload: fc.uint8Array({ maxLength: 130 }),
});

/**
 * A binary message (or, unless `wellFormed`, now and then a text one) of up to about the limit's
 * size (unless `wellFormed`, past it too), in fragments, control frames between them.
 */
function message(maxPayload: number, wellFormed: boolean): fc.Arbitrary<FrameSpec[]> {
  const size = wellFormed
    ? fc.oneof(fc.nat(20), fc.integer({ min: Math.max(0, maxPayload - 3), max: maxPayload }), fc.nat(maxPayload))
    : fc.oneof(fc.nat(20), fc.integer({ min: Math.max(0, maxPayload - 3), max: maxPayload + 3 }), fc.nat(2 * maxPayload));
  return fc
    .record({
      text: wellFormed ? fc.constant(false) : fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      payload: size.chain((length) => fc.uint8Array({ minLength: length, maxLength: length })),
      cuts: fc.array(fc.nat(), { maxLength: 6 }),
      controls: fc.array(fc.tuple(fc.nat(), controlFrame), { maxLength: 2 }),
      masks: fc.array(mask, { minLength: 8, maxLength: 8 }),
    })
    .map(({ text, payload, cuts, controls, masks }) => {
      const points = [...new Set(cuts.map((cut) => cut % (payload.length + 1)))].sort((a, b) => a - b);
      const bounds = [0, ...points, payload.length];
      const frames: FrameSpec[] = [];
      for (let i = 0; i + 1 < bounds.length; i++) {
        frames.push({
          fin: i + 2 === bounds.length,
          rsv: 0,
          opcode: i === 0 ? (text ? 0x1 : 0x2) : 0x0,
          masked: true,
          mask: masks[i % masks.length]!,
          payload: payload.subarray(bounds[i]!, bounds[i + 1]!),
        });
      }
      for (const [at, control] of controls) frames.splice(1 + (at % frames.length), 0, control);
      return frames;
    });
}

const VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65_535];

const closeFrame = fc
  .record({
    code: fc.oneof(fc.constantFrom(...VALID_CODES), fc.constantFrom(...INVALID_CODES), fc.nat(65_535)),
    reason: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }).map((text) => new Uint8Array(Buffer.from(text))),
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ minLength: 122, maxLength: 126 }),
    ),
    shape: fc.constantFrom('code and reason', 'code and reason', 'empty', 'one byte'),
    mask,
  })
  .map(({ code, reason, shape, mask: m }): FrameSpec[] => {
    const payload =
      shape === 'empty' ? new Uint8Array(0) : shape === 'one byte' ? Uint8Array.of(code >> 8) : Buffer.concat([Uint8Array.of(code >> 8, code & 0xff), reason]);
    return [{ fin: true, rsv: 0, opcode: 0x8, masked: true, mask: m, payload }];
  });

/** A frame with any bits, any opcode, masked or not. */
const anyFrame = fc
  .record({
    fin: fc.boolean(),
    rsv: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
    opcode: fc.integer({ min: 0, max: 15 }),
    masked: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    mask,
    payload: fc.uint8Array({ maxLength: 140 }),
    wideLength: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map((spec): FrameSpec[] => [spec]);

/** The header of a data frame alone, declaring a length around the limit or far past it. */
function headerAlone(maxPayload: number): fc.Arbitrary<FrameSpec[]> {
  return fc
    .record({
      opcode: fc.constantFrom(0x0, 0x2, 0x2),
      fin: fc.boolean(),
      declared: fc.oneof(
        fc.constantFrom(BigInt(maxPayload), BigInt(maxPayload + 1), 65_536n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      ),
      mask,
    })
    .map(({ opcode, fin, declared, mask: m }): FrameSpec[] => [{ fin, rsv: 0, opcode, masked: true, mask: m, payload: new Uint8Array(0), declared }]);
}

interface FuzzInput {
  readonly maxPayload: number;
  readonly bytes: Uint8Array;
  /** Bytes handed to `start` as the head read with the handshake. */
  readonly headLength: number;
  /** Lengths of the chunks the rest is written in (the last one repeated as needed). */
  readonly chunks: readonly number[];
}

const fuzzInput: fc.Arbitrary<FuzzInput> = fc.constantFrom(16, 125, 126, 300, 1024).chain((maxPayload) => {
  const piece: fc.Arbitrary<FrameSpec[] | Uint8Array> = fc.oneof(
    { weight: 6, arbitrary: message(maxPayload, false) },
    { weight: 2, arbitrary: controlFrame.map((frame) => [frame]) },
    { weight: 1, arbitrary: closeFrame },
    { weight: 3, arbitrary: anyFrame },
    { weight: 1, arbitrary: headerAlone(maxPayload) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 32 }) },
  );
  // A third of the inputs are conversations a client could hold (but for pings over 125 bytes),
  // so that the reference's messages are checked at length, not only up to the first fault.
  const wellFormed: fc.Arbitrary<FrameSpec[] | Uint8Array> = fc.oneof(
    { weight: 3, arbitrary: message(maxPayload, true) },
    { weight: 1, arbitrary: controlFrame.map((frame) => [frame]) },
  );
  const noFlips = fc.constant<Array<[number, number]>>([]);
  const flips = fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 });
  const conversation = fc.oneof(
    { weight: 1, arbitrary: fc.record({ pieces: fc.array(wellFormed, { minLength: 1, maxLength: 8 }), flips: noFlips }) },
    {
      weight: 2,
      arbitrary: fc.record({
        pieces: fc.array(piece, { minLength: 1, maxLength: 8 }),
        flips: fc.oneof({ weight: 3, arbitrary: noFlips }, { weight: 1, arbitrary: flips }),
      }),
    },
  );
  return fc
    .record({
      conversation,
      headLength: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(24) }),
      chunks: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 12 }),
    })
    .map(({ conversation: { pieces, flips }, headLength, chunks }) => {
      const bytes = Buffer.concat(pieces.flatMap((piece) => (piece instanceof Uint8Array ? [piece] : piece.map(encodeFrame))));
      for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
      return { maxPayload, bytes, headLength: Math.min(headLength, bytes.length), chunks };
    });
});

// The reference: what RFC 6455, with this server's policy, makes of the input.

type Ending =
  /** Nothing broke the protocol: the server must not close. */
  | { readonly kind: 'open' }
  /**
   * A frame broke it: the server closes with one of `codes` (all that frame's faults). `required`
   * once enough of the frame arrived to see the fault (its header; for text and close frames, the
   * whole frame); before that, the server may also wait for more.
   */
  | { readonly kind: 'broken'; readonly codes: readonly number[]; readonly required: boolean; readonly at: number }
  /** A valid close frame: the server answers with the same code (null: an empty close frame) and ends. */
  | { readonly kind: 'client-close'; readonly code: number | null };

interface Expectation {
  /** The messages the server delivers, in order. */
  readonly messages: readonly Uint8Array[];
  readonly ending: Ending;
}

/**
 * What the server must make of `input`, or null when RFC 6455 leaves it open (a length written in
 * more bytes than it needs: a receiver may take it or refuse it).
 */
function expectationOf(input: Uint8Array, maxPayload: number): Expectation | null {
  const messages: Uint8Array[] = [];
  let fragmented: { parts: Uint8Array[]; length: number; count: number } | null = null;
  const open = (): Expectation => ({ messages, ending: { kind: 'open' } });
  const broken = (codes: Set<number>, required: boolean, at: number): Expectation => ({
    messages,
    ending: { kind: 'broken', codes: [...codes].sort(), required, at },
  });
  let at = 0;
  for (;;) {
    const available = input.length - at;
    if (available < 2) return open();
    const first = input[at]!;
    const second = input[at + 1]!;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    const shortLength = second & 0x7f;
    const control = opcode >= 0x8;
    const data = opcode <= 0x2;
    const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + 4;
    const faults = new Set<number>();
    if ((first & 0x70) !== 0) faults.add(1002);
    if ((second & 0x80) === 0) faults.add(1002);
    if (opcode > 0x2 && opcode < 0x8) faults.add(1002);
    if (opcode > 0xa) faults.add(1002);
    if (control && (!fin || shortLength > 125)) faults.add(1002);
    if (opcode === 0x8 && shortLength === 1) faults.add(1002);
    if (opcode === 0x0 && fragmented === null) faults.add(1002);
    if ((opcode === 0x1 || opcode === 0x2) && fragmented !== null) faults.add(1002);
    if (opcode === 0x0 && fragmented !== null && fragmented.count >= MAX_FRAGMENTS) faults.add(1008);
    const text = opcode === 0x1 && fragmented === null;
    let length = shortLength;
    if (available >= 2 + lengthBytes && lengthBytes > 0) {
      const declared = lengthBytes === 2 ? BigInt((input[at + 2]! << 8) | input[at + 3]!) : Buffer.from(input.subarray(at + 2, at + 10)).readBigUInt64BE();
      if (declared < (lengthBytes === 2 ? 126n : 65_536n) && faults.size === 0) return null;
      if (declared >= 2n ** 63n) faults.add(1002);
      else if (data && BigInt(fragmented?.length ?? 0) + declared > BigInt(maxPayload)) faults.add(1009);
      length = declared > BigInt(maxPayload) + 1n ? maxPayload + 1 : Number(declared);
    } else if (lengthBytes === 0 && data && (fragmented?.length ?? 0) + length > maxPayload) {
      faults.add(1009);
    }
    if (faults.size > 0) {
      if (text) faults.add(1003);
      return broken(faults, available >= headerLength, at);
    }
    // A text frame may be refused as soon as its opcode is seen, before the rest of its header.
    if (available < headerLength) return text ? broken(new Set([1003]), false, at) : open();
    const frameLength = headerLength + length;
    if (text) return broken(new Set([1003]), available >= frameLength, at);
    if (available < frameLength) return open();
    const payload = unmasked(input.subarray(at + headerLength, at + frameLength), input.subarray(at + headerLength - 4, at + headerLength));
    if (opcode === 0x8) {
      if (payload.length === 0) return { messages, ending: { kind: 'client-close', code: null } };
      const code = (payload[0]! << 8) | payload[1]!;
      const closeFaults = new Set<number>();
      if (!CLIENT_CODES(code)) closeFaults.add(1002);
      if (!isUtf8(payload.subarray(2))) closeFaults.add(1007);
      if (closeFaults.size > 0) return broken(closeFaults, true, at);
      return { messages, ending: { kind: 'client-close', code } };
    }
    at += frameLength;
    if (control) continue;
    if (fragmented === null) fragmented = { parts: [], length: 0, count: 0 };
    fragmented.parts.push(payload);
    fragmented.length += payload.length;
    fragmented.count++;
    if (fin) {
      messages.push(Buffer.concat(fragmented.parts));
      fragmented = null;
    }
  }
}

function unmasked(payload: Uint8Array, key: Uint8Array): Uint8Array {
  return payload.map((byte, i) => byte ^ key[i % 4]!);
}

// One run: the input through a real socket pair, and what came of it.

interface Observed {
  readonly delivered: Uint8Array[];
  readonly problems: string[];
  /** The server's close frame: its code, null for an empty one; undefined if it sent none. */
  closeCode: number | null | undefined;
  /** The server ended the TCP connection (the client read its end). */
  closedByServer: boolean;
  /** The most bytes the socket said it held (`bufferedInput`); null if it does not say. */
  maxBuffered: number | null;
}

let listener: Server;
let port = 0;
const thrown: unknown[] = [];
const onUncaught = (error: unknown) => thrown.push(error);
let bufferedInputExposed = false;

beforeAll(async () => {
  listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  port = (listener.address() as { port: number }).port;
  process.on('uncaughtException', onUncaught);
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  listener.close();
  await once(listener, 'close');
});

/** Resolves when `condition` holds, checked on each `wake`; rejects after `WAIT_MS`. */
class Waiter {
  private checks: Array<() => void> = [];

  until(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.checks = this.checks.filter((check) => check !== onWake);
        reject(new Error(`waited ${WAIT_MS} ms for ${what}`));
      }, WAIT_MS);
      const onWake = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.checks = this.checks.filter((check) => check !== onWake);
        resolve();
      };
      this.checks.push(onWake);
    });
  }

  wake(): void {
    for (const check of [...this.checks]) check();
  }
}

async function runInput(input: FuzzInput, expectation: Expectation | null): Promise<Observed> {
  const { maxPayload, bytes, headLength } = input;
  const observed: Observed = { delivered: [], problems: [], closeCode: undefined, closedByServer: false, maxBuffered: null };
  const waiter = new Waiter();
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  const [serverSide] = await accepted;
  if (client.connecting) await once(client, 'connect');

  let serverClosed = false;
  let clientClosed = false;
  let received = 0;
  const socket = new ServerWebSocket(serverSide, maxPayload);
  const sampleBuffered = () => {
    const held = (socket as unknown as { bufferedInput?: unknown }).bufferedInput;
    if (typeof held !== 'number') return;
    bufferedInputExposed = true;
    observed.maxBuffered = Math.max(observed.maxBuffered ?? 0, held);
  };
  socket.start(
    {
      onMessage(data, binary) {
        if (!socket.isOpen) observed.problems.push('a message was delivered after the close');
        if (data.length > maxPayload) observed.problems.push(`a message of ${data.length} bytes was delivered, over the limit of ${maxPayload}`);
        // As the sync engine does: the protocol is binary.
        if (!binary) socket.close(1003, 'text frames are not supported');
        else observed.delivered.push(new Uint8Array(data));
      },
      onPong: () => undefined,
      onError: () => undefined,
      onClose() {
        serverClosed = true;
        waiter.wake();
      },
    },
    bytes.subarray(0, headLength),
  );
  sampleBuffered();
  serverSide.on('data', (chunk: Buffer) => {
    received += chunk.length;
    sampleBuffered();
    waiter.wake();
  });

  // The client side reads the server's frames.
  let pending = Buffer.alloc(0);
  client.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) break;
      let length = pending[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (pending.length < 4) break;
        length = pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (pending.length < 10) break;
        length = Number(pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (pending.length < offset + length) break;
      const first = pending[0]!;
      const masked = (pending[1]! & 0x80) !== 0;
      const opcode = first & 0x0f;
      const payload = pending.subarray(offset, offset + length);
      pending = pending.subarray(offset + length);
      if (observed.closeCode !== undefined) observed.problems.push(`a frame of opcode ${opcode} after the close frame`);
      if ((first & 0xf0) !== 0x80 || masked) observed.problems.push(`a frame with first byte ${first}${masked ? ', masked' : ''}`);
      if (opcode === 0x8) {
        observed.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
        if (payload.length === 1) observed.problems.push('a close frame of 1 byte');
      } else if (opcode !== 0xa) observed.problems.push(`a frame of opcode ${opcode}`);
    }
    waiter.wake();
  });
  client.on('end', () => {
    observed.closedByServer = true;
    waiter.wake();
  });
  client.on('close', () => {
    clientClosed = true;
    waiter.wake();
  });

  try {
    // The rest in chunks, each read by the server before the next is written, so each is a read of its own.
    let written = headLength;
    let chunk = 0;
    const stopped = () => observed.closeCode !== undefined || observed.closedByServer || serverClosed || !client.writable;
    while (written < bytes.length && !stopped()) {
      const size = input.chunks[Math.min(chunk++, input.chunks.length - 1)]!;
      const piece = bytes.subarray(written, written + size);
      client.write(piece);
      written += piece.length;
      const target = written - headLength;
      await waiter.until(() => received >= target || stopped(), `the server to read ${target} bytes`);
    }
    // An input that broke the protocol or closed must be answered with a close frame; the server
    // then ends the TCP connection itself, except after a close of its own choosing (a text
    // message refused), where it waits for the client's close frame as the closing handshake has it.
    const ending = expectation?.ending;
    if (ending?.kind === 'client-close' || (ending?.kind === 'broken' && ending.required)) {
      await waiter.until(() => observed.closeCode !== undefined, 'a close frame from the server');
      if (observed.closeCode !== 1003) await waiter.until(() => observed.closedByServer, 'the server to end the connection after its close frame');
    }
    client.end();
    await waiter.until(() => serverClosed && clientClosed, 'both sides to close');
  } finally {
    client.destroy();
    serverSide.destroy();
  }
  return observed;
}

/** What a failed check says about the input. */
function describeInput(input: FuzzInput): string {
  return `maxPayload ${input.maxPayload}, head ${input.headLength}, chunks ${input.chunks.join(',')}, input ${Buffer.from(input.bytes).toString('hex')}`;
}

const outcomes = new Map<string, number>();

it('the frame parser keeps its invariants for any bytes, in any chunks', async () => {
  const seed = testSeed('frame fuzz');
  const property = fc.asyncProperty(fuzzInput, async (input) => {
    thrown.length = 0;
    const expectation = expectationOf(input.bytes, input.maxPayload);
    const context = `${describeInput(input)}\nexpected ${JSON.stringify(expectation?.ending ?? 'no opinion')}`;
    const observed = await runInput(input, expectation).catch((error: Error) => {
      throw new Error(`${error.message}; ${context}`, { cause: error });
    });

    expect(thrown, `thrown while reading ${context}`).toEqual([]);
    expect(observed.problems, context).toEqual([]);
    if (observed.closeCode != null) {
      const echoed = expectation?.ending.kind === 'client-close' && expectation.ending.code === observed.closeCode;
      expect(SERVER_CODES(observed.closeCode) || echoed, `close code ${observed.closeCode}; ${context}`).toBe(true);
    }
    if (observed.maxBuffered !== null) {
      expect(observed.maxBuffered, `bytes held; ${context}`).toBeLessThanOrEqual(input.maxPayload + MAX_HEADER + MAX_CONTROL_PAYLOAD);
    }

    const key = expectation === null ? 'no opinion' : `${expectation.ending.kind} -> ${observed.closeCode === undefined ? 'no close' : observed.closeCode}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (expectation === null) return;
    expect(
      observed.delivered.map((m) => Buffer.from(m).toString('hex')),
      `messages delivered; ${context}`,
    ).toEqual(expectation.messages.map((m) => Buffer.from(m).toString('hex')));
    const { ending } = expectation;
    switch (ending.kind) {
      case 'open':
        expect(observed.closeCode, `the server closed a valid conversation; ${context}`).toBeUndefined();
        break;
      case 'broken':
        if (ending.required || observed.closeCode !== undefined)
          expect(ending.codes, `close code ${observed.closeCode}; ${context}`).toContain(observed.closeCode);
        if (ending.required && observed.closeCode !== 1003) expect(observed.closedByServer, `the server did not end the connection; ${context}`).toBe(true);
        break;
      case 'client-close':
        expect(observed.closedByServer, `the server did not end the connection after the client's close; ${context}`).toBe(true);
        if (ending.code === null) expect([null, 1000], `the answer to an empty close frame; ${context}`).toContain(observed.closeCode);
        else expect(observed.closeCode, `the answer to a close frame; ${context}`).toBe(ending.code);
        break;
    }
  });
  try {
    await fc.assert(property, { seed, numRuns: RUNS, endOnFailure: process.env.FUZZ_SHRINK !== '1' });
  } finally {
    const summary = [...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, count]) => `  ${String(count).padStart(6)}  ${key}`);
    console.log(`[frame fuzz] outcomes (expected ending -> server's close code):\n${summary.join('\n')}`);
    if (!bufferedInputExposed) console.log('[frame fuzz] ServerWebSocket has no bufferedInput getter: the bound on bytes held was not checked');
  }
}, 120_000);
