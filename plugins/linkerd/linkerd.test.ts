import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describeConformance } from '../../src/conformance/index.js';
import { checkExactEdges, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { SchemaValidator } from '../../src/conformance/schemas.js';
import { runCommand, shellcheckTree, withTreeOnDisk } from '../../src/conformance/tools.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { findPreset } from '../../src/topology/presets.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { linkerdPlugin } from './index.js';

/**
 * Schemas of test/crds plus TLSRoute and TCPRoute at v1alpha2, the versions Linkerd reads, which test/crds lacks
 * (plugins/linkerd/crds/SOURCES.json).
 */
const crdSchemas = mkdtempSync(join(tmpdir(), 'linkerd-crds-'));
cpSync(fileURLToPath(new URL('../../test/crds', import.meta.url)), crdSchemas, { recursive: true });
cpSync(fileURLToPath(new URL('./crds', import.meta.url)), crdSchemas, { recursive: true });
afterAll(() => rmSync(crdSchemas, { recursive: true, force: true }));

describeConformance(linkerdPlugin, { crdSchemas });

/** Services in three namespaces: a call narrowed to one port, a self-call, a server-first database and gRPC. */
const multiNamespace = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'web',
    services: [
      { name: 'frontend', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }], calls: [{ service: 'api', port: 9090 }] },
      {
        name: 'api',
        namespace: 'backend',
        image: 'docker.io/library/nginx:1.29',
        ports: [
          { port: 9090, protocol: 'grpc' },
          { port: 9091, protocol: 'http' },
        ],
        calls: ['orders', 'cache'],
      },
      { name: 'orders', namespace: 'data', image: 'docker.io/library/mysql:8.4', ports: [{ port: 3306, protocol: 'mysql' }], calls: ['orders'] },
      { name: 'cache', namespace: 'data', image: 'docker.io/library/redis:8.2', ports: [{ port: 6379, protocol: 'redis' }] },
    ],
  },
};

const topologies: [string, unknown][] = [
  ['workshop', findPreset('workshop')!.document],
  ['bookinfo', findPreset('bookinfo')!.document],
  ['multi-namespace', multiNamespace],
];

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject & { spec: Record<string, unknown> } {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object as KubeObject & { spec: Record<string, unknown> };
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(linkerdPlugin, generated));
}

describe('linkerd evaluator on generated output', () => {
  for (const [name, document] of topologies) {
    it(`allows exactly the declared edges of ${name}, over mTLS`, () => {
      const generated = generateCase(linkerdPlugin, document);
      const result = verifyCase(linkerdPlugin, generated);
      expect(checkExactEdges(result)).toEqual([]);
      expect(result.ok).toBe(true);

      const allowed = linkerdPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
      const meshAllowed: string[] = [];
      for (const caller of generated.topology.services) {
        const source = { service: caller.name, namespace: caller.namespace, serviceAccount: caller.name, labels: { 'app.kubernetes.io/name': caller.name }, meshed: true };
        for (const target of generated.topology.services) {
          for (const port of target.ports) {
            const decision = allowed.decide(source, target, port);
            if (decision.allowed) {
              meshAllowed.push(`${caller.name}>${target.name}:${port.port}`);
              expect(decision.mtls, decision.reason).toBe(true);
            }
          }
        }
      }
      const declared = generated.topology.edges.map((edge) => `${edge.from}>${edge.to}:${edge.port.port}`);
      expect(meshAllowed.sort()).toEqual(declared.sort());
      expect(allowed.findings).toEqual([]);
    });

    it(`emits ${name} policy resources valid against the policy.linkerd.io schemas`, () => {
      const schemas = new SchemaValidator(crdSchemas);
      const custom = generateCase(linkerdPlugin, document).objects.filter((object) => object.apiVersion.startsWith('policy.linkerd.io/'));
      expect(new Set(custom.map((object) => object.kind))).toEqual(new Set(['Server', 'MeshTLSAuthentication', 'AuthorizationPolicy']));
      expect(custom.flatMap((object) => schemas.validate(object))).toEqual([]);
    });
  }

  it('narrows a call to the declared port', () => {
    const generated = generateCase(linkerdPlugin, multiNamespace);
    const evaluator = linkerdPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const api = generated.topology.services.find((service) => service.name === 'api')!;
    const source = { service: 'frontend', namespace: 'web', serviceAccount: 'frontend', labels: {}, meshed: true };
    expect(evaluator.decide(source, api, api.ports.find((port) => port.port === 9090)!).allowed).toBe(true);
    const admin = evaluator.decide(source, api, api.ports.find((port) => port.port === 9091)!);
    expect(admin.allowed).toBe(false);
    expect(admin.reason).toContain('Server backend/api-http-9091');
  });
});

