// The core's part of exposed ports and external dependencies: the topology model, the NetworkPolicies and the
// offline verification, with a small evaluator defined here so that the checks do not depend on one mesh.
import { describe, expect, it } from 'vitest';
import { normaliseTopology } from '../src/topology/parse.js';
import { stringifyTopology } from '../src/topology/serialise.js';
import { parseTopology } from '../src/topology/parse.js';
import { buildCorePolicies } from '../src/k8s/network-policy.js';
import { buildNamespace, buildPodTemplate } from '../src/k8s/workloads.js';
import { createNetworkPolicyEvaluator, type NetworkPolicyObject, type PodModel } from '../src/netpol/evaluate.js';
import { verifyRepository } from '../src/verify/offline.js';
import type { GatewayRoute, MeshDecision, MeshPlugin, Source } from '../src/plugin/api.js';
import type { KubeObject } from '../src/k8s/object.js';
import type { ExternalService, Service, ServicePort, Topology } from '../src/topology/types.js';

const image = 'docker.io/library/nginx:1.29';
const document = {
  apiVersion: 'create-zero-trust-app/v1alpha1',
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'shop',
    services: [
      { name: 'web', image, ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'http', name: 'admin' }], expose: [8080], calls: ['api', 'payments'] },
      { name: 'api', namespace: 'backend', image, ports: [{ port: 9000, protocol: 'grpc' }, { port: 9001, protocol: 'http2', name: 'web' }], expose: true, calls: ['ledger'] },
      { name: 'worker', image, ports: [{ port: 8081, protocol: 'http' }], calls: ['payments', { service: 'ledger', port: 5432 }] },
      { name: 'payments', external: { host: 'api.payments.example', port: 443, protocol: 'tls' } },
      { name: 'ledger', external: { host: 'ledger.db.example', port: 5432, protocol: 'postgres', addresses: ['198.51.100.0/24', '2001:db8::/32'] } },
    ],
  },
};

describe('the topology model', () => {
  const topology = normaliseTopology(document, 'topology.yaml');

  it('names each exposed port\'s host', () => {
    expect(topology.exposures.map((exposure) => [exposure.hostname, exposure.namespace, exposure.service, exposure.port.port])).toEqual([
      ['api.shop.localhost', 'backend', 'api', 9000],
      ['web.api.shop.localhost', 'backend', 'api', 9001],
      ['web.shop.localhost', 'shop', 'web', 8080],
    ]);
    expect(topology.services.find((service) => service.name === 'web')!.exposedPorts).toEqual([8080]);
  });

  it('resolves calls to external dependencies', () => {
    expect(topology.services.map((service) => service.name)).toEqual(['api', 'web', 'worker']);
    expect(topology.externals.map((external) => [external.name, external.host, external.port, external.protocol, external.addresses])).toEqual([
      ['ledger', 'ledger.db.example', 5432, 'postgres', ['198.51.100.0/24', '2001:db8::/32']],
      ['payments', 'api.payments.example', 443, 'tls', []],
    ]);
    expect(topology.externalEdges.map((edge) => `${edge.from}>${edge.to.name}`)).toEqual(['api>ledger', 'web>payments', 'worker>ledger', 'worker>payments']);
    expect(topology.edges.map((edge) => `${edge.from}>${edge.to}:${edge.port.port}`)).toEqual(['web>api:9000', 'web>api:9001']);
  });

  it('writes the same topology back', () => {
    const again = parseTopology(stringifyTopology(topology), 'again.yaml');
    expect(again).toEqual(topology);
  });
});

/** Models every service's pod from the core's pod template. */
function podsOf(topology: Topology): Map<string, PodModel> {
  return new Map(
    topology.services.map((service) => {
      const template = buildPodTemplate(service, topology);
      const containers = template.spec.containers as { ports?: { containerPort: number }[] }[];
      return [service.name, { name: service.name, namespace: service.namespace, labels: template.metadata.labels, ports: containers.flatMap((container) => container.ports ?? []) }];
    }),
  );
}

