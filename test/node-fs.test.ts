import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFileSystem } from '../src/write/node-fs.js';

const folder = mkdtempSync(join(tmpdir(), 'czta-node-fs-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('node file system', () => {
  const fs = nodeFileSystem();

  it('writes, lists, renames and removes', async () => {
    await fs.mkdir(join(folder, 'a/b'), { recursive: true });
    await fs.writeFile(join(folder, 'a/b/file.txt'), 'text\n', { mode: 0o600 });
    expect(await fs.readFile(join(folder, 'a/b/file.txt'), 'utf8')).toBe('text\n');
    expect((await fs.stat(join(folder, 'a/b/file.txt'))).mode & 0o777).toBe(0o600);
    const entries = await fs.readdir(join(folder, 'a'), { withFileTypes: true });
    expect(entries.map((entry) => [entry.name, entry.isDirectory()])).toEqual([['b', true]]);
    await fs.rename(join(folder, 'a'), join(folder, 'c'));
    expect((await fs.lstat(join(folder, 'c/b'))).isDirectory()).toBe(true);
    await fs.rm(join(folder, 'c'), { recursive: true, force: true });
    await expect(fs.stat(join(folder, 'c'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes missing parent folders', async () => {
    await fs.mkdir(join(folder, 'p/q/r'), { recursive: true });
    await fs.mkdir(join(folder, 'p/q/r'), { recursive: true });
    expect((await fs.stat(join(folder, 'p/q/r'))).isDirectory()).toBe(true);
    await fs.writeFile(join(folder, 'p/file'), '', { mode: 0o644, flag: 'wx' });
    // The codes of Node's own recursive mkdir: a file as the folder, and a file on the way.
    await expect(fs.mkdir(join(folder, 'p/file'), { recursive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(fs.mkdir(join(folder, 'p/file/s'), { recursive: true })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.runIf(process.platform === 'linux')('fails under /proc, where Node 20 itself loops', async () => {
    // mkdirSync('/proc/self/x', { recursive: true }) never returns on Node 20. One level at a time, it fails at once.
    await expect(fs.mkdir('/proc/self/czta-test/x', { recursive: true })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects with the error code, as fs/promises does', async () => {
    await expect(fs.readFile(join(folder, 'missing.txt'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.writeFile(join(folder, 'missing/file.txt'), '', { mode: 0o644, flag: 'wx' })).rejects.toMatchObject({ code: 'ENOENT' });
    await fs.writeFile(join(folder, 'once.txt'), '', { mode: 0o644, flag: 'wx' });
    await expect(fs.writeFile(join(folder, 'once.txt'), '', { mode: 0o644, flag: 'wx' })).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('lets timers run between calls', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    for (let index = 0; index < 50; index++) await fs.writeFile(join(folder, `tick-${index}.txt`), '', { mode: 0o644 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});