describe('linkerd generated repository', () => {
  it('marks database ports opaque and HTTP ports by protocol', () => {
    const generated = generateCase(linkerdPlugin, multiNamespace);
    const appProtocols = (namespace: string, name: string) => ((find(generated, 'Service', namespace, name).spec.ports as { appProtocol?: string }[]).map((port) => port.appProtocol));
    expect(appProtocols('data', 'orders')).toEqual(['linkerd.io/opaque']);
    expect(appProtocols('data', 'cache')).toEqual(['linkerd.io/opaque']);
    expect(appProtocols('backend', 'api')).toEqual(['kubernetes.io/h2c', 'http']);
    expect(find(generated, 'Server', 'data', 'orders-mysql-3306').spec.proxyProtocol).toBe('opaque');
    expect(find(generated, 'Server', 'backend', 'api-grpc-9090').spec.proxyProtocol).toBe('gRPC');
  });

  it('opens the proxy port only between declared pairs', () => {
    const generated = generateCase(linkerdPlugin, multiNamespace);
    const ingress = find(generated, 'NetworkPolicy', 'backend', 'api-linkerd-proxy-ingress').spec.ingress as { from: { podSelector: { matchLabels: Record<string, string> } }[]; ports: unknown[] }[];
    expect(ingress).toHaveLength(1);
    expect(ingress[0]!.from[0]!.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'frontend' });
    expect(ingress[0]!.ports).toEqual([{ protocol: 'TCP', port: 4143 }]);
    expect(generated.objects.some((object) => object.metadata.name === 'frontend-linkerd-proxy-ingress')).toBe(false);
  });

  it('keeps the certificates out of git and pins the install', () => {
    const { files } = generateCase(linkerdPlugin, findPreset('workshop')!.document);
    expect(files.get('.gitignore')!.content.split('\n')).toContain('certs/');
    const install = files.get('scripts/install-mesh.sh')!.content;
    expect(install).toMatch(/^chart_version='?2026\.8\.3'?$/m);
    expect(install).toContain('releases/download/v1.5.1/standard-install.yaml');
    expect(install).toMatch(/openssl ecparam -name prime256v1/);
    for (const chart of ['linkerd2-cni', 'linkerd-crds', 'linkerd-control-plane']) {
      expect(install).toMatch(new RegExp(`linkerd-edge/${chart} --version "\\$chart_version"`));
    }
    expect(install.indexOf('linkerd-edge/linkerd2-cni')).toBeLessThan(install.indexOf('linkerd-edge/linkerd-crds'));
    expect(install.indexOf('linkerd-edge/linkerd-crds')).toBeLessThan(install.indexOf('linkerd-edge/linkerd-control-plane'));
  });

  it('sets cniEnabled only on the control plane chart', () => {
    const install = generateCase(linkerdPlugin, findPreset('workshop')!.document).files.get('scripts/install-mesh.sh')!.content;
    const commands = install.replace(/\\\n/g, ' ').split('\n').filter((line) => line.startsWith('helm upgrade'));
    const crds = commands.find((command) => command.includes('linkerd-edge/linkerd-crds'))!;
    const controlPlane = commands.find((command) => command.includes('linkerd-edge/linkerd-control-plane'))!;
    expect(crds).not.toContain('cniEnabled');
    expect(controlPlane).toContain('--set cniEnabled=true');
  });

  it('says in the README why SMI is not used', () => {
    const readme = generateCase(linkerdPlugin, findPreset('workshop')!.document).files.get('README.md')!.content;
    expect(readme).toContain('TrafficTarget');
    expect(readme).toContain('port 4143');
  });

  it('keeps the unmeshed client out of the mesh by annotation', () => {
    const clients = generateCase(linkerdPlugin, findPreset('workshop')!.document).documents.get('verify/clients.yaml') as KubeObject[];
    const unmeshed = clients.find((object) => object.metadata.name === 'verify-unmeshed-hero')!;
    expect(unmeshed.metadata.annotations).toEqual({ 'linkerd.io/inject': 'disabled' });
  });

  it('checks every declared edge in the evidence script', () => {
    const evidence = generateCase(linkerdPlugin, multiNamespace).files.get('verify/mesh-evidence.sh')!.content;
    expect(evidence).toContain("'data statefulset/orders orders-mysql-3306 orders-mysql-3306-from-api api.backend.serviceaccount.identity.linkerd.cluster.local api>orders:3306'");
    expect(evidence.match(/^ {2}'.*>.*'$/gm)).toHaveLength(4);
  });

  it('passes shellcheck and make -n on the multi-namespace repository', () => {
    const { files } = generateCase(linkerdPlugin, multiNamespace);
    withTreeOnDisk(files, (directory) => {
      const shellcheck = shellcheckTree(files, directory);
      expect(shellcheck.output).toBe('');
      const make = runCommand('make', ['-n', 'up', 'verify'], directory);
      expect(make.ok, make.output).toBe(true);
    });
  });

  it('rejects a container port the proxy uses', () => {
    const document = structuredClone(multiNamespace);
    document.spec.services[3]!.ports = [{ port: 4191, protocol: 'redis' }];
    expect(() => generateCase(linkerdPlugin, document)).toThrow(/container port 4191 is one of the Linkerd proxy's ports/);
  });
});

