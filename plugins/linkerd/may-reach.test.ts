import { describe, expect, it } from 'vitest';
import { CONFORMANCE_TOPOLOGIES } from '../../src/conformance/topologies.js';
import { generateCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { STRANGER, strangerNamespace } from '../../src/generate/clients.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import type { Topology } from '../../src/topology/types.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { checkMayReach } from '../../src/verify/offline.js';
import { linkerdPlugin } from './index.js';
import { identityOf } from './versions.js';

const image = 'docker.io/library/nginx:1.29';

/**
 * Five services in three namespaces: frontend calls one port of api, api calls orders and cache, and orders
 * calls itself. The stranger runs in `web`, next to frontend.
 */
const shop = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'web',
    services: [
      { name: 'frontend', image, ports: [{ port: 8080, protocol: 'http' }], calls: [{ service: 'api', port: 9090 }] },
      {
        name: 'api',
        namespace: 'backend',
        image,
        ports: [
          { port: 9090, protocol: 'grpc' },
          { port: 9091, protocol: 'http' },
        ],
        calls: ['orders', 'cache'],
      },
      { name: 'orders', namespace: 'data', image: 'docker.io/library/mysql:8.4', ports: [{ port: 3306, protocol: 'mysql' }], calls: ['orders'] },
      { name: 'cache', namespace: 'data', image: 'docker.io/library/redis:8.2', ports: [{ port: 6379, protocol: 'redis' }] },
      { name: 'reports', namespace: 'data', image, ports: [{ port: 8080, protocol: 'http' }] },
    ],
  },
};

/** The suffix of every identity of a namespace, as Linkerd writes identities. */
const identitySuffixOf = (namespace: string) => identityOf(namespace, 'x').slice('x.'.length);

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject & { spec: Record<string, unknown> } {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object as KubeObject & { spec: Record<string, unknown> };
}

function namespaceAnnotations(generated: GeneratedCase, name: string): Record<string, string> {
  const namespace = generated.objects.find((object) => object.kind === 'Namespace' && object.metadata.name === name);
  if (!namespace) throw new Error(`Namespace ${name} is not in the generated manifests`);
  namespace.metadata.annotations ??= {};
  return namespace.metadata.annotations;
}

