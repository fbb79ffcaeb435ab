/**
 * The bus's wire format: what is encoded decodes to the same message, and any other bytes throw
 * `BusMessageError` and nothing else (every byte heard on Redis is untrusted).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { type BusMessage, BusMessageError, decodeBusMessage, encodeBusMessage } from '../../server/bus/bus-message.js';

function typed(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

describe('bus messages', () => {
  it('decode to what was encoded, for every kind', () => {
    const awareness = new Awareness(new Y.Doc());
    awareness.setLocalStateField('user', { name: 'Ada' });
    const presence = encodeAwarenessUpdate(awareness, [awareness.clientID]);
    const messages: BusMessage[] = [
      { kind: 'updates', origin: 'i-1', head: 12, updates: [typed('a'), typed('bc')] },
      { kind: 'updates', origin: 'i-1', head: 40, updates: [] },
      { kind: 'presence', origin: 'i-2', owner: { instance: 'i-2', connection: 3, identity: 'ada', mode: 'rw', address: '::1' }, update: presence },
      { kind: 'presence', origin: 'i-2', owner: { instance: 'i-2', connection: 0, identity: null, mode: 'ro', address: '10.1.2.3' }, update: presence },
      { kind: 'want', origin: 'i-3' },
      { kind: 'heartbeat', origin: 'i-3' },
    ];
    for (const message of messages) expect(decodeBusMessage(encodeBusMessage(message))).toEqual(message);
  });

  it('throws BusMessageError, and nothing else, for any other bytes', () => {
    const valid = encodeBusMessage({ kind: 'updates', origin: 'x', head: 2, updates: [typed('hi')] });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: valid.length }), (noise, cut) => {
        for (const bytes of [noise, Uint8Array.of(...valid.subarray(0, cut), ...noise)]) {
          try {
            decodeBusMessage(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(BusMessageError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses counts that cannot be true, and another format version', () => {
    expect(() => decodeBusMessage(encodeBusMessage({ kind: 'updates', origin: 'x', head: 1, updates: [typed('a'), typed('b')] }))).toThrow(
      /2 updates cannot end at position 1/,
    );
    const other = encodeBusMessage({ kind: 'want', origin: 'x' });
    other[0] = 2;
    expect(() => decodeBusMessage(other)).toThrow(/format version 2; this instance reads 1/);
  });
});
