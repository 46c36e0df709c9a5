import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';
import {
  measureAsciiFast,
  redirectToSmallerModules,
  replaceAssertForYargs,
  replaceOraForInquirer,
  requireBuiltinsLazily,
  slimFigures,
  stubUnusedFeatures,
  stubUnusedModules,
} from './build/bundle-plugins.js';
import { precompileHandlebarsPlugin } from './src/render/precompile.js';

const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// build/record-help.mjs replaces this in dist/cli.cjs with the help text, once the runtime is built and can print it.
const HELP_PLACEHOLDER = JSON.stringify('create-zero-trust-app help text, recorded after the build');
// build/compress-runtime.mjs replaces this in dist/cli.cjs with the CRC-32 of dist/runtime.cjs.br, which the launcher checks.
const RUNTIME_CRC_PLACEHOLDER = JSON.stringify('create-zero-trust-app runtime CRC-32, recorded after the build');

const common: Options = {
  target: 'node20',
  platform: 'node',
  noExternal: [/.*/],
  splitting: false,
  // Keeps `node:` imports for requireBuiltinsLazily (build/bundle-plugins.ts), which tsup would otherwise strip
  // and mark external before any of this config's plugins could see them.
  removeNodeProtocol: false,
  // `npm run build` empties dist/ first: the configs below build at the same time.
  clean: false,
  minify: true,
  define: { __GENERATOR_VERSION__: JSON.stringify(packageJson.version), __HELP_TEXT__: HELP_PLACEHOLDER, __RUNTIME_CRC__: RUNTIME_CRC_PLACEHOLDER },
};

export default defineConfig([
  {
    // dist/index.cjs is the whole runtime, as one file with no dependencies (as create-vite ships), and the
    // package's API. It is CommonJS so that the launcher can compile it through V8's code cache
    // (src/launcher/runtime.ts); ES modules importing the package get its named exports from Node.
    ...common,
    entry: { index: 'src/index.ts' },
    format: ['cjs'],
    // The bundled packages' ES module code reads import.meta.url (yargs, for one); shims give it the file's URL.
    shims: true,
    // BUNDLE_METAFILE=1 writes dist/metafile-cjs.json, which shows what each package costs; never publish it.
    metafile: Boolean(process.env.BUNDLE_METAFILE),
    esbuildPlugins: [precompileHandlebarsPlugin(), redirectToSmallerModules(), stubUnusedModules(), stubUnusedFeatures(), slimFigures(), replaceOraForInquirer(), replaceAssertForYargs(), measureAsciiFast(), requireBuiltinsLazily()],
  },
  {
    // The package's types, as dist/index.d.ts for the ES module import.
    entry: { index: 'src/index.ts' },
    format: ['esm'],
    clean: false,
    dts: { only: true },
  },
  {
    // dist/cli.cjs is the bin, a launcher that prints --version and --help itself and loads the runtime for
    // everything else. It is CommonJS too: an ES module entry point makes Node start its ES module loader, which
    // reads files through node:fs/promises and so loads Node's stream and readline modules.
    ...common,
    entry: { cli: 'src/cli.ts' },
    format: ['cjs'],
  },
]);
