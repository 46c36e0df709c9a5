// Shared by the launcher (src/cli.ts), which picks a code cache per command, and the CLI, which hands yargs the
// command first. It has no imports, so the launcher stays small.

/** Switches that may come before a command. */
const LEADING_SWITCHES = new Set(['--json', '--yes', '-y', '--force', '--dry-run', '--debug', '--all']);
/** Options with a value that may come before a command. */
const LEADING_OPTIONS = new Set(['--plugin']);

/**
 * Moves a command written after some options to the front, as in `--json verify out`: yargs matches a command only
 * as the first word, and would otherwise take `verify` as the directory of the default command.
 */
export function commandFirst(argv: string[]): string[] {
  let index = 0;
  while (index < argv.length) {
    const word = argv[index]!;
    if (LEADING_SWITCHES.has(word) || (word.startsWith('--') && word.includes('='))) index += 1;
    else if (LEADING_OPTIONS.has(word)) index += 2;
    else break;
  }
  const command = argv[index];
  if (index === 0 || (command !== 'verify' && command !== 'plugins')) return argv;
  return [command, ...argv.slice(0, index), ...argv.slice(index + 1)];
}
