import type { Finding, GatewayRoute, MeshDecision } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock, type IpAddress } from '../../src/netpol/cidr.js';
import { candidateAddresses, rangesOf } from '../../src/verify/address-ranges.js';
import { SYSTEM_NAMESPACE, gatewayServiceTag, kumaServiceOf } from './versions.js';
import { compare } from '../../src/topology/validate.js';

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
    .sort((a, b) => compare(a.id, b.id));
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
 * meshtrafficpermission plugin). `declared` is true when the topology lists the dependency among the caller's calls. A
 * declared call is allowed only if every address of the dependency passes, and any other call as soon as one does.
 */
export function decideExternalTraffic(objects: KubeObject[], mesh: KubeObject | undefined, subject: PassthroughSubject, external: ExternalService, declared: boolean): MeshDecision {
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

  const chains: Chain[] = policies.flatMap((policy) =>
    (((policy.spec ?? {}) as { default?: { appendMatch?: PassthroughMatch[] } }).default?.appendMatch ?? []).flatMap((match) => chainOf(match, id(policy))),
  );
  const points = pointsOf(external, chains, declared);
  const outcomes = points.map((address) => ({ address, chain: selectChain(chains, external, address) }));
  const passed = outcomes.filter((outcome) => outcome.chain !== undefined);
  const denied = outcomes.filter((outcome) => outcome.chain === undefined);
  const names = policies.map(id).join(', ');
  // A declared call must pass at every address the dependency may have; any other call must pass at none.
  if (denied.length > 0 && (declared || passed.length === 0)) {
    const at = passed.length > 0 ? ` at ${denied.map((outcome) => outcome.address).join(', ')}` : '';
    const shadowing = denied.map((outcome) => describeShadowingMatch(chains, external, outcome.address)).find((text) => text !== undefined);
    const because = shadowing ? `. ${shadowing}` : '';
    return { allowed: false, mtls: false, reason: `no match of ${names} lets ${target} through${at}, and mode Matched refuses the rest${because}` };
  }
  const first = passed[0]!.chain!;
  const at = denied.length > 0 ? ` at ${passed.map((outcome) => outcome.address).join(', ')}` : '';
  return { allowed: true, mtls: false, reason: `allowed by ${first.policy} (${first.match.type} ${first.match.value} port ${first.match.port ?? 'any'})${at}` };
}

/**
 * One Envoy filter chain of the outbound passthrough listener, as Kuma 2.14.3 builds it for a match
 * (listeners_filter_chain.go in pkg/plugins/policies/meshpassthrough/plugin/xds). CIDR and IP matches set a
 * destination prefix, a tls Domain sets the SNI, and the transport is "tls" for tls and "raw_buffer" otherwise.
 * Matches for http, http2 and grpc also require the application protocol http/1.1 or h2c.
 */
interface Chain {
  policy: string;
  match: PassthroughMatch;
  block: CidrBlock | undefined;
  serverName: string | undefined;
  tls: boolean;
  http: boolean;
}

function chainOf(match: PassthroughMatch, policy: string): Chain[] {
  const protocol = match.protocol ?? 'tcp';
  let block: CidrBlock | undefined;
  if (match.type === 'CIDR' || match.type === 'IP') {
    const address = match.type === 'IP' ? parseIpAddress(match.value ?? '') : undefined;
    const parsed = address ? parseCidr(`${match.value}/${address.family === 4 ? 32 : 128}`) : parseCidr(match.value ?? '');
    // Kuma's validator rejects a match whose value is no address or range, so it adds no filter chain.
    if (typeof parsed === 'string') return [];
    block = parsed;
  } else if (match.type !== 'Domain' || match.value === undefined) {
    return [];
  }
  return [
    {
      policy,
      match,
      block,
      serverName: match.type === 'Domain' && protocol === 'tls' ? match.value : undefined,
      tls: protocol === 'tls',
      http: ['http', 'http2', 'grpc'].includes(protocol),
    },
  ];
}

/**
 * Returns the addresses at which the decision can change: one of each stretch of the dependency's ranges between
 * the matches' range boundaries. A declared dependency without `addresses` is judged at the public IPv4 addresses
 * outside every address match on its port, because its host is expected to resolve there and the core's
 * NetworkPolicy opens only IPv4 to it. Any other client is judged at every public IPv4 and IPv6 address.
 */
