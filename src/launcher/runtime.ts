// The launcher's loader for the runtime (dist/runtime.cjs.br, which dist/index.cjs also loads for `require` and
// `import` of the package). The runtime is split into parts, as esbuild splits code at dynamic imports: the core,
// yargs, the prompts, and each mesh plugin. A run compiles only the parts it loads, because compiling code is most
// of a first run's cost. The parts ship compressed with brotli in the one file, which keeps the package under its
// size target, and each part's code cache keeps its decompressed source, so only a first run decompresses.
// Node 20 has no compile cache of its own (module.enableCompileCache arrived in Node 22.1), and in CPU profiles
// of the workshop run V8 spent 10 to 15 ms compiling the bundle, about a fifth of the whole process. So the
// launcher compiles each part with node:vm and keeps V8's code cache in the user's cache folder, as Node 22 does
// in its temporary folder.
// V8 rejects a cache made by another V8 version, with other flags, or for a source of another length, and then
// compiles afresh. It does not compare the source itself. So the file name carries a CRC-32 of the runtime file
// (under 0.1 ms with zlib for the compressed file) and one of Node's flags. Every installation of one build then
// shares a cache. An edited runtime gets a cache of its own unless its CRC-32 equals the old one's. That happens by
// a one in four billion chance, or by an edit made to match, from someone who could change the code directly
// anyway. NODE_DISABLE_COMPILE_CACHE=1, Node's own switch, turns the cache off.
import type { Script } from 'node:vm';
import { makeDirectories } from '../write/node-fs.js';

/** The part of the runtime bundle's exports that the launcher calls. */
export interface Runtime {
  runCli(argv: string[], options: { importModule(url: string): Promise<unknown> }): Promise<number>;
}

export interface LoadedRuntime {
  runtime: Runtime;
  /** Whether V8 took the code cache from disk. */
  cacheUsed: boolean;
  /**
   * Writes V8's code cache for the next run when no cache fitted. Called after the command, so the cache contains
   * the functions the command compiled. Catches every error, since the cache only saves time.
   */
  saveCompileCache(): void;
}

export interface CacheContext {
  env: Record<string, string | undefined>;
  platform: string;
  home: string;
  generatorVersion: string;
  v8Version: string;
  arch: string;
  /** Node's own options (process.execArgv), which can change V8's flags. */
  execArgv: readonly string[];
  /**
   * The command, such as `create` or `verify`. A cache contains the functions its first run compiled, so each
   * command gets its own, and `plugins` run first does not leave `create` a cache without generation's code.
   */
  command: string;
}

/**
 * The number of cache sets a folder keeps, newest first: a few commands, under one or two builds or Node versions.
 * A set is the caches of one command's parts under one build, V8 and set of flags.
 */
const KEPT_CACHES = 6;

/** Returns the folder of the code caches, or undefined when caching is off or there is nowhere to keep them. */
export function compileCacheFolder(context: CacheContext): string | undefined {
  const { env, platform, home } = context;
  const { join } = process.getBuiltinModule('node:path');
  if (env.NODE_DISABLE_COMPILE_CACHE === '1') return undefined;
  let root: string | undefined;
  if (platform === 'win32') root = env.LOCALAPPDATA;
  else if (platform === 'darwin') root = home ? join(home, 'Library', 'Caches') : undefined;
  else if (env.XDG_CACHE_HOME?.startsWith('/')) root = env.XDG_CACHE_HOME;
  // The XDG Base Directory specification has relative paths ignored, so a relative one falls back to ~/.cache.
  else root = home ? join(home, '.cache') : undefined;
  return root ? join(root, 'create-zero-trust-app') : undefined;
}

/**
 * Returns the cache's file name for a part of a runtime file with these bytes (compressed or not), under this
 * generator, command, V8 and Node's flags. The part's name comes last, after an underscore, which no other field
 * contains.
 */
export function compileCacheName(context: CacheContext, bundle: Uint8Array, part = 'index'): string {
  const { crc32 } = process.getBuiltinModule('node:zlib');
  const hex = (value: number): string => value.toString(16).padStart(8, '0');
  const flags = crc32(JSON.stringify([context.execArgv, context.env.NODE_OPTIONS ?? '']));
  return `${context.generatorVersion}-${context.command}-v8-${context.v8Version}-${context.arch}-${hex(flags)}-${hex(crc32(bundle))}_${part}.bin`;
}

/** The parameters of the function that wraps a CommonJS module, as Node's own loader passes them. */
const WRAPPER_PARAMETERS = 'exports, require, module, __filename, __dirname';

