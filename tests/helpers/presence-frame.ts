/**
 * Reading a presence (awareness) message as a client receives it, by hand rather than through the
 * server's codec, so that tests check the server against the format itself.
 */
import * as decoding from 'lib0/decoding';

/** The states a presence message (`1`, then an awareness update) carries, by client id. */
export function presenceStates(frame: Uint8Array): Map<number, unknown> {
  const decoder = decoding.createDecoder(frame);
  decoding.readVarUint(decoder);
  const update = decoding.createDecoder(decoding.readVarUint8Array(decoder));
  const states = new Map<number, unknown>();
  for (let count = decoding.readVarUint(update); count > 0; count--) {
    const clientId = decoding.readVarUint(update);
    decoding.readVarUint(update);
    states.set(clientId, JSON.parse(decoding.readVarString(update)));
  }
  return states;
}
