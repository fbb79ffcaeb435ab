/**
 * What every conformance file shares: one server process, one document with a witness on it (an
 * official client that typed text before any attack), raw sockets on that document that are
 * dropped after each case, and the y-websocket messages the cases send where Autobahn would expect
 * an echo.
 */
import * as encoding from 'lib0/encoding';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { connectClient, type YClient } from '../helpers/clients.js';
import { removeDir, type ServerProcess, startServer } from '../helpers/server-process.js';
import { type CloseFrame, clientFrame, closePayload, OPCODE, type OpenOptions, RawSocket, type ServerFrame } from '../helpers/raw-socket.js';

/** Sync step 1 with an empty state vector: answered with sync step 1 (at join) and sync step 2. */
export const SYNC_STEP_1 = Uint8Array.of(0, 0, 1, 0);
/** Query awareness: answered with an awareness message (type 1). */
export const QUERY_AWARENESS = Uint8Array.of(3);

/** The server's answer to a sync step 1: a sync step 2, which it sends no client unasked. */
export const isSyncStep2 = (frame: ServerFrame): boolean => frame.opcode === 0x2 && frame.payload[0] === 0 && frame.payload[1] === 1;
/** An awareness message. */
export const isAwareness = (frame: ServerFrame): boolean => frame.opcode === 0x2 && frame.payload[0] === 1;
export const isPong =
  (payload: Uint8Array) =>
  (frame: ServerFrame): boolean =>
    frame.opcode === 0xa && Buffer.compare(frame.payload, payload) === 0;

/**
 * A valid sync step 1 of exactly `size` bytes (at least 4): a state vector of as many clients
 * (at clock 0) as it takes, so any frame length can carry a message the server must answer.
 */
export function syncStep1OfSize(size: number): Uint8Array {
  for (let length = size - 3; length >= 1; length--) {
    if (2 + varUintLength(length) + length !== size) continue;
    const stateVector = stateVectorOfLength(length);
    if (stateVector === null) continue;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint(encoder, 0);
    encoding.writeVarUint8Array(encoder, stateVector);
    return encoding.toUint8Array(encoder);
  }
  throw new RangeError(`no sync step 1 is exactly ${size} bytes long`);
}

/** A state vector of exactly `length` bytes: clients of one byte at clock 0, the last one of two bytes if need be. */
function stateVectorOfLength(length: number): Uint8Array | null {
  for (let countBytes = 1; countBytes <= 3; countBytes++) {
    const entryBytes = length - countBytes;
    const count = Math.floor(entryBytes / 2);
    if (entryBytes < 0 || varUintLength(count) !== countBytes || (entryBytes % 2 === 1 && count === 0)) continue;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, count);
    for (let i = 0; i < count; i++) {
      const last = i === count - 1;
      encoding.writeVarUint(encoder, last && entryBytes % 2 === 1 ? 128 : i % 128);
      encoding.writeVarUint(encoder, 0);
    }
    return encoding.toUint8Array(encoder);
  }
  return null;
}

