import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';
import {
  loadYamlLazily,
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
// build/pack-runtime.mjs replaces this in dist/cli.cjs and dist/index.cjs with the CRC-32 of dist/runtime.cjs.br, which both check.
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
    // The runtime: the CLI, the plugins and the package's API. esbuild splits it at dynamic imports into parts
    // (the core, yargs, the prompts, each mesh plugin), and yaml is a part of its own (loadYamlLazily), so a run
    // compiles only the parts it loads.
    // build/pack-runtime.mjs turns the parts into CommonJS and packs them into dist/runtime.cjs.br, which the
    // launcher (src/launcher/runtime.ts) and the package's entry point load.
    ...common,
    entry: { index: 'src/index.ts', yaml: 'src/yaml/package.ts' },
    outDir: 'dist/runtime-parts',
    format: ['esm'],
    splitting: true,
    // build/pack-runtime.mjs groups the parts by their imports, which esbuild's metafile lists. With
    // BUNDLE_METAFILE=1 it keeps the file as dist/metafile-esm.json, which shows what each package costs.
    metafile: true,
    esbuildPlugins: [loadYamlLazily(), precompileHandlebarsPlugin(), redirectToSmallerModules(), stubUnusedModules(), stubUnusedFeatures(), slimFigures(), replaceOraForInquirer(), replaceAssertForYargs(), measureAsciiFast(), requireBuiltinsLazily()],
  },
  {
    // dist/index.cjs, the package's entry point, which runs the runtime as its own module. It is CommonJS so that
    // ES modules importing the package get its named exports from Node, and CommonJS can require it.
    ...common,
    entry: { index: 'src/launcher/package-entry.ts' },
    format: ['cjs'],
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