function pointsOf(external: ExternalService, chains: Chain[], declared: boolean): string[] {
  const boundaries = new Map<4 | 6, bigint[]>([
    [4, []],
    [6, []],
  ]);
  for (const chain of chains) {
    if (!chain.block) continue;
    const first = chain.block.networkPart << chain.block.hostBits;
    boundaries.get(chain.block.family)!.push(first, first + (1n << chain.block.hostBits));
  }
  const points = candidateAddresses(rangesOf(external), boundaries);
  if (!declared || external.addresses.length > 0) return points;
  const ipv4 = points.filter((point) => parseIpAddress(point)?.family === 4);
  const addressChains = chains.filter((chain) => chain.block && (chain.match.port === undefined || chain.match.port === external.port));
  const outside = ipv4.filter((point) => addressChains.every((chain) => !cidrContains(chain.block!, parseIpAddress(point)!)));
  return outside.length > 0 ? outside : ipv4;
}

/**
 * Selects the filter chain Envoy uses for a connection to the dependency at `address`, or undefined when none
 * matches and the connection is closed. Envoy narrows the chains step by step, keeping at each step the most
 * specific criteria that match: destination port, destination address, server name, transport protocol,
 * application protocol (envoy/config/listener/v3 FilterChainMatch). Kuma copies each match without a port onto
 * every port used by another match (order.go), so a portless match competes on every port.
 * NOTE: a chain without a prefix and a 0.0.0.0/0 chain are taken as equally specific, as Envoy turns an empty
 * prefix list into 0.0.0.0/0 and ::/0.
 */
function selectChain(chains: Chain[], external: ExternalService, address: string): Chain | undefined {
  const ip = parseIpAddress(address);
  if (!ip) return undefined;
  const tls = external.protocol === 'tls';
  const http = external.protocol === 'http';

  let candidates = mostSpecificByAddress(chains, external, ip);

  // Only TLS carries a server name (SNI). The most specific of exact name, wildcard and none wins.
  const exact = tls ? candidates.filter((chain) => chain.serverName === external.host) : [];
  const wildcard = tls ? candidates.filter((chain) => chain.serverName?.startsWith('*.') && external.host.endsWith(chain.serverName.slice(1))) : [];
  if (exact.length > 0) candidates = exact;
  else if (wildcard.length > 0) candidates = wildcard;
  else candidates = candidates.filter((chain) => chain.serverName === undefined);

  candidates = candidates.filter((chain) => chain.tls === tls);
  if (!tls) {
    // Envoy's HTTP inspector marks plain HTTP/1.1 as http/1.1, which the HTTP chains require; other traffic has no
    // application protocol and only reaches chains without one.
    const httpChains = http ? candidates.filter((chain) => chain.http) : [];
    candidates = httpChains.length > 0 ? httpChains : candidates.filter((chain) => !chain.http);
  }
  // Kuma puts every HTTP Domain match of a port into one chain with a virtual host per domain, and returns 503 for
  // any other Host header. An HTTP chain for an address range routes every host.
  return candidates.find((chain) => !chain.http || chain.match.type !== 'Domain' || hostMatches(chain.match.value!, external.host));
}

/** Returns the chains left after Envoy's destination port and address steps: those with the longest matching prefix. */
function mostSpecificByAddress(chains: Chain[], external: ExternalService, ip: IpAddress): Chain[] {
  const candidates = chains.filter((chain) => (chain.match.port === undefined || chain.match.port === external.port) && (!chain.block || cidrContains(chain.block, ip)));
  const longest = Math.max(-1, ...candidates.map((chain) => chain.block?.prefixLength ?? 0));
  return candidates.filter((chain) => (chain.block?.prefixLength ?? 0) === longest);
}

/**
 * Describes the address match that Envoy picks for a refused connection to `address`, such as a tcp CIDR match over a
 * tls dependency's addresses. Returns undefined when a chain without a prefix is among the most specific, because no
 * address match then decides.
 */
function describeShadowingMatch(chains: Chain[], external: ExternalService, address: string): string | undefined {
  const ip = parseIpAddress(address);
  if (!ip) return undefined;
  const winners = mostSpecificByAddress(chains, external, ip);
  const shadow = winners.find((chain) => chain.block !== undefined && chain.block.prefixLength > 0);
  if (!shadow) return undefined;
  let accepted = 'raw TCP';
  if (shadow.tls) accepted = 'TLS';
  else if (shadow.http) accepted = 'plain HTTP';
  return `Envoy picks the most specific address match, ${shadow.match.type} ${shadow.match.value} port ${shadow.match.port ?? 'any'} (${shadow.match.protocol ?? 'tcp'}) of ${shadow.policy}, which accepts only ${accepted} and no ${external.protocol} connection to ${external.host} at ${address}`;
}

function hostMatches(pattern: string, host: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : pattern === host;
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
