import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FileTree } from '../index.js';

/** Writes a tree to a new temporary folder, runs `use` on it, and removes the folder. */
export function withTreeOnDisk<T>(files: FileTree, use: (directory: string) => T): T {
  const directory = mkdtempSync(join(tmpdir(), 'zero-trust-conformance-'));
  try {
    for (const [path, entry] of files) {
      mkdirSync(dirname(join(directory, path)), { recursive: true });
      writeFileSync(join(directory, path), entry.content, { mode: entry.executable ? 0o755 : 0o644 });
    }
    return use(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

export interface CommandResult {
  ok: boolean;
  output: string;
}

/** Runs a command in a folder. A missing command is a failure whose output names the package to install. */
export function runCommand(command: string, args: string[], cwd: string): CommandResult {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, PATH: process.env.PATH } });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, output: missing ? `${command} is not installed: install it (for example apt-get install ${command === 'kubectl' ? 'kubectl' : command})` : result.error.message };
  }
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** Runs shellcheck on every shell script of the tree. */
export function shellcheckTree(files: FileTree, directory: string): CommandResult {
  const scripts = [...files.keys()].filter((path) => path.endsWith('.sh'));
  return runCommand('shellcheck', ['--severity=style', ...scripts], directory);
}
