import type { Dirent, Stats } from 'node:fs';

/**
 * The part of `node:fs/promises` the writer and reader use. Node's module satisfies it, and so does a memfs
 * volume's `promises`, which the tests use.
 */
export interface FileSystem {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string, options: { mode: number; flag?: string }): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, options: { recursive: true; force: true }): Promise<void>;
  stat(path: string): Promise<Stats>;
  lstat(path: string): Promise<Stats>;
  /** Optional: reads a file synchronously. verify reads thousands of small manifests faster with it. */
  readFileSync?(path: string, encoding: 'utf8'): string;
}
