import { describe, expect, it } from 'vitest';
import { generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { CONFORMANCE_TOPOLOGIES } from '../../src/conformance/topologies.js';
import { STRANGER, strangerNamespace } from '../../src/generate/clients.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { checkMayReach } from '../../src/verify/offline.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import { GATEWAY_SOURCE } from './evaluate.js';
import { ciliumSpiffePlugin } from './index.js';
import { NAMESPACE_POLICY } from './resources.js';

const image = 'docker.io/library/nginx:1.29';

/**
 * Callers in two namespaces, a service with no edges (admin), an exposed service, and a database that only
 * api and worker call. The stranger runs in front.
 */
const reachTopology = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'reach' },
  spec: {
    namespace: 'front',
    services: [
      { name: 'web', image, ports: [{ port: 8080, protocol: 'http' }], expose: true, calls: ['api'] },
      { name: 'admin', image, ports: [{ port: 8081, protocol: 'http' }] },
      { name: 'api', namespace: 'back', image, ports: [{ port: 9000, protocol: 'grpc' }], calls: ['db'] },
      { name: 'worker', namespace: 'back', image, ports: [{ port: 8082, protocol: 'http' }], calls: ['db'] },
      { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
    ],
  },
};

type Rule = Record<string, unknown>;
type CiliumPolicy = KubeObject & { spec: Record<string, unknown> & { endpointSelector: unknown; ingress?: Rule[]; egress?: Rule[] } };

