import { InputError } from '../errors.js';
import { GENERATOR_NAME, GENERATOR_VERSION } from '../version.js';
import { runCreate, type CreateArguments } from './create.js';
import { commandFirst } from './command-first.js';
import type { CliIo } from './io.js';
import { simpleCreateArguments } from './simple-arguments.js';
import type { VerifyArguments } from './verify.js';

const CORE_FLAGS = new Set(['_', '$0', 'mesh', 'topology', 'preset', 'yes', 'y', 'force', 'dry-run', 'plugin', 'json', 'debug', 'all', 'help', 'h', 'version', 'directory']);

/** Runs the command line and returns the exit code: 0 success, 1 failure, 2 invalid input, 130 cancelled. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    return await dispatch(argv, io);
  } catch (error) {
    // By name as well as by class: a plugin that imports its own copy of the package throws that copy's classes.
    const known = error instanceof Error && (error.name === 'InputError' || error.name === 'GenerationError');
    if (known) {
      const code = error.name === 'InputError' ? 2 : 1;
      io.stderr.write(`${GENERATOR_NAME}: ${toOneLine(error.message)}\n`);
      // With --json, scripts read stdout, so the error is there too, as data.
      if (argv.includes('--json')) io.stdout.write(`${JSON.stringify({ error: { message: error.message, exitCode: code } })}\n`);
      if (debug && error.stack) io.stderr.write(`${error.stack}\n`);
      return code;
    }
    io.stderr.write(`${GENERATOR_NAME}: unexpected error: ${toOneLine((error as Error).message ?? String(error))}. Run again with --debug and report it\n`);
    if (debug && (error as Error).stack) io.stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}

/** A parsed command line: the command with its arguments, or the help or version text that yargs wrote instead. */
export type ParsedCommand =
  | { command: 'create'; args: CreateArguments }
  | { command: 'verify'; args: VerifyArguments }
  | { command: 'plugins'; args: { plugin: string[]; json: boolean } }
  | { command: 'help'; output: string };

async function dispatch(givenArgv: string[], io: CliIo): Promise<number> {
  // A plain create command line, such as the workshop's `hero --yes --mesh istio`, skips yargs, which costs a first
  // run about 14 ms (simple-arguments.ts).
  const simple = simpleCreateArguments(givenArgv);
  const parsed: ParsedCommand = simple ? { command: 'create', args: simple } : await parseArguments(givenArgv);
  switch (parsed.command) {
    case 'help':
      if (parsed.output) io.stdout.write(`${parsed.output}\n`);
      return 0;
    case 'verify': {
      const { runVerify } = await import('./verify.js');
      return runVerify(parsed.args, io);
    }
    case 'plugins': {
      const { runPlugins } = await import('./list.js');
      return runPlugins(parsed.args, io);
    }
    case 'create':
      return runCreate(parsed.args, io);
  }
}

