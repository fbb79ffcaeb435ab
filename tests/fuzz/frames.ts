/**
 * What the fuzzer throws at the server, as fast-check arbitraries: a scenario is a set of real
 * Yjs edits (so there are real updates to send, reorder and mutate) and a list of operations,
 * each of which becomes one frame, or a reconnect as a read-write or read-only client.
 *
 * Operations hold indices and byte positions, not bytes, so fast-check can shrink them; `toFrame`
 * turns one into bytes against the scenario's updates.
 */
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../../protocol/index.js';

export type Edit =
  | { readonly op: 'insert'; readonly index: number; readonly text: string }
  | { readonly op: 'delete'; readonly index: number; readonly length: number }
  | { readonly op: 'map'; readonly key: string; readonly value: fc.JsonValue }
  | { readonly op: 'array'; readonly values: number[] };

export type Operation =
  | { readonly kind: 'update'; readonly which: number; readonly asStep2: boolean }
  | { readonly kind: 'merged'; readonly from: number; readonly count: number }
  | { readonly kind: 'step1'; readonly empty: boolean }
  | { readonly kind: 'truncated'; readonly which: number; readonly cut: number }
  | { readonly kind: 'corrupted'; readonly which: number; readonly flips: ReadonlyArray<readonly [number, number]> }
  | { readonly kind: 'mutated-update'; readonly which: number; readonly flips: ReadonlyArray<readonly [number, number]> }
  | { readonly kind: 'random'; readonly bytes: Uint8Array }
  | { readonly kind: 'huge-varint'; readonly where: 'type' | 'sync-type' | 'length' | 'awareness-count' }
  | { readonly kind: 'awareness'; readonly clientId: number; readonly clock: number; readonly json: string }
  | { readonly kind: 'query-awareness' }
  | { readonly kind: 'unknown-type'; readonly type: number }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'reconnect'; readonly mode: 'rw' | 'ro' };

export interface Scenario {
  /** Edits made on top of the seed content: their updates are sent in any order, or mutated. */
  readonly edits: readonly Edit[];
  /** Edits made on an unrelated document: updates the server has no history for. */
  readonly foreignEdits: readonly Edit[];
  /** The mode of the connection after the seed is sent; `reconnect` operations switch it. */
  readonly startMode: 'rw' | 'ro';
  readonly operations: readonly Operation[];
}

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), index: fc.nat(64), text: fc.string({ maxLength: 12 }) }),
  fc.record({ op: fc.constant('delete' as const), index: fc.nat(64), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('map' as const), key: fc.string({ maxLength: 4 }), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ op: fc.constant('array' as const), values: fc.array(fc.integer(), { minLength: 1, maxLength: 4 }) }),
);

const flips = fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 });

/** Awareness states no honest client sends, and some it does. */
const oddJson = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"user":{"__proto__":{"admin":true}}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"n":1e400}',
    '[]',
    'null',
    '"a string"',
    `${'{"d":'.repeat(200)}1${'}'.repeat(200)}`,
    '{"user":{"name":"\u0000\ud800"}}',
    '',
  ),
);

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('update' as const), which: fc.nat(), asStep2: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('merged' as const), from: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('step1' as const), empty: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncated' as const), which: fc.nat(), cut: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('corrupted' as const), which: fc.nat(), flips }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('mutated-update' as const), which: fc.nat(), flips }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 64 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge-varint' as const),
      where: fc.constantFrom('type' as const, 'sync-type' as const, 'length' as const, 'awareness-count' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('awareness' as const), clientId: fc.nat(2 ** 31 - 1), clock: fc.nat(), json: oddJson }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'query-awareness' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unknown-type' as const), type: fc.integer({ min: 4, max: 2 ** 31 - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reconnect' as const), mode: fc.constantFrom('rw' as const, 'ro' as const) }) },
);

export function scenario(maxOperations: number): fc.Arbitrary<Scenario> {
  return fc.record({
    edits: fc.array(edit, { minLength: 1, maxLength: 12 }),
    foreignEdits: fc.array(edit, { minLength: 1, maxLength: 4 }),
    startMode: fc.constantFrom('rw' as const, 'rw' as const, 'ro' as const),
    operations: fc.array(operation, { minLength: 1, maxLength: maxOperations }),
  });
}

