import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { precompileTemplateModule } from './src/render/precompile.js';

const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

export default defineConfig({
  define: { __GENERATOR_VERSION__: JSON.stringify(packageJson.version) },
  plugins: [
    {
      // The same precompiled templates as the bundle gets from tsup.config.ts.
      name: 'precompile-handlebars',
      load(id) {
        if (!id.endsWith('.hbs')) return null;
        return precompileTemplateModule(readFileSync(id, 'utf8'), id);
      },
    },
  ],
  test: {
    include: ['test/**/*.test.ts', 'plugins/**/*.test.ts'],
    // The bundled CLI keeps V8's code cache in the user's cache folder (src/launcher/runtime.ts); the tests keep
    // theirs in the temporary folder.
    env: { XDG_CACHE_HOME: join(tmpdir(), 'create-zero-trust-app-tests-cache') },
    testTimeout: 60_000,
  },
});
