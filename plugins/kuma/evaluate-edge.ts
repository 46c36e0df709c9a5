import type { Finding, GatewayRoute, MeshDecision } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { SYSTEM_NAMESPACE, gatewayServiceTag, kumaServiceOf } from './versions.js';

type Ref = { kind?: string; name?: string; namespace?: string; port?: number; labels?: Record<string, string>; tags?: Record<string, string> };

/** A builtin gateway as Kuma 2.14.3 runs it for a MeshGatewayInstance (gateway_instance_controller.go). */
export interface GatewayInstance {
  id: string;
  name: string;
  namespace: string;
  mesh: string;
  /** The tags of its Dataplane, which are also the tags in its certificate. */
  tags: Record<string, string>;
  /** The labels of its pods: Kuma's own, then the pod template's. */
  podLabels: Record<string, string>;
  serviceAccount: string;
}

/** Reads the MeshGatewayInstances of the manifests, sorted by namespace and name. */
export function readGatewayInstances(objects: KubeObject[], namespaceLabels: Map<string, Record<string, string>>, findings: Finding[]): GatewayInstance[] {
  return objects
    .filter((object) => object.kind === 'MeshGatewayInstance' && object.apiVersion.startsWith('kuma.io/'))
    .map((object) => {
      const spec = (object.spec ?? {}) as { tags?: Record<string, string>; podTemplate?: { metadata?: { labels?: Record<string, string> }; spec?: { serviceAccountName?: string } } };
      const namespace = object.metadata.namespace ?? 'default';
      const name = object.metadata.name;
      const id = `MeshGatewayInstance ${namespace}/${name}`;
      const mesh = object.metadata.labels?.['kuma.io/mesh'] ?? namespaceLabels.get(namespace)?.['kuma.io/mesh'] ?? 'default';
      if (spec.tags?.['kuma.io/service'] !== undefined) findings.push({ subject: id, message: 'sets the kuma.io/service tag, which Kuma rejects since 2.9: remove it' });
      const podLabels = { app: name, 'kuma.io/sidecar-injection': 'disabled', 'kuma.io/mesh': mesh, ...spec.podTemplate?.metadata?.labels };
      return {
        id,
        name,
        namespace,
        mesh,
        tags: { ...spec.tags, 'kuma.io/service': gatewayServiceTag(name, namespace) },
        podLabels,
        serviceAccount: spec.podTemplate?.spec?.serviceAccountName ?? 'default',
      };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Lists the routes of the MeshGateway that serves `instance`: every MeshHTTPRoute and MeshTCPRoute of its mesh whose
 * top-level targetRef names that MeshGateway, one route per host name and backend. A MeshHTTPRoute entry without
 * hostnames matches every host, reported as `*`; a MeshTCPRoute always is. Unresolved backends become findings.
 * NOTE: listener host names and the targetRef's listener tags are not evaluated; every route counts on every listener.
 */
export function readGatewayRoutes(objects: KubeObject[], topology: Topology, instance: GatewayInstance, findings: Finding[]): GatewayRoute[] {
  const gateways = objects
    .filter((object) => object.kind === 'MeshGateway' && object.apiVersion.startsWith('kuma.io/') && meshOf(object) === instance.mesh)
    .filter((object) => {
      const selectors = ((object.spec ?? {}) as { selectors?: { match?: Record<string, string> }[] }).selectors ?? [];
      return selectors.some((selector) => Object.entries(selector.match ?? {}).every(([key, value]) => instance.tags[key] === value));
    })
    .map((object) => object.metadata.name)
    .sort();
  if (gateways.length === 0) {
    findings.push({ subject: instance.id, message: `no MeshGateway of the mesh "${instance.mesh}" selects kuma.io/service ${instance.tags['kuma.io/service']}, so Kuma deploys no gateway` });
    return [];
  }
  // Kuma serves one MeshGateway per data plane (SelectGateway in pkg/xds/topology); verify takes the first by name.
  const gateway = gateways[0]!;

  const routes: GatewayRoute[] = [];
  for (const object of objects) {
    const isHttp = object.kind === 'MeshHTTPRoute';
    if ((!isHttp && object.kind !== 'MeshTCPRoute') || !object.apiVersion.startsWith('kuma.io/') || meshOf(object) !== instance.mesh) continue;
    const spec = (object.spec ?? {}) as { targetRef?: Ref; to?: { targetRef?: Ref; hostnames?: string[]; rules?: { default?: { backendRefs?: Ref[] } }[] }[] };
    if (spec.targetRef?.kind !== 'MeshGateway' || spec.targetRef.name !== gateway) continue;
    const namespace = object.metadata.namespace ?? 'default';
    const resource = `${object.kind} ${namespace}/${object.metadata.name}`;
    if (namespace !== SYSTEM_NAMESPACE && namespace !== instance.namespace) continue;
    for (const entry of spec.to ?? []) {
      const hostnames = isHttp && entry.hostnames && entry.hostnames.length > 0 ? entry.hostnames : ['*'];
      for (const rule of entry.rules ?? []) {
        for (const ref of rule.default?.backendRefs ?? []) {
          const backend = resolveBackend(ref, namespace, topology);
          if (!backend) {
            findings.push({ subject: resource, message: `sends traffic to ${ref.kind ?? '?'} ${ref.name ?? '?'}${ref.port ? ` port ${ref.port}` : ''}, which is no port of a topology service` });
            continue;
          }
          for (const hostname of hostnames) routes.push({ hostname, ...backend, resource });
        }
      }
    }
  }
  return routes;
}

/**
 * Resolves a backendRef to a topology service port: a real MeshService (name, namespace and port, as in Exclusive
 * mode) or, without a port, a `kuma.io/service` value `<service>_<namespace>_svc_<port>`.
 */
function resolveBackend(ref: Ref, routeNamespace: string, topology: Topology): { service: string; namespace: string; port: number } | undefined {
  if (ref.kind !== 'MeshService' || ref.name === undefined) return undefined;
  if (ref.port !== undefined) {
    const namespace = ref.namespace ?? routeNamespace;
    const service = topology.services.find((candidate) => candidate.name === ref.name && candidate.namespace === namespace);
    const port = service?.ports.find((candidate) => candidate.port === ref.port);
    return service && port ? { service: service.name, namespace, port: port.port } : undefined;
  }
  for (const service of topology.services) {
    const port = service.ports.find((candidate) => kumaServiceOf(service.name, service.namespace, candidate.port) === ref.name);
    if (port) return { service: service.name, namespace: service.namespace, port: port.port };
  }
  return undefined;
}

/** A data plane as a MeshPassthrough selects it. */
export interface PassthroughSubject {
  mesh: string;
  namespace: string;
  labels: Record<string, string>;
}

interface PassthroughMatch {
  type?: string;
  value?: string;
  port?: number;
  protocol?: string;
}

/**
 * Decides whether a sidecar may open a connection to an external dependency, as Kuma 2.14.3 does for traffic to an
 * address outside the mesh. Every MeshPassthrough that selects the data plane adds its matches, and the most
 * specific one's mode wins (applyToOutboundPassthrough in pkg/plugins/policies/meshpassthrough). Without one, the
 * Mesh's `networking.outbound.passthrough` decides, and it is on unless set to false. A MeshExternalService for
 * the host is open to every data plane of the mesh unless `routing.defaultForbidMeshExternalServiceAccess` is set,
 * because Kuma 2.14.3's zone egress allows or denies it for the whole mesh (configureEgress in the
 * meshtrafficpermission plugin).
 */
export function decideExternalTraffic(objects: KubeObject[], mesh: KubeObject | undefined, subject: PassthroughSubject, external: ExternalService): MeshDecision {
  const target = `${external.host}:${external.port}`;
  if (!mesh) return { allowed: true, mtls: false, reason: `no Mesh "${subject.mesh}" in the manifests, so nothing turns passthrough off` };
  const meshSpec = (mesh.spec ?? {}) as { networking?: { outbound?: { passthrough?: boolean } }; routing?: { defaultForbidMeshExternalServiceAccess?: boolean } };

  const meshExternal = objects.find(
    (object) =>
      object.kind === 'MeshExternalService' &&
      meshOf(object) === subject.mesh &&
      ((object.spec ?? {}) as { endpoints?: { address?: string; port?: number }[] }).endpoints?.some((endpoint) => endpoint.address === external.host && endpoint.port === external.port),
  );
  if (meshExternal && meshSpec.routing?.defaultForbidMeshExternalServiceAccess !== true) {
    return { allowed: true, mtls: false, reason: `MeshExternalService ${meshExternal.metadata.namespace ?? ''}/${meshExternal.metadata.name} is open to every data plane of the mesh "${subject.mesh}" through the zone egress` };
  }

  const policies = objects
    .filter((object) => object.kind === 'MeshPassthrough' && object.apiVersion.startsWith('kuma.io/') && meshOf(object) === subject.mesh && selects(object, subject))
    .sort(byPassthroughOrder);
  if (policies.length === 0) {
    if (meshSpec.networking?.outbound?.passthrough === false) {
      return { allowed: false, mtls: false, reason: `Mesh ${subject.mesh} turns passthrough off and no MeshPassthrough selects the caller, so its sidecar refuses ${target}` };
    }
    return { allowed: true, mtls: false, reason: `Mesh ${subject.mesh} passes traffic to any address outside the mesh (networking.outbound.passthrough is not false)` };
  }

  const id = (object: KubeObject) => `MeshPassthrough ${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
  let mode = 'Matched';
  let modeBy = policies[policies.length - 1]!;
  for (const policy of policies) {
    const value = ((policy.spec ?? {}) as { default?: { passthroughMode?: string } }).default?.passthroughMode;
    if (value !== undefined) {
      mode = value;
      modeBy = policy;
    }
  }
  if (mode === 'All') return { allowed: true, mtls: false, reason: `${id(modeBy)} passes every destination through (mode All)` };
  if (mode === 'None') return { allowed: false, mtls: false, reason: `${id(modeBy)} passes no destination through (mode None)` };

  for (const policy of policies) {
    const matches = ((policy.spec ?? {}) as { default?: { appendMatch?: PassthroughMatch[] } }).default?.appendMatch ?? [];
    const match = matches.find((candidate) => matchAllows(candidate, external));
    if (match) return { allowed: true, mtls: false, reason: `allowed by ${id(policy)} (${match.type} ${match.value} port ${match.port ?? 'any'})` };
  }
  return { allowed: false, mtls: false, reason: `no match of ${policies.map(id).join(', ')} lets ${target} through, and mode Matched refuses the rest` };
}

/** Checks one MeshPassthrough match against a dependency: a host name for tls and http, an address range otherwise. */
function matchAllows(match: PassthroughMatch, external: ExternalService): boolean {
  if (match.port !== undefined && match.port !== external.port) return false;
  const protocol = match.protocol ?? 'tcp';
  if (match.type === 'Domain') {
    const expected = external.protocol === 'tls' ? ['tls'] : external.protocol === 'http' ? ['http', 'http2', 'grpc'] : [];
    if (!expected.includes(protocol) || match.value === undefined) return false;
    if (match.value.startsWith('*.')) return external.host.endsWith(match.value.slice(1));
    return match.value === external.host;
  }
  // An address match lets through every protocol carried over TCP on that port, including TLS and HTTP.
  if (match.type === 'CIDR' || match.type === 'IP') {
    const range = match.type === 'IP' ? `${match.value}/32` : (match.value ?? '');
    if (range.endsWith('/0')) return true;
    return external.addresses.length > 0 && external.addresses.every((address) => cidrContains(range, address));
  }
  return false;
}

/** Checks whether the IPv4 range `outer` contains the IPv4 range `inner`; IPv6 ranges only when equal. */
function cidrContains(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  const parse = (cidr: string) => {
    const [address, bits] = cidr.split('/');
    const octets = (address ?? '').split('.').map(Number);
    if (octets.length !== 4 || octets.some((octet) => !Number.isInteger(octet))) return undefined;
    return { value: octets.reduce((sum, octet) => sum * 256 + octet, 0), bits: Number(bits) };
  };
  const a = parse(outer);
  const b = parse(inner);
  if (!a || !b || a.bits > b.bits) return false;
  const size = 2 ** (32 - a.bits);
  return Math.floor(a.value / size) === Math.floor(b.value / size);
}

/** Checks whether a MeshPassthrough's targetRef selects the data plane; a policy outside kuma-system selects its own namespace only. */
function selects(object: KubeObject, subject: PassthroughSubject): boolean {
  const namespace = object.metadata.namespace ?? 'default';
  if (namespace !== SYSTEM_NAMESPACE && namespace !== subject.namespace) return false;
  const ref = ((object.spec ?? {}) as { targetRef?: Ref }).targetRef ?? { kind: 'Mesh' };
  const labelsMatch = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => subject.labels[key] === value);
  switch (ref.kind ?? 'Mesh') {
    case 'Mesh':
      return true;
    case 'Dataplane':
      return ref.name === undefined && labelsMatch(ref.labels ?? {});
    case 'MeshSubset':
      return labelsMatch(ref.tags ?? {});
    default:
      return false;
  }
}

/** Orders MeshPassthroughs from the least to the most specific top-level targetRef (Mesh, Dataplane, MeshSubset, as KIND_ORDER in evaluate.ts), then by name. */
function byPassthroughOrder(a: KubeObject, b: KubeObject): number {
  const rank = (object: KubeObject) => ({ Mesh: 0, Dataplane: 1, MeshSubset: 2 })[((object.spec ?? {}) as { targetRef?: Ref }).targetRef?.kind ?? 'Mesh'] ?? 0;
  return rank(a) - rank(b) || (a.metadata.name < b.metadata.name ? 1 : a.metadata.name > b.metadata.name ? -1 : 0);
}

function meshOf(object: KubeObject): string {
  return object.metadata.labels?.['kuma.io/mesh'] ?? 'default';
}