/** A client as verify builds it, named `<name> (<kind>)`, plus the gateway. */
interface NamedSource {
  name: string;
  source: Source;
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return ciliumSpiffePlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

function policy(generated: GeneratedCase, namespace: string, name: string): CiliumPolicy {
  const object = generated.objects.find((candidate) => candidate.kind === 'CiliumNetworkPolicy' && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`CiliumNetworkPolicy ${namespace}/${name} is not in the generated manifests`);
  return object as CiliumPolicy;
}

function addPolicy(generated: GeneratedCase, kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy', metadata: KubeObject['metadata'], body: Record<string, unknown>): void {
  generated.objects.push({ apiVersion: 'cilium.io/v2', kind, metadata, ...body });
}

/** Builds the sources verify tries (see buildClients in src/verify/offline.ts) and the gateway's. */
function sourcesOf(generated: GeneratedCase): NamedSource[] {
  const { topology, objects } = generated;
  const callers = new Set(topology.edges.map((edge) => edge.from));
  const sources: NamedSource[] = [];
  for (const service of topology.services) {
    const labels = podTemplateOf(objects, service)?.metadata.labels ?? {};
    const source = { service: service.name, namespace: service.namespace, serviceAccount: service.name, labels };
    sources.push({ name: `${service.name} (service)`, source: { ...source, meshed: true } });
    if (callers.has(service.name)) sources.push({ name: `${service.name} (unmeshed)`, source: { ...source, meshed: false } });
  }
  const strangerLabels = { 'app.kubernetes.io/name': STRANGER, 'app.kubernetes.io/component': 'verify-client' };
  sources.push({ name: `${STRANGER} (stranger)`, source: { service: STRANGER, namespace: strangerNamespace(topology), serviceAccount: STRANGER, labels: strangerLabels, meshed: true } });
  sources.push({ name: 'verify-outside (outside)', source: { service: 'verify-outside', namespace: 'verify-outside', serviceAccount: 'default', labels: { 'app.kubernetes.io/name': 'verify-outside' }, meshed: false } });
  sources.push({ name: 'gateway', source: GATEWAY_SOURCE });
  return sources;
}

function sourceNamed(generated: GeneratedCase, name: string): Source {
  const found = sourcesOf(generated).find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no client ${name} in the topology`);
  return found.source;
}

/** Lists the services that `decide` allows the source on some port. */
function allowedTargets(evaluator: MeshEvaluator, generated: GeneratedCase, source: Source): string[] {
  return generated.topology.services.filter((target) => target.ports.some((port) => evaluator.decide(source, target, port).allowed)).map((target) => target.name);
}

function reachOf(evaluator: MeshEvaluator, source: Source): string[] | undefined {
  const named = evaluator.mayReach!(source);
  return named === undefined ? undefined : [...new Set(named)].sort();
}

/**
 * Lists the connections `decide` allows to a service that `mayReach` leaves out: `checkMayReach` for verify's
 * clients, and the same comparison for the gateway, which it does not try.
 */
function leftOut(generated: GeneratedCase): string[] {
  const problems = checkMayReach({ topology: generated.topology, plugin: ciliumSpiffePlugin, options: {}, objects: generated.objects });
  const evaluator = evaluatorOf(generated);
  const reached = new Set(evaluator.mayReach!(GATEWAY_SOURCE) ?? generated.topology.services.map((service) => service.name));
  for (const target of allowedTargets(evaluator, generated, GATEWAY_SOURCE)) {
    if (!reached.has(target)) problems.push(`mayReach of the gateway leaves out ${target}, which decide allows`);
  }
  return problems;
}

function calleesOf(generated: GeneratedCase, name: string): string[] {
  return [...new Set(generated.topology.edges.filter((edge) => edge.from === name).map((edge) => edge.to))].sort();
}

/** Returns what `mayReach` names on generated output: the exposed services for the gateway, nothing for the stranger and the outside client, and the callees for a service's identity. */
function expectedReach(generated: GeneratedCase, client: string, source: Source): string[] {
  if (client === 'gateway') {
    const exposed = generated.topology.services.filter((service) => service.exposedPorts.length > 0);
    return exposed.map((service) => service.name).sort();
  }
  if (source.service === STRANGER || source.service === 'verify-outside') return [];
  return calleesOf(generated, source.service);
}

describe('cilium-spiffe mayReach on generated output', () => {
  for (const { name, document } of CONFORMANCE_TOPOLOGIES) {
    it(`names every allowed service in ${name}`, () => {
      expect(leftOut(generateCase(ciliumSpiffePlugin, document))).toEqual([]);
    });

    it(`names exactly the callees in ${name}`, () => {
      const generated = generateCase(ciliumSpiffePlugin, document);
      const evaluator = evaluatorOf(generated);
      for (const { name: client, source } of sourcesOf(generated)) {
        expect(reachOf(evaluator, source), client).toEqual(expectedReach(generated, client, source));
      }
    });
  }

  it('bounds the result on workshop', () => {
    const generated = generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document);
    const evaluator = evaluatorOf(generated);
    const hero = reachOf(evaluator, sourceNamed(generated, 'hero (service)'));
    expect(hero).toBeDefined();
    expect(hero).toContain('lil-deebee');
    expect(hero).not.toContain('hero');
    expect(hero!.length).toBeLessThan(generated.topology.services.length);
    expect(reachOf(evaluator, sourceNamed(generated, 'lil-deebee (service)'))).toEqual([]);
  });

  it('bounds the result on 60 services', () => {
    // 60 services in 4 namespaces, each calling the next three, so every result contains three services.
    const services = Array.from({ length: 60 }, (_, index) => ({
      name: `svc-${index}`,
      namespace: `ns-${index % 4}`,
      image,
      ports: [{ port: 8080 + (index % 3), protocol: 'http' }],
      calls: [1, 2, 3].map((step) => `svc-${(index + step) % 60}`),
    }));
    const generated = generateCase(ciliumSpiffePlugin, { apiVersion: TOPOLOGY_API_VERSION, kind: 'Topology', metadata: { name: 'ring' }, spec: { namespace: 'ns-0', services } });
    const evaluator = evaluatorOf(generated);
    for (const service of generated.topology.services) {
      expect(reachOf(evaluator, sourceNamed(generated, `${service.name} (service)`)), service.name).toEqual(calleesOf(generated, service.name));
    }
    expect(leftOut(generated)).toEqual([]);
  });
});

/** A change to the generated output that lets `client` reach `target` at the mesh layer. */
interface Opening {
  name: string;
  apply(generated: GeneratedCase): void;
  client: string;
  target: string;
}

const dbIngress = (generated: GeneratedCase): Rule[] => policy(generated, 'data', 'db').spec.ingress!;
const fromFront = (labels: Record<string, string>) => ({ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'front', ...labels } }] });

const OPENINGS: Opening[] = [
  {
    name: 'an ingress rule without a peer field',
    apply: (generated) => {
      const rule = dbIngress(generated)[0]!;
      delete rule.fromEndpoints;
      delete rule.authentication;
    },
    client: 'verify-outside (outside)',
    target: 'db',
  },
  {
    name: 'the cluster entity',
    apply: (generated) => dbIngress(generated).push({ fromEntities: ['cluster'] }),
    client: 'verify-outside (outside)',
    target: 'db',
  },
  {
    name: 'the all entity',
    apply: (generated) => dbIngress(generated).push({ fromEntities: ['all'] }),
    client: 'gateway',
    target: 'db',
  },
  {
    name: 'the ingress entity on a service not exposed',
    apply: (generated) => dbIngress(generated).push({ fromEntities: ['ingress'] }),
    client: 'gateway',
    target: 'db',
  },
  {
    name: 'a reserved:ingress peer selector',
    apply: (generated) => dbIngress(generated).push({ fromEndpoints: [{ matchLabels: { 'reserved:ingress': '' } }] }),
    client: 'gateway',
    target: 'db',
  },
  {
    name: 'a namespace without any policy',
    apply: (generated) => {
      generated.objects = generated.objects.filter((object) => !(object.kind === 'CiliumNetworkPolicy' && object.metadata.namespace === 'data'));
    },
    // A client Cilium manages is still held by its own egress rules, so the opening is for unmanaged ones.
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'default deny turned off for ingress',
    apply: (generated) => {
      for (const name of [NAMESPACE_POLICY, 'db']) policy(generated, 'data', name).spec.enableDefaultDeny = { ingress: false, egress: true };
    },
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'an empty peer selector',
    apply: (generated) => policy(generated, 'back', 'api').spec.ingress!.push({ fromEndpoints: [{}] }),
    client: 'worker (unmeshed)',
    target: 'api',
  },
  {
    name: 'a peer selector for a whole namespace',
    apply: (generated) => dbIngress(generated).push(fromFront({})),
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'a rule for the stranger with egress open',
    apply: (generated) => {
      policy(generated, 'front', NAMESPACE_POLICY).spec.egress!.push({ toEntities: ['cluster'] });
      policy(generated, 'back', 'api').spec.ingress!.push({ ...fromFront({ 'k8s:app.kubernetes.io/name': STRANGER }), authentication: { mode: 'required' } });
    },
    client: `${STRANGER} (stranger)`,
    target: 'api',
  },
  {
    name: 'a peer selector by ServiceAccount',
    apply: (generated) => dbIngress(generated).push(fromFront({ 'k8s:io.cilium.k8s.policy.serviceaccount': 'web' })),
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'a peer selector by namespace label',
    apply: (generated) => {
      const namespace = generated.objects.find((object) => object.kind === 'Namespace' && object.metadata.name === 'front')!;
      namespace.metadata.labels = { ...namespace.metadata.labels, team: 'red' };
      dbIngress(generated).push(fromFront({ 'k8s:io.cilium.k8s.namespace.labels.team': 'red' }));
    },
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'an In expression with two values',
    apply: (generated) =>
      dbIngress(generated).push({
        fromEndpoints: [
          {
            matchExpressions: [
              { key: 'k8s:app.kubernetes.io/name', operator: 'In', values: ['admin', 'web'] },
              { key: 'k8s:io.kubernetes.pod.namespace', operator: 'In', values: ['front'] },
            ],
          },
        ],
      }),
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'a NotIn expression on the namespace',
    apply: (generated) => dbIngress(generated).push({ fromEndpoints: [{ matchExpressions: [{ key: 'k8s:io.kubernetes.pod.namespace', operator: 'NotIn', values: ['kube-system'] }] }] }),
    client: 'verify-outside (outside)',
    target: 'db',
  },
  {
    name: 'an Exists expression without a source',
    apply: (generated) => dbIngress(generated).push({ fromEndpoints: [{ matchExpressions: [{ key: 'io.kubernetes.pod.namespace', operator: 'Exists' }] }] }),
    client: 'verify-outside (outside)',
    target: 'db',
  },
  {
    name: 'keys with the any source and none',
    apply: (generated) => dbIngress(generated).push({ fromEndpoints: [{ matchLabels: { 'any:app.kubernetes.io/name': 'web', 'io.kubernetes.pod.namespace': 'front' } }] }),
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'a clusterwide policy with a label peer',
    apply: (generated) =>
      addPolicy(generated, 'CiliumClusterwideNetworkPolicy', { name: 'db-from-web' }, {
        spec: { endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': 'db' } }, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:app.kubernetes.io/name': 'web' } }] }] },
      }),
    client: 'web (unmeshed)',
    target: 'db',
  },
  {
    name: 'a clusterwide policy with an empty peer',
    apply: (generated) =>
      addPolicy(generated, 'CiliumClusterwideNetworkPolicy', { name: 'db-from-every-pod' }, {
        spec: { endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': 'db' } }, ingress: [{ fromEndpoints: [{}] }] },
      }),
    client: 'verify-outside (outside)',
    target: 'db',
  },
  {
    name: 'a clusterwide endpoint selector without a fixed value',
    apply: (generated) =>
      addPolicy(generated, 'CiliumClusterwideNetworkPolicy', { name: 'all-but-web-from-web' }, {
        spec: {
          endpointSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['web'] }] },
          ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:app.kubernetes.io/name': 'web' } }] }],
        },
      }),
    client: 'web (unmeshed)',
    target: 'worker',
  },
  {
    name: 'an endpoint selector widened to the namespace',
    apply: (generated) => {
      const api = policy(generated, 'back', 'api');
      api.spec.endpointSelector = {};
      // The rule then admits web to every port of every pod in back.
      delete api.spec.ingress![0]!.authentication;
      delete api.spec.ingress![0]!.toPorts;
    },
    client: 'web (unmeshed)',
    target: 'worker',
  },
  {
    name: 'an endpoint selector by expression',
    apply: (generated) =>
      addPolicy(generated, 'CiliumNetworkPolicy', { name: 'back-from-web', namespace: 'back' }, {
        spec: { endpointSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['api', 'worker'] }] }, ingress: [fromFront({ 'k8s:app.kubernetes.io/name': 'web' })] },
      }),
    client: 'web (unmeshed)',
    target: 'worker',
  },
  {
    name: 'a policy with several specs',
    apply: (generated) =>
      addPolicy(generated, 'CiliumNetworkPolicy', { name: 'db-specs', namespace: 'data' }, {
        specs: [
          { endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': 'cache' } }, ingress: [{ fromEntities: ['cluster'] }] },
          { endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': 'db' } }, ingress: [fromFront({ 'k8s:app.kubernetes.io/name': 'web' })] },
        ],
      }),
    client: 'web (unmeshed)',
    target: 'db',
  },
];

describe('cilium-spiffe mayReach on hand-broken output', () => {
  it('denies each opened connection as generated', () => {
    const generated = generateCase(ciliumSpiffePlugin, reachTopology);
    const evaluator = evaluatorOf(generated);
    for (const opening of OPENINGS) {
      expect(allowedTargets(evaluator, generated, sourceNamed(generated, opening.client)), opening.name).not.toContain(opening.target);
    }
  });

  for (const opening of OPENINGS) {
    it(`names the service that ${opening.name} opens`, () => {
      const generated = generateCase(ciliumSpiffePlugin, reachTopology);
      opening.apply(generated);
      const evaluator = evaluatorOf(generated);
      const source = sourceNamed(generated, opening.client);
      expect(allowedTargets(evaluator, generated, source)).toContain(opening.target);
      expect(reachOf(evaluator, source)).toContain(opening.target);
      expect(leftOut(generated)).toEqual([]);
      expect(() => verifyCase(ciliumSpiffePlugin, generated)).not.toThrow();
    });
  }

  it('holds managed clients to their egress', () => {
    const generated = generateCase(ciliumSpiffePlugin, reachTopology);
    // Without policies in data, db's ingress is open, but every other namespace keeps its egress default deny.
    generated.objects = generated.objects.filter((object) => !(object.kind === 'CiliumNetworkPolicy' && object.metadata.namespace === 'data'));
    const evaluator = evaluatorOf(generated);
    expect(allowedTargets(evaluator, generated, sourceNamed(generated, `${STRANGER} (stranger)`))).not.toContain('db');
    expect(allowedTargets(evaluator, generated, sourceNamed(generated, 'admin (service)'))).not.toContain('db');
    expect(allowedTargets(evaluator, generated, sourceNamed(generated, 'api (service)'))).toContain('db');
    expect(allowedTargets(evaluator, generated, sourceNamed(generated, 'web (unmeshed)'))).toContain('db');
  });

  it('skips rules that match no pod', () => {
    const generated = generateCase(ciliumSpiffePlugin, reachTopology);
    // A key with a source other than k8s, any or reserved matches no endpoint, and a CIDR peer never matches a pod.
    dbIngress(generated).push({ fromEndpoints: [{ matchLabels: { 'cidr:app.kubernetes.io/name': 'web' } }] }, { fromCIDR: ['10.0.0.0/8'] });
    const evaluator = evaluatorOf(generated);
    const source = sourceNamed(generated, 'web (unmeshed)');
    expect(allowedTargets(evaluator, generated, source)).not.toContain('db');
    expect(reachOf(evaluator, source)).not.toContain('db');
  });
});
