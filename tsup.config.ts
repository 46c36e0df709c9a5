import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  entry: { cli: 'src/cli.ts', index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  // Every runtime package is bundled, as create-vite does, so `npm create` installs nothing else.
  noExternal: [/.*/],
  splitting: false,
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  minify: true,
  loader: { '.hbs': 'text' },
  define: { __GENERATOR_VERSION__: JSON.stringify(packageJson.version) },
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