describe('linkerd verify on hand-broken output', () => {
  const workshop = findPreset('workshop')!.document;

  it('passes on the output as generated', () => {
    expect(problemsOf(generateCase(linkerdPlugin, workshop))).toEqual([]);
  });

  it('names a MeshTLSAuthentication without the caller', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    find(generated, 'MeshTLSAuthentication', 'data', 'lil-deebee-from-hero').spec.identityRefs = [{ kind: 'ServiceAccount', name: 'lil-deebee', namespace: 'data' }];
    const problems = problemsOf(generated);
    expect(problems).toContainEqual(expect.stringMatching(/^hero -> lil-deebee:5432 is declared, but the mesh denies it: no AuthorizationPolicy on Server data\/lil-deebee-postgres-5432 matches hero\.production\.serviceaccount/));
    expect(problems).toContainEqual(expect.stringMatching(/^lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it/));
  });

  it('names a missing MeshTLSAuthentication', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    generated.objects = generated.objects.filter((object) => object.kind !== 'MeshTLSAuthentication');
    const problems = problemsOf(generated);
    expect(problems).toContain(
      'AuthorizationPolicy data/lil-deebee-postgres-5432-from-hero: requires MeshTLSAuthentication data/lil-deebee-from-hero, which does not exist, so Linkerd ignores it',
    );
    expect(problems).toContainEqual(expect.stringMatching(/^hero -> lil-deebee:5432 is declared, but the mesh denies it/));
  });

  it('names an all-unauthenticated default policy', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    const namespace = generated.objects.find((object) => object.kind === 'Namespace' && object.metadata.name === 'data')!;
    namespace.metadata.annotations!['config.linkerd.io/default-inbound-policy'] = 'all-unauthenticated';
    expect(problemsOf(generated)).toEqual([
      'Namespace data: default inbound policy "all-unauthenticated" accepts plaintext from clients outside the mesh on ports without a Server: set config.linkerd.io/default-inbound-policy to deny',
    ]);
  });

  it('names a missing default policy', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    const namespace = generated.objects.find((object) => object.kind === 'Namespace' && object.metadata.name === 'production')!;
    delete namespace.metadata.annotations!['config.linkerd.io/default-inbound-policy'];
    expect(problemsOf(generated)).toContainEqual(expect.stringMatching(/^cluster default inbound policy: default inbound policy "all-unauthenticated" accepts plaintext/));
  });

  it('names a Server on the wrong port', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    find(generated, 'Server', 'data', 'lil-deebee-postgres-5432').spec.port = 5433;
    const problems = problemsOf(generated);
    expect(problems).toContain('Server data/lil-deebee-postgres-5432: selects port 5433, which no container of data/lil-deebee exposes (container ports: 5432)');
    expect(problems).toContainEqual(expect.stringMatching(/^hero -> lil-deebee:5432 is declared, but the mesh denies it: no Server selects port 5432 of data\/lil-deebee/));
  });

  it('names an AuthorizationPolicy that needs no identity', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-postgres-5432-from-hero').spec.requiredAuthenticationRefs = [];
    const problems = problemsOf(generated);
    expect(problems).toContainEqual(expect.stringMatching(/^hero \(unmeshed\) -> lil-deebee:5432 is not declared, but the mesh allows it: .* lets any client, authenticated or not/));
    expect(problems).toContainEqual(expect.stringMatching(/^lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it/));
  });

  it('names a Server in audit mode', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    find(generated, 'Server', 'production', 'hero-http-8080').spec.accessPolicy = 'audit';
    const problems = problemsOf(generated);
    expect(problems).toContain('Server production/hero-http-8080: accessPolicy "audit" lets through clients that no AuthorizationPolicy names: set it to deny');
    expect(problems).toContainEqual(expect.stringMatching(/^verify-stranger \(stranger\) -> hero:8080 is not declared, but the mesh allows it/));
  });

  it('names a callee without injection', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    const namespace = generated.objects.find((object) => object.kind === 'Namespace' && object.metadata.name === 'data')!;
    delete namespace.metadata.annotations!['linkerd.io/inject'];
    expect(problemsOf(generated)).toContainEqual('hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: data/lil-deebee has no Linkerd proxy, so Linkerd enforces nothing on it');
  });

  it('names a port that bypasses the proxy', () => {
    const generated = generateCase(linkerdPlugin, workshop);
    const workload = find(generated, 'StatefulSet', 'data', 'lil-deebee') as unknown as { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
    workload.spec.template.metadata.annotations = { 'config.linkerd.io/skip-inbound-ports': '5432' };
    expect(problemsOf(generated)).toContainEqual(expect.stringMatching(/^hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: port 5432 of data\/lil-deebee bypasses the proxy/));
  });
});
