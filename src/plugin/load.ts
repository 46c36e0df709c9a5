import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { GENERATOR_VERSION } from '../version.js';
import { PLUGIN_API_VERSION, type MeshPlugin } from './api.js';
import { BUILTIN_PLUGINS, builtinPluginIds } from './builtin.js';

/** Loads a built-in plugin by id. */
export async function loadBuiltinPlugin(id: string): Promise<MeshPlugin> {
  const load = BUILTIN_PLUGINS[id];
  if (!load) throw new InputError(`--mesh: unknown mesh "${id}". Use one of: ${builtinPluginIds().join(', ')}, or load a plugin with --plugin`);
  return load();
}

/** Imports an ES module by URL, as `import()` does. */
export type ModuleImporter = (url: string) => Promise<unknown>;

/**
 * Loads a third-party plugin from a path (absolute, or relative to `cwd`) or a package name resolved from `cwd`,
 * and checks that it implements this release's plugin API. `importModule` replaces `import()`, because code that
 * node:vm compiled from a code cache cannot call `import()`, so the launcher passes its own.
 */
export async function loadPluginModule(specifier: string, cwd: string, importModule: ModuleImporter = (url) => import(url)): Promise<MeshPlugin> {
  const looksLikePath = specifier.startsWith('.') || isAbsolute(specifier) || existsSync(resolve(cwd, specifier));
  let url: string;
  if (looksLikePath) {
    const path = resolve(cwd, specifier);
    if (!existsSync(path)) throw new InputError(`--plugin: ${specifier} not found (looked for ${path}). Give the path of the plugin's JavaScript module`);
    url = pathToFileURL(path).href;
  } else {
    try {
      url = pathToFileURL(createRequire(resolve(cwd, 'package.json')).resolve(specifier)).href;
    } catch {
      throw new InputError(`--plugin: package "${specifier}" not found from ${cwd}. Install it (npm install ${specifier}) or give a path`);
    }
  }

  let module: Record<string, unknown>;
  try {
    module = (await importModule(url)) as Record<string, unknown>;
  } catch (error) {
    // A module may throw anything, not only an Error.
    const message = error instanceof Error ? error.message : String(error);
    throw new InputError(`--plugin: loading ${specifier} failed: ${message.split('\n')[0]}`);
  }
  return checkPlugin(module.default ?? module.plugin, specifier);
}

/** Checks the shape and API version of a plugin object, with an error that says what to change. */
export function checkPlugin(candidate: unknown, specifier: string): MeshPlugin {
  const plugin = candidate as Partial<MeshPlugin> | undefined;
  if (!plugin || typeof plugin !== 'object' || typeof plugin.generate !== 'function' || typeof plugin.evaluate !== 'function') {
    throw new InputError(`--plugin: ${specifier} exports no mesh plugin. Export an object with apiVersion, id, generate and evaluate as the default export or as "plugin"`);
  }
  if (plugin.apiVersion !== PLUGIN_API_VERSION) {
    throw new InputError(
      `--plugin: ${specifier} implements plugin API version ${String(plugin.apiVersion)}, but create-zero-trust-app ${GENERATOR_VERSION} supports version ${PLUGIN_API_VERSION}. Use a release of the plugin made for plugin API ${PLUGIN_API_VERSION}`,
    );
  }
  for (const field of ['id', 'displayName', 'version', 'description'] as const) {
    if (typeof plugin[field] !== 'string' || plugin[field] === '') {
      throw new InputError(`--plugin: ${specifier} has no ${field}. Set ${field} to a non-empty string`);
    }
  }
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plugin.id!)) {
    throw new InputError(`--plugin: ${specifier} has the invalid id "${plugin.id}". Use lowercase letters, digits and "-"`);
  }
  if (!plugin.meshVersions || typeof plugin.meshVersions !== 'object') {
    throw new InputError(`--plugin: ${specifier} has no meshVersions. List each pinned component with its version`);
  }
  return plugin as MeshPlugin;
}
