/**
 * What the sync engine counts as it works: plain numbers incremented in place on the paths they
 * count (a field increment per update, no call, no allocation), read by whoever reports them
 * (`server/metrics/`). One object per engine, shared by its rooms. Nothing is ever reset: each
 * number only grows, as a Prometheus counter does.
 */
export class SyncCounters {
  /**
   * Update-bearing messages (sync step 2 and update) that rooms took from their members, over a
   * WebSocket or an HTTP write, whatever became of them (stored, changing nothing, or refused).
   */
  updatesReceived = 0;
  /**
   * Updates sent to members: one per update per member it went to (a stored update, or one another
   * instance stored, heard on the bus), so an update broadcast to 10 members counts 10.
   */
  updatesBroadcast = 0;
}
