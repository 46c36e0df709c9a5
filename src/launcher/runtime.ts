// The launcher's loader for the runtime bundle (dist/index.cjs). Node 20 has no compile cache of its own
// (module.enableCompileCache arrived in Node 22.1), and in CPU profiles of the workshop run V8 spent 10 to 15 ms
// compiling the bundle, about a fifth of the whole process. So the launcher compiles the bundle with node:vm
// and keeps V8's code cache in the user's cache folder, as Node 22 does in its temporary folder.
// V8 rejects a cache made by another V8 version, with other flags, or for a source of another length, and then
// compiles afresh. The file name adds the generator's version and the bundle's size and modification time, so
// an edited or upgraded bundle gets a cache of its own. NODE_DISABLE_COMPILE_CACHE=1, Node's own switch, turns
// the cache off.
import type { Script } from 'node:vm';

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
   * the functions the command compiled. Never throws.
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
}

/** Returns the folder of the code caches, or undefined when caching is off or there is nowhere to keep them. */
export function compileCacheFolder(context: CacheContext): string | undefined {
  const { env, platform, home } = context;
  const { join } = process.getBuiltinModule('node:path');
  if (env.NODE_DISABLE_COMPILE_CACHE === '1') return undefined;
  let root: string | undefined;
  if (platform === 'win32') root = env.LOCALAPPDATA;
  else if (platform === 'darwin') root = home ? join(home, 'Library', 'Caches') : undefined;
  else root = env.XDG_CACHE_HOME || (home ? join(home, '.cache') : undefined);
  return root ? join(root, 'create-zero-trust-app') : undefined;
}

/** Returns the cache's file name for a bundle of this size and modification time, under this generator and V8. */
export function compileCacheName(context: CacheContext, size: number, mtimeMs: number): string {
  return `${context.generatorVersion}-v8-${context.v8Version}-${context.arch}-${size}-${Math.trunc(mtimeMs)}.bin`;
}

/** The parameters of the function that wraps a CommonJS module, as Node's own loader passes them. */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_TAIL = '\n});';

/**
 * Loads the CommonJS bundle at `file` and returns its exports. The module goes into Node's module cache under
 * its own path, so a plugin that imports the package from the same installation gets this instance and not a
 * second copy (with a second InputError class, which the CLI would not recognise).
 */
export function loadRuntime(file: string, context: CacheContext): LoadedRuntime {
  const fs = process.getBuiltinModule('node:fs');
  const vm = process.getBuiltinModule('node:vm');
  const path = process.getBuiltinModule('node:path');
  const Module = process.getBuiltinModule('node:module');

  const source = fs.readFileSync(file, 'utf8');
  const folder = compileCacheFolder(context);
  let cacheFile: string | undefined;
  let cachedData: Buffer | undefined;
  if (folder !== undefined) {
    const stat = fs.statSync(file);
    cacheFile = path.join(folder, compileCacheName(context, stat.size, stat.mtimeMs));
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      // No cache yet, or an unreadable one: compile, and write one after the command.
    }
  }

  // Code compiled here cannot call import(). Node 20 prints a warning for vm's option that allows it, and on
  // Node 20.20 code taken from a cache failed with "A dynamic import callback was not specified" even with the
  // option. So the runtime imports third-party plugins with the launcher's import() instead.
  const script: Script = new vm.Script(WRAPPER_HEAD + source + WRAPPER_TAIL, { filename: file, cachedData });
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
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
      try {
        const data = script.createCachedData();
        fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
        // Written under a name of its own and renamed, so a run in parallel never reads half a file.
        const partial = `${cacheFile}.${process.pid}.partial`;
        fs.writeFileSync(partial, data, { mode: 0o600 });
        fs.renameSync(partial, cacheFile);
        const current = path.basename(cacheFile);
        // Caches of other versions or bundles would only fill the disk, so the folder keeps one.
        for (const name of fs.readdirSync(folder)) {
          if (name !== current && name.endsWith('.bin')) fs.rmSync(path.join(folder, name), { force: true });
        }
      } catch {
        // The cache only saves time. On a read-only or full disk the next run compiles the bundle again.
      }
    },
  };
}