describe('the core NetworkPolicies', () => {
  const topology = normaliseTopology(document, 'topology.yaml');
  const gatewayPods = { namespace: 'ingress-gateway', labels: { app: 'gateway' } };
  const policies = buildCorePolicies(topology, gatewayPods) as unknown as NetworkPolicyObject[];
  const namespaces = [...topology.namespaces, 'ingress-gateway', 'kube-system'].map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name } }));
  const evaluator = createNetworkPolicyEvaluator(policies, namespaces);
  const pods = podsOf(topology);
  const gateway: PodModel = { name: 'gateway', namespace: 'ingress-gateway', labels: { app: 'gateway' } };

  it('admits the gateway on exactly the exposed container ports', () => {
    const admitted: string[] = [];
    for (const service of topology.services) {
      for (const port of service.ports) {
        if (evaluator.decide({ from: gateway, to: pods.get(service.name)!, port: port.targetPort }).ingress.allowed) admitted.push(`${service.name}:${port.port}`);
      }
    }
    expect(admitted).toEqual(['api:9000', 'api:9001', 'web:8080']);
  });

  it('does not admit other pods of the gateway namespace', () => {
    const other: PodModel = { name: 'other', namespace: 'ingress-gateway', labels: { app: 'other' } };
    expect(evaluator.decide({ from: other, to: pods.get('web')!, port: 8080 }).ingress.allowed).toBe(false);
  });

  it('opens external ports to declared callers', () => {
    const reach = (caller: string, ip: string, port: number) => evaluator.decide({ from: pods.get(caller)!, to: { ip }, port }).egress.allowed;
    expect(reach('web', '203.0.113.10', 443)).toBe(true);
    expect(reach('web', '203.0.113.10', 80)).toBe(false);
    // Private, link-local and loopback ranges stay closed without explicit addresses: the metadata endpoint, the nodes.
    expect(reach('web', '169.254.169.254', 443)).toBe(false);
    expect(reach('web', '172.18.0.2', 443)).toBe(false);
    expect(reach('web', '10.96.0.1', 443)).toBe(false);
    expect(reach('worker', '198.51.100.20', 5432)).toBe(true);
    expect(reach('worker', '2001:db8::5', 5432)).toBe(true);
    expect(reach('worker', '203.0.113.10', 5432)).toBe(false);
    expect(reach('web', '198.51.100.20', 5432)).toBe(false);
  });

  it('admits no gateway when the mesh cannot name its pods', () => {
    const without = createNetworkPolicyEvaluator(buildCorePolicies(topology, null) as unknown as NetworkPolicyObject[], namespaces);
    expect(without.decide({ from: gateway, to: pods.get('web')!, port: 8080 }).ingress.allowed).toBe(false);
    expect(buildCorePolicies(topology, null).find((policy) => policy.metadata.name === 'web-ingress')).toBeUndefined();
  });
});

/**
 * A mesh for these tests: authorization comes from `ConfigMap mesh/allow` (lines "identity service port"), gateway
 * routes from `ConfigMap mesh/routes` (lines "hostname namespace service port") and egress from `ConfigMap
 * mesh/egress` (lines "identity external").
 */
const testMesh: MeshPlugin = {
  apiVersion: 1,
  id: 'test-mesh',
  displayName: 'Test Mesh',
  version: '0.0.0',
  description: 'a mesh defined by three ConfigMaps, for the core tests',
  meshVersions: {},
  generate() {
    throw new Error('not used by these tests');
  },
  evaluate({ objects }) {
    const lines = (name: string) =>
      objects
        .filter((object) => object.kind === 'ConfigMap' && object.metadata.name === name)
        .flatMap((object) => String((object as { data?: Record<string, string> }).data?.lines ?? '').split('\n').filter(Boolean));
    const allow = new Set(lines('allow'));
    const egress = new Set(lines('egress'));
    const routes: GatewayRoute[] = lines('routes').map((line) => {
      const [hostname, namespace, service, port] = line.split(' ');
      return { hostname: hostname!, namespace: namespace!, service: service!, port: Number(port), resource: 'ConfigMap mesh/routes' };
    });
    const decision = (allowed: boolean): MeshDecision => ({ allowed, mtls: allowed, reason: allowed ? 'ConfigMap mesh/allow' : 'no line allows it' });
    return {
      findings: [],
      gateway: { source: { service: 'gateway', namespace: 'ingress-gateway', serviceAccount: 'gateway', labels: { app: 'gateway' }, meshed: true }, pods: { namespace: 'ingress-gateway', labels: { app: 'gateway' } }, routes },
      decide: (source: Source, target: Service, port: ServicePort) => decision(source.meshed && allow.has(`${source.service} ${target.name} ${port.port}`)),
      decideExternal: (source: Source, external: ExternalService) => decision(source.meshed && egress.has(`${source.service} ${external.name}`)),
    };
  },
};

function configMap(name: string, lines: string[]): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'mesh' }, data: { lines: lines.join('\n') } } as KubeObject;
}

