/**
 * Which instances are alive, as one instance hears them on the bus: each publishes a heartbeat
 * every `HEARTBEAT_MS` on the instances' channel, and anything it publishes counts as one. An
 * instance silent for `SILENCE_MS` is gone: the presence its connections owned is removed (no
 * ghost cursors for the 30 s of y-protocols' own timeout). Hearing of it again brings it back
 * (it was only slow: an event loop blocked for seconds), and its presence is asked for anew.
 *
 * An instance hears its own heartbeats too: one that stops coming back means the bus does not
 * carry this instance's messages (a connection dropped without a word), however connected the
 * client library thinks it is.
 */

/** How often an instance publishes its heartbeat. */
export const HEARTBEAT_MS = 1000;
/** How long an instance may be silent before its presence is removed everywhere. */
export const SILENCE_MS = 3000;

/** How long an instance declared gone is remembered (one that restarts comes back with a new id). */
const FORGET_MS = 10 * 60_000;

/** What the watch tells its bus. */
export interface InstanceEvents {
  /** `instance` was silent for the silence limit. */
  gone(instance: string): void;
  /** `instance`, declared gone, was heard of again. */
  back(instance: string): void;
  /** This instance's own heartbeats come back again, after they had stopped for the silence limit. */
  selfBack(): void;
}

export class InstanceWatch {
  /** When each instance was last heard of (performance.now()), this one included. */
  private readonly lastHeard = new Map<string, number>();
  private selfSilent = false;
  /** Instances declared gone, and when: an instance that comes back is told apart from a new one for `FORGET_MS`. */
  private readonly gone = new Map<string, number>();

  constructor(
    private readonly self: string,
    private readonly events: InstanceEvents,
    private readonly silenceMs: number = SILENCE_MS,
  ) {
    this.lastHeard.set(self, performance.now());
  }

  /** `instance` published something. */
  heard(instance: string, now = performance.now()): void {
    this.lastHeard.set(instance, now);
    if (this.gone.delete(instance)) this.events.back(instance);
    if (instance === this.self && this.selfSilent) {
      this.selfSilent = false;
      this.events.selfBack();
    }
  }

  /** Whether this instance's heartbeats stopped coming back (see the top of this file). */
  get silent(): boolean {
    return this.selfSilent;
  }

  /** The instances heard of within the silence limit, this one excluded. */
  get peers(): string[] {
    return [...this.lastHeard.keys()].filter((instance) => instance !== this.self);
  }

  /** Declares gone every instance silent for the limit; call it a few times per limit. */
  sweep(now = performance.now()): void {
    for (const [instance, heard] of this.lastHeard) {
      if (now - heard < this.silenceMs) continue;
      if (instance === this.self) {
        this.selfSilent = true;
        continue;
      }
      this.lastHeard.delete(instance);
      this.gone.set(instance, now);
      this.events.gone(instance);
    }
    for (const [instance, since] of this.gone) if (now - since > FORGET_MS) this.gone.delete(instance);
  }
}
