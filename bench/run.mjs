// `npm run bench`: measures start-up, install size, generation and verify at scale against their targets, with
// this machine's `node -e 0` measured in the same run, and prints one table. It runs the built bundle (dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { importLauncherRuntime } from '../build/launcher-module.mjs';
import { writeScaleTopology } from './scale-topology.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist/cli.cjs');
const STARTUP_RUNS = Number(process.env.BENCH_RUNS ?? 15);
const GENERATE_RUNS = Math.max(3, Math.round(STARTUP_RUNS / 3));
// A scale run stops after this long (BENCH_SCALE_TIMEOUT_S), so a slow mesh cannot hold up the whole bench.
const SCALE_TIMEOUT_MS = Number(process.env.BENCH_SCALE_TIMEOUT_S ?? 30) * 1000;
// GNU time reports a finished child's peak resident memory; without it, memory is not measured.
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
// BENCH_DIR sets the folder the runs write in (the system's temporary folder by default), so a slow disk can be
// separated from slow code. On Linux, BENCH_DIR=/dev/shm writes to memory.
const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'czta-bench-'));
// The runs keep V8's code cache of the runtime here, not in the user's cache folder (src/launcher/runtime.ts).
process.env.XDG_CACHE_HOME = join(work, 'cache');
const rows = [];

