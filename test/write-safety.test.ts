import { describe, expect, it } from 'vitest';
import { builtinPluginIds } from '../src/plugin/builtin.js';
import { loadBuiltinPlugin } from '../src/plugin/load.js';
import { Volume, createFsFromVolume } from 'memfs';
import type { FileSystem } from '../src/write/fs.js';
import { writeRepository } from '../src/write/writer.js';
import { CWD, failing, runCli, type CliRun } from './support/cli.js';

const TARGET = `${CWD}/out`;
const CREATE = ['out', '--yes'];

/** Lists what a run left behind: the paths under the working directory, other than the given input files. */
function leftovers(run: CliRun, inputs: string[] = []): string[] {
  return Object.keys(run.tree()).filter((path) => path !== CWD && !inputs.some((input) => path.startsWith(`${CWD}/${input}`)));
}

/** Fails the `count`th call of `name` whose path matches `when`, counting from 1. */
function failingOnce(fs: FileSystem, name: keyof FileSystem, code: string, count: number, when: (path: string) => boolean = () => true): FileSystem {
  let calls = 0;
  return failing(fs, name, code, (path) => when(path) && ++calls === count);
}

describe('atomic write', () => {
  it('leaves nothing after a failed file write', async () => {
    const run = await runCli(CREATE, { wrapFs: (fs) => failingOnce(fs, 'writeFile', 'EIO', 7) });

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^create-zero-trust-app: writing \/home\/user\/out failed: EIO: injected failure, writeFile '.*'\n$/);
    expect(leftovers(run)).toEqual([]);
  });

  it('leaves nothing when the final rename fails', async () => {
    const run = await runCli(CREATE, { wrapFs: (fs) => failing(fs, 'rename', 'EXDEV') });

    expect(run.code).toBe(1);
    expect(leftovers(run)).toEqual([]);
  });

  it('removes the parent folders it created', async () => {
    const run = await runCli(['a/b/out', '--yes'], { wrapFs: (fs) => failingOnce(fs, 'writeFile', 'EIO', 3) });

    expect(run.code).toBe(1);
    expect(leftovers(run)).toEqual([]);
  });

  it('reports a full disk', async () => {
    const run = await runCli(CREATE, { wrapFs: (fs) => failingOnce(fs, 'writeFile', 'ENOSPC', 12) });

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('create-zero-trust-app: writing /home/user/out failed: no space left on the device; free some space and run again\n');
    expect(leftovers(run)).toEqual([]);
  });

  it('reports a folder it may not write to', async () => {
    const run = await runCli(CREATE, { wrapFs: (fs) => failing(fs, 'mkdir', 'EACCES') });

    expect(run.code).toBe(1);
    expect(run.stderr).toBe('create-zero-trust-app: writing /home/user/out failed: permission denied; choose a directory you can write to\n');
    expect(leftovers(run)).toEqual([]);
  });

  it('reports a target it may not read', async () => {
    const run = await runCli(CREATE, { files: { 'out/README.md': 'mine' }, wrapFs: (fs) => failing(fs, 'readdir', 'EACCES', (path) => path === TARGET) });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out: cannot be read (permission denied; choose a directory you can write to)\n');
    expect(run.tree()[`${TARGET}/README.md`]).toBe('mine');
  });

  it('rejects a target that is a file', async () => {
    const run = await runCli(CREATE, { files: { out: 'a file' } });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out: a file with this name exists. Choose another directory name\n');
    expect(run.tree()[TARGET]).toBe('a file');
  });

  it('rejects a target below a file', async () => {
    const run = await runCli(['out/repo', '--yes'], { files: { out: 'a file' } });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out/repo: a file is in the way of a directory in the path; choose another directory\n');
    expect(leftovers(run, ['out'])).toEqual([]);
  });
});

describe('generated paths', () => {
  it.each(['../escape.yaml', '/etc/passwd', 'manifests/../../escape', '.git/hooks/pre-commit', 'a//b', 'a\\b', ''])('rejects "%s"', async (path) => {
    const volume = Volume.fromJSON({}, CWD);
    const fs = createFsFromVolume(volume).promises as unknown as FileSystem;
    const files = new Map([['README.md', { content: 'x', executable: false }], [path, { content: 'x', executable: false }]]);

    await expect(writeRepository({ fs, target: TARGET, files, force: false })).rejects.toThrow(`a plugin generated the file path "${path}", which is not a plain path inside the repository. Report this to the plugin's authors`);
    expect(volume.toJSON()).toEqual({});
  });
});

