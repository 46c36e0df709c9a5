import { buildEdgeGateway, EDGE_GATEWAY_NAME, EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector, type EdgeGateway } from '../../src/k8s/edge-gateway.js';
import { buildNetworkPolicy, indexServices, podsInNamespace, tcp, type NetworkPolicyRule } from '../../src/k8s/network-policy.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
import { InputError } from '../../src/errors.js';
import { parseCidr, type CidrBlock } from '../../src/netpol/cidr.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { INJECT_ANNOTATION, serverNameOf } from './resources.js';
import { CONTROL_PLANE_COMPONENT_LABEL, CONTROL_PLANE_NAMESPACE, DESTINATION_PORT, IDENTITY_PORT, POLICY_PORT, PROXY_PORTS } from './versions.js';

const POLICY_API = 'policy.linkerd.io';
const GATEWAY_API = 'gateway.networking.k8s.io';

/**
 * The name of the EgressNetwork in every application namespace. Without `networks`, an EgressNetwork captures every
 * address outside `clusterNetworks` (linkerd/website `2-edge/reference/egress-network.md`).
 */
export const EGRESS_NETWORK_NAME = 'outside-cluster';

/**
 * The suffix of the authorization resources that admit the edge gateway. Policies for callers end in
 * `-from-<caller>` instead, so no caller's policy takes this name.
 */
const GATEWAY_SUFFIX = `via-${EDGE_GATEWAY_NAME}`;

/** Returns the name of the MeshTLSAuthentication and AuthorizationPolicy that admit the gateway to one Server. */
export function gatewayAuthorizationNameOf(serverName: string): string {
  return `${serverName}-${GATEWAY_SUFFIX}`;
}

/**
 * Builds the edge gateway meshed by Linkerd: the pod annotation injects the proxy, whose identity comes from the
 * gateway's ServiceAccount. Its proxy reaches the control plane, and each exposed service's proxy on the inbound
 * port, because a meshed connection goes to port 4143 and names the real port inside TLS (see resources.ts).
 */
export function buildLinkerdGateway(topology: Topology): EdgeGateway {
  const controlPlane = (component: string) => podsInNamespace(CONTROL_PLANE_NAMESPACE, { [CONTROL_PLANE_COMPONENT_LABEL]: component });
  const exposed = [...new Map(topology.exposures.map((exposure) => [exposure.service, exposure.namespace])).entries()];
  const extraEgress: NetworkPolicyRule[] = [
    { peers: [controlPlane('identity')], ports: [tcp(IDENTITY_PORT)] },
    { peers: [controlPlane('destination')], ports: [tcp(DESTINATION_PORT), tcp(POLICY_PORT)] },
    ...exposed.map(([service, namespace]) => ({ peers: [podsInNamespace(namespace, selectorOf(service))], ports: [tcp(PROXY_PORTS.inbound)] })),
  ];
  return buildEdgeGateway(topology, { podAnnotations: { [INJECT_ANNOTATION]: 'enabled' }, extraEgress });
}

/**
 * Builds, per exposed port, a MeshTLSAuthentication naming the gateway's ServiceAccount and an AuthorizationPolicy
 * on that port's Server. Ports that are not exposed get nothing, so their Servers keep denying the gateway.
 */
export function buildGatewayAuthorizations(topology: Topology): KubeObject[] {
  const services = indexServices(topology);
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  return topology.exposures.flatMap((exposure) => {
    const server = serverNameOf(services.get(exposure.service)!, exposure.port);
    const name = gatewayAuthorizationNameOf(server);
    return [
      {
        apiVersion: `${POLICY_API}/v1alpha1`,
        kind: 'MeshTLSAuthentication',
        metadata: { name, namespace: exposure.namespace, labels },
        spec: { identityRefs: [{ kind: 'ServiceAccount', name: EDGE_GATEWAY_NAME, namespace: EDGE_GATEWAY_NAMESPACE }] },
      },
      {
        apiVersion: `${POLICY_API}/v1alpha1`,
        kind: 'AuthorizationPolicy',
        metadata: { name, namespace: exposure.namespace, labels },
        spec: {
          targetRef: { group: POLICY_API, kind: 'Server', name: server },
          requiredAuthenticationRefs: [{ group: POLICY_API, kind: 'MeshTLSAuthentication', name }],
        },
      },
    ];
  });
}

/** Builds the ingress rules that let the gateway's proxy reach each exposed service's proxy on the inbound port. */
export function buildGatewayProxyPolicies(topology: Topology): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const exposed = [...new Map(topology.exposures.map((exposure) => [exposure.service, exposure.namespace])).entries()];
  return exposed.map(([service, namespace]) =>
    buildNetworkPolicy({
      name: `${service}-linkerd-gateway-ingress`,
      namespace,
      podSelector: { matchLabels: selectorOf(service) },
      ingress: [{ peers: [podsInNamespace(EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector())], ports: [tcp(PROXY_PORTS.inbound)] }],
      labels,
    }),
  );
}

