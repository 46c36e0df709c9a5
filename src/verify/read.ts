import { dirname, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { InputError } from '../errors.js';
import { GENERATION_RECORD } from '../generate/repository.js';
import type { KubeObject } from '../k8s/object.js';
import type { MeshPlugin } from '../plugin/api.js';
import { parseTopology } from '../topology/parse.js';
import type { Topology } from '../topology/types.js';
import type { FileSystem } from '../write/fs.js';
import { readBlockDocuments } from '../yaml/read.js';

/** A generated repository as `verify` reads it. */
export interface GeneratedRepository {
  topology: Topology;
  pluginId: string;
  /** The plugin's options as the generation record has them, checked against the plugin by {@link recordedOptions}. */
  options: unknown;
  /** The path of the generation record, for messages about its fields. */
  recordPath: string;
  objects: KubeObject[];
}

/** Reads topology.yaml, the generation record and every manifest under manifests/. */
export async function readRepository(fs: FileSystem, directory: string): Promise<GeneratedRepository> {
  const topologyPath = join(directory, 'topology.yaml');
  const topology = parseTopology(await readText(fs, topologyPath), topologyPath);

  const recordPath = join(directory, GENERATION_RECORD);
  const record = readSingleDocument(await readText(fs, recordPath), recordPath) as { plugin?: { id?: unknown; options?: unknown } } | null;
  const pluginId = record?.plugin?.id;
  if (typeof pluginId !== 'string') throw new InputError(`${recordPath}: plugin.id is missing. Regenerate the repository`);
  const options = record?.plugin?.options;

  const objects: KubeObject[] = [];
  const paths = await listManifests(fs, join(directory, 'manifests'));
  const texts = await readTexts(fs, paths);
  for (const [index, path] of paths.entries()) {
    for (const value of readDocuments(texts[index]!, path) as (KubeObject | null)[]) {
      if (value === null) continue;
      if (typeof value !== 'object' || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string' || typeof value.metadata?.name !== 'string') {
        throw new InputError(`${path}: a document is not a Kubernetes object (apiVersion, kind and metadata.name are required)`);
      }
      objects.push(value);
    }
  }
  return { topology, pluginId, options, recordPath, objects };
}

/**
 * Returns the plugin's options as the generation record gives them, each checked against the plugin's choices.
 * An option the record lacks was added to the plugin after the repository was generated, so verify cannot tell
 * which choice the manifests follow.
 *
 * @throws InputError naming the record's field and the valid values.
 */
export function recordedOptions(plugin: MeshPlugin, recorded: unknown, recordPath: string): Record<string, string> {
  if (recorded !== undefined && recorded !== null && (typeof recorded !== 'object' || Array.isArray(recorded))) {
    throw new InputError(`${recordPath}: plugin.options must be a mapping of option names to values. Regenerate the repository`);
  }
  const values = (recorded ?? {}) as Record<string, unknown>;
  const declared = plugin.options ?? [];
  for (const name of Object.keys(values)) {
    if (!declared.some((option) => option.name === name)) {
      throw new InputError(`${recordPath}: plugin.options.${name}: mesh ${plugin.id} has no such option${declared.length > 0 ? ` (its options: ${declared.map((option) => option.name).join(', ')})` : ''}. Remove the line or regenerate the repository`);
    }
  }
  const options: Record<string, string> = {};
  for (const option of declared) {
    const value = values[option.name];
    if (value === undefined) {
      throw new InputError(
        `${recordPath}: plugin.options.${option.name} is missing, so the repository predates that option of mesh ${plugin.id}. Add the choice it was generated with (one of: ${option.choices.join(', ')}), or regenerate the repository`,
      );
    }
    if (typeof value !== 'string' || !option.choices.includes(value)) {
      throw new InputError(`${recordPath}: plugin.options.${option.name}: ${JSON.stringify(value) ?? String(value)} is not valid. Use one of: ${option.choices.join(', ')}`);
    }
    options[option.name] = value;
  }
  return options;
}

/** Reads a file of one YAML document, by the fast reader when it can. */
function readSingleDocument(text: string, path: string): unknown {
  const fast = readBlockDocuments(text);
  if (fast?.length === 1) return fast[0];
  try {
    return parse(text);
  } catch (error) {
    throw new InputError(`${path}: invalid YAML: ${(error as Error).message.split('\n')[0]}. Regenerate the repository`);
  }
}

/**
 * Reads the documents of a manifest: in the generator's own block layout by the fast reader, and anything else
 * (a ConfigMap's file in a block scalar, a hand edit with anchors or comments) with yaml.
 */
function readDocuments(text: string, path: string): unknown[] {
  const fast = readBlockDocuments(text);
  if (fast) return fast;
  return parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) {
      // yaml's message ends its first line with a colon, before a picture of the position.
      const problem = document.errors[0]!.message.split('\n')[0]!.replace(/[:.]$/, '');
      throw new InputError(`${path}: invalid YAML: ${problem}. Fix the syntax at that position, or regenerate the repository`);
    }
    return document.toJS() as unknown;
  });
}

