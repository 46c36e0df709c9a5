import { defineConfig } from 'tsup';

// The conformance kit for plugin authors, published as dist/conformance.js next to the runtime bundle. It imports
// the core through '../index.js', which becomes an import of the runtime, dist/index.cjs, and takes vitest, ajv,
// ajv-formats and kubernetes-models from the plugin author's own development dependencies.
const external = ['vitest', 'ajv', 'ajv-formats', 'kubernetes-models', /^kubernetes-models\//];

export default defineConfig([
  {
    entry: { conformance: 'src/conformance/index.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    clean: false,
    minify: true,
    external,
    esbuildPlugins: [
      {
        name: 'core-through-public-api',
        setup(build) {
          build.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) => (args.importer.includes('/src/conformance/') ? { path: './index.cjs', external: true } : undefined));
        },
      },
    ],
  },
  {
    // The kit's types import the core's from '../index.js' instead of repeating them (about 20 KB), and
    // build/link-conformance-types.mjs then points that import at dist/index.d.ts, next to dist/conformance.d.ts.
    entry: { conformance: 'src/conformance/index.ts' },
    format: ['esm'],
    clean: false,
    dts: { only: true },
    external: ['../index.js', ...external],
  },
]);