/** Parses a command line with yargs, which checks it and writes the help text. */
export async function parseArguments(givenArgv: string[]): Promise<ParsedCommand> {
  rejectBooleanValues(givenArgv);
  const argv = commandFirst(givenArgv);
  let parsed: ParsedCommand | undefined;
  let helpOutput = '';
  const { default: yargs } = await import('yargs');

  const parser = yargs(argv)
    .scriptName(GENERATOR_NAME)
    .version(GENERATOR_VERSION)
    // Without dot notation, `--mesh.x=1` is an unknown option `mesh.x`, not an object in place of the mesh id.
    .parserConfiguration({ 'camel-case-expansion': false, 'strip-aliased': true, 'dot-notation': false })
    .exitProcess(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    // Not an array option, which would take every word after it: repeating the flag gives yargs' list instead.
    .option('plugin', { type: 'string', default: [], describe: 'Load a third-party mesh plugin (a package name or a path); may be repeated' })
    .option('debug', { type: 'boolean', default: false, describe: 'Print stack traces with errors' })
    .command(
      '$0 [directory]',
      'Create a repository with zero-trust networking for a topology',
      (command) =>
        command
          .positional('directory', { type: 'string', describe: 'Where to create the repository (default: the topology name)' })
          .option('mesh', { type: 'string', describe: 'The mesh: istio, linkerd, kuma, cilium-spiffe, nsm, or a loaded plugin id' })
          .option('topology', { type: 'string', describe: 'A topology file (YAML)' })
          .option('preset', { type: 'string', describe: 'A built-in topology: workshop (default) or bookinfo' })
          .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Take the defaults for everything not given; never prompt' })
          .option('force', { type: 'boolean', default: false, describe: 'Write into a non-empty directory, replacing only generated files' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'List the files that would be written; write nothing' })
          .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary on stdout' })
          .epilog('Mesh plugins may add options, such as --kuma-identity and --nsm-app-path; `create-zero-trust-app plugins` lists them.'),
      (args) => {
        rejectExtraArguments(args._);
        rejectRepeats(args, ['directory', 'mesh', 'topology', 'preset']);
        parsed = {
          command: 'create',
          args: {
            directory: args.directory,
            mesh: args.mesh,
            topology: args.topology,
            preset: args.preset,
            yes: args.yes,
            force: args.force,
            dryRun: args['dry-run'],
            plugin: pluginList(args.plugin),
            json: args.json,
            extraFlags: extraFlagsOf(args),
          },
        };
      },
    )
    .command(
      'verify [directory]',
      'Prove offline that a generated repository allows exactly its topology\'s edges, each over mTLS',
      (command) =>
        command
          .positional('directory', { type: 'string', default: '.', describe: 'The generated repository' })
          .option('all', { type: 'boolean', default: false, describe: 'List every client and port, not only mismatches' })
          .option('json', { type: 'boolean', default: false, describe: 'Print the full result as JSON' }),
      (args) => {
        rejectExtraFlags(args);
        // args._ starts with the command's own name.
        rejectExtraArguments(args._.slice(1));
        parsed = { command: 'verify', args: { directory: args.directory, all: args.all, json: args.json, plugin: pluginList(args.plugin) } };
      },
    )
    .command(
      'plugins',
      'List the available mesh plugins',
      (command) => command.option('json', { type: 'boolean', default: false, describe: 'Print the list as JSON' }),
      (args) => {
        rejectExtraFlags(args);
        rejectExtraArguments(args._.slice(1), 'The plugins command takes none');
        parsed = { command: 'plugins', args: { plugin: pluginList(args.plugin), json: args.json } };
      },
    )
    .fail((message, error) => {
      if (error) throw error;
      throw new InputError(`${message}. See --help`);
    })
    .help()
    .alias('help', 'h');

  await parser.parseAsync(argv, {}, (_error, _args, output) => {
    helpOutput = output;
  });
  return parsed && !helpOutput ? parsed : { command: 'help', output: helpOutput };
}

/** Returns the flags that are not the core's own: they belong to the chosen plugin. */
function extraFlagsOf(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([key]) => !CORE_FLAGS.has(key)));
}

/** Rejects a single-valued flag given more than once, which yargs turns into a list. */
/** Rejects a value other than true or false given to a switch, as in --force=maybe, which yargs would read as true. */
function rejectBooleanValues(argv: readonly string[]): void {
  for (const argument of argv) {
    if (argument === '--') return;
    const match = /^--(yes|force|dry-run|json|debug|all)=(.*)$/s.exec(argument);
    if (match && match[2] !== 'true' && match[2] !== 'false') {
      throw new InputError(`--${match[1]}: "${toOneLine(match[2]!)}" is not valid. The option is a switch: give --${match[1]} alone, or =true or =false`);
    }
  }
}

function rejectRepeats(args: Record<string, unknown>, flags: readonly string[]): void {
  for (const flag of flags) {
    const value = args[flag];
    if (Array.isArray(value)) throw new InputError(`--${flag}: given ${value.length} times (${value.join(', ')}). Give it once`);
  }
}

function rejectExtraArguments(extra: readonly unknown[], fix = 'Give at most one directory'): void {
  if (extra.length > 0) throw new InputError(`unexpected argument "${String(extra[0])}". ${fix}; see --help`);
}

/** Escapes line breaks and other control characters, so an error message that quotes the input stays on one line. */
function toOneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function rejectExtraFlags(args: Record<string, unknown>): void {
  const extra = Object.keys(extraFlagsOf(args));
  if (extra.length > 0) throw new InputError(`--${extra[0]}: unknown option. See --help`);
}

/** Returns the --plugin values as a list: yargs gives one string for one flag and a list for a repeated one. */
function pluginList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : [value].flat();
}
