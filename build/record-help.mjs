// Run after the tsup builds (`npm run build`): records `--help` in the launcher, dist/cli.cjs. It runs the runtime
// with stdout on a pipe, so yargs lays the text out at 100 columns, and puts the text where tsup.config.ts left
// a placeholder.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const PLACEHOLDER = JSON.stringify('create-zero-trust-app help text, recorded after the build');
const launcherPath = new URL('../dist/cli.cjs', import.meta.url);
const runtimePath = new URL('../dist/index.cjs', import.meta.url);

const help = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(runtimePath.pathname)}).runCli(['--help']).then((code) => { process.exitCode = code; })`], { encoding: 'utf8' });
const launcher = readFileSync(launcherPath, 'utf8');
if (!launcher.includes(PLACEHOLDER)) throw new Error(`${launcherPath.pathname}: the help text placeholder is missing, so --help cannot be recorded`);
writeFileSync(launcherPath, launcher.replace(PLACEHOLDER, JSON.stringify(help)));
