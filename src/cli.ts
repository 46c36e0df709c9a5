#!/usr/bin/env node
import * as fs from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { main } from './cli/main.js';

// The staging folder of a write in progress, removed on Ctrl-C or SIGTERM so nothing half-written stays.
let staging: string | undefined;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (staging) rmSync(staging, { recursive: true, force: true });
    process.exit(code);
  });
}

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  fs,
  onStaging: (path) => {
    staging = path;
  },
});
process.exitCode = code;
