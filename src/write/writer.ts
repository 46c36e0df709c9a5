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
  /**
   * Called with true before the files are moved into an existing target and with false after, so a signal
   * handler can wait for the moves instead of leaving the target half replaced.
   */
  onCommit?: (committing: boolean) => void;
}

export interface WriteResult {
  /** Paths, relative to the target, of files that existed and were replaced. */
  replaced: string[];
  created: string[];
}

/**
 * Writes a repository atomically: every file goes into a staging folder next to the target, which is then
 * renamed into place, so a failed or interrupted run leaves no target folder behind. With `--force`, the
 * files are moved into the existing folder one by one, and a failed move puts back what was replaced.
 * NOTE: a process killed during those moves (SIGKILL, power loss) can leave some of the files replaced.
 */
export async function writeRepository(request: WriteRequest): Promise<WriteResult> {
  const { fs, target, files } = request;

  // 1. Check the target, and with --force every generated path in it, before anything is written.
  const { existing, present } = await checkTarget(request);

  // 2. Stage every file next to the target, on the same filesystem, so renames are atomic.
  const staging = join(dirname(target), `.${basename(target)}.staging-${process.pid}`);
  const createdParent = existing === 'missing' ? await findMissingAncestor(fs, dirname(target)) : undefined;
  let committed = false;
  request.onStaging?.(staging);
  try {
    await fs.rm(staging, { recursive: true, force: true });
    for (const directory of new Set([...files.keys()].map((path) => dirname(join(staging, path))))) {
      await fs.mkdir(directory, { recursive: true });
    }
    // Several writes at a time: a large topology has thousands of files, and one at a time waits on each.
    const entries = [...files];
    const writeNext = async (): Promise<void> => {
      for (let next = entries.pop(); next; next = entries.pop()) {
        const [path, entry] = next;
        await fs.writeFile(join(staging, path), entry.content, { mode: entry.executable ? 0o755 : 0o644, flag: 'wx' });
      }
    };
    await Promise.all(Array.from({ length: 8 }, writeNext));

    // 3. Move into place: the whole folder when the target is new, file by file into an existing one.
    if (existing === 'missing') {
      await fs.rename(staging, target);
      committed = true;
      return { replaced: [], created: [...files.keys()] };
    }
    request.onCommit?.(true);
    const result = await moveIntoTarget(fs, staging, target, present);
    committed = true;
    return result;
  } catch (error) {
    if (createdParent && !committed) await fs.rm(createdParent, { recursive: true, force: true }).catch(() => undefined);
    if (error instanceof InputError) throw error;
    throw new GenerationError(`writing ${target} failed: ${describeFsError(error)}`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
    request.onCommit?.(false);
    request.onStaging?.(undefined);
  }
}

/**
 * Moves the staged files into an existing target. Each replaced file is first moved aside into the staging
 * folder, so that when a move fails, every file moved so far is put back and the target is as it was.
 */
async function moveIntoTarget(fs: FileSystem, staging: string, target: string, present: Map<string, boolean>): Promise<WriteResult> {
  const backups = join(staging, '.replaced');
  const done: { path: string; replaced: boolean }[] = [];
  try {
    for (const [path, replaced] of present) {
      const destination = join(target, path);
      if (replaced) {
        await fs.mkdir(dirname(join(backups, path)), { recursive: true });
        await fs.rename(destination, join(backups, path));
      }
      done.push({ path, replaced });
      await fs.mkdir(dirname(destination), { recursive: true });
      await fs.rename(join(staging, path), destination);
    }
  } catch (error) {
    for (const { path, replaced } of done.reverse()) {
      const destination = join(target, path);
      if (replaced) await fs.rename(join(backups, path), destination).catch(() => undefined);
      else await fs.rm(destination, { recursive: true, force: true }).catch(() => undefined);
    }
    throw error;
  }
  return {
    replaced: done.filter((entry) => entry.replaced).map((entry) => entry.path),
    created: done.filter((entry) => !entry.replaced).map((entry) => entry.path),
  };
}

/** The state of a target folder before a write. */
export type TargetState = 'missing' | 'file' | 'empty' | 'non-empty';

/**
 * Checks that the files can be written into the target, as {@link writeRepository} would, without writing
 * anything. Returns the target's state and, for an existing target, whether each generated path exists there.
 *
 * @throws InputError for a target that is a file, a non-empty one without `force`, or a path in the way.
 */
export async function checkTarget(request: Pick<WriteRequest, 'fs' | 'target' | 'files' | 'force'>): Promise<{ existing: TargetState; present: Map<string, boolean> }> {
  const { fs, target, files, force } = request;
  for (const path of files.keys()) checkRelativePath(path);
  const existing = await inspectTarget(fs, target);
  if (existing === 'file') throw new InputError(`${target}: a file with this name exists. Choose another directory name`);
  if (existing === 'non-empty' && !force) {
    throw new InputError(`${target}: the directory is not empty. Choose a new directory, or pass --force to replace the generated files in it`);
  }
  const present = existing === 'missing' ? new Map<string, boolean>() : await inspectDestinations(fs, target, [...files.keys()]);
  return { existing, present };
}

/**
 * Finds which generated paths already exist in the target. Rejects a directory in the way of a file, and a
 * symbolic link on the way to a generated file, which would let the write land outside the target.
 */
async function inspectDestinations(fs: FileSystem, target: string, paths: string[]): Promise<Map<string, boolean>> {
  const present = new Map<string, boolean>();
  const checked = new Set<string>();
  for (const path of paths) {
    const segments = path.split('/');
    for (let depth = 1; depth <= segments.length; depth++) {
      const prefix = segments.slice(0, depth).join('/');
      if (checked.has(prefix)) continue;
      checked.add(prefix);
      const stats = await lstatOrUndefined(fs, join(target, prefix));
      if (!stats) break;
      const isLast = depth === segments.length;
      if (stats.isSymbolicLink() && !isLast) {
        throw new InputError(`${join(target, prefix)}: is a symbolic link, and generated files are written only inside the target. Replace it with a directory or choose another target`);
      }
      if (isLast && stats.isDirectory()) throw new InputError(`${join(target, prefix)}: a directory is in the way of a generated file. Move it away and run again`);
      if (!isLast && !stats.isDirectory()) throw new InputError(`${join(target, prefix)}: a file is in the way of a generated directory. Move it away and run again`);
      if (isLast) present.set(path, true);
    }
    if (!present.has(path)) present.set(path, false);
  }
  return present;
}

/** Rejects a generated path that is absolute, climbs out with "..", or reaches into .git: a plugin bug. */
function checkRelativePath(path: string): void {
  const segments = path.split('/');
  const unsafe = path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0') || segments.some((segment) => segment === '' || segment === '.' || segment === '..') || segments[0] === '.git';
  if (unsafe) throw new GenerationError(`a plugin generated the file path "${path}", which is not a plain path inside the repository. Report this to the plugin's authors`);
}

/** Returns the highest missing ancestor of `directory`, which the write creates and removes again on failure. */
async function findMissingAncestor(fs: FileSystem, directory: string): Promise<string | undefined> {
  let missing: string | undefined;
  for (let current = directory; !(await lstatOrUndefined(fs, current)); current = dirname(current)) {
    missing = current;
    if (dirname(current) === current) break;
  }
  return missing;
}

async function lstatOrUndefined(fs: FileSystem, path: string) {
  try {
    return await fs.lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputError(`${path}: cannot be read (${describeFsError(error)})`);
  }
}

/** Describes the target: missing, a file, an empty folder, or a folder with content (a lone `.git` counts as empty). */
export async function inspectTarget(fs: FileSystem, target: string): Promise<TargetState> {
  let stats;
  try {
    stats = await fs.stat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') throw new InputError(`${target}: ${describeFsError(error)}`);
    throw new InputError(`${target}: cannot be read (${describeFsError(error)}). Check its permissions`);
  }
  if (!stats.isDirectory()) return 'file';
  let entries;
  try {
    entries = await fs.readdir(target, { withFileTypes: true });
  } catch (error) {
    throw new InputError(`${target}: cannot be read (${describeFsError(error)})`);
  }
  return entries.some((entry) => entry.name !== '.git') ? 'non-empty' : 'empty';
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
