/**
 * Which versions are kept (`--keep-versions`): at most a number of versions taken automatically
 * (after edits, or around a restore), and none of them older than an age. Named versions are kept
 * until someone deletes them: a person chose to keep them.
 */
import type { VersionInfo } from '../../persistence/versions.js';

/** How many unnamed versions a document keeps, and for how long; null for no limit. */
export interface Retention {
  readonly count: number | null;
  readonly maxAgeMs: number | null;
}

const AGE_UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Reads `--keep-versions`: a count (`100`), an age (`30d`, `12h`, `90m`), or both (`100,30d`).
 * Throws RangeError with what was expected.
 */
export function parseRetention(text: string): Retention {
  let count: number | null = null;
  let maxAgeMs: number | null = null;
  const parts = text.split(',').map((part) => part.trim());
  for (const part of parts) {
    const age = /^(\d+)(m|h|d)$/.exec(part);
    if (age !== null && maxAgeMs === null) {
      maxAgeMs = Number(age[1]) * AGE_UNITS[age[2]!]!;
      if (maxAgeMs > 0) continue;
    } else if (/^\d+$/.test(part) && count === null) {
      count = Number(part);
      if (count > 0 && Number.isSafeInteger(count)) continue;
    }
    throw new RangeError(`expected a count of versions (100), an age (30d, 12h, 90m) or both (100,30d), got "${text}"`);
  }
  if (parts.length > 2) throw new RangeError(`expected a count, an age or both, got "${text}"`);
  return { count, maxAgeMs };
}

/** The versions (of one document, oldest first) that `retention` lets go at `now`. */
export function expiredVersions(versions: readonly VersionInfo[], retention: Retention, now: number): Set<string> {
  const unnamed = versions.filter((version) => version.kind !== 'named');
  const expired = new Set<string>();
  if (retention.count !== null) for (const version of unnamed.slice(0, Math.max(0, unnamed.length - retention.count))) expired.add(version.id);
  if (retention.maxAgeMs !== null) for (const version of unnamed) if (now - version.takenAt > retention.maxAgeMs) expired.add(version.id);
  return expired;
}
