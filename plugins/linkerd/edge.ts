import { buildEdgeGateway, EDGE_GATEWAY_NAME, EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector, type EdgeGateway } from '../../src/k8s/edge-gateway.js';
import { buildNetworkPolicy, indexServices, podsInNamespace, tcp, type NetworkPolicyRule } from '../../src/k8s/network-policy.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
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

/** Returns the name of the EgressNetwork that captures only an external's own addresses. */
export function externalNetworkNameOf(external: ExternalService): string {
  return `external-${external.name}`;
}

/**
 * Builds the egress resources of each application namespace: an EgressNetwork with `trafficPolicy: Deny` for
 * every address outside the cluster, and, per external that a service of the namespace calls, a route that
 * allows that host on that port. An EgressNetwork applies only to clients in its own namespace, so each
 * namespace lists only the externals its own services call.
 * A TCP external with addresses gets an EgressNetwork of its own with exactly those addresses. Linkerd picks the
 * most specific network for an address, so that TCPRoute opens the port only on those addresses.
 */
export function buildEgress(topology: Topology): KubeObject[] {
  if (topology.externals.length === 0) return [];
  const services = indexServices(topology);
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const objects: KubeObject[] = [];

  for (const namespace of topology.namespaces) {
    objects.push(egressNetwork(EGRESS_NETWORK_NAME, namespace, labels));
    const called = new Map<string, ExternalService>();
    for (const edge of topology.externalEdges) {
      if (services.get(edge.from)!.namespace === namespace) called.set(edge.to.name, edge.to);
    }

    // Linkerd serves one protocol per port of an EgressNetwork (gRPC, then HTTP, then TLS, then TCP routes win:
    // policy-controller/grpc/src/outbound.rs), so two externals on one port of one network must share a route kind.
    const kindsByPort = new Map<number, { kind: string; external: string }>();
    for (const external of called.values()) {
      const kind = routeKindOf(external);
      const parent = kind === 'TCPRoute' && external.addresses.length > 0 ? externalNetworkNameOf(external) : EGRESS_NETWORK_NAME;
      if (parent !== EGRESS_NETWORK_NAME) {
        objects.push(egressNetwork(parent, namespace, labels, external.addresses));
      } else {
        const other = kindsByPort.get(external.port);
        if (other && other.kind !== kind) {
          throw new Error(
            `namespace ${namespace}: externals ${other.external} and ${external.name} share port ${external.port} but need a ${other.kind} and a ${kind}, and Linkerd serves one protocol per port: give the TCP one its addresses, or move one caller to another namespace`,
          );
        }
        kindsByPort.set(external.port, { kind, external: external.name });
      }
      objects.push(route(external, namespace, parent, labels));
    }
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

function route(external: ExternalService, namespace: string, network: string, labels: Record<string, string>): KubeObject {
  const kind = routeKindOf(external);
  const parentRefs = [{ group: POLICY_API, kind: 'EgressNetwork', name: network, namespace, port: external.port }];
  const backendRefs = [{ group: POLICY_API, kind: 'EgressNetwork', name: network }];
  const metadata = { name: `external-${external.name}`, namespace, labels };
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
