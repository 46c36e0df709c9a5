// The package's entry point, dist/index.cjs, for `require` and `import` of create-zero-trust-app. It runs the
// runtime (dist/runtime.cjs.br: the CLI, the plugins and the API, with the licences of the packages bundled in it)
// as this module, without a code cache. The bin, dist/cli.cjs, loads the same runtime through V8's code cache.
// build/pack-runtime.mjs appends the export names, which Node reads from this file's text when an ES module
// imports the package.
import { loadRuntime } from './runtime.js';

// The CRC-32 of dist/runtime.cjs.br, which the build records. It is undefined when running from the sources.
declare const __RUNTIME_CRC__: string | undefined;

const { join } = process.getBuiltinModule('node:path');
try {
  loadRuntime(
    __filename,
    { env: { NODE_DISABLE_COMPILE_CACHE: '1' }, platform: process.platform, home: '', generatorVersion: '', v8Version: '', arch: '', execArgv: [], command: 'package' },
    join(__dirname, 'runtime.cjs.br'),
    typeof __RUNTIME_CRC__ === 'string' ? __RUNTIME_CRC__ : undefined,
    module,
  );
} catch (error) {
  throw new Error(`create-zero-trust-app: cannot load the runtime: ${error instanceof Error ? error.message : String(error)}. Reinstall create-zero-trust-app`);
}
