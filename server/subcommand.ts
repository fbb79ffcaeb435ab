/** Running a subcommand of `collab-server` (export, import, backup, restore) to an exit code. */
import { type Command, CommanderError } from 'commander';

/**
 * Parses `argv` with `program` (built with `exitOverride`) and runs it; resolves with the exit
 * code. A failure is said on stderr in one line; a usage error or `--help` Commander has said already.
 */
export async function runSubcommand(program: Command, argv: readonly string[]): Promise<number> {
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