/** Returns the pod template metadata of a service's Deployment or StatefulSet, for changing its annotations. */
function podMetadata(generated: GeneratedCase, namespace: string, name: string): { annotations?: Record<string, string> } {
  const workload = generated.objects.find(
    (object) => (object.kind === 'Deployment' || object.kind === 'StatefulSet') && object.metadata.namespace === namespace && object.metadata.name === name,
  );
  if (!workload) throw new Error(`no Deployment or StatefulSet ${namespace}/${name} in the generated manifests`);
  return (workload.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata;
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return linkerdPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

function leftOut(generated: GeneratedCase): string[] {
  return checkMayReach({ topology: generated.topology, plugin: linkerdPlugin, options: {}, objects: generated.objects });
}

/** Returns the verify client of a service, which carries its identity and has a proxy unless `meshed` is false. */
function serviceClient(topology: Topology, name: string, meshed = true): Source {
  const service = topology.services.find((candidate) => candidate.name === name)!;
  return { service: name, namespace: service.namespace, serviceAccount: name, labels: { 'app.kubernetes.io/name': name }, meshed };
}

function stranger(topology: Topology): Source {
  return { service: STRANGER, namespace: strangerNamespace(topology), serviceAccount: STRANGER, labels: { 'app.kubernetes.io/name': STRANGER }, meshed: true };
}

const outside: Source = { service: 'verify-outside', namespace: 'verify-outside', serviceAccount: 'default', labels: { 'app.kubernetes.io/name': 'verify-outside' }, meshed: false };

/** Returns the services `decide` allows on some port, sorted. */
function allowedBy(evaluator: MeshEvaluator, topology: Topology, source: Source): string[] {
  return topology.services.filter((target) => target.ports.some((port) => evaluator.decide(source, target, port).allowed)).map((target) => target.name).sort();
}

/** Returns the services `mayReach` names, sorted and without repeats. The entry `every service` means undefined. */
function reachOf(evaluator: MeshEvaluator, source: Source): string[] {
  const named = evaluator.mayReach!(source);
  return named === undefined ? ['every service'] : [...new Set(named)].sort();
}

/** Lists the services that `decide` allows `source` but `mayReach` leaves out. */
function leftOutFor(evaluator: MeshEvaluator, topology: Topology, source: Source): string[] {
  const reached = reachOf(evaluator, source);
  if (reached.includes('every service')) return [];
  return allowedBy(evaluator, topology, source).filter((name) => !reached.includes(name));
}

function calleesOf(topology: Topology, name: string): string[] {
  return [...new Set(topology.edges.filter((edge) => edge.from === name).map((edge) => edge.to))].sort();
}

describe('linkerd mayReach on generated output', () => {
  for (const { name, document } of CONFORMANCE_TOPOLOGIES) {
    it(`names every allowed service of ${name}`, () => {
      const generated = generateCase(linkerdPlugin, document);
      expect(leftOut(generated)).toEqual([]);
    });

    it(`names exactly the callees in ${name}`, () => {
      const generated = generateCase(linkerdPlugin, document);
      const { topology } = generated;
      const evaluator = evaluatorOf(generated);
      for (const service of topology.services) {
        expect(reachOf(evaluator, serviceClient(topology, service.name)), service.name).toEqual(calleesOf(topology, service.name));
        expect(reachOf(evaluator, serviceClient(topology, service.name, false)), `${service.name} without a proxy`).toEqual([]);
      }
      expect(reachOf(evaluator, stranger(topology))).toEqual([]);
      expect(reachOf(evaluator, outside)).toEqual([]);
    });
  }

  it('bounds workshop clients to their callees', () => {
    const generated = generateCase(linkerdPlugin, findPreset('workshop')!.document);
    const evaluator = evaluatorOf(generated);
    const hero = evaluator.mayReach!(serviceClient(generated.topology, 'hero'));
    expect(Array.isArray(hero)).toBe(true);
    expect([...hero!]).toEqual(['lil-deebee']);
    expect([...evaluator.mayReach!(serviceClient(generated.topology, 'lil-deebee'))!]).toEqual([]);
  });

  it('names the exposed services for the gateway', () => {
    const generated = generateCase(linkerdPlugin, CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document);
    const evaluator = evaluatorOf(generated);
    const gateway = evaluator.gateway!.source;
    expect(reachOf(evaluator, gateway)).toEqual(['api', 'web']);
    expect(leftOutFor(evaluator, generated.topology, gateway)).toEqual([]);
  });
});

interface BrokenCase {
  name: string;
  /** Opens the generated shop output up in one way. */
  change(generated: GeneratedCase): void;
  /** A client and a service that `decide` allows only after the change, to show the change opens something. */
  opens: { source: (topology: Topology) => Source; target: string };
}

const client = (name: string, meshed = true) => (topology: Topology) => serviceClient(topology, name, meshed);

const brokenCases: BrokenCase[] = [
  {
    name: 'an AuthorizationPolicy without authentication',
    change: (generated) => {
      find(generated, 'AuthorizationPolicy', 'data', 'orders-mysql-3306-from-api').spec.requiredAuthenticationRefs = [];
    },
    opens: { source: () => outside, target: 'orders' },
  },
  {
    name: 'an AuthorizationPolicy that requires only a network',
    change: (generated) => {
      generated.objects.push({ apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'NetworkAuthentication', metadata: { name: 'anywhere', namespace: 'data' }, spec: { networks: [{ cidr: '0.0.0.0/0' }] } });
      find(generated, 'AuthorizationPolicy', 'data', 'cache-redis-6379-from-api').spec.requiredAuthenticationRefs = [{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'anywhere' }];
    },
    opens: { source: client('api', false), target: 'cache' },
  },
  ...['all-unauthenticated', 'cluster-unauthenticated', 'audit'].map((accessPolicy) => ({
    name: `a Server with accessPolicy ${accessPolicy}`,
    change: (generated: GeneratedCase) => {
      find(generated, 'Server', 'data', 'cache-redis-6379').spec.accessPolicy = accessPolicy;
    },
    opens: { source: () => outside, target: 'cache' },
  })),
  ...['all-authenticated', 'cluster-authenticated'].map((accessPolicy) => ({
    name: `a Server with accessPolicy ${accessPolicy}`,
    change: (generated: GeneratedCase) => {
      find(generated, 'Server', 'data', 'cache-redis-6379').spec.accessPolicy = accessPolicy;
    },
    opens: { source: stranger, target: 'cache' },
  })),
  {
    name: 'a port without a Server under a plaintext namespace default',
    change: (generated) => {
      generated.objects = generated.objects.filter((object) => !(object.kind === 'Server' && object.metadata.name === 'reports-http-8080'));
      namespaceAnnotations(generated, 'data')['config.linkerd.io/default-inbound-policy'] = 'all-unauthenticated';
    },
    opens: { source: () => outside, target: 'reports' },
  },
  {
    name: 'a port without a Server under the cluster default',
    change: (generated) => {
      generated.objects = generated.objects.filter((object) => !(object.kind === 'Server' && object.metadata.name === 'reports-http-8080'));
      delete namespaceAnnotations(generated, 'data')['config.linkerd.io/default-inbound-policy'];
    },
    opens: { source: () => outside, target: 'reports' },
  },
  {
    name: 'a port without a Server under an authenticated pod default',
    change: (generated) => {
      generated.objects = generated.objects.filter((object) => !(object.kind === 'Server' && object.metadata.name === 'reports-http-8080'));
      const metadata = podMetadata(generated, 'data', 'reports');
      metadata.annotations = { ...metadata.annotations, 'config.linkerd.io/default-inbound-policy': 'all-authenticated' };
    },
    opens: { source: stranger, target: 'reports' },
  },
  {
    name: 'a namespace left out of the mesh',
    change: (generated) => {
      delete namespaceAnnotations(generated, 'data')['linkerd.io/inject'];
    },
    opens: { source: () => outside, target: 'reports' },
  },
  {
    name: 'a workload left out of the mesh',
    change: (generated) => {
      const metadata = podMetadata(generated, 'data', 'cache');
      metadata.annotations = { ...metadata.annotations, 'linkerd.io/inject': 'disabled' };
    },
    opens: { source: client('frontend'), target: 'cache' },
  },
  {
    name: 'a port that bypasses the proxy',
    change: (generated) => {
      const metadata = podMetadata(generated, 'data', 'orders');
      metadata.annotations = { ...metadata.annotations, 'config.linkerd.io/skip-inbound-ports': '3300-3310' };
    },
    opens: { source: () => outside, target: 'orders' },
  },
  {
    name: 'a MeshTLSAuthentication of every identity',
    change: (generated) => {
      find(generated, 'MeshTLSAuthentication', 'data', 'orders-from-api').spec = { identities: ['*'] };
    },
    opens: { source: stranger, target: 'orders' },
  },
  {
    name: 'a MeshTLSAuthentication of an identity suffix',
    change: (generated) => {
      find(generated, 'MeshTLSAuthentication', 'data', 'orders-from-api').spec = { identities: [`*.${identitySuffixOf('web')}`] };
    },
    opens: { source: stranger, target: 'orders' },
  },
  {
    name: 'a MeshTLSAuthentication of a namespace',
    change: (generated) => {
      const spec = find(generated, 'MeshTLSAuthentication', 'data', 'cache-from-api').spec as { identityRefs: unknown[] };
      spec.identityRefs.push({ kind: 'Namespace', name: 'web' });
    },
    opens: { source: client('frontend'), target: 'cache' },
  },
  {
    name: 'a MeshTLSAuthentication of every ServiceAccount of a namespace',
    change: (generated) => {
      const spec = find(generated, 'MeshTLSAuthentication', 'data', 'cache-from-api').spec as { identityRefs: unknown[] };
      spec.identityRefs.push({ kind: 'ServiceAccount', namespace: 'web' });
    },
    opens: { source: stranger, target: 'cache' },
  },
  {
    name: 'a MeshTLSAuthentication of the stranger',
    change: (generated) => {
      const spec = find(generated, 'MeshTLSAuthentication', 'data', 'orders-from-orders').spec as { identities?: string[] };
      spec.identities = [identityOf('web', STRANGER)];
    },
    opens: { source: stranger, target: 'orders' },
  },
  {
    name: 'an AuthorizationPolicy on a whole namespace',
    change: (generated) => {
      generated.objects.push({
        apiVersion: 'policy.linkerd.io/v1alpha1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'everything-from-orders', namespace: 'data' },
        spec: { targetRef: { kind: 'Namespace', name: 'data' }, requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'orders-from-orders' }] },
      });
    },
    opens: { source: client('orders'), target: 'reports' },
  },
  {
    name: 'an AuthorizationPolicy that names a ServiceAccount',
    change: (generated) => {
      generated.objects.push({
        apiVersion: 'policy.linkerd.io/v1alpha1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'reports-from-frontend', namespace: 'data' },
        spec: { targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'reports-http-8080' }, requiredAuthenticationRefs: [{ kind: 'ServiceAccount', name: 'frontend', namespace: 'web' }] },
      });
    },
    opens: { source: client('frontend'), target: 'reports' },
  },
  {
    name: 'a Server on a named port with plaintext access',
    change: (generated) => {
      const server = find(generated, 'Server', 'backend', 'api-http-9091');
      server.spec.port = 'http-9091';
      server.spec.accessPolicy = 'all-unauthenticated';
    },
    opens: { source: () => outside, target: 'api' },
  },
];

