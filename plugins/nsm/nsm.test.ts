import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { checkExactEdges, describeConformance, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/index.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { findPreset } from '../../src/topology/presets.js';
import { CONFORMANCE_TOPOLOGIES } from '../../src/conformance/topologies.js';
import { nsmPlugin } from './index.js';

// NSM connects a caller to every port of its callee, so the plugin rejects the kit's narrowed edge.
const NARROWED_EDGE_ERROR = 'client calls server on port 8443 only, but NSM connects a caller to every port of server (8080, 8443, 9000)';

describeConformance(nsmPlugin, {
  crdSchemas: fileURLToPath(new URL('../../test/crds', import.meta.url)),
  rejects: { 'narrowed-edge': NARROWED_EDGE_ERROR },
});

const workshop = findPreset('workshop')!.document;
const bookinfo = findPreset('bookinfo')!.document;
const crossNamespace = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'cross-namespace')!.document;

type Spec<T> = KubeObject & { spec: T };
interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}
interface Template {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes: Record<string, unknown>[] };
}

function find<T = Record<string, unknown>>(generated: GeneratedCase, kind: string, namespace: string | undefined, name: string): Spec<T> {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace ?? ''}/${name} is not in the generated manifests`);
  return object as Spec<T>;
}

function templateOf(generated: GeneratedCase, kind: string, namespace: string, name: string): Template {
  return find<{ template: Template }>(generated, kind, namespace, name).spec.template;
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(nsmPlugin, generated));
}

/** The network services each service requests, read from the client annotation of its pod template. */
function requestsOf(generated: GeneratedCase): Record<string, string[]> {
  const requests: Record<string, string[]> = {};
  for (const object of generated.objects.filter((candidate) => candidate.kind === 'Deployment' || candidate.kind === 'StatefulSet')) {
    const annotation = (object.spec as { template: Template }).template.metadata.annotations?.['networkservicemesh.io'];
    if (annotation) requests[object.metadata.name] = annotation.split(',').map((request) => request.replace(/^kernel:\/\//, '').split('/')[0]!);
  }
  return requests;
}

describe('nsm NetworkService', () => {
  // The NetworkService CRD keeps its spec open (x-kubernetes-preserve-unknown-fields), so these checks replace the schema's.
  it('has exactly payload IP, one per called service', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const services = generated.objects.filter((object) => object.kind === 'NetworkService') as Spec<Record<string, unknown>>[];
    expect(services.map((service) => service.metadata.name).sort()).toEqual(['bookinfo-details', 'bookinfo-ratings', 'bookinfo-reviews']);
    for (const service of services) {
      expect(service.apiVersion).toBe('networkservicemesh.io/v1');
      expect(service.spec).toEqual({ payload: 'IP' });
      expect(service.metadata.namespace).toBe('bookinfo');
    }
  });

  it('lives in the namespace of its callee', () => {
    const generated = generateCase(nsmPlugin, crossNamespace);
    expect(find(generated, 'NetworkService', 'backend', 'cross-namespace-api').spec).toEqual({ payload: 'IP' });
    expect(find(generated, 'NetworkService', 'cache', 'cross-namespace-cache').spec).toEqual({ payload: 'IP' });
    expect(find(generated, 'NetworkService', 'data', 'cross-namespace-store').spec).toEqual({ payload: 'IP' });
  });
});

describe('nsm clients and endpoints', () => {
  it('annotates each caller with exactly its edges', () => {
    expect(requestsOf(generateCase(nsmPlugin, workshop))).toEqual({ hero: ['hero-lil-deebee'] });
    expect(requestsOf(generateCase(nsmPlugin, bookinfo))).toEqual({ productpage: ['bookinfo-details', 'bookinfo-reviews'], reviews: ['bookinfo-ratings'] });
    expect(requestsOf(generateCase(nsmPlugin, crossNamespace))).toEqual({ api: ['cross-namespace-cache', 'cross-namespace-store'], ui: ['cross-namespace-api'] });
  });

  it('gives every interface of a caller its own name', () => {
    const template = templateOf(generateCase(nsmPlugin, bookinfo), 'Deployment', 'bookinfo', 'productpage');
    expect(template.metadata.annotations?.['networkservicemesh.io']).toBe('kernel://bookinfo-details/nsm-0,kernel://bookinfo-reviews/nsm-2');
    const env = template.spec.containers[0]!.env ?? [];
    expect(env).toContainEqual({ name: 'NSM_DETAILS_INTERFACE', value: 'nsm-0' });
    expect(env).toContainEqual({ name: 'NSM_REVIEWS_INTERFACE', value: 'nsm-2' });
  });

  it('runs an endpoint beside each callee only', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const endpointNames = (name: string) => templateOf(generated, 'Deployment', 'bookinfo', name).spec.containers.map((container) => container.name);
    expect(endpointNames('productpage')).toEqual(['productpage']);
    expect(endpointNames('details')).toEqual(['details', 'nse']);
    expect(endpointNames('reviews')).toEqual(['reviews', 'nse']);
  });

  it('serves the callee network service from its own range', () => {
    const nse = templateOf(generateCase(nsmPlugin, workshop), 'StatefulSet', 'data', 'lil-deebee').spec.containers.find((container) => container.name === 'nse')!;
    expect(nse.env).toContainEqual({ name: 'NSM_SERVICE_NAMES', value: 'hero-lil-deebee' });
    expect(nse.env).toContainEqual({ name: 'NSM_CIDR_PREFIX', value: '172.16.0.0/24' });
    expect(nse.env).toContainEqual({ name: 'NSM_REGISTER_SERVICE', value: 'false' });
    expect(nse.volumeMounts).toContainEqual({ name: 'nsm-callers', mountPath: '/policies/server/allowed-callers.rego', subPath: 'allowed-callers.rego', readOnly: true });
  });

  it('mounts sockets as CSI volumes, never hostPath', () => {
    const template = templateOf(generateCase(nsmPlugin, workshop), 'StatefulSet', 'data', 'lil-deebee');
    expect(template.spec.volumes).toContainEqual({ name: 'spire-agent-socket', csi: { driver: 'csi.spiffe.io', readOnly: true } });
    expect(template.spec.volumes).toContainEqual({ name: 'nsm-socket', csi: { driver: 'csi.networkservicemesh.io', readOnly: true } });
    expect(JSON.stringify(template)).not.toContain('hostPath');
  });

  it('allows only declared callers in each endpoint policy', () => {
    const generated = generateCase(nsmPlugin, crossNamespace);
    const policy = find<never>(generated, 'ConfigMap', 'data', 'store-nsm-callers') as unknown as { data: Record<string, string> };
    const subjects = [...policy.data['allowed-callers.rego']!.matchAll(/payload\.sub == "([^"]+)"/g)].map((match) => match[1]);
    expect(subjects).toEqual(['spiffe://k8s.nsm/ns/backend/sa/api']);
    expect(policy.data['allowed-callers.rego']).toMatch(/^package nsm$/m);
    expect(policy.data['allowed-callers.rego']).toMatch(/^default valid = false$/m);
  });

  it('gives application pods SPIFFE IDs by ServiceAccount', () => {
    const generated = generateCase(nsmPlugin, crossNamespace);
    const workloads = find<{ spiffeIDTemplate: string; namespaceSelector: unknown }>(generated, 'ClusterSPIFFEID', undefined, 'cross-namespace-workloads');
    expect(workloads.spec.spiffeIDTemplate).toBe('spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}');
    expect(workloads.spec.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['backend', 'cache', 'data', 'frontend'] }] });
    const infrastructure = find<{ namespaceSelector: unknown }>(generated, 'ClusterSPIFFEID', undefined, 'nsm-workloads');
    expect(infrastructure.spec.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'nsm-system' } });
  });

  it('gives verification clients their identity annotation', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const pods = (generated.documents.get('verify/clients.yaml') ?? []) as KubeObject[];
    const annotationOf = (name: string) => pods.find((pod) => pod.kind === 'Pod' && pod.metadata.name === name)?.metadata.annotations?.['networkservicemesh.io'];
    expect(annotationOf('verify-productpage')).toBe('kernel://bookinfo-details/nsm-0,kernel://bookinfo-reviews/nsm-2');
    expect(annotationOf('verify-reviews')).toBe('kernel://bookinfo-ratings/nsm-1');
    expect(annotationOf('verify-details')).toBeUndefined();
    expect(annotationOf('verify-stranger')).toBeUndefined();
  });

  it('rejects an edge narrowed to one port', () => {
    const narrowed = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'narrowed-edge')!.document;
    expect(() => generateCase(nsmPlugin, narrowed)).toThrow(InputError);
    expect(() => generateCase(nsmPlugin, narrowed)).toThrow(
      'client calls server on port 8443 only, but NSM connects a caller to every port of server (8080, 8443, 9000), ' +
        'so the other ports would be open to client over NSM: in the calls of client, call server without a port, ' +
        'or move the other ports into a service of their own',
    );
  });

  it('hands callers only the interface name', () => {
    const env = templateOf(generateCase(nsmPlugin, workshop), 'Deployment', 'production', 'hero').spec.containers[0]!.env ?? [];
    expect(env.filter((variable) => variable.name.includes('NSM'))).toEqual([{ name: 'NSM_LIL_DEEBEE_INTERFACE', value: 'nsm-0' }]);
  });

  it('states enforcement per path in the README', () => {
    const readme = generateCase(nsmPlugin, workshop).files.get('README.md')!.content;
    expect(readme).toContain('| NSM, caller to callee | pods that carry the annotation and run as a declared caller\'s ServiceAccount |');
    expect(readme).toContain('| NSM, callee back to caller | the callee\'s pods, over a link a caller opened | nothing:');
    expect(readme).toContain('So this repository hands the app no NSM address');
    expect(readme).toContain('Narrowed edges are rejected.');
  });

  it('installs the Pod Security path at the pinned tag', () => {
    const script = generateCase(nsmPlugin, workshop).files.get('scripts/install-mesh.sh')!.content;
    expect(script).toContain('\nref=v1.18.0\n');
    expect(script).toContain('kubectl apply -k "${repository}/examples/spire/single_cluster_csi?ref=${ref}"');
    expect(script).toContain('kubectl apply -k "${repository}/examples/pss/nsm-system?ref=${ref}"');
    expect(script).not.toContain('examples/basic');
  });
});

describe('nsm evaluator', () => {
  for (const [name, document, declared] of [
    ['workshop', workshop, 1],
    ['bookinfo', bookinfo, 3],
    ['cross-namespace', crossNamespace, 3],
  ] as const) {
    it(`allows exactly the declared edges of ${name}, over WireGuard`, () => {
      const result = verifyCase(nsmPlugin, generateCase(nsmPlugin, document), {});
      expect(checkExactEdges(result)).toEqual([]);
      expect(result.counts.declared).toBe(declared);
      expect(result.counts.meshAllowed).toBe(declared);
      expect(result.counts.networkPolicyAllowed).toBe(declared);
    });
  }

  it('explains a declared edge by the caller policy', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const decision = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const hero = generated.topology.services.find((service) => service.name === 'hero')!;
    const database = generated.topology.services.find((service) => service.name === 'lil-deebee')!;
    const source = { service: 'hero', namespace: 'production', serviceAccount: 'hero', labels: { 'app.kubernetes.io/name': 'hero' }, meshed: true };
    expect(decision.decide(source, database, database.ports[0]!)).toEqual({
      allowed: true,
      mtls: true,
      reason: 'ConfigMap data/lil-deebee-nsm-callers allows spiffe://k8s.nsm/ns/production/sa/hero on NetworkService data/hero-lil-deebee (WireGuard between nodes, every port of lil-deebee including 5432)',
    });
    expect(decision.decide({ ...source, meshed: false }, database, database.ports[0]!).allowed).toBe(false);
    expect(decision.decide({ ...source, service: 'lil-deebee', namespace: 'data', serviceAccount: 'lil-deebee' }, hero, hero.ports[0]!).reason).toBe('production/hero runs no NSM endpoint, so no client reaches it over NSM');
  });
});

describe('nsm verify on hand-broken output', () => {
  it('names an annotation for an undeclared service', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    const template = templateOf(generated, 'Deployment', 'bookinfo', 'details');
    template.metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    const problems = problemsOf(generated);
    expect(problems).toContain('pod template bookinfo/details: requests network service bookinfo-ratings of ratings, but details -> ratings is not a declared edge');
  });

  it('names an extra caller once the endpoint policy admits it', () => {
    const generated = generateCase(nsmPlugin, bookinfo);
    templateOf(generated, 'Deployment', 'bookinfo', 'details').metadata.annotations = { 'networkservicemesh.io': 'kernel://bookinfo-ratings/nsm-1' };
    const policy = find<never>(generated, 'ConfigMap', 'bookinfo', 'ratings-nsm-callers') as unknown as { data: Record<string, string> };
    policy.data['allowed-callers.rego'] += '\nvalid {\n\t[_, payload, _] := io.jwt.decode(input.path_segments[0].token)\n\tpayload.sub == "spiffe://k8s.nsm/ns/bookinfo/sa/details"\n}\n';
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('details -> ratings:9080 is not declared, but the mesh allows it: ConfigMap bookinfo/ratings-nsm-callers allows spiffe://k8s.nsm/ns/bookinfo/sa/details'))).toBe(true);
  });

  it('names a missing edge NetworkPolicy', () => {
    const generated = generateCase(nsmPlugin, workshop);
    generated.objects = generated.objects.filter((object) => !(object.kind === 'NetworkPolicy' && object.metadata.name === 'lil-deebee-ingress'));
    const problems = problemsOf(generated);
    expect(problems).toEqual([
      'hero -> lil-deebee:5432 is declared, but NetworkPolicy denies it (ingress: no rule of data/default-deny allows it)',
      'hero (unmeshed) -> lil-deebee:5432 is declared, but NetworkPolicy denies it (ingress: no rule of data/default-deny allows it)',
    ]);
  });

  it('names a missing default-deny NetworkPolicy', () => {
    const generated = generateCase(nsmPlugin, workshop);
    generated.objects = generated.objects.filter((object) => !(object.kind === 'NetworkPolicy' && object.metadata.name === 'default-deny'));
    const problems = problemsOf(generated);
    // verify checks each side on its own: allow-dns still isolates egress in every namespace, but nothing
    // isolates hero's ingress any more, so every source is reported against that side.
    expect(problems).toEqual([
      'hero -> hero:8080 is not declared, but NetworkPolicy ingress allows it (no policy isolates production/hero)',
      'lil-deebee -> hero:8080 is not declared, but NetworkPolicy ingress allows it (no policy isolates production/hero)',
      'verify-stranger (stranger) -> hero:8080 is not declared, but NetworkPolicy ingress allows it (no policy isolates production/hero)',
      'verify-outside (outside) -> hero:8080 is not declared, but NetworkPolicy ingress allows it (no policy isolates production/hero)',
      'hero (unmeshed) -> hero:8080 is not declared, but NetworkPolicy ingress allows it (no policy isolates production/hero)',
    ]);
  });

  it('names an ETHERNET payload', () => {
    const generated = generateCase(nsmPlugin, workshop);
    find<{ payload: string }>(generated, 'NetworkService', 'data', 'hero-lil-deebee').spec.payload = 'ETHERNET';
    const problems = problemsOf(generated);
    expect(problems).toContain('NetworkService data/hero-lil-deebee: spec.payload is ETHERNET, which the forwarders carry between nodes in plain VXLAN: set it to IP for WireGuard');
    expect(problems.some((problem) => problem.startsWith('hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it'))).toBe(true);
  });

  it('names a misspelled NetworkService field', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const service = find<Record<string, unknown>>(generated, 'NetworkService', 'data', 'hero-lil-deebee');
    service.spec = { paylaod: 'IP' };
    const problems = problemsOf(generated);
    expect(problems).toContain('NetworkService data/hero-lil-deebee: has the unknown spec field "paylaod": NSM reads only payload and matches');
    expect(problems).toContain('NetworkService data/hero-lil-deebee: spec.payload is undefined: set it to IP');
  });

  it('names an endpoint without a caller policy', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const nse = templateOf(generated, 'StatefulSet', 'data', 'lil-deebee').spec.containers.find((container) => container.name === 'nse')!;
    nse.volumeMounts = nse.volumeMounts!.filter((mount) => mount.name !== 'nsm-callers');
    const problems = problemsOf(generated);
    expect(problems).toContain('endpoint data/lil-deebee: mounts no caller policy under /policies/server, so any pod that requests hero-lil-deebee is connected');
  });

  it('names a missing NetworkService', () => {
    const generated = generateCase(nsmPlugin, workshop);
    generated.objects = generated.objects.filter((object) => object.kind !== 'NetworkService');
    const problems = problemsOf(generated);
    expect(problems).toEqual(['hero -> lil-deebee:5432 is declared, but the mesh denies it: NetworkService hero-lil-deebee does not exist, so NSM finds no endpoint for it']);
  });

  it('names per-pod SPIFFE IDs in application namespaces', () => {
    const generated = generateCase(nsmPlugin, workshop);
    const infrastructure = find<Record<string, unknown>>(generated, 'ClusterSPIFFEID', undefined, 'nsm-workloads');
    delete infrastructure.spec.namespaceSelector;
    const problems = problemsOf(generated);
    expect(problems).toContain('namespace production: pods get SPIFFE IDs from ClusterSPIFFEID nsm-workloads and ClusterSPIFFEID hero-workloads; keep one, so each pod has one identity');
    expect(problems.some((problem) => problem.startsWith('hero -> lil-deebee:5432 is declared, but the mesh denies it: no ClusterSPIFFEID gives production/hero a SPIFFE ID'))).toBe(true);
  });
});
