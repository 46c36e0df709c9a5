import { rmSync } from 'node:fs';
import { nodeFileSystem } from '../write/node-fs.js';
import type { ModuleImporter } from '../plugin/load.js';
import { main } from './main.js';

export interface RunOptions {
  /** Imports third-party plugins; the launcher passes its own `import()` (see ModuleImporter). */
  importModule?: ModuleImporter;
}

/** Runs the command line as the bin does, on the real process: its streams, file system and signals. Returns the exit code. */
export async function runCli(argv: string[], options: RunOptions = {}): Promise<number> {
  // The staging folder of a write in progress, removed on Ctrl-C or SIGTERM so nothing half-written stays.
  // While files are being moved into an existing folder, the exit waits until the moves are done.
  let staging: string | undefined;
  let committing = false;
  let pendingExit: number | undefined;
  const exitNow = (code: number): never => {
    if (staging) rmSync(staging, { recursive: true, force: true });
    process.exit(code);
  };
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      if (committing) pendingExit ??= code;
      else exitNow(code);
    });
  }

  // A reader that stops early, as in `create-zero-trust-app --dry-run | head`, is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // Any other failure, such as a full disk behind a redirect, ends the run with one line and exit 1.
    process.stderr.write(`create-zero-trust-app: writing to standard output failed: ${error.message}\n`);
    exitNow(1);
  });

  return main(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    // isatty(0) instead of process.stdin.isTTY, which would open standard input as a stream on every run, prompts
    // or not. node:tty is loaded only when standard output is a terminal, which has loaded it already.
    interactive: Boolean(process.stdout.isTTY) && process.getBuiltinModule('node:tty').isatty(0),
    fs: nodeFileSystem(),
    ...(options.importModule && { importModule: options.importModule }),
    onStaging: (path) => {
      staging = path;
    },
    onCommit: (active) => {
      committing = active;
      if (!active && pendingExit !== undefined) exitNow(pendingExit);
    },
  });
}
