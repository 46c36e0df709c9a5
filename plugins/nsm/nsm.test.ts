import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { checkExactEdges, describeConformance, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/index.js';
import { SchemaValidator } from '../../src/conformance/schemas.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import { CONFORMANCE_TOPOLOGIES } from '../../src/conformance/topologies.js';
import { nsmPlugin } from './index.js';
import { WEBHOOK_VOLUME_NAMES } from './versions.js';

// NSM connects a caller to every port of its callee, so the plugin rejects the kit's narrowed edge.
const NARROWED_EDGE_ERROR = 'client calls server on port 8443 only, but NSM connects a caller to every port of server (8080, 8443, 9000)';
const CRD_SCHEMAS = fileURLToPath(new URL('../../test/crds', import.meta.url));
// Each pod of a cycle waits in its NSM init container for the next one's endpoint, so the plugin rejects cycles.
const CYCLE_ERROR = 'service "cluster", field calls: the calls cluster -> cluster form a cycle';
const THREE_CYCLE_ERROR = 'service "a", field calls: the calls a -> b -> c -> a form a cycle';

// On the default app path, over NSM, a called service needs one replica and ports equal to its container ports.
describeConformance(nsmPlugin, {
  crdSchemas: CRD_SCHEMAS,
  rejects: {
    'narrowed-edge': NARROWED_EDGE_ERROR,
    'several-ports': 'service "server", field ports: port 80 forwards to container port 8080',
    'replicas-call-each-other': CYCLE_ERROR,
    cycle: THREE_CYCLE_ERROR,
    'port-differs-from-container-port': 'service "back", field ports: port 80 forwards to container port 8080',
  },
});

describeConformance(nsmPlugin, {
  crdSchemas: CRD_SCHEMAS,
  options: { 'nsm-app-path': 'cluster-network' },
  rejects: { 'narrowed-edge': NARROWED_EDGE_ERROR, 'replicas-call-each-other': CYCLE_ERROR, cycle: THREE_CYCLE_ERROR },
});

const CLUSTER_PATH = { 'nsm-app-path': 'cluster-network' };

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
    expect(template.spec.volumes).toContainEqual({ name: 'nse-spire-agent-socket', csi: { driver: 'csi.spiffe.io', readOnly: true } });
    expect(template.spec.volumes).toContainEqual({ name: 'nse-nsm-socket', csi: { driver: 'csi.networkservicemesh.io', readOnly: true } });
    expect(JSON.stringify(template)).not.toContain('hostPath');
  });

  it('keeps webhook volume names free', () => {
    // reviews calls ratings and is called by productpage, so the webhook adds its sidecar's volumes beside the endpoint's.
    const template = templateOf(generateCase(nsmPlugin, bookinfo), 'Deployment', 'bookinfo', 'reviews');
    expect(template.metadata.annotations?.['networkservicemesh.io']).toBe('kernel://bookinfo-ratings/nsm-1');
    const names = template.spec.volumes.map((volume) => volume.name);
    expect(names.filter((name) => WEBHOOK_VOLUME_NAMES.includes(name as never))).toEqual([]);
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
    expect(readme).toContain('| NSM, caller to callee\'s pod address (the path the app uses) | pods that carry the annotation and run as a declared caller\'s ServiceAccount |');
    expect(readme).toContain('| Cluster network, to the callee\'s pod address | pods with a declared caller\'s labels');
    expect(readme).toContain('| NSM, callee back to caller | the callee\'s pods, over a link a caller opened | nothing:');
    expect(readme).toContain('The Services of the called services (`data/lil-deebee`)\nare headless');
    expect(readme).toContain('Narrowed edges are rejected.');
    expect(readme).not.toContain('hands the app no NSM address');
  });

  it('states the cluster path in README', () => {
    const readme = generateCase(nsmPlugin, workshop, CLUSTER_PATH).files.get('README.md')!.content;
    expect(readme).toContain('| Cluster network, to `<service>.<namespace>.svc.cluster.local` (the path the app uses) |');
    expect(readme).toContain('| NSM, caller to callee | pods that carry the annotation and run as a declared caller\'s ServiceAccount |');
    expect(readme).toContain('This repository hands the app no NSM address');
    expect(readme).not.toContain('are headless (`clusterIP: None`)');
  });

  it('installs the Pod Security path at the pinned tag', () => {
    const script = generateCase(nsmPlugin, workshop).files.get('scripts/install-mesh.sh')!.content;
    expect(script).toContain('\nref=v1.18.0\n');
    expect(script).toContain('kubectl apply -k "${repository}/examples/spire/single_cluster_csi?ref=${ref}"');
    expect(script).toContain('kubectl apply -k "${repository}/examples/pss/nsm-system?ref=${ref}"');
    expect(script).not.toContain('examples/basic');
  });
});