/** Builds the objects verify reads: namespaces, workloads, core policies and the test mesh's three ConfigMaps. */
function objectsFor(topology: Topology, change: { allow?: string[]; routes?: string[]; egress?: string[] } = {}): KubeObject[] {
  const workloads = topology.services.map((service) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: service.name, namespace: service.namespace }, spec: { template: buildPodTemplate(service, topology) } }) as KubeObject);
  const allow = [
    ...topology.edges.map((edge) => `${edge.from} ${edge.to} ${edge.port.port}`),
    ...topology.exposures.map((exposure) => `gateway ${exposure.service} ${exposure.port.port}`),
    ...(change.allow ?? []),
  ];
  const routes = [...topology.exposures.map((exposure) => `${exposure.hostname} ${exposure.namespace} ${exposure.service} ${exposure.port.port}`), ...(change.routes ?? [])];
  const egress = [...topology.externalEdges.map((edge) => `${edge.from} ${edge.to.name}`), ...(change.egress ?? [])];
  return [
    ...topology.namespaces.map((namespace) => buildNamespace(namespace, topology, 'restricted', {})),
    ...workloads,
    ...buildCorePolicies(topology, { namespace: 'ingress-gateway', labels: { app: 'gateway' } }),
    configMap('allow', allow),
    configMap('routes', routes),
    configMap('egress', egress),
  ];
}