describe('existing target', () => {
  const USER_FILES = {
    'out/README.md': 'my own readme\n',
    'out/notes/todo.txt': 'keep me\n',
    'out/manifests/extra.yaml': 'kind: ConfigMap\n',
    'out/.git/HEAD': 'ref: refs/heads/main\n',
    'out/.git/config': '[core]\n',
  };

  it('rejects a non-empty folder without --force', async () => {
    const run = await runCli(CREATE, { files: USER_FILES });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out: the directory is not empty. Choose a new directory, or pass --force to replace the generated files in it\n');
    expect(onlyTarget(run)).toEqual(prefixed(USER_FILES));
  });

  it('writes into a folder holding only .git', async () => {
    const run = await runCli(CREATE, { files: { 'out/.git/HEAD': 'ref: refs/heads/main\n' } });

    expect(run.code).toBe(0);
    expect(run.tree()[`${TARGET}/.git/HEAD`]).toBe('ref: refs/heads/main\n');
    expect(run.tree()[`${TARGET}/Makefile`]).toBeTypeOf('string');
  });

  it('keeps files it did not generate with --force', async () => {
    const run = await runCli([...CREATE, '--force'], { files: USER_FILES });

    expect(run.code).toBe(0);
    const tree = run.tree();
    expect(tree[`${TARGET}/notes/todo.txt`]).toBe('keep me\n');
    expect(tree[`${TARGET}/manifests/extra.yaml`]).toBe('kind: ConfigMap\n');
    expect(tree[`${TARGET}/.git/HEAD`]).toBe('ref: refs/heads/main\n');
    expect(tree[`${TARGET}/.git/config`]).toBe('[core]\n');
    expect(tree[`${TARGET}/README.md`]).not.toBe('my own readme\n');
  });

  it('lists the files it replaced', async () => {
    const run = await runCli([...CREATE, '--force'], { files: USER_FILES });

    expect(run.stdout).toContain('Replaced 1 existing file: README.md\n');
  });

  it('lists replaced files in --json', async () => {
    const run = await runCli([...CREATE, '--force', '--json'], { files: USER_FILES });
    const summary = JSON.parse(run.stdout) as { files: { replaced: string[]; created: string[] } };

    expect(summary.files.replaced).toEqual(['README.md']);
    expect(summary.files.created).toContain('Makefile');
  });

  it('leaves the folder untouched when a move fails', async () => {
    const before = await runCli(CREATE);
    const previous = prefixed(Object.fromEntries(Object.entries(onlyTarget(before)).map(([path, content]) => [path.slice(CWD.length + 1), `old ${content}`])));
    const files = { ...Object.fromEntries(Object.entries(previous).map(([path, content]) => [path.slice(CWD.length + 1), content!])), ...USER_FILES };
    const intoTarget = (path: string) => path.startsWith(`${TARGET}/`);

    const run = await runCli([...CREATE, '--force'], { files, wrapFs: (fs) => failingOnce(fs, 'rename', 'EIO', 9, intoTarget) });

    expect(run.code).toBe(1);
    expect(onlyTarget(run)).toEqual(prefixed(files));
    expect(leftovers(run, ['out'])).toEqual([]);
  });

  it('rejects a directory where it would write a file', async () => {
    const files = { ...USER_FILES, 'out/Makefile/keep': 'x' };
    const run = await runCli([...CREATE, '--force'], { files });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out/Makefile: a directory is in the way of a generated file. Move it away and run again\n');
    expect(onlyTarget(run)).toEqual(prefixed(files));
  });

  it('rejects a file where it would make a folder', async () => {
    const files = { ...USER_FILES, 'out/scripts': 'a file' };
    const run = await runCli([...CREATE, '--force'], { files });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out/scripts: a file is in the way of a generated directory. Move it away and run again\n');
    expect(onlyTarget(run)).toEqual(prefixed(files));
  });

  it('never writes through a symbolic link', async () => {
    const files = { ...USER_FILES, 'elsewhere/keep': 'outside\n' };
    const run = await runCli([...CREATE, '--force'], { files, setup: (volume) => volume.symlinkSync(`${CWD}/elsewhere`, `${TARGET}/verify`) });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: /home/user/out/verify: is a symbolic link, and generated files are written only inside the target. Replace it with a directory or choose another target\n');
    expect(Object.keys(run.tree()).filter((path) => path.startsWith(`${CWD}/elsewhere`))).toEqual([`${CWD}/elsewhere/keep`]);
  });
});

