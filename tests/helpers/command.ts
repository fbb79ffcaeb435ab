/**
 * The built `collab-server` run as a command (`export`, `import`, `backup`, `restore`), the way an
 * operator runs it: its own process, a bare environment (PATH and what the test passes), its exit
 * code and output returned whatever they are.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');
const run = promisify(execFile);

/** How a command ended. */
export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `collab-server ...args` with `env` besides PATH; resolves once it exits, with a failure's code too. */
export async function collabCommand(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
