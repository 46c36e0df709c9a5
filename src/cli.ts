#!/usr/bin/env node
// The bin, a launcher: `--version` and `--help` are handled here without loading the bundle, since `npm create`
// starts a fresh process each time; every other command imports the bundle (dist/index.js), which holds the CLI.
import { GENERATOR_VERSION } from './version.js';

// The output of `--help` at yargs' widest layout (100 columns), which the build records by running the bundle.
// Undefined when running from the sources, and not used on a terminal narrower than that layout.
declare const __HELP_TEXT__: string | undefined;

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${GENERATOR_VERSION}\n`);
} else if (argv.length === 1 && argv[0] === '--help' && typeof __HELP_TEXT__ === 'string' && (process.stdout.columns ?? 100) >= 100) {
  process.stdout.write(__HELP_TEXT__);
} else {
  const { runCli } = await import('./index.js');
  process.exitCode = await runCli(argv);
}