/** Returns the source bytes of a runtime bundle from the bytes of its file, which is compressed with brotli when its name ends in `.br`. */
export function runtimeBytes(file: string, bytes: Buffer): Buffer {
  return file.endsWith('.br') ? process.getBuiltinModule('node:zlib').brotliDecompressSync(bytes) : bytes;
}

/**
 * Returns the source of a part: an object literal that maps each of its modules' names to the module's code,
 * wrapped in a function as Node wraps a CommonJS module. V8 compiles such functions lazily, when they first run.
 */
export function partSource(modules: ReadonlyMap<string, string>): string {
  return `({${[...modules].map(([name, source]) => `${JSON.stringify(name)}:function (${WRAPPER_PARAMETERS}) {${source}\n}`).join(',\n')}})`;
}

/** The first bytes of a runtime file in parts, before the length of its index. */
export const PARTS_MAGIC = Buffer.from('czta-runtime-parts-1\n');

/** A part of a runtime as packed: its name, the names of its modules and its source (see {@link partSource}). */
export interface Part {
  name: string;
  modules: string[];
  source: Buffer;
}

/** A runtime in parts: the name of the module that is the package's entry point, and each part. */
export interface RuntimeParts {
  entry: string;
  parts: { name: string; modules: string[]; source(): Buffer }[];
}

/**
 * Returns the file contents of a runtime in parts: a magic line, the length of the index, the index, then each
 * part's source compressed with brotli, in the index's order. The index is JSON: the entry module's name, and each
 * part's name, compressed length and modules. Each part is compressed on its own, so a run decompresses only what
 * it loads.
 */
