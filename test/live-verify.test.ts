import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { istioPlugin } from '../plugins/istio/index.js';
import { generatePreset, writeTreeToTemp } from './helpers/generate.js';

const FAKE_CLUSTER = fileURLToPath(new URL('./fixtures/fake-cluster', import.meta.url));

// The workshop topology: hero calls lil-deebee on 5432, so only the meshed hero client reaches it.
const DECLARED = ['verify-hero lil-deebee 5432'];
const HERO_PRINCIPAL_METRIC =
  'istio_tcp_connections_opened_total{reporter="destination",source_principal="spiffe://cluster.local/ns/production/sa/hero",connection_security_policy="mutual_tls"} 3';

let directory: string | undefined;
afterEach(() => {
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

/** Runs the generated verify/verify.sh against the stand-in cluster, where exactly `open` pairs connect. */
function runVerify(open: string[], metrics = HERO_PRINCIPAL_METRIC) {
  directory = writeTreeToTemp(generatePreset(istioPlugin));
  writeFileSync(join(directory, 'matrix'), `${open.join('\n')}\n`);
  writeFileSync(join(directory, 'metrics'), `${metrics}\n`);
  const result = spawnSync('bash', ['verify/verify.sh'], {
    cwd: directory,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${FAKE_CLUSTER}:${process.env.PATH}`, FAKE_LOG: join(directory, 'calls.log'), FAKE_MATRIX: join(directory, 'matrix'), FAKE_METRICS: join(directory, 'metrics') },
  });
  const log = readFileSync(join(directory, 'calls.log'), 'utf8');
  return { ...result, log, report: () => JSON.parse(readFileSync(join(directory!, 'verify/report.json'), 'utf8')) as { mismatches: number; results: { client: string; clientKind: string; service: string; port: number; ok: boolean }[] } };
}

describe('live verification script', () => {
  it('passes when the cluster allows exactly the declared edges', () => {
    const run = runVerify(DECLARED);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('PASSED');
    expect(run.report().mismatches).toBe(0);
  });

  it('tries every client against every port', () => {
    const results = runVerify(DECLARED).report().results;
    const clients = results.map((result) => `${result.client}/${result.clientKind}`);
    expect(new Set(clients)).toEqual(new Set(['hero/meshed', 'lil-deebee/meshed', 'verify-stranger/stranger', 'hero/unmeshed']));
    expect(results).toHaveLength(4 * 2);
  });

  it('fails and names an undeclared pair that connects', () => {
    const run = runVerify([...DECLARED, 'verify-lil-deebee hero 8080']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/lil-deebee \(meshed\)\s+hero:8080\s+closed\s+open\s+MISMATCH/);
    expect(run.stderr).toContain('FAILED: 1 mismatch');
  });

  it('fails and names a declared pair that is refused', () => {
    const run = runVerify([]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/hero \(meshed\)\s+lil-deebee:5432\s+open\s+closed\s+MISMATCH/);
  });

  it('fails when a client outside the mesh gets through', () => {
    const run = runVerify([...DECLARED, 'verify-unmeshed-hero lil-deebee 5432']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/hero \(unmeshed\)\s+lil-deebee:5432\s+closed\s+open\s+MISMATCH/);
  });

  it('fails when the mesh shows no mTLS on a declared edge', () => {
    const run = runVerify(DECLARED, HERO_PRINCIPAL_METRIC.replace('mutual_tls', 'none'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no mutual TLS connection from spiffe://cluster.local/ns/production/sa/hero');
  });

  it('deletes its client pods when it ends', () => {
    const run = runVerify([]);
    expect(run.log).toMatch(/^delete -f verify\/clients\.yaml/m);
  });
});
