import { describe, expect, it } from 'vitest';
import { generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/index.js';
import { CONFORMANCE_TOPOLOGIES } from '../../src/conformance/topologies.js';
import { STRANGER, strangerNamespace } from '../../src/generate/clients.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { checkMayReach } from '../../src/verify/offline.js';
import { nsmPlugin } from './index.js';

const workshop = findPreset('workshop')!.document;
const bookinfo = findPreset('bookinfo')!.document;
const exposed = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document;
const image = 'docker.io/library/nginx:1.29';

/** The conformance topologies the plugin rejects: a narrowed edge (NSM connects a caller to every port) and a cycle of calls. */
const REJECTED = new Set(['narrowed-edge', 'replicas-call-each-other', 'cycle']);

/** The conformance topologies the default app path rejects (a replicated callee, a translated port), run on the cluster path. */
const CLUSTER_PATH_ONLY = new Set(['several-ports', 'port-differs-from-container-port']);

/**
 * A topology whose service `verify-stranger`, in namespace `other`, calls db in `apps`. The stranger client of verify
 * runs in `apps` under the same name, so `decide` gives it that service's network service requests.
 */
const strangerNamesake = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'namesake' },
  spec: {
    namespace: 'apps',
    services: [
      { name: STRANGER, namespace: 'other', image, ports: [{ port: 8080, protocol: 'http' }], calls: ['db'] },
      { name: 'db', image, ports: [{ port: 8080, protocol: 'http' }] },
    ],
  },
};

/** Builds a chain of `length` services, each calling the next, so every caller has one callee among many services. */
function chain(length: number): Record<string, unknown> {
  const names = Array.from({ length }, (_, index) => `s${index}`);
  return {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'Topology',
    metadata: { name: 'long-chain' },
    spec: {
      namespace: 'apps',
      services: names.map((name, index) => ({ name, image, ports: [{ port: 8080, protocol: 'http' }], ...(index + 1 < length && { calls: [names[index + 1]] }) })),
    },
  };
}

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}
interface Template {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[] };
}

