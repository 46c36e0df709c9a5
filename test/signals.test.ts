import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// These tests run the built bin, so `npm test` builds it first.
const CLI = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const SERVICES = 1_000;
const folders: string[] = [];

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** Makes a working folder holding a topology of {@link SERVICES} services in a chain, large enough that writing takes seconds. */
function makeWorkspace(): string {
  const cwd = mkdtempSync(join(tmpdir(), 'czta-signal-'));
  folders.push(cwd);
  const services = Array.from({ length: SERVICES }, (_, index) => ({
    name: `svc-${index}`,
    image: 'docker.io/library/nginx:1.27',
    ports: [{ port: 8080, protocol: 'http' }],
    ...(index > 0 && { calls: [`svc-${index - 1}`] }),
  }));
  const topology = { apiVersion: 'create-zero-trust-app/v1alpha1', kind: 'Topology', metadata: { name: 'big' }, spec: { namespace: 'big', services } };
  writeFileSync(join(cwd, 'topology.yaml'), JSON.stringify(topology));
  return cwd;
}

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether the signal was sent, or the run ended before the trigger. */
  sent: boolean;
  stderr: string;
}

/** Runs the bin in `cwd` and sends `signal` `delayMs` after `trigger(pid)` first returns true. */
function interrupt(cwd: string, args: string[], signal: NodeJS.Signals, trigger: (pid: number) => boolean, delayMs: number): Promise<Interrupted> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let sent = false;
    const poll = setInterval(() => {
      if (!trigger(child.pid!)) return;
      clearInterval(poll);
      setTimeout(() => {
        sent = child.kill(signal);
      }, delayMs);
    }, 2);
    child.on('exit', (code, exitSignal) => {
      clearInterval(poll);
      resolve({ code, signal: exitSignal, sent, stderr });
    });
  });
}

/** Returns every file under `root`, relative to it, with its content. */
function snapshot(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else files[path.slice(root.length + 1)] = readFileSync(path, 'utf8');
    }
  };
  walk(root);
  return files;
}

const stagingOf = (cwd: string, pid: number) => join(cwd, `.out.staging-${pid}`);
const EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

describe('signal during a run', () => {
  it.each([
    { signal: 'SIGINT' as const, delayMs: Math.floor(Math.random() * 1_500) },
    { signal: 'SIGTERM' as const, delayMs: Math.floor(Math.random() * 1_500) },
  ])('$signal while staging leaves no folder (delay $delayMs ms)', async ({ signal, delayMs }) => {
    const cwd = makeWorkspace();
    const result = await interrupt(cwd, ['out', '--yes', '--topology', 'topology.yaml'], signal, (pid) => existsSync(stagingOf(cwd, pid)), delayMs);

    expect(readdirSync(cwd).filter((name) => name.startsWith('.out.staging-'))).toEqual([]);
    if (result.code === 0 || existsSync(join(cwd, 'out'))) {
      // The run finished before the signal, or the signal came while the finished process was shutting down
      // and Node no longer handles signals: either way the repository must be whole.
      expect(Object.keys(snapshot(join(cwd, 'out'))).length).toBeGreaterThan(SERVICES);
    } else {
      expect(result.sent).toBe(true);
      expect(result.code).toBe(EXIT_CODES[signal]);
      expect(existsSync(join(cwd, 'out'))).toBe(false);
    }
  }, 120_000);

  it('SIGTERM while generating leaves no folder', async () => {
    const cwd = makeWorkspace();
    // 300 ms is past start-up and well before the end: generating 1,000 services takes over a second.
    const result = await interrupt(cwd, ['out', '--yes', '--topology', 'topology.yaml'], 'SIGTERM', () => true, 300);

    expect(result.stderr).toBe('');
    expect(result.sent).toBe(true);
    expect(result.code === EXIT_CODES.SIGTERM || result.signal === 'SIGTERM').toBe(true);
    expect(readdirSync(cwd).sort()).toEqual(['topology.yaml']);
  }, 120_000);

  it.each(['SIGINT', 'SIGTERM'] as const)('%s while replacing with --force leaves a whole folder', async (signal) => {
    const cwd = makeWorkspace();
    const listing = spawnSync(process.execPath, [CLI, 'out', '--yes', '--dry-run', '--json', '--topology', 'topology.yaml'], { cwd, encoding: 'utf8' });
    const generated = (JSON.parse(listing.stdout) as { files: { created: string[] } }).files.created;
    const userFiles = { 'notes.txt': 'mine\n', '.git/HEAD': 'ref: refs/heads/main\n' };
    for (const [path, content] of [...generated.map((path) => [path, 'old\n'] as const), ...Object.entries(userFiles)]) {
      mkdirSync(dirname(join(cwd, 'out', path)), { recursive: true });
      writeFileSync(join(cwd, 'out', path), content);
    }

    // The replaced files are set aside in the staging folder, so its .replaced folder marks the moves.
    const result = await interrupt(cwd, ['out', '--yes', '--force', '--topology', 'topology.yaml'], signal, (pid) => existsSync(join(stagingOf(cwd, pid), '.replaced')), 0);
    const after = snapshot(join(cwd, 'out'));

    expect(result.sent).toBe(true);
    expect(result.code).toBe(EXIT_CODES[signal]);
    expect(readdirSync(cwd).filter((name) => name.startsWith('.out.staging-'))).toEqual([]);
    expect(after['notes.txt']).toBe('mine\n');
    expect(after['.git/HEAD']).toBe('ref: refs/heads/main\n');
    expect(generated.filter((path) => after[path] === 'old\n')).toEqual([]);
    expect(Object.keys(after).length).toBe(generated.length + 2);
  }, 120_000);
});

// `script` (util-linux) gives the bin a pseudo-terminal, so the prompts run as they do for a user.
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe.runIf(hasScript)('Ctrl-C at a terminal prompt', () => {
  it('exits 130 and writes nothing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'czta-prompt-'));
    folders.push(cwd);
    const child = spawn('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`, '/dev/null'], { cwd, stdio: ['pipe', 'pipe', 'ignore'] });
    let output = '';
    let pressed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!pressed && output.includes('Topology')) {
        pressed = true;
        setTimeout(() => child.stdin.write('\u0003'), 200);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));

    expect(pressed).toBe(true);
    expect(code).toBe(130);
    expect(readdirSync(cwd)).toEqual([]);
  }, 60_000);
});
