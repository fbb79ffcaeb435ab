/**
 * Progress of a long backup or restore, on stderr: a line at most every 2 s while it runs (none
 * for a run shorter than that), and the last word when it ends.
 */

const EVERY_MS = 2000;

export class Progress {
  documents = 0;
  versions = 0;
  bytes = 0;
  private last = performance.now();

  constructor(private readonly what: string) {}

  /** Says how far it got, if the last line is old enough. */
  tick(): void {
    const now = performance.now();
    if (now - this.last < EVERY_MS) return;
    this.last = now;
    process.stderr.write(`${this.what}: ${this.documents} document(s), ${this.versions} version(s), ${megabytes(this.bytes)} so far\n`);
  }

  finish(message: string): void {
    process.stderr.write(`${message} (${megabytes(this.bytes)})\n`);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
