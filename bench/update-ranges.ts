/**
 * The (client, clock) ranges a Yjs update carries: the structs it inserts and the ranges its delete
 * set deletes. This is how a delivered frame is matched to the keystrokes it contains, without
 * embedding anything in the updates, and whether the server forwards, re-encodes or merges them.
 */
import * as Y from 'yjs';

/** Calls `visit` for every inserted struct range and every deleted range of `update`. */
export function forEachRange(update: Uint8Array, visit: (client: number, clock: number, length: number, deleted: boolean) => void): void {
  const { structs, ds } = Y.decodeUpdate(update);
  for (const struct of structs) {
    if (struct instanceof Y.Skip) continue;
    visit(struct.id.client, struct.id.clock, struct.length, false);
  }
  for (const [client, items] of ds.clients) {
    for (const item of items) visit(client, item.clock, item.len, true);
  }
}