/** Returns the init container of a pod template by name, or undefined. */
function initContainerOf(template: Template, name: string): (Container & { command?: string[] }) | undefined {
  const initContainers = ((template.spec as Record<string, unknown>).initContainers ?? []) as (Container & { command?: string[] })[];
  return initContainers.find((container) => container.name === name);
}

describe('nsm app path', () => {
  it('makes only called Services headless', () => {
    const generated = generateCase(nsmPlugin, workshop);
    expect(find<{ clusterIP?: string }>(generated, 'Service', 'data', 'lil-deebee').spec.clusterIP).toBe('None');
    expect(find<{ clusterIP?: string }>(generated, 'Service', 'production', 'hero').spec.clusterIP).toBeUndefined();
  });

  it('points the endpoint at the route file', () => {
    const template = templateOf(generateCase(nsmPlugin, workshop), 'StatefulSet', 'data', 'lil-deebee');
    const nse = template.spec.containers.find((container) => container.name === 'nse')!;
    expect(nse.env).toContainEqual({ name: 'NSM_PBR_CONFIG_PATH', value: '/etc/policy-based-routing/config.yaml' });
    expect(nse.volumeMounts).toContainEqual({ name: 'nsm-routes', mountPath: '/etc/policy-based-routing', readOnly: true });
    expect(initContainerOf(template, 'nsm-routes')!.volumeMounts).toEqual([{ name: 'nsm-routes', mountPath: '/etc/policy-based-routing' }]);
    expect(template.spec.volumes).toContainEqual({ name: 'nsm-routes', emptyDir: {} });
  });

  it('writes the pod address as the policy route', () => {
    const template = templateOf(generateCase(nsmPlugin, workshop), 'StatefulSet', 'data', 'lil-deebee');
    const [shell, flag, script] = initContainerOf(template, 'nsm-routes')!.command!;
    expect([shell, flag]).toEqual(['sh', '-c']);
    const folder = mkdtempSync(join(tmpdir(), 'czta-nsm-routes-'));
    try {
      const local = script!.replaceAll('/etc/policy-based-routing', folder);
      const lint = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: local, encoding: 'utf8' });
      expect(lint.stdout).toBe('');
      const ipv4 = spawnSync('busybox', ['sh', '-c', local], { encoding: 'utf8', env: { POD_IP: '10.244.1.5' } });
      expect(ipv4.status).toBe(0);
      // The endpoint reads the file with yaml.v2 into PolicyRoute, whose keys are the lowercased field names.
      expect(parse(readFileSync(join(folder, 'config.yaml'), 'utf8'))).toEqual([{ routes: [{ prefix: '10.244.1.5/32' }] }]);
      const ipv6 = spawnSync('busybox', ['sh', '-c', local], { encoding: 'utf8', env: { POD_IP: 'fd00::5' } });
      expect(ipv6.status).toBe(1);
      expect(ipv6.stderr).toBe("nsm-routes: the pod address 'fd00::5' is not IPv4, and the NSM policy route needs one\n");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('rejects cycles of calls on both paths', () => {
    const cycle = structuredClone(workshop) as { spec: { services: { name: string; calls?: unknown[] }[] } };
    cycle.spec.services.find((service) => service.name === 'lil-deebee')!.calls = ['hero'];
    const message =
      'service "hero", field calls: the calls hero -> lil-deebee -> hero form a cycle, and on NSM each pod of a cycle waits in its NSM init container for the next one\'s endpoint, which starts only after that pod\'s own init containers, so none starts: remove one of those calls, or choose another mesh for this topology';
    expect(() => generateCase(nsmPlugin, cycle)).toThrow(message);
    expect(() => generateCase(nsmPlugin, cycle, CLUSTER_PATH)).toThrow(message);
    // A chain is fine: its last callee calls no service, so it starts first, then each caller in turn.
    expect(generateCase(nsmPlugin, bookinfo).files.has('README.md')).toBe(true);
  });

  it('rejects replicas and translated ports', () => {
    const replicated = structuredClone(workshop) as { spec: { services: Record<string, unknown>[] } };
    replicated.spec.services.find((service) => service.name === 'lil-deebee')!.replicas = 2;
    expect(() => generateCase(nsmPlugin, replicated)).toThrow(
      'service "lil-deebee", field replicas: 2 replicas, but NSM connects each caller pod to one endpoint pod, so the app would reach the other replicas outside NSM: ' +
        'set replicas of lil-deebee to 1, or choose the cluster network as the app\'s path with --nsm-app-path cluster-network',
    );
    const targetPort = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'port-differs-from-container-port')!.document;
    expect(() => generateCase(nsmPlugin, targetPort)).toThrow(InputError);
    expect(() => generateCase(nsmPlugin, targetPort)).toThrow('give the port 8080 as its port and drop targetPort, or choose the cluster network');
    expect(generateCase(nsmPlugin, replicated, CLUSTER_PATH).files.has('README.md')).toBe(true);
  });

  it('keeps Services and pods unchanged on the cluster path', () => {
    const generated = generateCase(nsmPlugin, workshop, CLUSTER_PATH);
    expect(find<{ clusterIP?: string }>(generated, 'Service', 'data', 'lil-deebee').spec.clusterIP).toBeUndefined();
    const template = templateOf(generated, 'StatefulSet', 'data', 'lil-deebee');
    expect(initContainerOf(template, 'nsm-routes')).toBeUndefined();
    expect(template.spec.containers.find((container) => container.name === 'nse')!.env!.map((variable) => variable.name)).not.toContain('NSM_PBR_CONFIG_PATH');
  });

  it('tries an annotated impostor in evidence', () => {
    const script = generateCase(nsmPlugin, workshop).files.get('verify/mesh-evidence.sh')!.content;
    expect(script).toContain('impostor=verify-stranger-nsm\n');
    expect(script).toContain('    networkservicemesh.io: kernel://$name/nsm-0\n');
    expect(script).toContain('  serviceAccountName: $stranger_pod\n');
    expect(script).toContain('got the NSM interface: the caller policy of $callee let it in');

    // The Pod the script applies, with its shell variables filled in, is a valid Pod that meets Pod Security restricted.
    const manifest = /kubectl apply -f - >\/dev\/null <<EOF\n([\s\S]*?)\nEOF\n/.exec(script)![1]!
      .replaceAll('$impostor', 'verify-stranger-nsm')
      .replaceAll('$stranger_namespace', 'production')
      .replaceAll('$stranger_pod', 'verify-stranger')
      .replaceAll('$name', 'hero-lil-deebee');
    const pod = parse(manifest) as KubeObject & { spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[] } };
    expect(new SchemaValidator(CRD_SCHEMAS).validate(pod)).toEqual([]);
    expect(pod.metadata.annotations).toEqual({ 'networkservicemesh.io': 'kernel://hero-lil-deebee/nsm-0' });
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('checks the route in the evidence script', () => {
    const script = generateCase(nsmPlugin, workshop).files.get('verify/mesh-evidence.sh')!.content;
    expect(script).toContain("  'verify-hero production lil-deebee data nsm-0 5432/postgres'\n");
    expect(script).toContain('ip -4 route get "$peer"');
    expect(generateCase(nsmPlugin, workshop, CLUSTER_PATH).files.get('verify/mesh-evidence.sh')!.content).toContain('peer=$(peer_of "$namespace" "$pod" "$interface")');
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

  it('names a called Service with a cluster address', () => {
    const generated = generateCase(nsmPlugin, workshop);
    delete find<{ clusterIP?: string }>(generated, 'Service', 'data', 'lil-deebee').spec.clusterIP;
    expect(problemsOf(generated)).toEqual([
      'Service data/lil-deebee: has a cluster address, so its callers reach it over the cluster network, outside NSM: set spec.clusterIP to None, as nsm-app-path nsm needs',
    ]);
  });

  it('names an endpoint that sends no policy route', () => {
    const message =
      'endpoint data/lil-deebee: sends its callers no policy route to its pod\'s address (an init container that writes $POD_IP/32 into the file NSM_PBR_CONFIG_PATH names, on a volume the endpoint mounts), so they reach lil-deebee over the cluster network, outside NSM';
    const removed = generateCase(nsmPlugin, workshop);
    delete (templateOf(removed, 'StatefulSet', 'data', 'lil-deebee').spec as Record<string, unknown>).initContainers;
    expect(problemsOf(removed)).toEqual([message]);

    // An init container that is still there but writes nothing.
    const idle = generateCase(nsmPlugin, workshop);
    initContainerOf(templateOf(idle, 'StatefulSet', 'data', 'lil-deebee'), 'nsm-routes')!.command = ['sh', '-c', 'true'];
    expect(problemsOf(idle)).toEqual([message]);
  });

  it('reads the default policy route path', () => {
    // Without NSM_PBR_CONFIG_PATH the endpoint reads /etc/policy-based-routing/config.yaml, where the file still is.
    const generated = generateCase(nsmPlugin, workshop);
    const nse = templateOf(generated, 'StatefulSet', 'data', 'lil-deebee').spec.containers.find((container) => container.name === 'nse')!;
    nse.env = nse.env!.filter((variable) => variable.name !== 'NSM_PBR_CONFIG_PATH');
    expect(problemsOf(generated)).toEqual([]);
  });

  it('names replicas and a translated port', () => {
    const generated = generateCase(nsmPlugin, workshop);
    find<{ replicas: number }>(generated, 'StatefulSet', 'data', 'lil-deebee').spec.replicas = 3;
    const service = find<{ ports: { port: number; targetPort: unknown }[] }>(generated, 'Service', 'data', 'lil-deebee');
    service.spec.ports[0]!.port = 6432;
    expect(problemsOf(generated)).toEqual(
      expect.arrayContaining([
        'StatefulSet data/lil-deebee: runs 3 replicas, but NSM connects each caller pod to one endpoint pod, so callers reach the other replicas outside NSM: run one replica',
        "Service data/lil-deebee: is headless, but port 6432 forwards to container port 5432: callers connect to the pod's port 6432 directly, so give the port the container's number",
      ]),
    );
  });

  it('names a wrongly recorded app path', () => {
    const generated = generateCase(nsmPlugin, workshop);
    expect(checkExactEdges(verifyCase(nsmPlugin, generated, CLUSTER_PATH))).toEqual([
      'Service data/lil-deebee: is headless and its endpoint sends a policy route, as nsm-app-path nsm generates, but generation.yaml records cluster-network: set plugin.options.nsm-app-path to nsm in generation.yaml, or regenerate',
    ]);
  });

  it('accepts a cluster address on the cluster path', () => {
    const generated = generateCase(nsmPlugin, workshop, CLUSTER_PATH);
    expect(checkExactEdges(verifyCase(nsmPlugin, generated, CLUSTER_PATH))).toEqual([]);
    expect(checkExactEdges(verifyCase(nsmPlugin, generated, {}))).toHaveLength(2);
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

const exposedTopology = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document;
const externalTopology = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'external')!.document;

/** Builds the source verify gives the evaluator for a service: its pod labels and ServiceAccount. */
function sourceOf(generated: GeneratedCase, name: string): Source {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  const kind = service.stateful ? 'StatefulSet' : 'Deployment';
  return { service: name, namespace: service.namespace, serviceAccount: name, labels: templateOf(generated, kind, service.namespace, name).metadata.labels, meshed: true };
}

/** Finds the edge gateway's ConfigMap in a generated case, for a test to change in place. */
function gatewayConfigOf(generated: GeneratedCase): { data: Record<string, string> } {
  return find<never>(generated, 'ConfigMap', 'ingress-gateway', 'edge-gateway') as unknown as { data: Record<string, string> };
}

describe('nsm ingress gateway', () => {
  it('runs the edge gateway outside NSM', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const template = templateOf(generated, 'Deployment', 'ingress-gateway', 'edge-gateway');
    expect(template.metadata.annotations?.['networkservicemesh.io']).toBeUndefined();
    expect(template.metadata.labels['spiffe.io/spiffe-id']).toBeUndefined();
    expect(template.spec.containers.map((container) => container.name)).toEqual(['nginx']);
    expect(generated.files.has('manifests/mesh/ingress-gateway.yaml')).toBe(true);
  });

  it('hands the core the gateway pods and entry', () => {
    const mesh = nsmPlugin.generate({ topology: generateCase(nsmPlugin, exposedTopology).topology, options: {}, render: () => '' });
    expect(mesh.ingress).toEqual({
      pods: { namespace: 'ingress-gateway', labels: { 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } },
      entry: { portForward: { namespace: 'ingress-gateway', service: 'edge-gateway', port: 80 } },
    });
  });

  it('emits no gateway without exposures', () => {
    const generated = generateCase(nsmPlugin, workshop);
    expect(generated.files.has('manifests/mesh/ingress-gateway.yaml')).toBe(false);
    expect(nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects }).gateway).toBeUndefined();
  });

  it('reads routes equal to the exposures', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const gateway = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects }).gateway!;
    const routes = gateway.routes.map((route) => `${route.hostname} ${route.namespace}/${route.service}:${route.port}`).sort();
    const exposures = generated.topology.exposures.map((exposure) => `${exposure.hostname} ${exposure.namespace}/${exposure.service}:${exposure.port.port}`).sort();
    expect(routes).toEqual(exposures);
    expect(routes).toEqual(['api.exposed.localhost backend/api:9000', 'web.exposed.localhost shop/web:8080']);
    expect(gateway.source).toMatchObject({ service: 'edge-gateway', namespace: 'ingress-gateway', serviceAccount: 'edge-gateway', meshed: false });
    expect(gateway.pods).toEqual({ namespace: 'ingress-gateway', labels: { 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } });
  });

  it('lets the gateway reach only exposed ports', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const evaluator = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const allowed: string[] = [];
    for (const service of generated.topology.services) {
      for (const port of service.ports) {
        const decision = evaluator.decide(evaluator.gateway!.source, service, port);
        expect(decision.mtls).toBe(false);
        if (decision.allowed) allowed.push(`${service.name}:${port.port}`);
      }
    }
    expect(allowed).toEqual(['api:9000', 'web:8080']);
    const web = generated.topology.services.find((service) => service.name === 'web')!;
    expect(evaluator.decide(evaluator.gateway!.source, web, web.ports[1]!).reason).toBe('no server of the gateway\'s nginx configuration forwards to shop/web:9090');
  });

  it('passes the plain gateway hop it declares', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const result = verifyCase(nsmPlugin, generated, {});
    expect(result.checks.find((check) => check.name === 'gateway routes')).toMatchObject({ ok: true });
    expect(nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects }).gateway!.mtls).toBe(false);
    expect(result.mismatches.filter((pair) => pair.clientKind === 'gateway')).toEqual([]);
  });

  it('resolves Service names while running', () => {
    const config = gatewayConfigOf(generateCase(nsmPlugin, exposedTopology)).data['nginx.conf']!;
    expect(config).toContain('  resolver kube-dns.kube-system.svc.cluster.local valid=10s;\n');
    expect(config).toContain('      set $upstream api.backend.svc.cluster.local:9000;\n      grpc_pass grpc://$upstream;\n');
  });

  it('states the plain HTTP hop in the README', () => {
    const readme = generateCase(nsmPlugin, exposedTopology).files.get('README.md')!.content;
    expect(readme).toContain('**the hop from the\n  gateway to a service is plain HTTP on the cluster network');
    expect(readme).toContain('limited by NetworkPolicy only, with no mTLS**.\n');
    expect(readme).toContain('| `web.exposed.localhost` | `shop/web:8080` |');
    expect(readme).toContain('| Gateway to an exposed service (cluster network) |');
  });
});