/** Returns the route kind Linkerd needs for an external protocol: HTTP by Host header, TLS by SNI, anything else by port. */
export function routeKindOf(external: ExternalService): 'HTTPRoute' | 'TLSRoute' | 'TCPRoute' {
  if (external.protocol === 'http') return 'HTTPRoute';
  if (external.protocol === 'tls') return 'TLSRoute';
  return 'TCPRoute';
}

/**
 * The API versions Linkerd edge-26.8.3 watches: HTTPRoute v1, and TLSRoute and TCPRoute only at v1alpha2
 * (policy-controller/k8s/api/src/lib.rs pins TLSRoute to v1alpha2). Gateway API v1.5.1 serves those two only
 * in its experimental channel, which Linkerd's own integration tests install (justfile at edge-26.8.3).
 */
export const ROUTE_API_VERSIONS = { HTTPRoute: `${GATEWAY_API}/v1`, TLSRoute: `${GATEWAY_API}/v1alpha2`, TCPRoute: `${GATEWAY_API}/v1alpha2` } as const;

/**
 * Linkerd's default `clusterNetworks` (charts/linkerd-control-plane/values.yaml at edge-26.8.3). The policy
 * controller sets `Accepted: False` (reason EgressReasonNetworkOverlap) on an EgressNetwork whose networks
 * intersect them, and then accepts no route attached to it (policy-controller/k8s/status/src/index.rs,
 * `network_condition` and `parent_condition_egress_network`). An EgressNetwork without `networks` excludes them.
 */
export const CLUSTER_NETWORKS = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'] as const;

/** Decides whether two CIDR blocks share an address: one of them contains the other. */
export function cidrsOverlap(a: CidrBlock, b: CidrBlock): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefixLength <= b.prefixLength ? a : b;
  const longer = shorter === a ? b : a;
  return longer.networkPart >> (shorter.hostBits - longer.hostBits) === shorter.networkPart;
}

const clusterBlocks = CLUSTER_NETWORKS.map((cidr) => parseCidr(cidr) as CidrBlock);

/** Returns the first default cluster network that a CIDR overlaps, or undefined. */
export function overlappedClusterNetwork(block: CidrBlock): string | undefined {
  const index = clusterBlocks.findIndex((cluster) => cidrsOverlap(block, cluster));
  return index < 0 ? undefined : CLUSTER_NETWORKS[index];
}

/** Returns the name of the EgressNetwork that captures exactly one CIDR, such as `addresses-198-51-100-0-24`. */
export function addressNetworkNameOf(cidr: string): string {
  return `addresses-${cidr.toLowerCase().replace(/[^0-9a-f]+/g, '-').replace(/^-|-$/g, '')}`;
}

/**
 * Rejects externals that Linkerd cannot keep apart. An address inside the cluster networks cannot get an
 * accepted EgressNetwork, so Linkerd would not see connections to it at all.
 * @throws InputError naming the external, its address and the fix.
 */
function checkExternalAddresses(topology: Topology): void {
  for (const external of topology.externals) {
    for (const cidr of external.addresses) {
      const block = parseCidr(cidr);
      if (typeof block === 'string' || overlappedClusterNetwork(block) === undefined) continue;
      throw new InputError(
        `topology: service "${external.name}", field external.addresses: ${cidr} overlaps Linkerd's default clusterNetworks (${CLUSTER_NETWORKS.join(', ')}). The policy controller does not accept an EgressNetwork there, so Linkerd cannot limit egress to it. Use the dependency's public addresses, or choose another mesh`,
      );
    }
  }
}

/** An EgressNetwork of one namespace and the externals whose routes attach to it. */
interface PlannedNetwork {
  name: string;
  /** The one CIDR it captures; undefined for every address outside the cluster networks. */
  cidr?: string;
  externals: ExternalService[];
}

/**
 * Plans the EgressNetworks of one namespace. Linkerd resolves an address to the most specific network that
 * contains it (policy-controller/k8s/index/src/outbound/index/egress_network.rs at edge-26.8.3), and only routes
 * attached to that network apply. So each distinct CIDR of a called TCP external gets its own network, and each
 * external whose addresses reach that CIDR attaches a route to it. For any address, the routes of the smallest
 * network that contains it then belong to exactly the externals that may be at that address.
 * NOTE: an external without addresses is attached only to the default network, on the assumption that its host
 * does not resolve into another external's declared range.
 */
function planNetworks(called: ExternalService[]): PlannedNetwork[] {
  const outside: PlannedNetwork = { name: EGRESS_NETWORK_NAME, externals: [] };
  const byCidr = new Map<string, PlannedNetwork>();
  for (const external of called) {
    const tcp = routeKindOf(external) === 'TCPRoute';
    if (!tcp || external.addresses.length === 0) outside.externals.push(external);
    if (!tcp) continue;
    for (const cidr of external.addresses) {
      if (!byCidr.has(cidr)) byCidr.set(cidr, { name: addressNetworkNameOf(cidr), cidr, externals: [] });
    }
  }

  const networks = [...byCidr.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const network of networks) {
    const block = parseCidr(network.cidr!) as CidrBlock;
    for (const external of called) {
      const blocks = external.addresses.map((cidr) => parseCidr(cidr) as CidrBlock);
      const tcp = routeKindOf(external) === 'TCPRoute';
      // A TCP external's route opens its port on the whole network, so it attaches only where its addresses
      // contain the network. A host-name route may attach wherever its addresses touch the network.
      const reaches = tcp ? blocks.some((own) => own.prefixLength <= block.prefixLength && cidrsOverlap(own, block)) : blocks.some((own) => cidrsOverlap(own, block));
      if (reaches) network.externals.push(external);
    }
  }
  return [outside, ...networks];
}

