import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { builtinPluginIds } from '../src/plugin/builtin.js';
import { GENERATOR_VERSION } from '../src/version.js';

// These tests run the published bundle, as `npm create` does, so `npm test` builds it first (`npm run build`).
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli.cjs');
const folders: string[] = [];

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function runBundle(args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

function makeFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'czta-bundle-'));
  folders.push(folder);
  return folder;
}

describe('bundled CLI', () => {
  it('exists after the build', () => {
    expect(existsSync(CLI), `${CLI} is missing: run npm run build`).toBe(true);
  });

  it('prints its version', () => {
    const run = runBundle(['--version'], ROOT);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${GENERATOR_VERSION}\n`);
  });

  it('prints the same help from the launcher as from yargs', () => {
    const launcher = runBundle(['--help'], ROOT);
    // `--debug` keeps the launcher from printing its recorded help, so yargs lays out the same text.
    const yargs = runBundle(['--help', '--debug'], ROOT);
    expect(launcher.status).toBe(0);
    expect(yargs.status).toBe(0);
    expect(launcher.stdout).toContain('verify [directory]');
    expect(launcher.stdout).toBe(yargs.stdout);
  });

  it.each(builtinPluginIds())('creates and verifies the workshop on %s', (mesh) => {
    const cwd = makeFolder();
    const create = runBundle(['app', '--yes', '--mesh', mesh], cwd);
    expect(create.stderr).toBe('');
    expect(create.status).toBe(0);
    const record = parse(readFileSync(join(cwd, 'app/generation.yaml'), 'utf8'));
    expect(record.plugin.id).toBe(mesh);
    expect(statSync(join(cwd, 'app/verify/verify.sh')).mode & 0o111).not.toBe(0);
    expect(readdirSync(join(cwd, 'app/manifests/workloads'))).toEqual(['hero.yaml', 'lil-deebee.yaml']);

    const verify = runBundle(['verify', 'app'], cwd);
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toContain('PASSED');
    expect(verify.status).toBe(0);
  });

  it('exits 1 when verify finds a hole', () => {
    const cwd = makeFolder();
    expect(runBundle(['app', '--yes'], cwd).status).toBe(0);
    // The file stays listed in the kustomization, so emptying it removes the authorization policies.
    writeFileSync(join(cwd, 'app/manifests/mesh/authorization.yaml'), '');
    const verify = runBundle(['verify', 'app'], cwd);
    expect(verify.stdout).toContain('FAILED');
    expect(verify.status).toBe(1);
  });

  it('exits 2 when a listed manifest is missing', () => {
    const cwd = makeFolder();
    expect(runBundle(['app', '--yes'], cwd).status).toBe(0);
    rmSync(join(cwd, 'app/manifests/mesh/authorization.yaml'));
    const verify = runBundle(['verify', 'app'], cwd);
    expect(verify.stderr).toContain('manifests/mesh/authorization.yaml, which is not found (no YAML file or folder of them under manifests/ has that path)');
    expect(verify.status).toBe(2);
  });

  it('keeps output unchanged with a code cache', () => {
    const cache = makeFolder();
    const env = { XDG_CACHE_HOME: cache };
    const first = makeFolder();
    expect(runBundle(['app', '--yes', '--mesh', 'linkerd'], first, env).status).toBe(0);
    const cacheFolder = join(cache, 'create-zero-trust-app');
    // One cache per part of the runtime that the run loaded: the core and the plugin among them.
    const cacheNames = readdirSync(cacheFolder).sort();
    for (const name of cacheNames) expect(name).toMatch(new RegExp(`^${GENERATOR_VERSION.replaceAll('.', '\\.')}-create-v8-.*-[0-9a-f]{8}-[0-9a-f]{8}_[a-zA-Z0-9-]+\\.bin$`));
    expect(cacheNames.map((name) => name.slice(name.lastIndexOf('_') + 1))).toEqual(expect.arrayContaining(['core.bin', 'linkerd.bin']));
    expect(cacheNames.some((name) => name.endsWith('_yargs.bin') || name.endsWith('_yaml.bin') || name.endsWith('_istio.bin'))).toBe(false);
    const written = cacheNames.map((name) => readFileSync(join(cacheFolder, name)));

    const second = makeFolder();
    expect(runBundle(['app', '--yes', '--mesh', 'linkerd'], second, env).status).toBe(0);
    expect(readdirSync(cacheFolder).sort()).toEqual(cacheNames);
    cacheNames.forEach((name, position) => expect(readFileSync(join(cacheFolder, name)).equals(written[position]!)).toBe(true));
    const uncached = makeFolder();
    expect(runBundle(['app', '--yes', '--mesh', 'linkerd'], uncached, { NODE_DISABLE_COMPILE_CACHE: '1' }).status).toBe(0);
    for (const file of ['README.md', 'Makefile', 'manifests/mesh/servers.yaml', 'verify/verify.sh']) {
      const expected = readFileSync(join(first, 'app', file), 'utf8');
      expect(readFileSync(join(second, 'app', file), 'utf8')).toBe(expected);
      expect(readFileSync(join(uncached, 'app', file), 'utf8')).toBe(expected);
    }
  });

  it('writes each command its own cache', () => {
    const cwd = makeFolder();
    const env = { XDG_CACHE_HOME: join(cwd, 'cache') };
    const cacheFolder = join(cwd, 'cache/create-zero-trust-app');
    const commands = () => (existsSync(cacheFolder) ? [...new Set(readdirSync(cacheFolder).map((name) => name.split('-')[1]))].sort() : []);
    // A failed run and a help run write nothing.
    expect(runBundle(['app', '--yes', '--mesh', 'no-such-mesh'], cwd, env).status).toBe(2);
    expect(runBundle(['-h'], cwd, env).status).toBe(0);
    expect(commands()).toEqual([]);
    // A command after an option is still that command.
    expect(runBundle(['--yes', 'plugins'], cwd, env).status).toBe(0);
    expect(commands()).toEqual(['plugins']);
    expect(runBundle(['app', '--yes'], cwd, env).status).toBe(0);
    expect(runBundle(['--json', 'verify', 'app'], cwd, env).status).toBe(0);
    expect(commands()).toEqual(['create', 'plugins', 'verify']);
  });

  it('shares the runtime with plugins', () => {
    const cwd = makeFolder();
    // The plugin throws the package's own InputError, which the CLI reports as bad input (exit 2) only when the
    // plugin's import and the launcher share one copy of the runtime.
    writeFileSync(
      join(cwd, 'thrower.mjs'),
      `import { InputError, PLUGIN_API_VERSION } from ${JSON.stringify(join(ROOT, 'dist/index.cjs'))};
export default {
  apiVersion: PLUGIN_API_VERSION, id: 'thrower', displayName: 'Thrower', version: '1.0.0', description: 'Throws bad input', meshVersions: { thrower: '1.0.0' },
  generate() { throw new InputError('field mesh: the thrower plugin refuses every topology'); },
  evaluate() { throw new Error('not reached'); },
};
`,
    );
    // A successful create writes the cache that the second plugin run then takes.
    expect(runBundle(['warm', '--yes'], cwd, { XDG_CACHE_HOME: join(cwd, 'cache') }).status).toBe(0);
    const caches = readdirSync(join(cwd, 'cache/create-zero-trust-app')).sort();
    const envs: Record<string, string>[] = [{ NODE_DISABLE_COMPILE_CACHE: '1' }, { XDG_CACHE_HOME: join(cwd, 'cache') }];
    for (const env of envs) {
      const run = runBundle(['app', '--yes', '--plugin', './thrower.mjs', '--mesh', 'thrower'], cwd, env);
      expect(run.stderr).toBe('create-zero-trust-app: preset workshop: field mesh: the thrower plugin refuses every topology\n');
      expect(run.status).toBe(2);
    }
    expect(readdirSync(join(cwd, 'cache/create-zero-trust-app')).sort()).toEqual(caches);
  });

  it('reports a plugin error from its own package copy', () => {
    const cwd = makeFolder();
    // A plugin with its own copy of the package throws that copy's InputError, another class of the same name.
    writeFileSync(
      join(cwd, 'own-copy.mjs'),
      `class InputError extends Error { name = 'InputError'; }
export default {
  apiVersion: 1, id: 'own-copy', displayName: 'Own copy', version: '1.0.0', description: 'Throws its own InputError', meshVersions: { own: '1.0.0' },
  generate() { throw new InputError('field mesh: the own-copy plugin refuses every topology'); },
  evaluate() { throw new Error('not reached'); },
};
`,
    );
    writeFileSync(join(cwd, 'throws-a-number.mjs'), 'throw 42;\n');
    const ownCopy = runBundle(['--plugin', './own-copy.mjs', 'app', '--yes', '--mesh', 'own-copy'], cwd);
    expect(ownCopy.stderr).toBe('create-zero-trust-app: preset workshop: field mesh: the own-copy plugin refuses every topology\n');
    expect(ownCopy.status).toBe(2);
    const number = runBundle(['app', '--yes', '--plugin', './throws-a-number.mjs'], cwd);
    expect(number.stderr).toBe('create-zero-trust-app: --plugin: loading ./throws-a-number.mjs failed: 42\n');
    expect(number.status).toBe(2);
  });

  it('can be required from CommonJS', () => {
    const runtime = createRequire(join(ROOT, 'package.json'))('create-zero-trust-app') as { runCli?: unknown; PLUGIN_API_VERSION?: unknown };
    expect(typeof runtime.runCli).toBe('function');
    expect(runtime.PLUGIN_API_VERSION).toBe(1);
  });

  it('gives an ES module import every export, from the compressed runtime', () => {
    // dist/index.cjs is a loader of dist/runtime.cjs.br, and Node reads an ES module's names from the loader's text.
    expect(statSync(join(ROOT, 'dist/index.cjs')).size).toBeLessThan(8192);
    const script = `import * as runtime from 'create-zero-trust-app';
      process.stdout.write(JSON.stringify(Object.keys(runtime).filter((name) => name !== 'default').sort()));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const required = Object.keys(createRequire(join(ROOT, 'package.json'))('create-zero-trust-app') as object).sort();
    expect(required).toContain('InputError');
    expect(JSON.parse(run.stdout)).toEqual(required);
  });

  it('refuses a damaged or missing runtime in one line', () => {
    const folder = makeFolder();
    for (const name of ['cli.cjs', 'index.cjs', 'runtime.cjs.br']) copyFileSync(join(ROOT, 'dist', name), join(folder, name));
    const runtime = readFileSync(join(folder, 'runtime.cjs.br'));
    // One flipped bit in the middle: brotli may still decompress it, into other code.
    runtime.writeUInt8(runtime.readUInt8(54_721) ^ 1, 54_721);
    writeFileSync(join(folder, 'runtime.cjs.br'), runtime);
    const env = { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' };
    const damaged = spawnSync(process.execPath, [join(folder, 'cli.cjs'), 'app', '--yes'], { cwd: folder, encoding: 'utf8', env, timeout: 60_000 });
    expect(damaged.stderr).toMatch(/^create-zero-trust-app: cannot load the runtime: \S+runtime\.cjs\.br is damaged: its CRC-32 is [0-9a-f]{8}, the build's was [0-9a-f]{8}\. Reinstall create-zero-trust-app\n$/);
    expect(damaged.status).toBe(1);
    expect(existsSync(join(folder, 'app'))).toBe(false);
    const imported = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(folder, 'index.cjs'))})`], { encoding: 'utf8' });
    expect(imported.stderr).toMatch(/Error: create-zero-trust-app: cannot load the runtime: \S+runtime\.cjs\.br is damaged: its CRC-32 is [0-9a-f]{8}, the build's was [0-9a-f]{8}\. Reinstall create-zero-trust-app\n/);

    rmSync(join(folder, 'runtime.cjs.br'));
    const missing = spawnSync(process.execPath, [join(folder, 'cli.cjs'), 'app', '--yes'], { cwd: folder, encoding: 'utf8', env, timeout: 60_000 });
    expect(missing.stderr).toMatch(/^create-zero-trust-app: cannot load the runtime: ENOENT: no such file or directory, open '\S+runtime\.cjs\.br'\. Reinstall create-zero-trust-app\n$/);
    expect(missing.status).toBe(1);
  });

  it('reports a failed write to stdout in one line', () => {
    const cwd = makeFolder();
    const full = openSync('/dev/full', 'w');
    try {
      const run = spawnSync(process.execPath, [CLI, 'app', '--yes'], { cwd, encoding: 'utf8', stdio: ['ignore', full, 'pipe'], timeout: 60_000 });
      expect(run.stderr).toMatch(/^create-zero-trust-app: writing to standard output failed: ENOSPC[^\n]*\n$/);
      expect(run.status).toBe(1);
    } finally {
      closeSync(full);
    }
  });

  it('exits 2 on an unknown mesh', () => {
    const run = runBundle(['app', '--yes', '--mesh', 'no-such-mesh'], makeFolder());
    expect(run.stderr).toContain('unknown mesh "no-such-mesh"');
    expect(run.status).toBe(2);
  });
});