describe('nsm egress to external dependencies', () => {
  it('sets the egress summary only with externals', () => {
    const render = () => '';
    const withExternals = nsmPlugin.generate({ topology: generateCase(nsmPlugin, externalTopology).topology, options: {}, render });
    expect(withExternals.egress?.summary).toContain('Nothing is enforced by host name');
    expect(nsmPlugin.generate({ topology: generateCase(nsmPlugin, workshop).topology, options: {}, render }).egress).toBeUndefined();
  });

  it('allows each external exactly to its declared callers', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const evaluator = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const allowed: string[] = [];
    for (const service of generated.topology.services) {
      for (const external of generated.topology.externals) {
        if (evaluator.decideExternal!(sourceOf(generated, service.name), external).allowed) allowed.push(`${service.name} -> ${external.name}`);
      }
    }
    // NSM distinguishes dependencies by address and port only, so callers of one public API on 443 reach the other too.
    expect(allowed).toEqual(['catalog -> payments', 'catalog -> search', 'checkout -> ledger', 'checkout -> payments', 'checkout -> search', 'refunds -> payments', 'refunds -> search']);
  });

  it('denies the stranger every external', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const evaluator = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const stranger = { service: 'verify-stranger', namespace: 'apps', serviceAccount: 'verify-stranger', labels: { 'app.kubernetes.io/name': 'verify-stranger' }, meshed: true };
    for (const external of generated.topology.externals) expect(evaluator.decideExternal!(stranger, external).allowed).toBe(false);
  });

  it('names the addresses, not the host, in its reason', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const evaluator = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const ledger = generated.topology.externals.find((external) => external.name === 'ledger')!;
    expect(evaluator.decideExternal!(sourceOf(generated, 'checkout'), ledger).reason).toBe(
      'NetworkPolicy allows TCP 5432 to 198.51.100.0/24: apps/checkout-egress. Any host at those addresses is reachable, not only ledger.db.example, because Calico open source and NSM have no rule by host name',
    );
    expect(evaluator.decideExternal!(sourceOf(generated, 'refunds'), ledger).reason).toBe('NetworkPolicy denies TCP 5432 to 198.51.100.0/24: no egress rule of apps/default-deny, apps/allow-dns, apps/refunds-egress allows it');
  });

  it('passes verify on every external pair', () => {
    const result = verifyCase(nsmPlugin, generateCase(nsmPlugin, externalTopology), {});
    expect(result.mismatches.filter((pair) => pair.external)).toEqual([]);
    expect(result.checks.filter((check) => check.name === 'external dependencies' && !check.ok)).toEqual([]);
  });

  it('states address-only enforcement in the README', () => {
    const readme = generateCase(nsmPlugin, externalTopology).files.get('README.md')!.content;
    expect(readme).toContain('**External dependencies: enforced by address and port, not by host name.**');
    expect(readme).toContain('| `ledger` | `ledger.db.example:5432` (postgres) | `checkout` | `198.51.100.0/24` |');
    expect(readme).toContain('| `payments` | `api.payments.example:443` (tls) | `checkout`, `refunds` | every public address (`0.0.0.0/0` except `0.0.0.0/8`, `10.0.0.0/8`,');
    expect(readme).toContain('Nothing is enforced by host name');
  });
});

