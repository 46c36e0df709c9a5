import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { istioPlugin } from '../plugins/istio/index.js';
import { generatePreset, writeTreeToTemp } from './helpers/generate.js';
import { generateRepository } from '../src/generate/repository.js';
import { normaliseTopology } from '../src/topology/parse.js';

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

// The workshop with hero exposed and a partner API over TLS that only hero may call.
const EDGE_TOPOLOGY = {
  apiVersion: 'create-zero-trust-app/v1alpha1',
  kind: 'Topology',
  metadata: { name: 'hero' },
  spec: {
    namespace: 'production',
    services: [
      { name: 'hero', image: 'docker.io/vfarcic/cncf-demo:v0.0.1', ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'grpc' }], expose: true, calls: ['lil-deebee', 'partner'] },
      { name: 'lil-deebee', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      { name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls' } },
    ],
  },
};
const GATEWAY_METRIC = HERO_PRINCIPAL_METRIC.replace('ns/production/sa/hero', 'ns/istio-ingress/sa/ingress-istio');

/** Runs verify.sh of the edge topology: `open` as in runVerify, `gateway` lines as the fake curl reads them. */
function runEdgeVerify(open: string[], gateway: string[]) {
  directory = writeTreeToTemp(generateRepository({ topology: normaliseTopology(EDGE_TOPOLOGY, 'edge'), plugin: istioPlugin, options: {} }));
  writeFileSync(join(directory, 'matrix'), `${open.join('\n')}\n`);
  writeFileSync(join(directory, 'metrics'), `${HERO_PRINCIPAL_METRIC}\n${GATEWAY_METRIC}\n`);
  writeFileSync(join(directory, 'gateway'), `${gateway.join('\n')}\n`);
  const result = spawnSync('bash', ['verify/verify.sh'], {
    cwd: directory,
    encoding: 'utf8',
    env: { ...process.env, VERIFY_TIMEOUT: '10', PATH: `${FAKE_CLUSTER}:${process.env.PATH}`, FAKE_LOG: join(directory, 'calls.log'), FAKE_MATRIX: join(directory, 'matrix'), FAKE_METRICS: join(directory, 'metrics'), FAKE_GATEWAY: join(directory, 'gateway') },
  });
  const log = readFileSync(join(directory, 'calls.log'), 'utf8');
  return { ...result, log, report: () => JSON.parse(readFileSync(join(directory!, 'verify/report.json'), 'utf8')) as { mismatches: number; results: { client: string; clientKind: string; service: string; port: number; host?: string; ok: boolean }[] } };
}

describe('live verification of the gateway and external dependencies', () => {
  // The fake probe takes the first label of the host as the service: "api" for api.partner.example.
  const OPEN = [...DECLARED, 'verify-hero api 443'];
  const ROUTED = ['hero.hero.localhost 200 yes', 'grpc-9090.hero.hero.localhost 200 yes 12'];

  it('passes exact exposure and egress', () => {
    const run = runEdgeVerify(OPEN, ROUTED);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const gatewayResults = run.report().results.filter((result) => result.clientKind === 'gateway');
    expect(gatewayResults.map((result) => `${result.host} ${result.ok}`)).toEqual([
      'hero.hero.localhost true',
      'grpc-9090.hero.hero.localhost true',
      'lil-deebee.hero.localhost true',
      'lil-deebee.data.svc.cluster.local true',
    ]);
    expect(run.log).toMatch(/^-n istio-ingress port-forward svc\/ingress-istio 18080:80$/m);
  });

  it('tries external dependencies from meshed clients only', () => {
    const results = runEdgeVerify(OPEN, ROUTED).report().results.filter((result) => result.service === 'partner');
    expect(results.map((result) => `${result.client}/${result.clientKind}`)).toEqual(['hero/meshed', 'lil-deebee/meshed', 'verify-stranger/stranger']);
  });

  it('fails an undeclared caller of a dependency', () => {
    const run = runEdgeVerify([...OPEN, 'verify-lil-deebee api 443'], ROUTED);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/lil-deebee \(meshed\)\s+partner:443\s+closed\s+open\s+MISMATCH/);
  });

  it('fails a route to a service that is not exposed', () => {
    const run = runEdgeVerify(OPEN, [...ROUTED, 'lil-deebee.data.svc.cluster.local 503 yes']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/lil-deebee\.data\.svc\.cluster\.local\s+lil-deebee:5432\s+closed\s+failed http-503\s+MISMATCH/);
  });

  it('accepts a service 404 only when forwarded', () => {
    expect(runEdgeVerify(OPEN, ['hero.hero.localhost 404 yes', ROUTED[1]!]).status).toBe(0);
    const run = runEdgeVerify(OPEN, ['hero.hero.localhost 404 no', ROUTED[1]!]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/hero\.hero\.localhost\s+hero:8080\s+open\s+closed no-route\s+MISMATCH/);
  });

  it('judges gRPC answers by their status', () => {
    const unrouted = runEdgeVerify(OPEN, [ROUTED[0]!, 'grpc-9090.hero.hero.localhost 200 no 12']);
    expect(unrouted.status).toBe(1);
    expect(unrouted.stdout).toMatch(/grpc-9090\.hero\.hero\.localhost\s+hero:9090\s+open\s+closed no-route\s+MISMATCH/);
    const denied = runEdgeVerify(OPEN, [ROUTED[0]!, 'grpc-9090.hero.hero.localhost 200 yes 7']);
    expect(denied.stdout).toMatch(/grpc-9090\.hero\.hero\.localhost\s+hero:9090\s+open\s+failed grpc-7\s+MISMATCH/);
  });
});