export function packParts(entry: string, parts: readonly Part[]): Buffer {
  const zlib = process.getBuiltinModule('node:zlib');
  const compressed = parts.map((part) =>
    zlib.brotliCompressSync(part.source, {
      params: { [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT, [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: part.source.length },
    }),
  );
  const index = Buffer.from(JSON.stringify({ entry, parts: parts.map((part, position) => [part.name, compressed[position]!.length, part.modules]) }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(index.length);
  return Buffer.concat([PARTS_MAGIC, length, index, ...compressed]);
}

/** Returns the parts of a runtime file that {@link packParts} wrote, or undefined for a file in another format. */
export function unpackParts(bytes: Buffer): RuntimeParts | undefined {
  if (!bytes.subarray(0, PARTS_MAGIC.length).equals(PARTS_MAGIC)) return undefined;
  const { brotliDecompressSync } = process.getBuiltinModule('node:zlib');
  const indexStart = PARTS_MAGIC.length + 4;
  let offset = indexStart + bytes.readUInt32BE(PARTS_MAGIC.length);
  const index = JSON.parse(bytes.subarray(indexStart, offset).toString('utf8')) as { entry: string; parts: [string, number, string[]][] };
  const parts: RuntimeParts['parts'] = [];
  for (const [name, length, modules] of index.parts) {
    const data = bytes.subarray(offset, offset + length);
    if (data.length !== length) throw new Error(`part ${name} is truncated: ${data.length} of ${length} bytes`);
    parts.push({ name, modules, source: () => brotliDecompressSync(data) });
    offset += length;
  }
  return { entry: index.entry, parts };
}

/** A part compiled in this run, with what its cache needs. */
interface CompiledPart {
  script: Script;
  source: Buffer;
  cacheFile: string | undefined;
  cacheUsed: boolean;
  factories: Record<string, (...args: unknown[]) => void>;
}

/**
 * Loads the CommonJS runtime in `sourceFile` as the module `file` and returns its exports. The file is a runtime in
 * parts (see {@link packParts}) or one CommonJS source, compressed with brotli when its name ends in `.br`. A module
 * loads another with `require("./NAME")`, and every other `require` goes to Node's. With `expectedCrc`, the CRC-32
 * of the file as the build wrote it (8 hexadecimal digits), a file with another one is not run. The entry module
 * runs as `entryModule` when one is given (the package's entry point does that), or else as a new module that goes
 * into Node's module cache under `file`, the package's entry point. A plugin that imports the package from the same
 * installation then gets this instance. A second copy would have a second InputError class, which the CLI would not
 * recognise.
 */
export function loadRuntime(file: string, context: CacheContext, sourceFile = file, expectedCrc?: string, entryModule?: NodeJS.Module): LoadedRuntime {
  const fs = process.getBuiltinModule('node:fs');
  const vm = process.getBuiltinModule('node:vm');
  const path = process.getBuiltinModule('node:path');
  const Module = process.getBuiltinModule('node:module');

  const bytes = fs.readFileSync(sourceFile);
  if (expectedCrc !== undefined) {
    // brotli has no checksum of its own, so a damaged file may decompress into other code, which would then run.
    const actual = process.getBuiltinModule('node:zlib').crc32(bytes).toString(16).padStart(8, '0');
    if (actual !== expectedCrc) throw new Error(`${sourceFile} is damaged: its CRC-32 is ${actual}, the build's was ${expectedCrc}`);
  }
  // A file in another format is one CommonJS module, which becomes a part with that one module.
  const runtime: RuntimeParts = unpackParts(bytes) ?? {
    entry: 'index',
    parts: [{ name: 'index', modules: ['index'], source: () => Buffer.from(partSource(new Map([['index', runtimeBytes(sourceFile, bytes).toString('latin1')]])), 'latin1') }],
  };
  const partOf = new Map(runtime.parts.flatMap((part) => part.modules.map((name) => [name, part] as const)));
  const entryPart = partOf.get(runtime.entry);
  if (!entryPart) throw new Error(`${sourceFile} has no entry module ${runtime.entry}`);
  const folder = compileCacheFolder(context);
  const nodeRequire = Module.createRequire(file);
  const compiled = new Map<string, CompiledPart>();
  const modules = new Map<string, NodeJS.Module>();

  const moduleRequire = Object.assign((id: string): unknown => (id.startsWith('./') && partOf.has(id.slice(2)) ? loadModule(id.slice(2)).exports : nodeRequire(id)), {
    resolve: nodeRequire.resolve,
    cache: nodeRequire.cache,
    main: nodeRequire.main,
    extensions: nodeRequire.extensions,
  });

  function compilePart(part: RuntimeParts['parts'][number]): CompiledPart {
    const done = compiled.get(part.name);
    if (done) return done;
    const cacheFile = folder === undefined ? undefined : path.join(folder, compileCacheName(context, bytes, part.name));
    let cached: CacheContents | undefined;
    if (cacheFile !== undefined) {
      try {
        cached = unsealCache(fs.readFileSync(cacheFile));
      } catch {
        // No cache yet, or an unreadable one: compile, and write one after the command.
      }
    }
    // The cache keeps the decompressed source too, which saves decompressing it on every later run. Its name
    // carries the CRC-32 of the file it was decompressed from, and its own CRC-32 covers the source.
    const source = cached?.source ?? part.source();
    // Code compiled here cannot call import(). Node 20 prints a warning for vm's option that allows it, and on
    // Node 20.20 code taken from a cache failed with "A dynamic import callback was not specified" even with the
    // option. So the runtime imports third-party plugins with the launcher's import() instead.
    // The build checks that the runtime is ASCII, which latin1 decodes as utf8 does, and faster.
    const script: Script = new vm.Script(source.toString('latin1'), { filename: part === entryPart ? file : path.join(sourceFile, part.name), cachedData: cached?.data });
    const result: CompiledPart = {
      script,
      source,
      cacheFile,
      cacheUsed: cached !== undefined && script.cachedDataRejected !== true,
      factories: script.runInThisContext() as CompiledPart['factories'],
    };
    compiled.set(part.name, result);
    return result;
  }

  function loadModule(name: string, asModule?: NodeJS.Module): NodeJS.Module {
    const loaded = modules.get(name);
    if (loaded) return loaded;
    const factory = compilePart(partOf.get(name)!).factories[name];
    if (typeof factory !== 'function') throw new Error(`${sourceFile} has no module ${name}`);
    const isEntry = name === runtime.entry;
    let module = asModule;
    if (!module) {
      module = new Module.Module(isEntry ? file : path.join(sourceFile, name));
      module.filename = file;
      if (isEntry) nodeRequire.cache[file] = module;
    }
    modules.set(name, module);
    factory.call(module.exports, module.exports, moduleRequire, module, file, path.dirname(file));
    module.loaded = true;
    return module;
  }

  const entry = loadModule(runtime.entry, entryModule);
  return {
    runtime: entry.exports as Runtime,
    cacheUsed: compiled.get(entryPart.name)!.cacheUsed,
    saveCompileCache() {
      if (folder === undefined) return;
      for (const part of compiled.values()) {
        if (part.cacheUsed || part.cacheFile === undefined) continue;
        if (!saveCache(folder, part.cacheFile, part.source, part.script)) return;
        // A later call finds the cache written.
        part.cacheUsed = true;
      }
      removeOldCaches(folder, compiled.get(entryPart.name)!.cacheFile!);
    },
  };
}

/**
 * Writes V8's code cache of one part and returns whether it could. Catches every error, since the cache only
 * saves time: on a read-only or full disk the next run compiles again.
 */
function saveCache(folder: string, cacheFile: string, source: Buffer, script: Script): boolean {
  const fs = process.getBuiltinModule('node:fs');
  const path = process.getBuiltinModule('node:path');
  // Written under a name of its own and renamed, so a run in parallel never reads half a file.
  const partial = `${cacheFile}.${process.pid}.partial`;
  try {
    // The folder above the cache root (the home folder for ~/.cache) must exist, since a missing home is not
    // created. statSync throws when it is missing.
    if (!fs.statSync(path.dirname(path.dirname(folder))).isDirectory()) return false;
    // The cache root's parent exists, so at most the root and the folder are made. makeDirectories goes one
    // level at a time, since Node 20's recursive mkdir never returns for an XDG_CACHE_HOME of /proc/self.
    makeDirectories(folder, 0o700);
    fs.writeFileSync(partial, sealCache(source, script.createCachedData()), { mode: 0o600 });
    fs.renameSync(partial, cacheFile);
    return true;
  } catch {
    try {
      fs.rmSync(partial, { force: true });
    } catch {
      // The folder itself is missing or cannot be written, so there is no partial file either.
    }
    return false;
  }
}

/** The first bytes of a cache file, before the CRC-32 and the length of the source. */
const CACHE_MAGIC = Buffer.from('czta-code-cache-2\n');

/** The contents of a cache file: the runtime's source and V8's cache data for it. */
export interface CacheContents {
  source: Buffer;
  data: Buffer;
}

/**
 * Returns the file contents for a cache: a magic line, a CRC-32 of the rest, the source's length, the source, then
 * V8's data. V8 checks a cache's header only: in release builds it does not checksum the rest, and a damaged cache
 * crashed Node 20.20 or changed the generated files. So the launcher checks the CRC-32 itself.
 */
export function sealCache(source: Buffer, data: Buffer): Buffer {
  const { crc32 } = process.getBuiltinModule('node:zlib');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(source.length);
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(crc32(data, crc32(source, crc32(length))));
  return Buffer.concat([CACHE_MAGIC, checksum, length, source, data]);
}

/** Returns the source and V8's data from a cache file's contents, or undefined when the file is not a whole, unchanged cache. */
export function unsealCache(contents: Buffer): CacheContents | undefined {
  const { crc32 } = process.getBuiltinModule('node:zlib');
  const start = CACHE_MAGIC.length + 8;
  if (contents.length <= start || !contents.subarray(0, CACHE_MAGIC.length).equals(CACHE_MAGIC)) return undefined;
  if (crc32(contents.subarray(CACHE_MAGIC.length + 4)) !== contents.readUInt32BE(CACHE_MAGIC.length)) return undefined;
  const length = contents.readUInt32BE(CACHE_MAGIC.length + 4);
  if (length > contents.length - start - 1) return undefined;
  return { source: contents.subarray(start, start + length), data: contents.subarray(start + length) };
}

/**
 * Removes all but the newest sets of caches, keeping the set of `current`, and partial files that a stopped run
 * left behind over a minute ago. Releases and Node versions used one after the other then do not fill the disk.
 * Catches every error, since the cache only saves time.
 */
function removeOldCaches(folder: string, current: string): void {
  const fs = process.getBuiltinModule('node:fs');
  const path = process.getBuiltinModule('node:path');
  const setOf = (name: string): string => name.slice(0, name.lastIndexOf('_'));
  const currentSet = setOf(path.basename(current));
  try {
    const now = Date.now();
    const newest = new Map<string, number>();
    const names: string[] = [];
    for (const name of fs.readdirSync(folder)) {
      const file = path.join(folder, name);
      const { mtimeMs } = fs.statSync(file);
      if (name.endsWith('.partial') && now - mtimeMs > 60_000) fs.rmSync(file, { force: true });
      else if (name.endsWith('.bin')) {
        names.push(name);
        newest.set(setOf(name), Math.max(newest.get(setOf(name)) ?? 0, mtimeMs));
      }
    }
    newest.delete(currentSet);
    const keptSets = new Set([currentSet, ...[...newest].sort((a, b) => b[1] - a[1]).slice(0, KEPT_CACHES - 1).map(([set]) => set)]);
    for (const name of names) if (!keptSets.has(setOf(name))) fs.rmSync(path.join(folder, name), { force: true });
  } catch {
    // Another run removed a file first, or the folder cannot be read: the next run tries again.
  }
}