/** Runs a command once as a whole process; returns wall seconds, peak memory in MB (when GNU time exists) and status. */
function measure(command, args, { cwd = work, timeout = 120_000, env = {} } = {}) {
  const report = join(work, 'time.txt');
  // coreutils' timeout stops the command itself: a time-out of spawnSync would stop only GNU time and leave it running.
  const bounded = ['timeout', '--kill-after=2', String(timeout / 1000), command, ...args];
  const [file, ...fileArgs] = GNU_TIME ? [GNU_TIME, '-f', '%M', '-o', report, ...bounded] : bounded;
  const start = process.hrtime.bigint();
  const result = spawnSync(file, fileArgs, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const memoryMb = GNU_TIME && existsSync(report) ? Number(readFileSync(report, 'utf8').trim().split('\n').pop()) / 1024 : undefined;
  if (GNU_TIME) rmSync(report, { force: true });
  // GNU time reports a command ended by a signal as exit 128 + signal; timeout's own status is 124.
  return { seconds, memoryMb, status: result.status, timedOut: result.status === 124 || result.status === 137, stderr: result.stderr };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Runs A and B in turn `runs` times after one warm-up each, and returns both medians and the median of the
 * pairwise ratios A/B, which holds when the machine's speed drifts during the run.
 */
function compare(runA, runB, runs) {
  runA();
  runB();
  const a = [];
  const b = [];
  const ratios = [];
  for (let run = 0; run < runs; run++) {
    const timeA = runA().seconds;
    const timeB = runB().seconds;
    a.push(timeA);
    b.push(timeB);
    ratios.push(timeA / timeB);
  }
  return { a: median(a), b: median(b), ratio: median(ratios) };
}

function addRow(target, measured, ratio, pass) {
  rows.push({ target, measured, ratio: ratio === undefined ? '' : ratio.toFixed(2), result: pass ? 'pass' : 'FAIL' });
}

const nodeBaseline = () => measure(process.execPath, ['-e', '0']);
const ms = (seconds) => `${(seconds * 1000).toFixed(0)} ms`;

// 1. Start-up: --version and --help against `node -e 0`.
const baseline = median(Array.from({ length: STARTUP_RUNS }, () => nodeBaseline().seconds));
for (const flag of ['--version', '--help']) {
  const result = compare(() => measure(process.execPath, [CLI, flag]), nodeBaseline, STARTUP_RUNS);
  addRow(`start-up ${flag} <= 1.5 x node -e 0`, `${ms(result.a)} vs ${ms(result.b)}`, result.ratio, result.ratio <= 1.5);
}

// 2. Install: what `npm pack` publishes, and `npm exec` of a local tarball with a cold cache, against create-vite.
const pack = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: ROOT, encoding: 'utf8' }))[0];
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
// npm counts kB as 1,000 bytes, so this row does too.
addRow('unpacked size < 500 KB', `${(pack.unpackedSize / 1000).toFixed(1)} KB in ${pack.entryCount} files`, pack.unpackedSize / 500_000, pack.unpackedSize < 500_000);
// The bin's code: the launcher loads the runtime file by path (src/launcher/runtime.ts), parts compressed with
// brotli (build/pack-runtime.mjs), and the package's entry point, dist/index.cjs, loads the same file. esbuild
// follows the imports and requires of the launcher, the entry point and each module of the unpacked runtime,
// listing every file they reach besides Node's own modules and the runtime's modules.
const launcher = packageJson.bin['create-zero-trust-app'];
const runtime = 'dist/runtime.cjs.br';
const entryPoint = 'dist/index.cjs';
const loadsRuntime = (file) => readFileSync(join(ROOT, file), 'utf8').includes(`"${runtime.slice('dist/'.length)}"`);
const launcherLoadsRuntime = loadsRuntime(launcher) && loadsRuntime(entryPoint);
const runtimeBytes = readFileSync(join(ROOT, runtime));
const { unpackParts } = await importLauncherRuntime();
const { parts } = unpackParts(runtimeBytes);
const runtimeFolder = join(work, 'runtime');
mkdirSync(runtimeFolder);
let decompressedSize = 0;
const moduleFiles = [];
for (const part of parts) {
  const source = part.source();
  decompressedSize += source.length;
  // A part is an object literal of module functions; each function's body is the module's CommonJS code.
  for (const [name, factory] of Object.entries(runInNewContext(source.toString('latin1')))) {
    const text = factory.toString();
    moduleFiles.push(join(runtimeFolder, name));
    writeFileSync(moduleFiles.at(-1), text.slice(text.indexOf('{') + 1, text.lastIndexOf('}')));
  }
}
const { build } = await import('esbuild');
const reachedFiles = [];
for (const entry of [join(ROOT, launcher), join(ROOT, entryPoint), ...moduleFiles]) {
  const reached = await build({ entryPoints: [entry], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm', logLevel: 'silent', absWorkingDir: ROOT });
  reachedFiles.push(...Object.keys(reached.metafile.inputs).map((path) => resolve(ROOT, path)).filter((path) => path !== entry && dirname(path) !== runtimeFolder).map((path) => relative(ROOT, path)));
}
const packageImports = reachedFiles.filter((path) => path.includes('node_modules'));
const dependencies = Object.keys(packageJson.dependencies ?? {}).length;
addRow(
  'runtime code in one file, no dependencies',
  `${launcher} and ${entryPoint} load ${launcherLoadsRuntime ? `${runtime} (${(runtimeBytes.length / 1000).toFixed(0)} KB, ${parts.length} parts, ${(decompressedSize / 1000).toFixed(0)} KB decompressed)` : 'no runtime file'}; other files reached: ${reachedFiles.join(', ') || 'none'}; ${dependencies} dependencies; ${packageImports.length} package imports`,
  undefined,
  launcherLoadsRuntime && reachedFiles.length === 0 && dependencies === 0 && packageImports.length === 0,
);

const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
execFileSync('npm', ['pack', '--silent', '--pack-destination', tarballs], { cwd: ROOT, stdio: 'ignore' });
let viteTarball;
try {
  execFileSync('npm', ['pack', 'create-vite', '--silent', '--pack-destination', tarballs], { cwd: work, stdio: 'ignore' });
  viteTarball = readdirSync(tarballs).find((name) => name.startsWith('create-vite-'));
} catch {
  // Without the registry there is nothing to compare with, and the row reports that.
}
const ourTarball = readdirSync(tarballs).find((name) => name.startsWith('create-zero-trust-app-'));
const npmCreate = (tarball, bin) => () => measure('npm', ['exec', '--yes', '--offline', '--cache', mkdtempSync(join(work, 'cache-')), '--package', join(tarballs, tarball), '--', bin, '--help']);
if (viteTarball) {
  const result = compare(npmCreate(ourTarball, 'create-zero-trust-app'), npmCreate(viteTarball, 'create-vite'), 3);
  addRow(`npm create, cold cache, about as create-vite (<= 1.25 x)`, `${ms(result.a)} vs ${ms(result.b)} (${viteTarball.replace('.tgz', '')})`, result.ratio, result.ratio <= 1.25);
} else {
  addRow('npm create, cold cache, about as create-vite', 'create-vite could not be packed from the registry', undefined, false);
}

// 3. The workshop app on every mesh, as a whole process, against `node -e 0`. First as every run after the first
// one of a release, with V8's code cache of the runtime on disk (src/launcher/runtime.ts). Then as a first run,
// with an empty cache folder that the run fills.
const meshes = JSON.parse(execFileSync(process.execPath, [CLI, 'plugins', '--json'], { encoding: 'utf8' })).map((plugin) => plugin.id);
let folder = 0;
for (const mesh of meshes) {
  const result = compare(() => measure(process.execPath, [CLI, `workshop-${mesh}-${folder++}`, '--yes', '--mesh', mesh]), nodeBaseline, GENERATE_RUNS);
  addRow(`workshop on ${mesh} <= 2 x node -e 0`, `${ms(result.a)} vs ${ms(result.b)}`, result.ratio, result.ratio <= 2);
}
for (const mesh of meshes) {
  const firstRun = () => measure(process.execPath, [CLI, `workshop-${mesh}-${folder++}`, '--yes', '--mesh', mesh], { env: { XDG_CACHE_HOME: mkdtempSync(join(work, 'first-run-')) } });
  const result = compare(firstRun, nodeBaseline, GENERATE_RUNS);
  addRow(`workshop on ${mesh}, first run <= 2 x node -e 0`, `${ms(result.a)} vs ${ms(result.b)}`, result.ratio, result.ratio <= 2);
}

// 4. Scale: 2,000 services in 20 namespaces with 10,000 edges, and half of it to see how costs grow.
const SIZES = [
  { services: 1_000, namespaces: 20, callsPerService: 5 },
  { services: 2_000, namespaces: 20, callsPerService: 5 },
];
for (const size of SIZES) writeScaleTopology(join(work, `scale-${size.services}.yaml`), size);

/** Counts the YAML documents under manifests/ of a generated repository. */
function countObjects(directory) {
  let count = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.yaml')) count += readFileSync(join(entry.parentPath ?? entry.path, entry.name), 'utf8').split('\n---\n').length - 1;
  }
  return count;
}

for (const mesh of meshes) {
  const results = SIZES.map((size) => {
    const directory = `scale-${mesh}-${size.services}`;
    const generate = measure(process.execPath, [CLI, directory, '--topology', `scale-${size.services}.yaml`, '--yes', '--mesh', mesh], { timeout: SCALE_TIMEOUT_MS });
    const objects = generate.status === 0 ? countObjects(join(work, directory, 'manifests')) : 0;
    const verify = generate.status === 0 ? measure(process.execPath, [CLI, 'verify', directory], { timeout: SCALE_TIMEOUT_MS }) : undefined;
    const pairs = (size.services * 2 + 2) * size.services;
    return { size, generate, verify, objects, pairs };
  });
  const [half, full] = results;
  const describe = (run) => (run.timedOut ? `over ${SCALE_TIMEOUT_MS / 1000} s (stopped)` : run.status !== 0 ? `exit ${run.status}: ${run.stderr.trim().split('\n')[0]}` : `${run.seconds.toFixed(2)} s, ${run.memoryMb?.toFixed(0) ?? '?'} MB`);
  const fits = (run) => run !== undefined && run.status === 0 && run.seconds < 2 && (run.memoryMb === undefined || run.memoryMb < 500);
  addRow(`${mesh}: generate 2,000 services < 2 s, < 500 MB`, describe(full.generate), full.generate.seconds / 2, fits(full.generate));
  addRow(`${mesh}: verify ~${(full.pairs / 1e6).toFixed(1)} M pairs < 2 s, < 500 MB`, full.verify ? describe(full.verify) : 'not run: generation failed', full.verify ? full.verify.seconds / 2 : undefined, fits(full.verify));
  if (half.objects > 0 && full.objects > 0) {
    const objectGrowth = full.objects / half.objects;
    addRow(`${mesh}: objects grow linearly (x2 services and edges)`, `${half.objects} -> ${full.objects} objects`, objectGrowth, objectGrowth <= 2.2);
  }
  if (half.verify?.status === 0 && full.verify?.status === 0) {
    const costGrowth = full.verify.seconds / half.verify.seconds;
    const pairGrowth = full.pairs / half.pairs;
    addRow(`${mesh}: verify cost grows <= pairs (x${pairGrowth.toFixed(2)})`, `${half.verify.seconds.toFixed(2)} s -> ${full.verify.seconds.toFixed(2)} s`, costGrowth / pairGrowth, costGrowth <= pairGrowth * 1.1);
  }
  for (const size of SIZES) rmSync(join(work, `scale-${mesh}-${size.services}`), { recursive: true, force: true });
}

// 5. The table.
console.log(`Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; Node ${process.version}; node -e 0 median ${ms(baseline)} (${STARTUP_RUNS} runs); writing in ${work}`);
console.log(`Start-up and workshop rows: medians of ${STARTUP_RUNS} and ${GENERATE_RUNS} runs taken in turn with node -e 0; scale rows: one run each.\n`);
const columns = ['target', 'measured', 'ratio', 'result'];
const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => row[column].length)));
const line = (cells) => `| ${cells.map((cell, index) => cell.padEnd(widths[index])).join(' | ')} |`;
console.log(line(columns));
console.log(line(widths.map((width) => '-'.repeat(width))));
for (const row of rows) console.log(line(columns.map((column) => row[column])));
rmSync(work, { recursive: true, force: true });
process.exitCode = rows.every((row) => row.result === 'pass') ? 0 : 1;
