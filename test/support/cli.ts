import { Volume, createFsFromVolume } from 'memfs';
import { main } from '../../src/cli/main.js';
import type { CliIo, Question } from '../../src/cli/io.js';
import type { FileSystem } from '../../src/write/fs.js';

/** The working directory of every in-memory run. */
export const CWD = '/home/user';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  volume: InstanceType<typeof Volume>;
  /** Every file and directory of the volume after the run, keyed by absolute path (directories map to null). */
  tree(): Record<string, string | null>;
}

export interface CliRunOptions {
  /** Files to create before the run, keyed by path relative to {@link CWD} or absolute. */
  files?: Record<string, string>;
  /** Wraps the memfs promises API, to inject failures. */
  wrapFs?: (fs: FileSystem) => FileSystem;
  prompt?: (questions: Question[]) => Promise<Record<string, string> | undefined>;
  interactive?: boolean;
  /** Gives the file system a synchronous readFileSync, as the real CLI's has. */
  syncReads?: boolean;
  /** Prepares the volume after the files are created, for what `files` cannot express, such as symbolic links. */
  setup?: (volume: InstanceType<typeof Volume>) => void;
}

/** Runs the CLI's `main` on an in-memory filesystem and collects its output. */
export async function runCli(argv: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const volume = Volume.fromJSON(options.files ?? {}, CWD);
  volume.mkdirSync(CWD, { recursive: true });
  options.setup?.(volume);
  const promises = createFsFromVolume(volume).promises as unknown as FileSystem;
  const memfs: FileSystem = options.syncReads ? { ...promises, readFileSync: (path, encoding) => volume.readFileSync(path, encoding) as string } : promises;
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    cwd: CWD,
    env: {},
    interactive: options.interactive ?? false,
    fs: options.wrapFs ? options.wrapFs(memfs) : memfs,
    ...(options.prompt && { prompt: options.prompt }),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr, volume, tree: () => volume.toJSON() as Record<string, string | null> };
}

/** Returns a copy of `fs` whose method `name` rejects with an error carrying `code` when `when(path)` is true. */
export function failing(fs: FileSystem, name: keyof FileSystem, code: string, when: (path: string) => boolean = () => true): FileSystem {
  const original = fs[name] as (...args: unknown[]) => Promise<unknown>;
  const replacement = async (...args: unknown[]) => {
    if (when(String(args[0]))) throw Object.assign(new Error(`${code}: injected failure, ${name} '${String(args[0])}'`), { code });
    return original.apply(fs, args);
  };
  return new Proxy(fs, { get: (target, key) => (key === name ? replacement : Reflect.get(target, key, target)) });
}