describe('offline verify of the gateway and the external dependencies', () => {
  const topology = normaliseTopology(document, 'topology.yaml');
  const verify = (objects: KubeObject[]) => verifyRepository({ topology, plugin: testMesh, options: {}, objects });

  it('passes and judges every new pair', () => {
    const result = verify(objectsFor(topology));
    expect(result.mismatches.flatMap((pair) => pair.problems)).toEqual([]);
    expect(result.checks.filter((check) => !check.ok)).toEqual([]);
    expect(result.checks.find((check) => check.name === 'gateway routes')?.detail).toBe('the gateway routes exactly the 3 exposed port(s)');
    const all = verifyRepository({ topology, plugin: testMesh, options: {}, objects: objectsFor(topology), includeAllPairs: true }).pairs!;
    const gatewayPairs = all.filter((pair) => pair.clientKind === 'gateway');
    expect(gatewayPairs.filter((pair) => pair.declared).map((pair) => `${pair.service}:${pair.port}`)).toEqual(['api:9000', 'api:9001', 'web:8080']);
    expect(gatewayPairs).toHaveLength(5);
    const external = all.filter((pair) => pair.external);
    // Three services and the stranger, against two external dependencies.
    expect(external).toHaveLength(8);
    expect(external.filter((pair) => pair.declared).map((pair) => `${pair.client}>${pair.service}`)).toEqual(['api>ledger', 'web>payments', 'worker>ledger', 'worker>payments']);
  });

  it('fails a route to an unexposed port', () => {
    const result = verify(objectsFor(topology, { routes: ['admin.web.shop.localhost shop web 9090'] }));
    expect(result.ok).toBe(false);
    expect(result.checks.find((check) => check.name === 'gateway routes')).toMatchObject({
      ok: false,
      detail: 'ConfigMap mesh/routes routes admin.web.shop.localhost to shop/web:9090, which the topology does not expose',
    });
  });

  it('fails an exposed port without a route', () => {
    const objects = objectsFor(topology).map((object) => (object.metadata.name === 'routes' ? configMap('routes', ['web.shop.localhost shop web 8080']) : object));
    const detail = verify(objects).checks.find((check) => check.name === 'gateway routes')!.detail;
    expect(detail).toContain('backend/api:9000 is exposed, but no gateway route sends api.shop.localhost to it');
  });

  it('fails a mesh that opens unexposed ports', () => {
    const problems = verify(objectsFor(topology, { allow: ['gateway worker 8081'] })).mismatches.flatMap((pair) => pair.problems);
    expect(problems).toEqual(['gateway -> worker:8081 is not exposed, but the mesh allows the gateway: ConfigMap mesh/allow']);
  });

  it('fails NetworkPolicy that blocks the gateway', () => {
    const objects = objectsFor(topology).filter((object) => !(object.kind === 'NetworkPolicy' && object.metadata.name === 'web-ingress'));
    const problems = verify(objects).mismatches.flatMap((pair) => pair.problems);
    expect(problems).toContain('gateway -> web:8080 is exposed, but NetworkPolicy ingress denies it (no rule of shop/default-deny admits the gateway\'s pods)');
  });

  it('fails egress from an undeclared caller', () => {
    const meshOnly = verify(objectsFor(topology, { egress: ['api payments'] })).mismatches.flatMap((pair) => pair.problems);
    expect(meshOnly).toEqual(['api -> payments (api.payments.example:443) is not declared, but the mesh allows it: ConfigMap mesh/allow']);

    const objects = objectsFor(topology).map((object) => {
      if (object.kind !== 'NetworkPolicy' || object.metadata.name !== 'api-egress') return object;
      const copy = structuredClone(object) as unknown as { spec: { egress: unknown[] } };
      copy.spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'TCP', port: 443 }] });
      return copy as unknown as KubeObject;
    });
    const networkOnly = verify(objects).mismatches.flatMap((pair) => pair.problems);
    expect(networkOnly).toEqual(['api -> payments (api.payments.example:443) is not declared, but NetworkPolicy egress allows it at 1.0.0.0 (backend/api-egress)']);
  });

  it('accepts namespace-wide egress only where callers run', () => {
    const perNamespace: MeshPlugin = { ...testMesh, evaluate: (context) => ({ ...testMesh.evaluate(context), externalScope: 'namespace' as const }) };
    // The stranger shares the namespace shop with worker, a caller of ledger; api's namespace has no caller of payments.
    const objects = objectsFor(topology, { egress: ['verify-stranger ledger', 'api payments'] });
    const problems = verifyRepository({ topology, plugin: perNamespace, options: {}, objects }).mismatches.flatMap((pair) => pair.problems);
    expect(problems).toEqual(['api -> payments (api.payments.example:443) is not declared, but the mesh allows it: ConfigMap mesh/allow']);
    const strict = verify(objects).mismatches.flatMap((pair) => pair.problems);
    expect(strict).toContain('verify-stranger (stranger) -> ledger (ledger.db.example:5432) is not declared, but the mesh allows it: ConfigMap mesh/allow');
  });

  it('fails a hole to one address of an external', () => {
    const objects = objectsFor(topology).map((object) => {
      if (object.kind !== 'NetworkPolicy' || object.metadata.name !== 'web-egress') return object;
      const copy = structuredClone(object) as unknown as { spec: { egress: unknown[] } };
      copy.spec.egress.push({ to: [{ ipBlock: { cidr: '198.51.100.77/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] });
      return copy as unknown as KubeObject;
    });
    const problems = verify(objects).mismatches.flatMap((pair) => pair.problems);
    expect(problems).toEqual(['web -> ledger (ledger.db.example:5432) is not declared, but NetworkPolicy egress allows it at 198.51.100.77 (shop/web-egress)']);
  });

  it('accepts dependencies NetworkPolicy cannot tell apart', () => {
    // Two callers of two HTTPS APIs on port 443 without addresses: NetworkPolicy opens the same public addresses to
    // both, so only host names tell the APIs apart, and a mesh that matches only by address cannot.
    const apis = normaliseTopology(
      {
        ...document,
        spec: {
          namespace: 'shop',
          services: [
            { name: 'a', image, ports: [{ port: 8080, protocol: 'http' }], calls: ['one'] },
            { name: 'b', image, ports: [{ port: 8080, protocol: 'http' }], calls: ['two'] },
            { name: 'one', external: { host: 'one.example', port: 443, protocol: 'tls' } },
            { name: 'two', external: { host: 'two.example', port: 443, protocol: 'tls' } },
          ],
        },
      },
      'apis.yaml',
    );
    const check = (plugin: MeshPlugin, egress: string[] = []) => verifyRepository({ topology: apis, plugin, options: {}, objects: objectsFor(apis, { egress }) }).mismatches.flatMap((pair) => pair.problems);
    expect(check(testMesh)).toEqual([]);
    expect(check(testMesh, ['a two'])).toEqual(['a -> two (two.example:443) is not declared, but the mesh allows it: ConfigMap mesh/allow']);
    const byAddress: MeshPlugin = { ...testMesh, evaluate: (context) => ({ ...testMesh.evaluate(context), externalMatch: 'address' as const }) };
    expect(check(byAddress, ['a two'])).toEqual([]);
  });

  it('fails a denied declared external call', () => {
    const objects = objectsFor(topology).map((object) => (object.metadata.name === 'egress' ? configMap('egress', ['web payments', 'worker ledger', 'worker payments']) : object));
    const problems = verify(objects).mismatches.flatMap((pair) => pair.problems);
    expect(problems).toEqual(['api -> ledger (ledger.db.example:5432) is declared, but the mesh denies it: no line allows it']);
  });

  it('fails an evaluator without gateway support', () => {
    const bare: MeshPlugin = { ...testMesh, evaluate: (context) => ({ ...testMesh.evaluate(context), gateway: undefined, decideExternal: undefined }) as never };
    const result = verifyRepository({ topology, plugin: bare, options: {}, objects: objectsFor(topology) });
    expect(result.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(['gateway', 'external dependencies']);
  });
});
