import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { PLUGIN_API_VERSION } from '../src/plugin/api.js';
import { loadPluginModule } from '../src/plugin/load.js';

const fixtures = fileURLToPath(new URL('./fixtures/plugins', import.meta.url));

describe('plugin loader', () => {
  it('loads a plugin from a path', async () => {
    const plugin = await loadPluginModule('./example-mesh/index.mjs', fixtures);
    expect(plugin.id).toBe('example-mesh');
    expect(plugin.apiVersion).toBe(PLUGIN_API_VERSION);
  });

  it('rejects a missing path', async () => {
    await expect(loadPluginModule('./nowhere/index.mjs', fixtures)).rejects.toThrow(`--plugin: ./nowhere/index.mjs not found (looked for ${fixtures}/nowhere/index.mjs). Give the path of the plugin's JavaScript module`);
  });

  it('rejects a package that is not installed', async () => {
    await expect(loadPluginModule('zero-trust-plugin-that-does-not-exist', fixtures)).rejects.toThrow(
      `--plugin: package "zero-trust-plugin-that-does-not-exist" not found from ${fixtures}. Install it (npm install zero-trust-plugin-that-does-not-exist) or give a path`,
    );
  });

  it('rejects a module without a plugin export', async () => {
    await expect(loadPluginModule('./broken/no-export.mjs', fixtures)).rejects.toThrow(
      '--plugin: ./broken/no-export.mjs exports no mesh plugin. Export an object with apiVersion, id, generate and evaluate as the default export or as "plugin"',
    );
  });

  it('rejects another plugin API version, naming both', async () => {
    await expect(loadPluginModule('./broken/future-api.mjs', fixtures)).rejects.toThrow(
      /^--plugin: \.\/broken\/future-api\.mjs implements plugin API version 99, but create-zero-trust-app \S+ supports version 1\. Use a release of the plugin made for plugin API 1$/,
    );
  });

  it('reports a module that fails to load', async () => {
    const loading = loadPluginModule('./broken/throws.mjs', fixtures);
    await expect(loading).rejects.toBeInstanceOf(InputError);
    await expect(loading).rejects.toThrow('--plugin: loading ./broken/throws.mjs failed: this plugin cannot start');
  });
});
