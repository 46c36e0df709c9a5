import { InputError } from '../errors.js';
import type { MeshPlugin } from '../plugin/api.js';
import { builtinPluginIds } from '../plugin/builtin.js';
import { loadBuiltinPlugin, loadPluginModule, type ModuleImporter } from '../plugin/load.js';
import type { Question } from './io.js';

/** Loads the plugins named with --plugin. A third-party id may not shadow a built-in one or another plugin's. */
export async function loadThirdPartyPlugins(specifiers: string[], cwd: string, importModule?: ModuleImporter): Promise<MeshPlugin[]> {
  const builtins = new Set(builtinPluginIds());
  const plugins: MeshPlugin[] = [];
  for (const specifier of specifiers) {
    const plugin = await loadPluginModule(specifier, cwd, importModule);
    if (builtins.has(plugin.id) || plugins.some((known) => known.id === plugin.id)) {
      throw new InputError(`--plugin: ${specifier} has the id "${plugin.id}", which another plugin already uses. Give the plugin another id`);
    }
    plugins.push(plugin);
  }
  return plugins;
}

/** Loads the built-in plugins and those named with --plugin, in that order. */
export async function listPlugins(specifiers: string[], cwd: string, importModule?: ModuleImporter): Promise<MeshPlugin[]> {
  const thirdParty = await loadThirdPartyPlugins(specifiers, cwd, importModule);
  return [...(await Promise.all(builtinPluginIds().map(loadBuiltinPlugin))), ...thirdParty];
}

/**
 * Returns the plugin with this id, or undefined when none has it. Of the built-in plugins it loads only that one,
 * since each plugin's templates and evaluator cost a run start-up time.
 */
export async function findPlugin(id: string, thirdParty: readonly MeshPlugin[]): Promise<MeshPlugin | undefined> {
  if (builtinPluginIds().includes(id)) return loadBuiltinPlugin(id);
  return thirdParty.find((plugin) => plugin.id === id);
}

/** Lists every plugin id, built-in ones first, for error messages. */
export function pluginIds(thirdParty: readonly MeshPlugin[]): string[] {
  return [...builtinPluginIds(), ...thirdParty.map((plugin) => plugin.id)];
}

/**
 * Resolves the plugin's options from flags, prompts (when `prompt` is given) or defaults, and rejects flags
 * that neither the core nor the plugin declares.
 */
export async function resolvePluginOptions(
  plugin: MeshPlugin,
  flags: Record<string, unknown>,
  prompt: ((questions: Question[]) => Promise<Record<string, string> | undefined>) | undefined,
): Promise<Record<string, string> | undefined> {
  const declared = plugin.options ?? [];
  for (const flag of Object.keys(flags)) {
    if (!declared.some((option) => option.name === flag)) {
      // As the user typed it: yargs gives `-h` and `--h` both as `h`.
      const typed = flag.length === 1 ? `-${flag}` : `--${flag}`;
      const coreFlag = CORE_OPTION_NAMES.find((name) => isTypoOf(flag, name));
      if (coreFlag) throw new InputError(`${typed}: unknown option. Did you mean --${coreFlag}? See --help`);
      // An option of another built-in mesh: that mesh was probably meant. Loading them all only happens here.
      for (const id of builtinPluginIds().filter((candidate) => candidate !== plugin.id)) {
        const other = await loadBuiltinPlugin(id);
        if (other.options?.some((option) => option.name === flag)) throw new InputError(`${typed}: an option of mesh ${id}, not of ${plugin.id}. Add --mesh ${id}, or leave the option out`);
      }
      const known = declared.map((option) => `--${option.name}`).join(', ');
      throw new InputError(`${typed}: unknown option, neither the CLI's nor mesh ${plugin.id}'s (${known ? `its options are ${known}` : 'it takes no options'}); see --help`);
    }
  }

  const options: Record<string, string> = {};
  const missing: Question[] = [];
  for (const option of declared) {
    const value = flags[option.name];
    if (value === undefined) {
      if (prompt) missing.push({ name: option.name, message: option.description, default: option.default, choices: option.choices.map((choice) => ({ name: choice, value: choice })) });
      options[option.name] = option.default;
      continue;
    }
    // A flag without a value reaches here as true (`--nsm-app-path --yes`), a negated one as false, a repeated one as a list.
    if (typeof value === 'boolean' || value === '') throw new InputError(`--${option.name}: the value is missing. Use one of: ${option.choices.join(', ')}`);
    if (Array.isArray(value)) throw new InputError(`--${option.name}: given ${value.length} times (${value.map(String).join(', ')}). Give it once`);
    if (typeof value !== 'string' || !option.choices.includes(value)) {
      throw new InputError(`--${option.name}: "${String(value)}" is not valid. Use one of: ${option.choices.join(', ')}`);
    }
    options[option.name] = value;
  }
  if (missing.length > 0 && prompt) {
    const answers = await prompt(missing);
    if (!answers) return undefined;
    Object.assign(options, answers);
  }
  return options;
}

/** The default command's own options, for "did you mean" hints on misspelled flags. */
const CORE_OPTION_NAMES = ['mesh', 'topology', 'preset', 'yes', 'force', 'dry-run', 'plugin', 'json', 'debug'];

/** Returns whether `word` is `target` with one character added, removed, changed, or two neighbours swapped. */
export function isTypoOf(word: string, target: string): boolean {
  if (word === target || Math.abs(word.length - target.length) > 1) return false;
  let i = 0;
  while (i < word.length && i < target.length && word[i] === target[i]) i++;
  const swapped = word[i] === target[i + 1] && word[i + 1] === target[i] && word.slice(i + 2) === target.slice(i + 2);
  return swapped || word.slice(i + 1) === target.slice(i + 1) || word.slice(i) === target.slice(i + 1) || word.slice(i + 1) === target.slice(i);
}
