import { defineConfig } from 'tsup';

// The conformance kit for plugin authors, published as dist/conformance.js next to the runtime bundle. It imports
// the core through '../index.js', which stays a reference to dist/index.js, and takes vitest, ajv, ajv-formats and
// kubernetes-models from the plugin author's own development dependencies.
export default defineConfig({
  entry: { conformance: 'src/conformance/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  clean: false,
  minify: true,
  dts: { entry: { conformance: 'src/conformance/index.ts' } },
  external: ['vitest', 'ajv', 'ajv-formats', 'kubernetes-models', /^kubernetes-models\//],
  esbuildPlugins: [
    {
      name: 'core-through-public-api',
      setup(build) {
        build.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) => (args.importer.includes('/src/conformance/') ? { path: './index.js', external: true } : undefined));
      },
    },
  ],
});