describe('linkerd mayReach on hand-broken output', () => {
  it('passes on the shop as generated', () => {
    const generated = generateCase(linkerdPlugin, shop);
    expect(leftOut(generated)).toEqual([]);
    const evaluator = evaluatorOf(generated);
    expect(reachOf(evaluator, serviceClient(generated.topology, 'api'))).toEqual(['cache', 'orders']);
  });

  for (const { name, change, opens } of brokenCases) {
    it(`names what ${name} opens`, () => {
      const generated = generateCase(linkerdPlugin, shop);
      const { target } = opens;
      const source = opens.source(generated.topology);
      expect(allowedBy(evaluatorOf(generated), generated.topology, source), 'decide before the change').not.toContain(target);

      change(generated);
      const evaluator = evaluatorOf(generated);
      expect(allowedBy(evaluator, generated.topology, source), 'decide after the change').toContain(target);
      expect(reachOf(evaluator, source)).toContain(target);
      expect(leftOut(generated)).toEqual([]);
    });
  }

  it('keeps a namespace principal to its namespace', () => {
    const generated = generateCase(linkerdPlugin, shop);
    const spec = find(generated, 'MeshTLSAuthentication', 'data', 'cache-from-api').spec as { identityRefs: unknown[] };
    spec.identityRefs.push({ kind: 'Namespace', name: 'web' });
    const evaluator = evaluatorOf(generated);
    expect(reachOf(evaluator, serviceClient(generated.topology, 'frontend'))).toEqual(['api', 'cache']);
    expect(reachOf(evaluator, stranger(generated.topology))).toEqual(['cache']);
    expect(reachOf(evaluator, serviceClient(generated.topology, 'orders'))).toEqual(['orders']);
    expect(reachOf(evaluator, serviceClient(generated.topology, 'frontend', false))).toEqual([]);
  });

  it('names the callees of a client that skips a port', () => {
    const generated = generateCase(linkerdPlugin, shop);
    const metadata = podMetadata(generated, 'web', 'frontend');
    metadata.annotations = { ...metadata.annotations, 'config.linkerd.io/skip-outbound-ports': '9091' };
    const evaluator = evaluatorOf(generated);
    const frontend = serviceClient(generated.topology, 'frontend');
    expect(allowedBy(evaluator, generated.topology, frontend)).toEqual(['api']);
    expect(reachOf(evaluator, frontend)).toEqual(['api']);
    expect(leftOut(generated)).toEqual([]);
  });

  it('names what a gateway identity opens', () => {
    const generated = generateCase(linkerdPlugin, CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document);
    const spec = find(generated, 'MeshTLSAuthentication', 'data', 'db-from-api').spec as { identityRefs: unknown[] };
    spec.identityRefs.push({ kind: 'ServiceAccount', name: 'edge-gateway', namespace: 'ingress-gateway' });
    const evaluator = evaluatorOf(generated);
    const gateway = evaluator.gateway!.source;
    expect(allowedBy(evaluator, generated.topology, gateway)).toEqual(['api', 'db', 'web']);
    expect(reachOf(evaluator, gateway)).toEqual(['api', 'db', 'web']);
  });

  it('names plaintext ports for a gateway without a proxy', () => {
    const generated = generateCase(linkerdPlugin, CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document);
    const deployment = find(generated, 'Deployment', 'ingress-gateway', 'edge-gateway') as unknown as { spec: { template: { metadata: { annotations?: Record<string, string> } } } };
    deployment.spec.template.metadata.annotations = {};
    find(generated, 'Server', 'data', 'db-postgres-5432').spec.accessPolicy = 'all-unauthenticated';
    const evaluator = evaluatorOf(generated);
    const gateway = evaluator.gateway!.source;
    expect(gateway.meshed).toBe(false);
    expect(allowedBy(evaluator, generated.topology, gateway)).toEqual(['db']);
    expect(reachOf(evaluator, gateway)).toEqual(['db']);
  });
});
