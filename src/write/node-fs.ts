import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileSystem } from './fs.js';

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
    mkdir: async (path, options) => nextTurn(mkdirSync(path, options)),
    readdir: async (path, options) => nextTurn(readdirSync(path, options)),
    rename: async (from, to) => nextTurn(renameSync(from, to)),
    rm: async (path, options) => nextTurn(rmSync(path, options)),
    stat: async (path) => nextTurn(statSync(path)),
    lstat: async (path) => nextTurn(lstatSync(path)),
    readFileSync: (path, encoding) => readFileSync(path, encoding),
  };
}
