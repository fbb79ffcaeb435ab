/**
 * Tests that need a system program (prlimit from util-linux, say): without it they skip with the
 * reason printed on a developer's machine, and fail under `CI=true`, so a CI run never passes by
 * testing nothing. `.ci/run` installs what they need.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

/** Whether `command --version` runs (or `command ...versionArgs`, for programs that ask otherwise: `openssl version`, `nginx -v`). */
export function hasCommand(command: string, versionArgs = ['--version']): boolean {
  try {
    execFileSync(command, versionArgs, { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe` for tests that need something this machine may lack, `problem` saying what (null:
 * nothing is missing). Without it: under `CI=true` the suite holds one failing test (`needs`) saying
 * why; elsewhere the suite is skipped with the reason printed under `tag`.
 */
export function describeNeeding(problem: string | null, tag: string, needs: string, title: string, body: () => void): void {
  if (problem === null) {
    describe(title, body);
  } else if (process.env['CI'] === 'true') {
    describe(title, () => {
      it(needs, () => {
        throw new Error(`${problem}; CI=true, so this fails instead of skipping`);
      });
    });
  } else {
    console.warn(`[${tag}] skipping "${title}": ${problem}`);
    describe.skip(title, body);
  }
}

/** `describe`, for tests that need `command` on the PATH (see the top of this file). */
export function describeWithCommand(command: string, title: string, body: () => void, versionArgs?: string[]): void {
  const problem = hasCommand(command, versionArgs) ? null : `${command} is not installed`;
  describeNeeding(problem, command, `needs ${command}`, title, body);
}