/**
 * Lists the manifests `make deploy` applies: the resources of manifests/kustomization.yaml (a file left over from
 * an earlier generation is not among them), or without that file every YAML file under manifests/.
 */
async function listManifests(fs: FileSystem, directory: string): Promise<string[]> {
  const files = await listYamlFiles(fs, directory);
  const kustomizationPath = join(directory, 'kustomization.yaml');
  if (!files.includes(kustomizationPath)) return files;
  const kustomization = readSingleDocument(await readText(fs, kustomizationPath), kustomizationPath) as { resources?: unknown } | null;
  const resources = kustomization?.resources;
  if (!Array.isArray(resources) || resources.some((resource) => typeof resource !== 'string')) {
    throw new InputError(`${kustomizationPath}: resources must be a list of file names. Regenerate the repository`);
  }
  // namespaces.yaml is applied on its own before the kustomization, so that namespaces exist first. A listed
  // folder stands for the YAML files in it; a remote resource cannot be read offline and is left out.
  const listed = [join(directory, 'namespaces.yaml'), ...(resources as string[]).filter((resource) => !resource.includes('://')).map((resource) => join(directory, resource))];
  // A file is covered when it or one of its folders is listed: a large topology has thousands of each.
  const listedSet = new Set(listed);
  const coveringEntries = (path: string) => ancestorsAndSelf(path, directory).filter((candidate) => listedSet.has(candidate));
  const found = new Set(files.flatMap(coveringEntries));
  for (const entry of listed) {
    if (!found.has(entry)) {
      throw new InputError(`${kustomizationPath}: lists ${entry}, which is not found (no YAML file or folder of them under manifests/ has that path). Regenerate the repository or fix the list`);
    }
  }
  return files.filter((path) => coveringEntries(path).length > 0);
}

/** Returns a path and each of its parent folders below `root`. */
function ancestorsAndSelf(path: string, root: string): string[] {
  const paths: string[] = [];
  for (let current = path; current.length > root.length && current.startsWith(`${root}/`); current = dirname(current)) paths.push(current);
  return paths;
}

/** Files read at once: each read waits on the disk and the thread pool, and a large topology has thousands. */
const CONCURRENT_READS = 32;

/**
 * Reads files and returns their texts in the order of `paths`: one after another when the file system reads
 * synchronously, which saves thousands of round trips through the thread pool, or else several at a time.
 */
async function readTexts(fs: FileSystem, paths: readonly string[]): Promise<string[]> {
  const readFileSync = fs.readFileSync?.bind(fs);
  if (readFileSync) {
    return paths.map((path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch (error) {
        throw readError(path, error);
      }
    });
  }
  const texts: string[] = new Array<string>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const index = next++;
      texts[index] = await readText(fs, paths[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_READS, paths.length) }, worker));
  return texts;
}

async function readText(fs: FileSystem, path: string): Promise<string> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (error) {
    throw readError(path, error);
  }
}

function readError(path: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError(`${path}: not found. Run verify on a folder that create-zero-trust-app generated`);
  if (code === 'EISDIR') return new InputError(`${path}: is a directory, not a file`);
  return new InputError(`${path}: cannot be read (${(error as Error).message})`);
}

async function listYamlFiles(fs: FileSystem, directory: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(directory, { withFileTypes: true });
  } catch {
    throw new InputError(`${directory}: not found. Run verify on a folder that create-zero-trust-app generated`);
  }
  const files: string[] = [];
  for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await listYamlFiles(fs, path)));
    else if (/\.ya?ml$/.test(entry.name)) files.push(path);
  }
  return files;
}
