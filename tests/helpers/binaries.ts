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

/** `describe`, for tests that need `command` on the PATH (see the top of this file). */
export function describeWithCommand(command: string, title: string, body: () => void, versionArgs?: string[]): void {
  if (hasCommand(command, versionArgs)) {
    describe(title, body);
  } else if (process.env['CI'] === 'true') {
    describe(title, () => {
      it(`needs ${command}`, () => {
        throw new Error(`${command} is not installed; CI=true, so this fails instead of skipping`);
      });
    });
  } else {
    console.warn(`[${command}] skipping "${title}": ${command} is not installed`);
    describe.skip(title, body);
  }
}