function varUintLength(value: number): number {
  let bytes = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** Resolves with `promise`, or rejects with `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An official client that typed `text` into the document before any attack. `expectIntact`
 * checks it was never disconnected and still holds the text, and that a new client is served the
 * same text.
 */
export class Witness {
  disconnects = 0;

  private constructor(
    private readonly wsUrl: string,
    readonly name: string,
    readonly text: string,
    private readonly client: YClient,
  ) {
    client.provider.on('status', ({ status }: { status: string }) => {
      if (status === 'disconnected') this.disconnects++;
    });
  }

  static async join(wsUrl: string, name: string, text: string): Promise<Witness> {
    const client = connectClient(wsUrl, name);
    await within(client.synced, 10_000, 'the witness to sync');
    client.doc.getText('t').insert(0, text);
    const witness = new Witness(wsUrl, name, text, client);
    // Stored and served before the first attack.
    const reader = connectClient(wsUrl, name);
    try {
      await within(
        new Promise<void>((resolve) => {
          const check = () => reader.doc.getText('t').toString() === text && resolve();
          reader.doc.on('update', check);
          check();
        }),
        10_000,
        'a reader to get the witness text',
      );
    } finally {
      reader.destroy();
    }
    return witness;
  }

  /** The document is as the witness typed it: the witness still connected, a newcomer served the same text. */
  async expectIntact(): Promise<void> {
    expect(this.disconnects, 'times the witness was disconnected').toBe(0);
    expect(this.client.provider.wsconnected, 'the witness is connected').toBe(true);
    expect(this.client.doc.getText('t').toString()).toBe(this.text);
    const newcomer = connectClient(this.wsUrl, this.name);
    try {
      await within(newcomer.synced, 10_000, 'a new client to sync');
      expect(newcomer.doc.getText('t').toString()).toBe(this.text);
    } finally {
      newcomer.destroy();
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** One file's server, its witnessed document, and raw sockets on that document. */
export interface ConformanceSuite {
  readonly server: ServerProcess;
  readonly witness: Witness;
  /** A raw socket upgraded on the witnessed document (or on `/ws/<name>`), dropped after the case. */
  open(options?: OpenOptions & { name?: string }): Promise<RawSocket>;
}

export interface SuiteOptions {
  /** The witnessed document; `conformance` by default. */
  readonly document?: string;
  /**
   * The file's cases run at once (`describe.concurrent`): sockets are then dropped after the last
   * case rather than after each, which would drop those of the cases still running.
   */
  readonly concurrent?: boolean;
}

/**
 * Registers the hooks of a conformance file: a server started with `args` (a clear error if it
 * refuses them), the witness, and the cleanup of each case's sockets.
 */
export function conformanceSuite(args: readonly string[], options: SuiteOptions = {}): ConformanceSuite {
  const document = options.document ?? 'conformance';
  let server: ServerProcess | null = null;
  let witness: Witness | null = null;
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    try {
      server = await startServer({ args: [...args] });
    } catch (error) {
      throw new Error(`the server did not start with ${args.join(' ')} (an option it does not know yet?)\n${(error as Error).message}`, { cause: error });
    }
    witness = await Witness.join(server.wsUrl, document, `typed by the witness of ${document} before the attacks`);
  });

  const dropSockets = () => {
    for (const socket of sockets.splice(0)) socket.destroy();
  };
  if (!options.concurrent) afterEach(dropSockets);

  afterAll(async () => {
    dropSockets();
    witness?.destroy();
    if (server === null) return;
    await server.stop();
    await removeDir(server.dataDir);
  });

  return {
    get server() {
      if (server === null) throw new Error('the server is not running');
      return server;
    },
    get witness() {
      if (witness === null) throw new Error('the witness has not joined');
      return witness;
    },
    async open(options = {}) {
      const socket = await RawSocket.open(this.server.port, `/ws/${options.name ?? document}`, options);
      sockets.push(socket);
      return socket;
    },
  };
}

/**
 * The server closed with `code` (null: an empty close frame) and, once the client answered its
 * close frame as a client must, ended the TCP connection; it sent nothing a server must not.
 * Returns the close frame.
 */
export async function expectClose(raw: RawSocket, code: number | null, timeoutMs = 5000): Promise<CloseFrame> {
  const close = await raw.closed(timeoutMs);
  expect(close.code, `close code (reason: ${close.reason})`).toBe(code);
  // The closing handshake: a server that failed the connection has ended it already.
  raw.write(clientFrame(OPCODE.close, close.code === null ? new Uint8Array(0) : closePayload(close.code)));
  await raw.endedWithin(5000);
  expect(raw.violations).toEqual([]);
  return close;
}

/** The server answered a sync step 1 (`count` of them) and did not close. */
export async function expectAnswered(raw: RawSocket, count = 1): Promise<void> {
  for (let i = 0; i < count; i++) await raw.take(isSyncStep2, `answer ${i + 1} of ${count} (a sync step 2)`);
  expect(raw.closeReceived).toBeNull();
  expect(raw.violations).toEqual([]);
}