/**
 * Rejects two externals attached to one network on one port with different route kinds. Linkerd serves one
 * protocol per port of an EgressNetwork (gRPC, then HTTP, then TLS, then TCP routes win:
 * policy-controller/grpc/src/outbound.rs at edge-26.8.3), so the other would be denied.
 * @throws InputError naming both externals, the port and the fix for that combination.
 */
function checkRouteKinds(namespace: string, network: PlannedNetwork): void {
  const byPort = new Map<number, ExternalService>();
  for (const external of network.externals) {
    const other = byPort.get(external.port);
    if (!other) {
      byPort.set(external.port, external);
      continue;
    }
    if (routeKindOf(other) === routeKindOf(external)) continue;
    const tcp = [other, external].find((candidate) => routeKindOf(candidate) === 'TCPRoute');
    const where = network.cidr ? ` and the addresses ${network.cidr}` : '';
    const fixes = ['use another port for one of them', 'move the callers of one to another namespace'];
    if (network.cidr) fixes.unshift('give them addresses that do not overlap');
    else if (tcp) fixes.unshift(`give "${tcp.name}" its addresses so it gets an EgressNetwork of its own`);
    const fix = capitalize(`${fixes.slice(0, -1).join(', ')}, or ${fixes.at(-1)}`);
    throw new InputError(
      `topology: externals "${other.name}" (${other.protocol}) and "${external.name}" (${external.protocol}) share port ${external.port}${where}, and both are called from namespace ${namespace}. Linkerd serves one protocol per port of an EgressNetwork, so one of them would be denied. ${fix}`,
    );
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Builds the egress resources of each application namespace. It has an EgressNetwork with `trafficPolicy: Deny`
 * for every address outside the cluster, and one more per CIDR of a called TCP external (see planNetworks). Each
 * called external gets a route on each network it reaches, which allows that host (HTTP, TLS) or that port (TCP).
 * An EgressNetwork applies only to clients in its own namespace, so each namespace lists only the externals its
 * own services call.
 * @throws InputError for an external at a cluster network address, or two route kinds on one port of a network.
 */
export function buildEgress(topology: Topology): KubeObject[] {
  if (topology.externals.length === 0) return [];
  checkExternalAddresses(topology);
  const services = indexServices(topology);
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const objects: KubeObject[] = [];

  for (const namespace of topology.namespaces) {
    const called = new Map<string, ExternalService>();
    for (const edge of topology.externalEdges) {
      if (services.get(edge.from)!.namespace === namespace) called.set(edge.to.name, edge.to);
    }
    const networks = planNetworks([...called.values()]);
    for (const network of networks) {
      checkRouteKinds(namespace, network);
      objects.push(egressNetwork(network.name, namespace, labels, network.cidr ? [network.cidr] : []));
    }
    const routes = networks.flatMap((network) =>
      network.externals.map((external) => route(external, namespace, network.name, network.cidr ? `external-${external.name}-${network.name}` : `external-${external.name}`, labels)),
    );
    objects.push(...routes.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)));
  }
  return objects;
}

function egressNetwork(name: string, namespace: string, labels: Record<string, string>, addresses: string[] = []): KubeObject {
  return {
    apiVersion: `${POLICY_API}/v1alpha1`,
    kind: 'EgressNetwork',
    metadata: { name, namespace, labels },
    spec: {
      ...(addresses.length > 0 && { networks: addresses.map((cidr) => ({ cidr })) }),
      trafficPolicy: 'Deny',
    },
  };
}

function route(external: ExternalService, namespace: string, network: string, name: string, labels: Record<string, string>): KubeObject {
  const kind = routeKindOf(external);
  const parentRefs = [{ group: POLICY_API, kind: 'EgressNetwork', name: network, namespace, port: external.port }];
  const backendRefs = [{ group: POLICY_API, kind: 'EgressNetwork', name: network }];
  const metadata = { name, namespace, labels };
  if (kind === 'HTTPRoute') {
    // A route without backendRefs sends the request on to its original destination (linkerd/website
    // `2-edge/tasks/managing-egress-traffic.md`); the host name is what it allows.
    return { apiVersion: ROUTE_API_VERSIONS.HTTPRoute, kind, metadata, spec: { parentRefs, hostnames: [external.host], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] } };
  }
  if (kind === 'TLSRoute') {
    return { apiVersion: ROUTE_API_VERSIONS.TLSRoute, kind, metadata, spec: { parentRefs, hostnames: [external.host], rules: [{ backendRefs }] } };
  }
  return { apiVersion: ROUTE_API_VERSIONS.TCPRoute, kind, metadata, spec: { parentRefs, rules: [{ backendRefs }] } };
}
