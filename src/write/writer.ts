import { basename, dirname, join } from 'node:path';
import { GenerationError, InputError } from '../errors.js';
import type { FileTree } from '../generate/files.js';
import type { FileSystem } from './fs.js';

export interface WriteRequest {
  fs: FileSystem;
  /** The target folder, absolute. */
  target: string;
  files: FileTree;
  /** Write into a non-empty folder, replacing only the files the generator writes. */
  force: boolean;
  /** Called with the staging folder before writing, so a signal handler can remove it. */
  onStaging?: (path: string | undefined) => void;
}

export interface WriteResult {
  /** Paths, relative to the target, of files that existed and were replaced. */
  replaced: string[];
  created: string[];
}

/**
 * Writes a repository atomically: every file goes into a staging folder next to the target, which is then
 * renamed into place, so a failed or interrupted run leaves no target folder behind, or with `--force`,
 * only whole files replaced.
 */
export async function writeRepository(request: WriteRequest): Promise<WriteResult> {
  const { fs, target, files, force } = request;

  // 1. Check the target.
  const existing = await inspectTarget(fs, target);
  if (existing === 'file') throw new InputError(`${target}: a file with this name exists. Choose another directory name`);
  if (existing === 'non-empty' && !force) {
    throw new InputError(`${target}: the directory is not empty. Choose a new directory, or pass --force to replace the generated files in it`);
  }

  // 2. Stage every file next to the target, on the same filesystem, so renames are atomic.
  const staging = join(dirname(target), `.${basename(target)}.staging-${process.pid}`);
  request.onStaging?.(staging);
  try {
    await fs.rm(staging, { recursive: true, force: true });
    for (const [path, entry] of files) {
      const destination = join(staging, path);
      await fs.mkdir(dirname(destination), { recursive: true });
      await fs.writeFile(destination, entry.content, { mode: entry.executable ? 0o755 : 0o644, flag: 'wx' });
    }

    // 3. Move into place: the whole folder when the target is new, file by file into an existing one.
    if (existing === 'missing') {
      await fs.mkdir(dirname(target), { recursive: true });
      await fs.rename(staging, target);
      return { replaced: [], created: [...files.keys()] };
    }
    const result: WriteResult = { replaced: [], created: [] };
    for (const path of files.keys()) {
      const destination = join(target, path);
      const present = await exists(fs, destination);
      if (present === 'directory') throw new InputError(`${destination}: a directory is in the way of a generated file. Move it away and run again`);
      await fs.mkdir(dirname(destination), { recursive: true });
      await fs.rename(join(staging, path), destination);
      (present ? result.replaced : result.created).push(path);
    }
    return result;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new GenerationError(`writing ${target} failed: ${describeFsError(error)}`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    request.onStaging?.(undefined);
  }
}

/** Describes the target: missing, a file, an empty folder, or a folder with content (a lone `.git` counts as empty). */
export async function inspectTarget(fs: FileSystem, target: string): Promise<'missing' | 'file' | 'empty' | 'non-empty'> {
  let stats;
  try {
    stats = await fs.stat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new InputError(`${target}: cannot be read (${describeFsError(error)}). Check its permissions`);
  }
  if (!stats.isDirectory()) return 'file';
  const entries = await fs.readdir(target, { withFileTypes: true });
  return entries.some((entry) => entry.name !== '.git') ? 'non-empty' : 'empty';
}

async function exists(fs: FileSystem, path: string): Promise<false | 'file' | 'directory'> {
  try {
    return (await fs.stat(path)).isDirectory() ? 'directory' : 'file';
  } catch {
    return false;
  }
}

/** Turns a filesystem error into words: permission denied, disk full, and the like. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; choose a directory you can write to';
    case 'ENOSPC':
      return 'no space left on the device; free some space and run again';
    case 'EROFS':
      return 'the filesystem is read-only; choose another directory';
    case 'ENOTDIR':
      return 'a file is in the way of a directory in the path; choose another directory';
    default:
      return (error as Error).message ?? String(error);
  }
}
