import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FileSystem } from './fs.js';

/**
 * Creates a folder and its missing parents, one mkdir each, as `mkdirSync(path, { recursive: true })` does.
 * Node 20's own recursive mkdir never returns for a path such as /proc/self/x, because mkdir reports ENOENT there
 * although the parent exists. Here that ENOENT is thrown.
 */
export function makeDirectories(path: string, mode?: number): void {
  const missing: string[] = [];
  for (let current = resolve(path); ; current = dirname(current)) {
    try {
      if (statSync(current).isDirectory()) break;
      throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${current}'`), { code: 'EEXIST', path: current, syscall: 'mkdir' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.push(current);
    if (dirname(current) === current) break;
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder, mode === undefined ? {} : { mode });
    } catch (error) {
      // Made by another process in between.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(folder).isDirectory()) throw error;
    }
  }
}

/** Resolves with `value` on the next turn of the event loop, so signal handlers run between file operations. */
function nextTurn<T>(value: T): Promise<T> {
  return new Promise((resolve) => setImmediate(resolve, value));
}

/**
 * Returns the CLI's file system: node:fs's synchronous calls behind the promise interface, each followed by a turn
 * of the event loop. Importing node:fs/promises loads Node's stream and readline modules, a few milliseconds of
 * every run, and the generator's files are small enough that a synchronous write costs less than a thread-pool one.
 */
export function nodeFileSystem(): FileSystem {
  return {
    readFile: async (path, encoding) => nextTurn(readFileSync(path, encoding)),
    writeFile: async (path, data, options) => nextTurn(writeFileSync(path, data, options)),
    mkdir: async (path) => nextTurn(makeDirectories(path)),
    readdir: async (path, options) => nextTurn(readdirSync(path, options)),
    rename: async (from, to) => nextTurn(renameSync(from, to)),
    rm: async (path, options) => nextTurn(rmSync(path, options)),
    stat: async (path) => nextTurn(statSync(path)),
    lstat: async (path) => nextTurn(lstatSync(path)),
    readFileSync: (path, encoding) => readFileSync(path, encoding),
  };
}