function find(generated: GeneratedCase, kind: string, namespace: string | undefined, name: string): KubeObject {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace ?? ''}/${name} is not in the generated manifests`);
  return object;
}

/** Finds the pod template of a service's Deployment or StatefulSet, for a test to change in place. */
function templateOf(generated: GeneratedCase, name: string): Template {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  const workload = find(generated, service.stateful ? 'StatefulSet' : 'Deployment', service.namespace, name);
  return (workload.spec as { template: Template }).template;
}

function endpointOf(generated: GeneratedCase, name: string): Container {
  return templateOf(generated, name).spec.containers.find((container) => container.name === 'nse')!;
}

function callerPolicyOf(generated: GeneratedCase, name: string): { data: Record<string, string> } {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  return find(generated, 'ConfigMap', service.namespace, `${name}-nsm-callers`) as unknown as { data: Record<string, string> };
}

/** Appends a caller policy rule, in the form the generator writes, that allows `spiffeId`. */
function allowCaller(generated: GeneratedCase, name: string, spiffeId: string): void {
  const policy = callerPolicyOf(generated, name);
  policy.data['allowed-callers.rego'] += `\nvalid {\n\t[_, payload, _] := io.jwt.decode(input.path_segments[0].token)\n\tpayload.sub == "${spiffeId}"\n}\n`;
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

/** Builds the source verify gives the evaluator for a meshed service client: its pod labels and ServiceAccount. */
function sourceOf(generated: GeneratedCase, name: string): Source {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  return { service: name, namespace: service.namespace, serviceAccount: name, labels: templateOf(generated, name).metadata.labels, meshed: true };
}

/** Builds the stranger's source as verify does: a meshed pod with its own ServiceAccount. */
function strangerOf(generated: GeneratedCase): Source {
  const labels = { 'app.kubernetes.io/name': STRANGER, 'app.kubernetes.io/component': 'verify-client' };
  return { service: STRANGER, namespace: strangerNamespace(generated.topology), serviceAccount: STRANGER, labels, meshed: true };
}

/** Lists the services `decide` allows `source` on some port, sorted by name. */
function allowedTargets(evaluator: MeshEvaluator, generated: GeneratedCase, source: Source): string[] {
  return generated.topology.services.filter((target) => target.ports.some((port) => evaluator.decide(source, target, port).allowed)).map((target) => target.name).sort();
}

function mayReachOf(evaluator: MeshEvaluator, source: Source): string[] {
  const named = evaluator.mayReach!(source);
  expect(named).toBeDefined();
  return [...named!].sort();
}

/**
 * Lists the connections `decide` allows but `mayReach` leaves out: those of every client verify tries, from
 * checkMayReach, and those of the gateway, which checkMayReach does not try.
 */
function gapsOf(generated: GeneratedCase): string[] {
  const evaluator = evaluatorOf(generated);
  expect(evaluator.mayReach).toBeDefined();
  const gaps = checkMayReach({ topology: generated.topology, plugin: nsmPlugin, options: {}, objects: generated.objects });
  const gateway = evaluator.gateway?.source;
  if (gateway) {
    const named = new Set(mayReachOf(evaluator, gateway));
    for (const target of allowedTargets(evaluator, generated, gateway)) {
      if (!named.has(target)) gaps.push(`mayReach of the gateway leaves out ${target}, which decide allows`);
    }
  }
  return gaps;
}

/** Asserts that `decide` allows `source` to reach `target`, so the case opens a connection, and that mayReach names it. */
function expectAllowed(generated: GeneratedCase, source: Source, target: string): void {
  const evaluator = evaluatorOf(generated);
  expect(allowedTargets(evaluator, generated, source)).toContain(target);
  expect(mayReachOf(evaluator, source)).toContain(target);
}

describe('nsm mayReach on conformance topologies', () => {
  for (const topology of CONFORMANCE_TOPOLOGIES.filter((candidate) => !REJECTED.has(candidate.name))) {
    it(`names every allowed service of ${topology.name}`, () => {
      const options: Record<string, string> = CLUSTER_PATH_ONLY.has(topology.name) ? { 'nsm-app-path': 'cluster-network' } : {};
      expect(gapsOf(generateCase(nsmPlugin, topology.document, options))).toEqual([]);
    });
  }
});

describe('nsm mayReach result size', () => {
  it('names only the callee of hero in workshop', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const evaluator = evaluatorOf(generated);
    expect(mayReachOf(evaluator, sourceOf(generated, 'hero'))).toEqual(['lil-deebee']);
    expect(mayReachOf(evaluator, sourceOf(generated, 'lil-deebee'))).toEqual([]);
  });

  it('names nothing for clients without requests', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const evaluator = evaluatorOf(generated);
    expect(mayReachOf(evaluator, { ...sourceOf(generated, 'hero'), meshed: false })).toEqual([]);
    expect(mayReachOf(evaluator, strangerOf(generated))).toEqual([]);
    const outside = { service: 'verify-outside', namespace: 'verify-outside', serviceAccount: 'default', labels: { 'app.kubernetes.io/name': 'verify-outside' }, meshed: false };
    expect(mayReachOf(evaluator, outside)).toEqual([]);
  });

  it('names exactly the callees in bookinfo', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const evaluator = evaluatorOf(generated);
    expect(mayReachOf(evaluator, sourceOf(generated, 'productpage'))).toEqual(['details', 'reviews']);
    expect(mayReachOf(evaluator, sourceOf(generated, 'reviews'))).toEqual(['ratings']);
    expect(mayReachOf(evaluator, sourceOf(generated, 'ratings'))).toEqual([]);
  });

  it('names one callee per caller in a long chain', () => {
    const generated = generateCase(nsmPlugin, chain(120));
    const evaluator = evaluatorOf(generated);
    expect(mayReachOf(evaluator, sourceOf(generated, 's0'))).toEqual(['s1']);
    expect(mayReachOf(evaluator, sourceOf(generated, 's58'))).toEqual(['s59']);
    expect(mayReachOf(evaluator, sourceOf(generated, 's119'))).toEqual([]);
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names only routed services for the gateway', () => {
    const generated = generateCase(nsmPlugin, exposed);
    const evaluator = evaluatorOf(generated);
    expect(mayReachOf(evaluator, evaluator.gateway!.source)).toEqual(['api', 'web']);
  });

  it('drops a callee without an endpoint', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const template = templateOf(generated, 'lil-deebee');
    template.spec.containers = template.spec.containers.filter((container) => container.name !== 'nse');
    expect(mayReachOf(evaluatorOf(generated), sourceOf(generated, 'hero'))).toEqual([]);
  });

  it('drops a callee whose NetworkService is missing', () => {
    const generated = generateCase(nsmPlugin, workshop);
    generated.objects = generated.objects.filter((object) => object.kind !== 'NetworkService');
    expect(mayReachOf(evaluatorOf(generated), sourceOf(generated, 'hero'))).toEqual([]);
  });

  it('drops every callee of a client without a SPIFFE ID', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const registration = find(generated, 'ClusterSPIFFEID', undefined, 'hero-workloads');
    (registration.spec as { spiffeIDTemplate: string }).spiffeIDTemplate = 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/pod/{{ .PodMeta.Name }}';
    expect(mayReachOf(evaluatorOf(generated), sourceOf(generated, 'hero'))).toEqual([]);
  });
});

describe('nsm mayReach on hand-broken output', () => {
  it('names a callee whose endpoint has no caller policy', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    templateOf(generated, 'details').metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    const nse = endpointOf(generated, 'ratings');
    nse.volumeMounts = nse.volumeMounts!.filter((mount) => mount.name !== 'nsm-callers');
    expectAllowed(generated, sourceOf(generated, 'details'), 'ratings');
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names a callee whose policy admits an extra caller', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    templateOf(generated, 'details').metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    allowCaller(generated, 'ratings', 'spiffe://k8s.nsm/ns/bookinfo/sa/details');
    expectAllowed(generated, sourceOf(generated, 'details'), 'ratings');
    expect(gapsOf(generated)).toEqual([]);
  });

  // The evaluator reads the service name from each of these annotation forms.
  for (const annotation of ['bookinfo-ratings', 'kernel://bookinfo-ratings@k8s.nsm/nsm-1', 'kernel://bookinfo-details/nsm-0, bookinfo-ratings?sriovToken=x']) {
    it(`names a request written as ${annotation}`, () => {
      const generated = generateCase(nsmPlugin, bookinfo);
      templateOf(generated, 'productpage').metadata.annotations = { 'networkservicemesh.io': annotation };
      allowCaller(generated, 'ratings', 'spiffe://k8s.nsm/ns/bookinfo/sa/productpage');
      expectAllowed(generated, sourceOf(generated, 'productpage'), 'ratings');
      expect(gapsOf(generated)).toEqual([]);
    });
  }

  it('names every endpoint of a shared network service', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    // details' endpoint serves ratings' network service too, and accepts any caller.
    const nse = endpointOf(generated, 'details');
    nse.env = nse.env!.map((variable) => (variable.name === 'NSM_SERVICE_NAMES' ? { ...variable, value: 'bookinfo-details, bookinfo-ratings' } : variable));
    nse.volumeMounts = nse.volumeMounts!.filter((mount) => mount.name !== 'nsm-callers');
    const reviews = sourceOf(generated, 'reviews');
    expectAllowed(generated, reviews, 'details');
    expect(mayReachOf(evaluatorOf(generated), reviews)).toEqual(['details', 'ratings']);
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names a callee over an ETHERNET payload', () => {
    const generated = generateCase(nsmPlugin, workshop);
    (find(generated, 'NetworkService', 'data', 'hero-lil-deebee').spec as { payload: string }).payload = 'ETHERNET';
    const hero = sourceOf(generated, 'hero');
    const database = generated.topology.services.find((service) => service.name === 'lil-deebee')!;
    expect(evaluatorOf(generated).decide(hero, database, database.ports[0]!)).toMatchObject({ allowed: true, mtls: false });
    expectAllowed(generated, hero, 'lil-deebee');
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names the callee of the stranger namesake', () => {
    const generated = generateCase(nsmPlugin, strangerNamesake);
    const stranger = strangerOf(generated);
    allowCaller(generated, 'db', `spiffe://k8s.nsm/ns/${stranger.namespace}/sa/${STRANGER}`);
    expectAllowed(generated, stranger, 'db');
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names a callee by a SPIFFE ID without namespace', () => {
    const generated = generateCase(nsmPlugin, strangerNamesake);
    // IDs by ServiceAccount alone: the stranger in apps gets the ID of the declared caller in other.
    const registration = find(generated, 'ClusterSPIFFEID', undefined, 'namesake-workloads');
    (registration.spec as { spiffeIDTemplate: string }).spiffeIDTemplate = 'spiffe://{{ .TrustDomain }}/sa/{{ .PodSpec.ServiceAccountName }}';
    const policy = callerPolicyOf(generated, 'db');
    policy.data['allowed-callers.rego'] = policy.data['allowed-callers.rego']!.replace(`spiffe://k8s.nsm/ns/other/sa/${STRANGER}`, `spiffe://k8s.nsm/sa/${STRANGER}`);
    expectAllowed(generated, sourceOf(generated, STRANGER), 'db');
    expectAllowed(generated, strangerOf(generated), 'db');
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names a callee once every namespace gets SPIFFE IDs', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const registration = find(generated, 'ClusterSPIFFEID', undefined, 'bookinfo-workloads');
    delete (registration.spec as { namespaceSelector?: unknown }).namespaceSelector;
    delete (registration.spec as { podSelector?: unknown }).podSelector;
    templateOf(generated, 'details').metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    allowCaller(generated, 'ratings', 'spiffe://k8s.nsm/ns/bookinfo/sa/details');
    expectAllowed(generated, sourceOf(generated, 'details'), 'ratings');
    expect(gapsOf(generated)).toEqual([]);
  });

  it('names a gateway route to an unexposed service', () => {
    const generated = generateCase(nsmPlugin, exposed);
    const config = find(generated, 'ConfigMap', 'ingress-gateway', 'edge-gateway') as unknown as { data: Record<string, string> };
    const extraServer = ['  server {', '    listen 8080;', '    server_name db.exposed.localhost;', '    location / {', '      proxy_pass http://db.data.svc.cluster.local:5432;', '    }', '  }', '}', ''].join('\n');
    config.data['nginx.conf'] = config.data['nginx.conf']!.replace(/}\n$/, extraServer);
    const evaluator = evaluatorOf(generated);
    expect(allowedTargets(evaluator, generated, evaluator.gateway!.source)).toEqual(['api', 'db', 'web']);
    expect(mayReachOf(evaluator, evaluator.gateway!.source)).toEqual(['api', 'db', 'web']);
    expect(gapsOf(generated)).toEqual([]);
  });

  it('agrees with every pair in verify', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    templateOf(generated, 'details').metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    allowCaller(generated, 'ratings', 'spiffe://k8s.nsm/ns/bookinfo/sa/details');
    // verifyCase throws when deciding only the candidates gives another result than deciding every pair.
    const result = verifyCase(nsmPlugin, generated);
    expect(result.mismatches.some((pair) => pair.client === 'details' && pair.service === 'ratings' && pair.mesh.allowed)).toBe(true);
  });
});
