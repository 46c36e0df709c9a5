#!/usr/bin/env node
// The bin, a launcher. It prints `--version` and `--help` without loading the runtime, since `npm create` starts a
// fresh process each time. Every other command loads the runtime (dist/runtime.cjs.br, parts compressed with
// brotli), which contains the CLI, through V8's code cache (src/launcher/runtime.ts).
import { commandFirst } from './cli/command-first.js';
import { loadRuntime } from './launcher/runtime.js';
import { GENERATOR_VERSION } from './version.js';

// The output of `--help` at yargs' widest layout (100 columns), which the build records by running the bundle.
// Undefined when running from the sources, and not used on a terminal narrower than that layout.
declare const __HELP_TEXT__: string | undefined;
// The CRC-32 of dist/runtime.cjs.br, which the build records. It is undefined when running from the sources.
declare const __RUNTIME_CRC__: string | undefined;

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${GENERATOR_VERSION}\n`);
} else if (argv.length === 1 && argv[0] === '--help' && typeof __HELP_TEXT__ === 'string' && (process.stdout.columns ?? 100) >= 100) {
  process.stdout.write(__HELP_TEXT__);
} else {
  const { join } = process.getBuiltinModule('node:path');
  const first = commandFirst(argv)[0];
  const command = first === 'verify' || first === 'plugins' ? first : 'create';
  const { homedir } = process.getBuiltinModule('node:os');
  let home = '';
  try {
    home = homedir();
  } catch {
    // A user without a home folder, as in some containers, gets a cache only with XDG_CACHE_HOME set.
  }
  // The bundle is CommonJS, so __dirname is dist/. The runtime becomes the module dist/index.cjs, the package's
  // entry point, which plugins import.
  let loaded: ReturnType<typeof loadRuntime> | undefined;
  try {
    loaded = loadRuntime(
      join(__dirname, 'index.cjs'),
      {
        env: process.env,
        platform: process.platform,
        home,
        generatorVersion: GENERATOR_VERSION,
        v8Version: process.versions.v8,
        arch: process.arch,
        execArgv: process.execArgv,
        command,
      },
      join(__dirname, 'runtime.cjs.br'),
      typeof __RUNTIME_CRC__ === 'string' ? __RUNTIME_CRC__ : undefined,
    );
  } catch (error) {
    // A missing, truncated or damaged runtime file: the installation is broken, not the input.
    process.stderr.write(`create-zero-trust-app: cannot load the runtime: ${error instanceof Error ? error.message : String(error)}. Reinstall create-zero-trust-app\n`);
    process.exitCode = 1;
  }
  // A CommonJS entry point, so no top-level await: Node's ES module loader would cost each run milliseconds.
  if (loaded) {
    const runtime = loaded;
    void runtime.runtime.runCli(argv, { importModule: (url) => import(url) }).then((code) => {
      process.exitCode = code;
      // A cache keeps the functions this run compiled, so only a successful run (exit code 0) writes one.
      const helpOnly = argv.some((word) => word === '--help' || word === '-h' || word === '--version');
      if (code === 0 && !helpOnly) runtime.saveCompileCache();
    });
  }
}
