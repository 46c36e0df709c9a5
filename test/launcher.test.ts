import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCacheFolder, compileCacheName, loadRuntime, packParts, partSource, unpackParts, type CacheContext } from '../src/launcher/runtime.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function makeFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'czta-launcher-'));
  folders.push(folder);
  return folder;
}


function context(env: Record<string, string | undefined>, overrides: Partial<CacheContext> = {}): CacheContext {
  return { env, platform: 'linux', home: '/home/user', generatorVersion: '1.2.3', v8Version: '11.3.244.8', arch: 'x64', execArgv: [], command: 'create', ...overrides };
}

// V8 also caches compiled code within a process, which would hide whether a cache on disk was taken, so each
// load runs in a process of its own, with the loader compiled from the sources by esbuild.
const loaderFolder = makeFolder();
const LOADER = join(loaderFolder, 'runtime.mjs');
buildSync({ entryPoints: [fileURLToPath(new URL('../src/launcher/runtime.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'node', outfile: LOADER, logLevel: 'silent' });

interface LoadReport {
  cacheUsed: boolean;
  code: number;
  filename: string;
  sameRequire: boolean;
}

/** Loads `file` as the launcher does, in a new process, runs its runCli with `argv` and saves the cache. */
function load(file: string, env: Record<string, string>, argv: string[], nodeOptions: string[] = [], sourceFile = file): LoadReport {
  // The child's own execArgv also contains this script, so the context names only the flags given.
  const script = `
    const { loadRuntime } = await import(${JSON.stringify(LOADER)});
    const context = { env: process.env, platform: process.platform, home: '', generatorVersion: '1.2.3', v8Version: process.versions.v8, arch: process.arch, execArgv: ${JSON.stringify(nodeOptions)}, command: "create" };
    const loaded = loadRuntime(${JSON.stringify(file)}, context, ${JSON.stringify(sourceFile)});
    const code = await loaded.runtime.runCli(${JSON.stringify(argv)}, { importModule: (url) => import(url) });
    loaded.saveCompileCache();
    process.stdout.write(JSON.stringify({ cacheUsed: loaded.cacheUsed, code, filename: loaded.runtime.filename, sameRequire: loaded.runtime.sameRequire }));`;
  const run = spawnSync(process.execPath, [...nodeOptions, '--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as LoadReport;
}

/** Writes a runtime in a new folder and names the cache folder beside it, which its loads use. */
function setUpRuntime(): { folder: string; file: string; env: Record<string, string>; cacheFolder: string } {
  const folder = makeFolder();
  const file = writeRuntime(folder);
  return { folder, file, env: { XDG_CACHE_HOME: join(folder, 'cache') }, cacheFolder: join(folder, 'cache/create-zero-trust-app') };
}

/** Loads the runtime once, which writes its cache, and returns the cache file's path. */
function writeCache(file: string, env: Record<string, string>, cacheFolder: string): string {
  load(file, env, []);
  return join(cacheFolder, readdirSync(cacheFolder)[0]!);
}

/** Writes a small CommonJS runtime whose runCli returns the square of its argument count. */
function writeRuntime(folder: string, body = ''): string {
  const file = join(folder, 'index.cjs');
  writeFileSync(
    file,
    `"use strict";
function square(n) { return n * n; }
exports.runCli = async (argv) => { ${body} return square(argv.length); };
exports.filename = __filename;
exports.sameRequire = typeof require === 'function' && require('node:path') === require('path');
`,
  );
  return file;
}

describe('compile cache folder', () => {
  it('follows each platform\'s cache folder', () => {
    expect(compileCacheFolder(context({}))).toBe('/home/user/.cache/create-zero-trust-app');
    expect(compileCacheFolder(context({ XDG_CACHE_HOME: '/var/cache/me' }))).toBe('/var/cache/me/create-zero-trust-app');
    expect(compileCacheFolder(context({}, { platform: 'darwin' }))).toBe('/home/user/Library/Caches/create-zero-trust-app');
    expect(compileCacheFolder(context({ LOCALAPPDATA: 'C:/Users/me/AppData/Local' }, { platform: 'win32' }))).toMatch(/^C:\/Users\/me\/AppData\/Local.create-zero-trust-app$/);
  });

  it('is off with NODE_DISABLE_COMPILE_CACHE=1 or without anywhere to keep it', () => {
    expect(compileCacheFolder(context({ NODE_DISABLE_COMPILE_CACHE: '1' }))).toBeUndefined();
    expect(compileCacheFolder(context({}, { home: '' }))).toBeUndefined();
    expect(compileCacheFolder(context({}, { platform: 'win32' }))).toBeUndefined();
  });

  it('ignores a relative XDG_CACHE_HOME', () => {
    expect(compileCacheFolder(context({ XDG_CACHE_HOME: 'relative/cache' }))).toBe('/home/user/.cache/create-zero-trust-app');
  });

  it('names a cache by build, V8 and flags', () => {
    const bundle = new TextEncoder().encode('exports.runCli = async () => 0;');
    const name = compileCacheName(context({}), bundle);
    expect(name).toMatch(/^1\.2\.3-create-v8-11\.3\.244\.8-x64-[0-9a-f]{8}-[0-9a-f]{8}_index\.bin$/);
    expect(compileCacheName(context({}), bundle)).toBe(name);
    // One changed byte, another V8, other flags on the command line or in NODE_OPTIONS: another cache.
    const others = [
      compileCacheName(context({}), new TextEncoder().encode('exports.runCli = async () => 1;')),
      compileCacheName(context({}, { v8Version: '12.4.254.21' }), bundle),
      compileCacheName(context({}, { execArgv: ['--stack-size=2000'] }), bundle),
      compileCacheName(context({ NODE_OPTIONS: '--jitless' }), bundle),
      compileCacheName(context({}, { command: 'verify' }), bundle),
      compileCacheName(context({}), bundle, 'istio'),
    ];
    expect(new Set([name, ...others]).size).toBe(7);
  });
});

describe('loading the runtime', () => {
  it('writes a cache, then uses it', () => {
    const { file, env, cacheFolder } = setUpRuntime();

    expect(load(file, env, ['a', 'b', 'c'])).toEqual({ cacheUsed: false, code: 9, filename: file, sameRequire: true });
    const [cacheName] = readdirSync(cacheFolder);
    expect(cacheName).toMatch(/^1\.2\.3-create-v8-.*\.bin$/);
    const written = readFileSync(join(cacheFolder, cacheName!));

    expect(load(file, env, ['a', 'b'])).toEqual({ cacheUsed: true, code: 4, filename: file, sameRequire: true });
    // A cache that fitted is not written again.
    expect(readFileSync(join(cacheFolder, cacheName!)).equals(written)).toBe(true);
  });

  it('loads a runtime compressed with brotli as the module of its entry point', () => {
    const { folder, file, env, cacheFolder } = setUpRuntime();
    const compressed = join(folder, 'runtime.cjs.br');
    writeFileSync(compressed, brotliCompressSync(readFileSync(file)));
    // The module is the entry point, index.cjs, though its code comes from the compressed file.
    writeFileSync(file, 'throw new Error("the entry point itself was run");');
    expect(load(file, env, ['a', 'b', 'c'], [], compressed)).toEqual({ cacheUsed: false, code: 9, filename: file, sameRequire: true });
    expect(load(file, env, ['a'], [], compressed)).toEqual({ cacheUsed: true, code: 1, filename: file, sameRequire: true });
    expect(readdirSync(cacheFolder)).toHaveLength(1);
  });

  it('loads parts when first required', () => {
    const { folder, file, env, cacheFolder } = setUpRuntime();
    const packed = join(folder, 'runtime.cjs.br');
    // The entry requires the shared module at once and the plugin part only when runCli has two or more arguments.
    // The plugin requires the shared module too, which runs once: its counter counts the runs.
    const parts = [
      {
        name: 'core',
        modules: ['index.js', 'chunk-A.js'],
        source: Buffer.from(
          partSource(
            new Map([
              ['index.js', `"use strict"; const shared = require("./chunk-A.js"); exports.runCli = async (argv) => argv.length < 2 ? shared.count : require("./plugin.js").run(argv); exports.filename = __filename; exports.sameRequire = require("node:path") === require("path");`],
              ['chunk-A.js', 'exports.count = (globalThis.sharedRuns = (globalThis.sharedRuns ?? 0) + 1);'],
            ]),
          ),
        ),
      },
      { name: 'plugin', modules: ['plugin.js'], source: Buffer.from(partSource(new Map([['plugin.js', 'const shared = require("./chunk-A.js"); exports.run = (argv) => argv.length * 10 + shared.count;']]))) },
    ];
    writeFileSync(packed, packParts('index.js', parts));
    const partsCached = () => readdirSync(cacheFolder).map((name) => name.slice(name.lastIndexOf('_') + 1)).sort();

    expect(load(file, env, ['a'], [], packed)).toEqual({ cacheUsed: false, code: 1, filename: file, sameRequire: true });
    expect(partsCached()).toEqual(['core.bin']);
    expect(load(file, env, ['a', 'b'], [], packed)).toEqual({ cacheUsed: true, code: 21, filename: file, sameRequire: true });
    expect(partsCached()).toEqual(['core.bin', 'plugin.bin']);
    expect(load(file, env, ['a', 'b', 'c'], [], packed)).toEqual({ cacheUsed: true, code: 31, filename: file, sameRequire: true });
  });

  it('unpacks what it packs', () => {
    const parts = [
      { name: 'core', modules: ['index.js'], source: Buffer.from('({})') },
      { name: 'yaml', modules: ['yaml.js', 'chunk-B.js'], source: Buffer.from('({"yaml.js":function () {}})') },
    ];
    const unpacked = unpackParts(packParts('index.js', parts))!;
    expect(unpacked.entry).toBe('index.js');
    expect(unpacked.parts.map((part) => ({ name: part.name, modules: part.modules, source: part.source() }))).toEqual(parts);
    expect(unpackParts(Buffer.from('exports.runCli = 1;'))).toBeUndefined();
    // A truncated file names the part that lost bytes.
    const packed = packParts('index.js', parts);
    expect(() => unpackParts(packed.subarray(0, packed.length - 3))).toThrow(/^part yaml is truncated: \d+ of \d+ bytes$/);
  });

  it('runs a runtime only with the CRC-32 the build recorded', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const crc = crc32(readFileSync(file)).toString(16).padStart(8, '0');
    const off = context({ NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(() => loadRuntime(file, off, file, crc === '00000000' ? '00000001' : '00000000')).toThrow(`${file} is damaged: its CRC-32 is ${crc}, the build's was`);
    expect((loadRuntime(file, off, file, crc).runtime as unknown as { filename: string }).filename).toBe(file);
  });

  it('registers the module for require', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const loaded = loadRuntime(file, context({ NODE_DISABLE_COMPILE_CACHE: '1' }));
    expect(createRequire(file)(file)).toBe(loaded.runtime);
  });

  it('replaces a corrupt cache and still runs', () => {
    const { file, env, cacheFolder } = setUpRuntime();
    const cacheFile = writeCache(file, env, cacheFolder);
    writeFileSync(cacheFile, 'not a code cache');

    expect(load(file, env, ['x'])).toMatchObject({ cacheUsed: false, code: 1 });
    expect(readFileSync(cacheFile, 'utf8')).not.toBe('not a code cache');
    expect(load(file, env, ['x'])).toMatchObject({ cacheUsed: true, code: 1 });
  });

  it('never runs an edited bundle from the old cache', () => {
    const { file, env } = setUpRuntime();
    load(file, env, ['a']);
    const { mtime } = statSync(file);

    // The same length and modification time: only the bytes differ.
    writeFileSync(file, readFileSync(file, 'utf8').replace('n * n', 'n + n'));
    utimesSync(file, mtime, mtime);
    expect(load(file, env, ['a', 'b', 'c'])).toMatchObject({ cacheUsed: false, code: 6 });
    expect(load(file, env, ['a', 'b', 'c'])).toMatchObject({ cacheUsed: true, code: 6 });
  });

  it('shares one cache between installations of a build', () => {
    const { folder, file, env } = setUpRuntime();
    load(file, env, []);
    const copy = join(makeFolder(), 'index.cjs');
    copyFileSync(file, copy);
    utimesSync(copy, new Date('2030-01-01'), new Date('2030-01-01'));
    expect(load(copy, env, ['a'])).toMatchObject({ cacheUsed: true, code: 1, filename: copy });
    expect(readdirSync(join(folder, 'cache/create-zero-trust-app'))).toHaveLength(1);
  });

  it('keeps a cache per set of flags, up to six', () => {
    const { file, env, cacheFolder } = setUpRuntime();
    const flagSets = [[], ['--stack-size=900'], ['--stack-size=901'], ['--stack-size=902'], ['--stack-size=903'], ['--stack-size=904'], ['--stack-size=905']];
    for (const flags of flagSets) expect(load(file, env, [], flags)).toMatchObject({ cacheUsed: false });
    expect(readdirSync(cacheFolder)).toHaveLength(6);
    // The newest six stay usable; the oldest, without flags, was removed.
    expect(load(file, env, [], ['--stack-size=905'])).toMatchObject({ cacheUsed: true });
    expect(load(file, env, [], [])).toMatchObject({ cacheUsed: false });
  });

  it('rejects a damaged cache that V8 would take', () => {
    const { file, env, cacheFolder } = setUpRuntime();
    const cacheFile = writeCache(file, env, cacheFolder);
    const contents = readFileSync(cacheFile);
    // One byte of V8's data flipped, past every header: V8 itself checks only the header.
    contents.writeUInt8(contents.readUInt8(contents.length - 8) ^ 0xff, contents.length - 8);
    writeFileSync(cacheFile, contents);
    expect(load(file, env, ['a', 'b'])).toMatchObject({ cacheUsed: false, code: 4 });
    expect(load(file, env, ['a', 'b'])).toMatchObject({ cacheUsed: true, code: 4 });
  });

  it('creates no missing home folder', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const home = join(folder, 'missing/home');
    const script = `
      const { loadRuntime } = await import(${JSON.stringify(LOADER)});
      const loaded = loadRuntime(${JSON.stringify(file)}, { env: {}, platform: 'linux', home: ${JSON.stringify(home)}, generatorVersion: '1.2.3', v8Version: process.versions.v8, arch: process.arch, execArgv: [], command: "create" });
      await loaded.runtime.runCli([], { importModule: (url) => import(url) });
      loaded.saveCompileCache();`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readdirSync(folder)).toEqual(['index.cjs']);
  });

  it('leaves no partial file when the cache cannot be renamed', () => {
    const { folder, file, env, cacheFolder } = setUpRuntime();
    const cacheFile = writeCache(file, env, cacheFolder);
    // A folder in the cache's place makes the rename fail.
    rmSync(cacheFile);
    mkdirSync(join(cacheFile, 'inside'), { recursive: true });
    expect(load(file, env, ['a'])).toMatchObject({ cacheUsed: false, code: 1 });
    expect(readdirSync(cacheFolder)).toEqual([readdirSync(cacheFolder)[0]]);
  });

  it('runs without a cache where none can be written', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    // The cache folder's parent is a file, so the folder cannot be made.
    writeFileSync(join(folder, 'blocked'), '');
    expect(load(file, { XDG_CACHE_HOME: join(folder, 'blocked') }, ['a', 'b'])).toMatchObject({ cacheUsed: false, code: 4 });
    expect(readdirSync(folder).sort()).toEqual(['blocked', 'index.cjs']);
  });

  it.runIf(process.platform === 'linux')('runs without a cache under /proc', () => {
    // Node 20's recursive mkdir never returns for /proc/self/create-zero-trust-app.
    const { file } = setUpRuntime();
    expect(load(file, { XDG_CACHE_HOME: '/proc/self' }, ['a'])).toMatchObject({ cacheUsed: false, code: 1 });
  });

  it('writes nothing when turned off', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const env = { NODE_DISABLE_COMPILE_CACHE: '1', XDG_CACHE_HOME: join(folder, 'cache') };
    expect(load(file, env, [])).toMatchObject({ cacheUsed: false, code: 0 });
    expect(load(file, env, [])).toMatchObject({ cacheUsed: false, code: 0 });
    expect(readdirSync(folder)).toEqual(['index.cjs']);
  });
});