describe('nsm verify on hand-broken gateway and egress', () => {
  it('names a route to a service that is not exposed', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const config = gatewayConfigOf(generated);
    const extraServer = [
      '  server {',
      '    listen 8080;',
      '    server_name db.exposed.localhost;',
      '    location / {',
      '      proxy_pass http://db.data.svc.cluster.local:5432;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n');
    config.data['nginx.conf'] = config.data['nginx.conf']!.replace(/}\n$/, extraServer);
    const result = verifyCase(nsmPlugin, generated, {});
    expect(result.ok).toBe(false);
    expect(result.checks.find((check) => check.name === 'gateway routes')?.detail).toContain(
      'routes db.exposed.localhost to data/db:5432, which the topology does not expose',
    );
    const dbPair = result.mismatches.find((pair) => pair.clientKind === 'gateway' && pair.service === 'db')!;
    expect(dbPair.problems.some((problem) => problem.startsWith('gateway -> db:5432 is not exposed, but the mesh allows the gateway'))).toBe(true);
    // The core's ingress policy of db still keeps the gateway out, so NetworkPolicy reports no hole.
    expect(dbPair.networkPolicy.allowed).toBe(false);
  });

  it('names a missing route to an exposed port', () => {
    const generated = generateCase(nsmPlugin, exposedTopology);
    const config = gatewayConfigOf(generated);
    config.data['nginx.conf'] = config.data['nginx.conf']!.replace('server_name web.exposed.localhost;', 'server_name www.exposed.localhost;');
    const detail = verifyCase(nsmPlugin, generated, {}).checks.find((check) => check.name === 'gateway routes')?.detail;
    expect(detail).toContain('shop/web:8080 is exposed, but no gateway route sends web.exposed.localhost to it');
  });

  it('names egress from an undeclared caller', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const policy = find<{ egress?: unknown[]; policyTypes: string[] }>(generated, 'NetworkPolicy', 'apps', 'default-deny');
    // A hand-added rule on audit, which declares no external: TCP 443 to any public address.
    generated.objects.push({
      ...policy,
      metadata: { ...policy.metadata, name: 'audit-extra-egress' },
      spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'audit' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] } }], ports: [{ protocol: 'TCP', port: 443 }] }] },
    } as KubeObject);
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('audit -> payments (api.payments.example:443) is not declared, but the mesh allows it: NetworkPolicy allows TCP 443 to public addresses'))).toBe(true);
    expect(problems.some((problem) => problem.startsWith('audit -> payments (api.payments.example:443) is not declared, but NetworkPolicy egress allows it'))).toBe(true);
  });

  it('names an IPv6 rule from an undeclared caller', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const policy = find<Record<string, unknown>>(generated, 'NetworkPolicy', 'apps', 'default-deny');
    generated.objects.push({
      ...policy,
      metadata: { ...policy.metadata, name: 'audit-ipv6-egress' },
      spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'audit' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 443 }] }] },
    } as KubeObject);
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('audit -> payments (api.payments.example:443) is not declared, but the mesh allows it: NetworkPolicy allows TCP 443 to public addresses'))).toBe(true);
    expect(problems.some((problem) => problem.includes('(only part of that range, starting at 2000::): apps/audit-ipv6-egress'))).toBe(true);
  });

  it('ignores a rule outside the external addresses', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const policy = find<Record<string, unknown>>(generated, 'NetworkPolicy', 'apps', 'refunds-egress');
    (policy.spec.egress as unknown[]).push({ to: [{ ipBlock: { cidr: '198.51.101.0/24' } }], ports: [{ protocol: 'TCP', port: 5432 }] });
    const evaluator = nsmPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const ledger = generated.topology.externals.find((external) => external.name === 'ledger')!;
    expect(evaluator.decideExternal!(sourceOf(generated, 'refunds'), ledger).allowed).toBe(false);
  });

  it('names one opened address of a range', () => {
    const generated = generateCase(nsmPlugin, externalTopology);
    const policy = find<Record<string, unknown>>(generated, 'NetworkPolicy', 'apps', 'refunds-egress');
    // refunds may reach payments, not ledger: open one address of ledger's range to it.
    (policy.spec.egress as unknown[]).push({ to: [{ ipBlock: { cidr: '198.51.100.77/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] });
    const problems = problemsOf(generated);
    expect(problems).toContain(
      'refunds -> ledger (ledger.db.example:5432) is not declared, but the mesh allows it: NetworkPolicy allows TCP 5432 to 198.51.100.0/24 (only part of that range, starting at 198.51.100.77): apps/refunds-egress. Any host at those addresses is reachable, not only ledger.db.example, because Calico open source and NSM have no rule by host name',
    );
  });
});
