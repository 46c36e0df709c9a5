// The launcher's loader for the runtime bundle (dist/runtime.cjs.br, which dist/index.cjs loads for `require` and
// `import` of the package). The bundle ships compressed with brotli, 652 KB as 176 KB, which keeps the package
// under its size target. Decompressing it takes about 3 ms (measured on a 2-core machine), so the code cache keeps
// the decompressed source too, and only a command's first run decompresses.
// Node 20 has no compile cache of its own (module.enableCompileCache arrived in Node 22.1), and in CPU profiles
// of the workshop run V8 spent 10 to 15 ms compiling the bundle, about a fifth of the whole process. So the
// launcher compiles the bundle with node:vm and keeps V8's code cache in the user's cache folder, as Node 22 does
// in its temporary folder.
// V8 rejects a cache made by another V8 version, with other flags, or for a source of another length, and then
// compiles afresh. It does not compare the source itself. So the file name carries a CRC-32 of the bundle file
// (under 0.1 ms with zlib for the compressed file) and one of Node's flags. Every installation of one build then
// shares a cache. An edited bundle gets a cache of its own unless its CRC-32 equals the old one's. That happens by
// a one in four billion chance, or by an edit made to match, from someone who could change the bundle's code
// directly anyway. NODE_DISABLE_COMPILE_CACHE=1, Node's own switch, turns the cache off.
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

/** The number of caches a folder keeps, newest first: a few commands, under one or two builds or Node versions. */
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

/** Returns the cache's file name for a bundle file with these bytes (compressed or not), under this generator, command, V8 and Node's flags. */
export function compileCacheName(context: CacheContext, bundle: Uint8Array): string {
  const { crc32 } = process.getBuiltinModule('node:zlib');
  const hex = (value: number): string => value.toString(16).padStart(8, '0');
  const flags = crc32(JSON.stringify([context.execArgv, context.env.NODE_OPTIONS ?? '']));
  return `${context.generatorVersion}-${context.command}-v8-${context.v8Version}-${context.arch}-${hex(flags)}-${hex(crc32(bundle))}.bin`;
}

/** The parameters of the function that wraps a CommonJS module, as Node's own loader passes them. */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_TAIL = '\n});';

/** Returns the source bytes of a runtime bundle from the bytes of its file, which is compressed with brotli when its name ends in `.br`. */
export function runtimeBytes(file: string, bytes: Buffer): Buffer {
  return file.endsWith('.br') ? process.getBuiltinModule('node:zlib').brotliDecompressSync(bytes) : bytes;
}

/**
 * Loads the CommonJS bundle in `sourceFile` as the module `file` and returns its exports. With `expectedCrc`, the
 * CRC-32 of the file as the build wrote it (8 hexadecimal digits), a file with another one is not run. The module goes into
 * Node's module cache under `file`, the package's entry point, so a plugin that imports the package from the same
 * installation gets this instance. A second copy would have a second InputError class, which the CLI would not
 * recognise.
 */
export function loadRuntime(file: string, context: CacheContext, sourceFile = file, expectedCrc?: string): LoadedRuntime {
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
  const folder = compileCacheFolder(context);
  let cacheFile: string | undefined;
  let cached: CacheContents | undefined;
  if (folder !== undefined) {
    cacheFile = path.join(folder, compileCacheName(context, bytes));
    try {
      cached = unsealCache(fs.readFileSync(cacheFile));
    } catch {
      // No cache yet, or an unreadable one: compile, and write one after the command.
    }
  }
  // The cache keeps the decompressed source too, which saves decompressing it (about 3 ms) on every later run. Its
  // name carries the CRC-32 of the file it was decompressed from, and its own CRC-32 covers the source.
  const sourceBytes = cached?.source ?? runtimeBytes(sourceFile, bytes);
  // The build checks that the bundle is ASCII, which latin1 decodes as utf8 does, and faster.
  const source = sourceBytes.toString('latin1');
  const cachedData = cached?.data;

  // Code compiled here cannot call import(). Node 20 prints a warning for vm's option that allows it, and on
  // Node 20.20 code taken from a cache failed with "A dynamic import callback was not specified" even with the
  // option. So the runtime imports third-party plugins with the launcher's import() instead.
  const script: Script = new vm.Script(WRAPPER_HEAD + source + WRAPPER_TAIL, { filename: file, cachedData });
  const cacheUsed = cachedData !== undefined && script.cachedDataRejected !== true;
  const module = new Module.Module(file);
  module.filename = file;
  Module.createRequire(file).cache[file] = module;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, Module.createRequire(file), module, file, path.dirname(file));
  module.loaded = true;

  return {
    runtime: module.exports as Runtime,
    cacheUsed,
    saveCompileCache() {
      if (folder === undefined || cacheFile === undefined || cacheUsed) return;
      // Written under a name of its own and renamed, so a run in parallel never reads half a file.
      const partial = `${cacheFile}.${process.pid}.partial`;
      try {
        // The folder above the cache root (the home folder for ~/.cache) must exist, since a missing home is not
        // created. statSync throws when it is missing.
        if (!fs.statSync(path.dirname(path.dirname(folder))).isDirectory()) return;
        // The cache root's parent exists, so at most the root and the folder are made. makeDirectories goes one
        // level at a time, since Node 20's recursive mkdir never returns for an XDG_CACHE_HOME of /proc/self.
        makeDirectories(folder, 0o700);
        fs.writeFileSync(partial, sealCache(sourceBytes, script.createCachedData()), { mode: 0o600 });
        fs.renameSync(partial, cacheFile);
        removeOldCaches(folder, path.basename(cacheFile));
      } catch {
        // The cache only saves time. On a read-only or full disk the next run compiles the bundle again.
        try {
          fs.rmSync(partial, { force: true });
        } catch {
          // The folder itself is missing or cannot be written, so there is no partial file either.
        }
      }
    },
  };
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
 * Removes all but the newest caches, keeping `current`, and partial files that a stopped run left behind over a
 * minute ago, so releases and Node versions used one after the other do not fill the disk.
 */
function removeOldCaches(folder: string, current: string): void {
  const fs = process.getBuiltinModule('node:fs');
  const path = process.getBuiltinModule('node:path');
  const now = Date.now();
  const caches: { name: string; mtimeMs: number }[] = [];
  for (const name of fs.readdirSync(folder)) {
    const file = path.join(folder, name);
    const { mtimeMs } = fs.statSync(file);
    if (name.endsWith('.partial') && now - mtimeMs > 60_000) fs.rmSync(file, { force: true });
    else if (name.endsWith('.bin') && name !== current) caches.push({ name, mtimeMs });
  }
  caches.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { name } of caches.slice(KEPT_CACHES - 1)) fs.rmSync(path.join(folder, name), { force: true });
}
