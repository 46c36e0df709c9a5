import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCacheFolder, compileCacheName, loadRuntime, type CacheContext } from '../src/launcher/runtime.js';

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
  return { env, platform: 'linux', home: '/home/user', generatorVersion: '1.2.3', v8Version: '11.3.244.8', arch: 'x64', ...overrides };
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
function load(file: string, env: Record<string, string>, argv: string[]): LoadReport {
  const script = `
    const { loadRuntime } = await import(${JSON.stringify(LOADER)});
    const context = { env: process.env, platform: process.platform, home: '', generatorVersion: '1.2.3', v8Version: process.versions.v8, arch: process.arch };
    const loaded = loadRuntime(${JSON.stringify(file)}, context);
    const code = await loaded.runtime.runCli(${JSON.stringify(argv)}, { importModule: (url) => import(url) });
    loaded.saveCompileCache();
    process.stdout.write(JSON.stringify({ cacheUsed: loaded.cacheUsed, code, filename: loaded.runtime.filename, sameRequire: loaded.runtime.sameRequire }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as LoadReport;
}

/** A small CommonJS runtime whose runCli reports how it was called, and a counter that shows each load runs it afresh. */
function writeRuntime(folder: string, body = ''): string {
  const file = join(folder, 'index.cjs');
  writeFileSync(
    file,
    `"use strict";
globalThis.__loads = (globalThis.__loads ?? 0) + 1;
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

  it('names a cache by generator, V8, architecture, size and modification time', () => {
    const name = compileCacheName(context({}), 643_421, 1_796_443_402_461.7);
    expect(name).toBe('1.2.3-v8-11.3.244.8-x64-643421-1796443402461.bin');
    expect(compileCacheName(context({}, { v8Version: '12.4.254.21' }), 643_421, 1)).not.toBe(compileCacheName(context({}), 643_421, 1));
  });
});

describe('loading the runtime', () => {
  it('writes a code cache after the first run and uses it in the next', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const env = { XDG_CACHE_HOME: join(folder, 'cache') };

    expect(load(file, env, ['a', 'b', 'c'])).toEqual({ cacheUsed: false, code: 9, filename: file, sameRequire: true });
    const cacheFolder = join(folder, 'cache/create-zero-trust-app');
    const [cacheName] = readdirSync(cacheFolder);
    expect(cacheName).toMatch(/^1\.2\.3-v8-.*\.bin$/);
    const written = readFileSync(join(cacheFolder, cacheName!));

    expect(load(file, env, ['a', 'b'])).toEqual({ cacheUsed: true, code: 4, filename: file, sameRequire: true });
    // A cache that fitted is not written again.
    expect(readFileSync(join(cacheFolder, cacheName!)).equals(written)).toBe(true);
  });

  it('registers the module under its path, so requiring the file gets the same exports', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const loaded = loadRuntime(file, context({ NODE_DISABLE_COMPILE_CACHE: '1' }));
    expect(createRequire(file)(file)).toBe(loaded.runtime);
  });

  it('replaces a corrupt cache and still runs', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const env = { XDG_CACHE_HOME: join(folder, 'cache') };
    load(file, env, []);
    const cacheFolder = join(folder, 'cache/create-zero-trust-app');
    const cacheFile = join(cacheFolder, readdirSync(cacheFolder)[0]!);
    writeFileSync(cacheFile, 'not a code cache');

    expect(load(file, env, ['x'])).toMatchObject({ cacheUsed: false, code: 1 });
    expect(readFileSync(cacheFile, 'utf8')).not.toBe('not a code cache');
    expect(load(file, env, ['x'])).toMatchObject({ cacheUsed: true, code: 1 });
  });

  it('gives an edited bundle a cache of its own and removes the old one', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    const env = { XDG_CACHE_HOME: join(folder, 'cache') };
    load(file, env, []);
    const cacheFolder = join(folder, 'cache/create-zero-trust-app');
    const [before] = readdirSync(cacheFolder);

    writeRuntime(folder, 'argv = [...argv, "one more"];');
    utimesSync(file, new Date('2030-01-01'), new Date('2030-01-01'));
    expect(load(file, env, ['a'])).toMatchObject({ cacheUsed: false, code: 4 });
    const after = readdirSync(cacheFolder);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(load(file, env, ['a'])).toMatchObject({ cacheUsed: true, code: 4 });
  });

  it('runs without a cache where none can be written', () => {
    const folder = makeFolder();
    const file = writeRuntime(folder);
    // The cache folder's parent is a file, so the folder cannot be made.
    writeFileSync(join(folder, 'blocked'), '');
    expect(load(file, { XDG_CACHE_HOME: join(folder, 'blocked') }, ['a', 'b'])).toMatchObject({ cacheUsed: false, code: 4 });
    expect(readdirSync(folder).sort()).toEqual(['blocked', 'index.cjs']);
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
