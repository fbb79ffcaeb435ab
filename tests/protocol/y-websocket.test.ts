/**
 * The wire codec on its own: what decodes, what is refused, and with which error code.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import {
  decodeClientMessage,
  decodeSaved,
  encodeSaved,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeUpdate,
  MESSAGE_SAVED,
  ProtocolError,
  type ProtocolErrorCode,
} from '../../protocol/index.js';

function sampleUpdate(): Uint8Array {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, 'sample');
  doc.getMap('m').set('k', [1, { deep: true }]);
  return Y.encodeStateAsUpdate(doc);
}

function refusal(frame: Uint8Array): ProtocolErrorCode {
  try {
    decodeClientMessage(frame);
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  throw new Error('the frame was accepted');
}

describe('decodeClientMessage', () => {
  it('decodes what the official client sends', () => {
    const update = sampleUpdate();
    const doc = new Y.Doc();
    expect(decodeClientMessage(encodeSyncStep1(Y.encodeStateVector(doc)))).toMatchObject({ type: 'sync-step-1' });
    // Where each client's structs start: what the room checks against the document (Y.parseUpdateMeta's `from`).
    const starts = Y.parseUpdateMeta(update).from;
    expect(starts.size).toBeGreaterThan(0);
    expect(decodeClientMessage(encodeSyncStep2(update))).toEqual({ type: 'sync-step-2', update, starts });
    expect(decodeClientMessage(encodeUpdate(update))).toEqual({ type: 'update', update, starts });
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState({ user: { name: 'Ada' } });
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]));
    const message = decodeClientMessage(encoding.toUint8Array(encoder));
    expect(message).toMatchObject({ type: 'awareness', entries: [{ clientId: doc.clientID, state: { user: { name: 'Ada' } } }] });
    awareness.destroy();
    expect(decodeClientMessage(Uint8Array.of(3))).toEqual({ type: 'query-awareness' });
  });

  it('refuses each kind of malformed frame with its own code', () => {
    const update = sampleUpdate();
    expect(refusal(new Uint8Array())).toBe('empty-message');
    expect(refusal(Uint8Array.of(0x80))).toBe('truncated');
    expect(refusal(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))).toBe('truncated');
    expect(refusal(Uint8Array.of(42))).toBe('unknown-message-type');
    expect(refusal(Uint8Array.of(0, 7, 0))).toBe('unknown-sync-type');
    expect(refusal(Uint8Array.of(3, 0))).toBe('trailing-bytes');
    expect(refusal(Uint8Array.of(0, 2, 200, 1))).toBe('truncated'); // payload length past the end
    expect(refusal(encodeUpdate(update.slice(0, update.length - 2)))).toBe('invalid-update');
    expect(refusal(encodeSyncStep1(Uint8Array.of(5, 1)))).toBe('invalid-state-vector');
  });

  it('refuses every truncation of a valid update message', () => {
    const frame = encodeUpdate(sampleUpdate());
    for (let length = 1; length < frame.length; length++) {
      expect(() => decodeClientMessage(frame.slice(0, length)), `length ${length}`).toThrow(ProtocolError);
    }
  });
});

describe('saved message', () => {
  it('round-trips count and state vector', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'abc');
    const frame = encodeSaved(3, Y.encodeStateVector(doc));
    const decoder = decoding.createDecoder(frame);
    expect(decoding.readVarUint(decoder)).toBe(MESSAGE_SAVED);
    const saved = decodeSaved(decoder);
    expect(saved.count).toBe(3);
    expect(saved.stateVector.get(doc.clientID)).toBe(3);
  });
});