describe('cancelled prompt', () => {
  const QUESTIONS = ['topology', 'mesh', 'directory'];

  it.each(QUESTIONS)('exits 130 at the %s question', async (cancelled) => {
    const prompted: string[] = [];
    const run = await runCli([], {
      interactive: true,
      prompt: async (questions) => {
        prompted.push(...questions.map((question) => question.name));
        if (questions.some((question) => question.name === cancelled)) return undefined;
        return Object.fromEntries(questions.map((question) => [question.name, question.default ?? '']));
      },
    });

    expect(prompted).toContain(cancelled);
    expect(run.code).toBe(130);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('');
    expect(leftovers(run)).toEqual([]);
  });

  it.each(builtinPluginIds())('exits 130 at the options of %s', async (mesh) => {
    const plugin = await loadBuiltinPlugin(mesh);
    const run = await runCli(['out', '--mesh', mesh, '--preset', 'workshop'], { interactive: true, prompt: async () => undefined });

    expect(run.code).toBe(plugin.options?.length ? 130 : 0);
    if (plugin.options?.length) expect(leftovers(run)).toEqual([]);
  });
});

describe('determinism', () => {
  const SERVICES = [
    { name: 'web', image: 'docker.io/library/nginx:1.27', ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'grpc' }], env: { B: 'two', A: 'one' }, calls: ['api', { service: 'db', port: 5432 }] },
    { name: 'api', namespace: 'backend', image: 'ghcr.io/acme/api:2.1', ports: [{ port: 9000, protocol: 'grpc' }], calls: ['db', 'cache', 'api'] },
    { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
    { name: 'cache', namespace: 'data', image: 'docker.io/library/redis:7', ports: [{ port: 6379, protocol: 'redis' }] },
  ];

  function topologyYaml(services: readonly unknown[]): string {
    return JSON.stringify({ apiVersion: 'create-zero-trust-app/v1alpha1', kind: 'Topology', metadata: { name: 'shop' }, spec: { namespace: 'shop', services } });
  }

  /** Reverses the services, and each service's calls and env keys. Port order is kept: it is the order of the Service's ports. */
  function reordered(services: typeof SERVICES): unknown[] {
    return [...services].reverse().map((service) => ({
      ...service,
      ...(service.env && { env: Object.fromEntries(Object.entries(service.env).reverse()) }),
      ...(service.calls && { calls: [...service.calls].reverse() }),
    }));
  }

  it.each(builtinPluginIds())('gives identical trees on %s', async (mesh) => {
    const argv = ['out', '--yes', '--mesh', mesh, '--topology', 'topology.yaml'];
    // NSM rejects a service that calls itself: its pod would wait for its own endpoint.
    const services = (mesh === 'nsm' ? SERVICES.map((service) => ({ ...service, ...(service.calls && { calls: service.calls.filter((call) => call !== service.name) }) })) : SERVICES) as typeof SERVICES;
    const first = await runCli(argv, { files: { 'topology.yaml': topologyYaml(services) } });
    const second = await runCli(argv, { files: { 'topology.yaml': topologyYaml(services) } });
    const shuffled = await runCli(argv, { files: { 'topology.yaml': topologyYaml(reordered(services)) } });

    expect(first.code).toBe(0);
    expect(onlyTarget(second)).toEqual(onlyTarget(first));
    expect(onlyTarget(shuffled)).toEqual(onlyTarget(first));
  });
});

/** Returns the files of the target folder, keyed by absolute path. */
function onlyTarget(run: CliRun): Record<string, string | null> {
  return Object.fromEntries(Object.entries(run.tree()).filter(([path]) => path.startsWith(`${TARGET}/`)));
}

function prefixed(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).filter(([path]) => path.startsWith('out/')).map(([path, content]) => [`${CWD}/${path}`, content]));
}