/** The seed content every run starts from, written by a fixed client so runs replay exactly. */
export function seedDocument(): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = 1;
  doc.transact(() => {
    doc.getText('t').insert(0, 'the quick brown fox jumps over the lazy dog');
    doc.getMap('m').set('k', 'v');
    doc.getArray('a').push([1, 2, 3]);
  });
  return doc;
}

/** Applies `edits` to `doc` one transaction each, returning the update of each. */
export function recordEdits(doc: Y.Doc, edits: readonly Edit[]): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const listener = (update: Uint8Array) => updates.push(update);
  doc.on('update', listener);
  for (const change of edits) {
    const text = doc.getText('t');
    switch (change.op) {
      case 'insert':
        text.insert(Math.min(change.index, text.length), change.text || '.');
        break;
      case 'delete':
        if (text.length > 0) {
          const at = Math.min(change.index, text.length - 1);
          text.delete(at, Math.min(change.length, text.length - at));
        }
        break;
      case 'map':
        doc.getMap('m').set(change.key, change.value);
        break;
      case 'array':
        doc.getArray('a').push(change.values);
        break;
    }
  }
  doc.off('update', listener);
  return updates;
}

/** The frame an operation sends (`reconnect` has none). */
export function toFrame(operation: Operation, updates: readonly Uint8Array[], seedStateVector: Uint8Array): Uint8Array | string {
  const pick = (which: number) => updates[which % updates.length]!;
  switch (operation.kind) {
    case 'update':
      return operation.asStep2 ? encodeSyncStep2(pick(operation.which)) : encodeUpdate(pick(operation.which));
    case 'merged': {
      const parts = Array.from({ length: operation.count }, (_, i) => pick(operation.from + i));
      return encodeSyncStep2(Y.mergeUpdates(parts));
    }
    case 'step1':
      return encodeSyncStep1(operation.empty ? Y.encodeStateVector(new Y.Doc()) : seedStateVector);
    case 'truncated': {
      const frame = encodeUpdate(pick(operation.which));
      return frame.slice(0, operation.cut % frame.length);
    }
    case 'corrupted':
      return flip(encodeUpdate(pick(operation.which)), operation.flips);
    case 'mutated-update':
      // The frame is well formed; only the update inside is damaged.
      return encodeUpdate(flip(pick(operation.which), operation.flips));
    case 'random':
      return operation.bytes;
    case 'huge-varint':
      return hugeVarint(operation.where);
    case 'awareness':
      return awareness(operation.clientId, operation.clock, operation.json);
    case 'query-awareness':
      return Uint8Array.of(3);
    case 'unknown-type':
      return frame((e) => encoding.writeVarUint(e, operation.type));
    case 'text':
      return operation.text;
    case 'reconnect':
      throw new RangeError('a reconnect sends no frame');
  }
}

function flip(bytes: Uint8Array, flips: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const copy = bytes.slice();
  for (const [position, value] of flips) copy[position % copy.length] = value;
  return copy;
}

const TEN_BYTE_VARINT = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];

function hugeVarint(where: 'type' | 'sync-type' | 'length' | 'awareness-count'): Uint8Array {
  switch (where) {
    case 'type':
      return Uint8Array.of(...TEN_BYTE_VARINT);
    case 'sync-type':
      return Uint8Array.of(0, ...TEN_BYTE_VARINT, 0);
    case 'length':
      return Uint8Array.of(0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3);
    case 'awareness-count':
      return Uint8Array.of(1, 11, ...TEN_BYTE_VARINT);
  }
}

/** An awareness message setting one client's state. */
export function awareness(clientId: number, clock: number, json: string): Uint8Array {
  const update = frame((e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, clientId);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, json);
  });
  return frame((e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint8Array(e, update);
  });
}

function frame(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder();
  write(encoder);
  return encoding.toUint8Array(encoder);
}
