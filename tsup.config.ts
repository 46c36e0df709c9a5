import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import {
  importBundleFromLauncher,
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

// Stands for the help text in dist/cli.js until the bundle is built and can print it.
const HELP_PLACEHOLDER = JSON.stringify('create-zero-trust-app help text, recorded after the build');

/** Records `--help` in the launcher: runs the bundle with stdout on a pipe, so yargs lays it out at 100 columns. */
function recordHelpText(): void {
  const help = execFileSync(process.execPath, ['--input-type=module', '-e', "const { runCli } = await import('./dist/index.js'); process.exitCode = await runCli(['--help']);"], { encoding: 'utf8' });
  const launcher = readFileSync('dist/cli.js', 'utf8');
  if (!launcher.includes(HELP_PLACEHOLDER)) throw new Error('dist/cli.js: the help text placeholder is missing, so --help cannot be recorded');
  writeFileSync('dist/cli.js', launcher.replace(HELP_PLACEHOLDER, JSON.stringify(help)));
}

export default defineConfig({
  // dist/index.js is the whole runtime, as one file with no dependencies (as create-vite ships), and the
  // package's API; dist/cli.js is the bin, a launcher that prints --version itself and imports the bundle
  // for everything else.
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  noExternal: [/.*/],
  splitting: false,
  // Keeps `node:` imports for requireBuiltinsLazily (build/bundle-plugins.ts), which tsup would otherwise strip
  // and mark external before any of this config's plugins could see them.
  removeNodeProtocol: false,
  // BUNDLE_METAFILE=1 writes dist/metafile-esm.json, which shows what each package costs; never publish it.
  metafile: Boolean(process.env.BUNDLE_METAFILE),
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  minify: true,
  define: { __GENERATOR_VERSION__: JSON.stringify(packageJson.version), __HELP_TEXT__: HELP_PLACEHOLDER },
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  onSuccess: async () => recordHelpText(),
  esbuildPlugins: [importBundleFromLauncher(), precompileHandlebarsPlugin(), redirectToSmallerModules(), stubUnusedModules(), stubUnusedFeatures(), slimFigures(), replaceOraForInquirer(), replaceAssertForYargs(), measureAsciiFast(), requireBuiltinsLazily()],
});
