// The create command lines that need no yargs, such as the workshop's `hero --yes --mesh istio`. Loading and
// running yargs costs a first run of the workshop about 14 ms. Every other line goes to yargs, which checks it and
// writes errors and help. test/simple-arguments.test.ts checks that yargs reads each accepted line the same way.
import type { CreateArguments } from './create.js';

/** The switches of the create command, with the argument each sets. */
const SWITCHES: Record<string, 'yes' | 'force' | 'dryRun' | 'json' | undefined> = {
  '--yes': 'yes',
  '-y': 'yes',
  '--force': 'force',
  '--dry-run': 'dryRun',
  '--json': 'json',
  // main() reads --debug from the words themselves.
  '--debug': undefined,
};

/**
 * Words that yargs reads as a command, or as its name for the default command, where a directory would go: the
 * `help` command that `.help()` adds among them.
 */
const COMMAND_WORDS = new Set(['verify', 'plugins', 'help', 'version', 'completion', '$0']);

/** The options of the create command that take a value in the next word. */
const VALUE_OPTIONS: Record<string, 'mesh' | 'preset' | 'topology'> = { '--mesh': 'mesh', '--preset': 'preset', '--topology': 'topology' };

/**
 * Returns the create command's arguments for a line made only of a directory, the create command's switches, and
 * `--mesh`, `--preset` or `--topology` each followed by a value. Returns undefined for any other line: a command,
 * help, a repeated word, an empty word, a value that starts with `-`, a switch followed by `true` or `false`, a
 * `--name=value` word, a plugin's option.
 */
export function simpleCreateArguments(argv: readonly string[]): CreateArguments | undefined {
  const args: CreateArguments = { yes: false, force: false, dryRun: false, plugin: [], json: false, extraFlags: {} };
  const seen = new Set<string>();
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === '' || seen.has(word)) return undefined;
    seen.add(word);
    if (Object.hasOwn(SWITCHES, word)) {
      // yargs takes a following `true` or `false` as the switch's value.
      if (/^(?:true|false)$/i.test(argv[index + 1] ?? '')) return undefined;
      const name = SWITCHES[word];
      if (name) args[name] = true;
    } else if (Object.hasOwn(VALUE_OPTIONS, word)) {
      const value = argv[index + 1];
      if (value === undefined || value === '' || value.startsWith('-')) return undefined;
      args[VALUE_OPTIONS[word]!] = value;
      index++;
    } else if (word.startsWith('-') || args.directory !== undefined || COMMAND_WORDS.has(word)) {
      return undefined;
    } else {
      args.directory = word;
    }
  }
  // `-y` and `--yes` together are one switch given twice.
  if (seen.has('-y') && seen.has('--yes')) return undefined;
  return args;
}
