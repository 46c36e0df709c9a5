import { isAbsolute, join, relative, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { InputError } from '../errors.js';
import type { FileTree } from '../generate/files.js';
import { GENERATION_RECORD, generateRepository } from '../generate/repository.js';
import type { MeshPlugin } from '../plugin/api.js';
import { DEFAULT_MESH, builtinPluginIds } from '../plugin/builtin.js';
import { loadBuiltinPlugin } from '../plugin/load.js';
import { normaliseTopology, parseTopology } from '../topology/parse.js';
import { toTopologyDocument } from '../topology/serialise.js';
import { readBlockDocuments } from '../yaml/read.js';
import { DEFAULT_PRESET, PRESETS, findPreset } from '../topology/presets.js';
import type { Topology } from '../topology/types.js';
import { checkTarget, inspectTarget, writeRepository } from '../write/writer.js';
import { count } from './count.js';
import type { CliIo, Question } from './io.js';
import { findPlugin, isTypoOf, loadThirdPartyPlugins, pluginIds, resolvePluginOptions } from './plugins.js';

export interface CreateArguments {
  directory?: string;
  mesh?: string;
  topology?: string;
  preset?: string;
  yes: boolean;
  force: boolean;
  dryRun: boolean;
  plugin: string[];
  json: boolean;
  /** Flags the core does not know; each must be an option of the chosen plugin. */
  extraFlags: Record<string, unknown>;
}

/** Exit code for a run the user cancelled at a prompt. */
export const CANCELLED = 130;

/** Runs the default command: prompts for missing values, generates the repository and writes it. */
export async function runCreate(args: CreateArguments, io: CliIo): Promise<number> {
  const misspelled = args.directory && ['verify', 'plugins'].find((command) => isTypoOf(args.directory!, command));
  if (misspelled) {
    throw new InputError(`"${args.directory}" looks like a misspelled command. Did you mean "${misspelled}"? To create a repository in a folder of that name, write ./${args.directory}`);
  }
  if (args.topology !== undefined && args.preset !== undefined) throw new InputError('--topology and --preset cannot be used together. Pass one of them');
  if (args.topology === '') throw new InputError('--topology: the path is empty. Give the path of a topology YAML file');
  const canPrompt = io.interactive && !args.yes;
  // node-plop and inquirer are loaded only when a question is asked.
  const prompt = io.prompt ?? (async (questions: Question[]) => (await import('./prompts.js')).promptWithPlop(questions));

  // 1. The topology: a file, a preset, or the user's choice.
  let topologySource = args.topology ? { file: args.topology } : { preset: args.preset };
  if (!args.topology && !args.preset && canPrompt) {
    const answers = await prompt([
      {
        name: 'topology',
        message: 'Topology: a preset, or a path to a topology file',
        choices: [...PRESETS.map((preset) => ({ name: `${preset.name}: ${preset.description}`, value: preset.name })), { name: 'a file...', value: '' }],
        default: DEFAULT_PRESET,
      },
    ]);
    if (!answers) return CANCELLED;
    if (answers.topology) {
      topologySource = { preset: answers.topology };
    } else {
      topologySource = { file: '' };
    }
  }
  let topology: Topology;
  // The topology file's own text, which the repository keeps when it contains the same data (see keepTopologyText).
  let topologyText: string | undefined;
  // Names the topology in errors that generation raises, as the validation errors name the file.
  let topologyLabel = topologySource.file ? topologySource.file : `preset ${topologySource.preset ?? DEFAULT_PRESET}`;
  if (topologySource.file === '') {
    // At the prompt, a path that cannot be read or a file that is invalid asks again instead of ending the run.
    for (;;) {
      const file = await prompt([{ name: 'file', message: 'Path to the topology file', default: 'topology.yaml', validate: (value) => (value.trim() ? true : 'Enter a path') }]);
      if (!file) return CANCELLED;
      try {
        ({ topology, text: topologyText } = await loadTopology({ file: file.file! }, io));
        topologyLabel = file.file!;
        break;
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        io.stderr.write(`${error.message.replace(/^--topology: /, '')}\n`);
      }
    }
  } else {
    ({ topology, text: topologyText } = await loadTopology(topologySource, io));
  }

  // 2. The mesh and its plugin.
  const thirdParty = await loadThirdPartyPlugins(args.plugin, io.cwd, io.importModule);
  let meshId = args.mesh;
  if (!meshId && canPrompt) {
    // The choices show every plugin's name and description, so only the prompt loads them all.
    const plugins = [...(await Promise.all(builtinPluginIds().map(loadBuiltinPlugin))), ...thirdParty];
    const answers = await prompt([
      {
        name: 'mesh',
        message: 'Mesh',
        choices: plugins.map((plugin) => ({ name: `${plugin.displayName}: ${plugin.description}`, value: plugin.id })),
        default: args.plugin.length > 0 ? plugins[plugins.length - 1]!.id : DEFAULT_MESH,
      },
    ]);
    if (!answers) return CANCELLED;
    meshId = answers.mesh;
  }
  meshId ??= args.plugin.length === 1 ? thirdParty[thirdParty.length - 1]!.id : DEFAULT_MESH;
  if (meshId === '') throw new InputError(`--mesh: the value is missing. Use one of: ${pluginIds(thirdParty).join(', ')}`);
  const plugin = await findPlugin(meshId, thirdParty);
  if (!plugin) throw new InputError(`--mesh: unknown mesh "${meshId}". Use one of: ${pluginIds(thirdParty).join(', ')}, or load a plugin with --plugin`);
  const options = await resolvePluginOptions(plugin, args.extraFlags, canPrompt ? prompt : undefined);
  if (!options) return CANCELLED;

  // 3. The target directory.
  let directory = args.directory;
  while (!directory && canPrompt) {
    const answers = await prompt([{ name: 'directory', message: 'Project directory', default: topology.name, validate: (value) => (value.trim() ? true : 'Enter a directory name') }]);
    if (!answers) return CANCELLED;
    const candidate = resolve(io.cwd, answers.directory!);
    // A directory that cannot take the repository is requested again. With --force, a non-empty one is fine.
    const state = await inspectTarget(io.fs, candidate).catch(() => 'file' as const);
    if (state === 'file' || (state === 'non-empty' && !args.force)) {
      io.stderr.write(`${answers.directory} ${state === 'file' ? 'is a file or cannot be read' : 'is not empty (pass --force to replace the generated files in it)'}. Choose another directory\n`);
      continue;
    }
    directory = answers.directory;
  }
  directory ??= topology.name;
  if (directory.includes('\0')) throw new InputError('directory: the name contains a NUL character. Choose another directory name');
  const target = isAbsolute(directory) ? directory : resolve(io.cwd, directory);

  // 4. Generate in memory, then write, or only list with --dry-run.
  const files = generateWithSource(topology, plugin, options, topologyLabel);
  if (topologyText !== undefined) keepTopologyText(files, topology, topologyText);
  // The files an earlier run wrote there, to name those this run no longer writes (with --dry-run too).
  const previousFiles = await readGeneratedFiles(io, target);
  if (args.dryRun) {
    // The checks of a real run, so a dry run fails where the write would.
    const { present } = await checkTarget({ fs: io.fs, target, files, force: args.force });
    const replaced = [...files.keys()].filter((path) => present.get(path) === true);
    const created = [...files.keys()].filter((path) => present.get(path) !== true);
    const stale = previousFiles.filter((path) => !files.has(path));
    if (args.json) io.stdout.write(`${JSON.stringify({ ...summarise(target, plugin, options, topology, created, replaced, true), stale }, null, 2)}\n`);
    else {
      const listing = [...files.keys()].map((path) => `  ${path}${present.get(path) === true ? ' (replaces the existing file)' : ''}\n`).join('');
      io.stdout.write(`Would write ${files.size} files to ${target}:\n${listing}${stale.length > 0 ? `No longer generated: ${stale.join(', ')}\n` : ''}`);
    }
    return 0;
  }
  const written = await writeRepository({ fs: io.fs, target, files, force: args.force, ...(io.onStaging && { onStaging: io.onStaging }), ...(io.onCommit && { onCommit: io.onCommit }) });

  if (args.json) {
    io.stdout.write(`${JSON.stringify({ ...summarise(target, plugin, options, topology, written.created, written.replaced, false), stale: previousFiles.filter((path) => !files.has(path)) }, null, 2)}\n`);
    return 0;
  }
  const displayedPath = relative(io.cwd, target) || '.';
  const pins = Object.entries(plugin.meshVersions).map(([name, version]) => `${name} ${version}`).join(', ');
  const extras = [
    ...(topology.exposures.length > 0 ? [count(topology.exposures.length, 'exposed port')] : []),
    ...(topology.externals.length > 0 ? [count(topology.externals.length, 'external dependency', 'external dependencies')] : []),
  ];
  io.stdout.write(`Created ${displayedPath === '.' ? 'the repository in the current folder' : displayedPath}: ${[count(topology.services.length, 'service'), count(topology.edges.length, 'edge'), ...extras].join(', ')}, on ${plugin.displayName} (${pins}).\n`);
  if (written.replaced.length > 0) io.stdout.write(`Replaced ${count(written.replaced.length, 'existing file')}: ${written.replaced.join(', ')}\n`);
  const stale = previousFiles.filter((path) => !files.has(path));
  if (stale.length > 0) {
    io.stdout.write(`No longer generated, left in place: ${stale.join(', ')}. Delete them if you removed what they describe, and delete their objects from the cluster too, since kubectl apply does not.\n`);
  }
  io.stdout.write(`\nNext:\n${displayedPath === '.' ? '' : `  cd ${displayedPath}\n`}  make tools      # check the pinned tools\n  make up verify  # kind cluster, ${plugin.displayName}, the app, and the live proof\n`);
  return 0;
}

/** Lists the files an earlier run wrote into `target`, from its generation record; empty when there is none. */
async function readGeneratedFiles(io: CliIo, target: string): Promise<string[]> {
  let text: string;
  try {
    text = await io.fs.readFile(join(target, GENERATION_RECORD), 'utf8');
  } catch {
    return [];
  }
  try {
    const files = (parse(text) as { files?: unknown } | null)?.files;
    return Array.isArray(files) ? files.filter((path): path is string => typeof path === 'string') : [];
  } catch {
    return [];
  }
}

/** Generates the repository; an input error a plugin raises gets the topology's file name in front, like a validation error. */
function generateWithSource(topology: Topology, plugin: MeshPlugin, options: Record<string, string>, label: string) {
  try {
    return generateRepository({ topology, plugin, options });
  } catch (error: unknown) {
    // Plugins name the topology as "topology:"; the file's own name replaces that. A plugin's own copy of the
    // package has its own InputError class, so the name decides.
    const isInputError = error instanceof Error && error.name === 'InputError';
    if (isInputError && !error.message.startsWith(`${label}:`)) throw new InputError(`${label}: ${error.message.replace(/^topology: /, '')}`);
    throw error;
  }
}

async function loadTopology(source: { file?: string; preset?: string | undefined }, io: CliIo): Promise<{ topology: Topology; text?: string }> {
  if (source.file) {
    if (source.file.includes('\0')) throw new InputError('--topology: the path contains a NUL character. Give the path of a topology YAML file');
    const path = resolve(io.cwd, source.file);
    let text: string;
    try {
      text = await io.fs.readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new InputError(`--topology: ${source.file} not found. Check the path`);
      if (code === 'EISDIR') throw new InputError(`--topology: ${source.file} is a directory. Give the path of a topology YAML file`);
      if (code === 'EACCES' || code === 'EPERM') throw new InputError(`--topology: ${source.file} cannot be read: permission denied. Check its permissions`);
      throw new InputError(`--topology: ${source.file} cannot be read (${(error as Error).message}). Check the path and its permissions`);
    }
    return { topology: parseTopology(text, source.file), text };
  }
  const name = source.preset ?? DEFAULT_PRESET;
  if (name === '') throw new InputError(`--preset: the value is missing. Use one of: ${PRESETS.map((candidate) => candidate.name).join(', ')}`);
  const preset = findPreset(name);
  if (!preset) throw new InputError(`--preset: unknown preset "${name}". Use one of: ${PRESETS.map((candidate) => candidate.name).join(', ')}`);
  return { topology: normaliseTopology(preset.document, `preset ${preset.name}`) };
}

/** The two comment lines the generator puts at the top of topology.yaml: its header and the schema for editors. */
const GENERATED_TOPOLOGY_HEADER = /^# Generated by create-zero-trust-app [^\n]*\n# yaml-language-server: \$schema=[^\n]*\n/;
/** One line of that header, wherever it is in the comments at the top of a file, with a Windows line ending or not. */
const GENERATED_HEADER_LINE = /^# (?:Generated by create-zero-trust-app |yaml-language-server: \$schema=)[^\n]*\n/;

/**
 * Keeps the topology file's own text, with its comments and layout, as the repository's topology.yaml when it
 * contains exactly the normalised data the generator would write. A file in shorthand (or with defaults left out) is
 * written normalised instead. The generated header replaces the file's old one.
 */
function keepTopologyText(files: FileTree, topology: Topology, text: string): void {
  const generated = files.get('topology.yaml');
  if (!generated) return;
  const body = withoutGeneratedHeader(text.replace(/^\uFEFF/, ''));
  // The block reader first, as parseTopology does: yaml's duplicate-key check is quadratic in a map's size.
  const fast = readBlockDocuments(body);
  let data: unknown;
  try {
    data = fast?.length === 1 ? fast[0] : parse(body, { logLevel: 'error' });
  } catch {
    return;
  }
  // The normalised document has Maps for user-named keys and may leave fields undefined: compare as JSON data.
  const asData = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_key, item: unknown) => (item instanceof Map ? Object.fromEntries(item) : item)) ?? 'null');
  if (!isDeepStrictEqual(asData(data), asData(toTopologyDocument(topology)))) return;
  let header = generated.content.match(GENERATED_TOPOLOGY_HEADER)?.[0] ?? '';
  // A file with Windows line endings keeps them in the new header too.
  if (body.includes('\r\n')) header = header.replaceAll('\n', '\r\n');
  files.set('topology.yaml', { ...generated, content: `${header}${body.endsWith('\n') ? body : `${body}\n`}` });
}

/**
 * Removes the lines of an earlier generated header from the comments and blank lines at the top of a file, and
 * keeps the others (a team's own comments) in their order.
 */
function withoutGeneratedHeader(text: string): string {
  const teamLines: string[] = [];
  let rest = text;
  for (;;) {
    const line = /^(?:#[^\n]*|[ \t\r]*)(?:\n|$)/.exec(rest)?.[0];
    if (!line) break;
    if (!GENERATED_HEADER_LINE.test(line.replace(/\r\n$/, '\n'))) teamLines.push(line);
    rest = rest.slice(line.length);
    if (rest === '') break;
  }
  return `${teamLines.join('')}${rest}`;
}

function summarise(target: string, plugin: MeshPlugin, options: Record<string, string>, topology: Topology, created: string[], replaced: string[], dryRun: boolean) {
  return {
    directory: target,
    dryRun,
    mesh: { id: plugin.id, plugin: plugin.version, versions: plugin.meshVersions, options },
    topology: { name: topology.name, services: topology.services.length, edges: topology.edges.length, namespaces: topology.namespaces },
    files: { created, replaced },
  };
}

