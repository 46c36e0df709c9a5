import { InputError } from '../../src/errors.js';
import { buildNetworkPolicy, indexServices, podsInNamespace, tcp, type NetworkPolicyRule } from '../../src/k8s/network-policy.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
import { parseCidr, type CidrBlock } from '../../src/netpol/cidr.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import {
  CONTROL_PLANE_LABELS,
  DP_SERVER_PORT,
  ENVOY_ADMIN_PORT,
  GATEWAY_LISTENER_PORT,
  GATEWAY_NAME,
  GATEWAY_NAMESPACE,
  GATEWAY_POD_LABELS,
  GATEWAY_SERVICE_ACCOUNT,
  SYSTEM_NAMESPACE,
  gatewayServiceTag,
  kumaServiceOf,
  spiffeIdOf,
  type IdentityMode,
} from './versions.js';

/** Returns the cluster-scoped MeshGateway's name, with the mesh in it so that two generated apps in one cluster never share it. */
export function meshGatewayName(mesh: string): string {
  return `${mesh}-${GATEWAY_NAME}`;
}

/**
 * Builds Kuma's builtin gateway and everything around it, in the reserved namespace `ingress-gateway`:
 * the Namespace, the gateway's ServiceAccount and NetworkPolicies, a MeshGatewayInstance (Kuma turns it into a
 * Deployment and a ClusterIP Service named `edge-gateway`), the MeshGateway with one HTTP listener, and one
 * MeshHTTPRoute per exposed port, matching the exposure's host name. Kuma 2.14 documents MeshGatewayInstance as the
 * way to run the builtin gateway on Kubernetes (kuma-website using-mesh/managing-ingress-traffic/builtin.md).
 */
export function buildGatewayObjects(topology: Topology, mesh: string, mode: IdentityMode): KubeObject[] {
  const partOf = { 'app.kubernetes.io/part-of': topology.name };
  const services = indexServices(topology);
  const gateway = meshGatewayName(mesh);

  const namespace: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: GATEWAY_NAMESPACE,
      labels: {
        ...partOf,
        'kuma.io/mesh': mesh,
        // The Deployment Kuma writes for a MeshGatewayInstance sets neither runAsNonRoot nor a seccomp profile, and
        // MeshGatewayInstance exposes neither (containers/factory.go and gateway_instance_controller.go, v2.14.3).
        // Its sysctl net.ipv4.ip_unprivileged_port_start and NET_BIND_SERVICE are allowed at baseline.
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
      },
    },
  };
  const serviceAccount: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: GATEWAY_SERVICE_ACCOUNT, namespace: GATEWAY_NAMESPACE, labels: partOf } };
  const instance: KubeObject = {
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshGatewayInstance',
    metadata: { name: GATEWAY_NAME, namespace: GATEWAY_NAMESPACE, labels: { ...partOf, 'kuma.io/mesh': mesh } },
    spec: {
      replicas: 1,
      serviceType: 'ClusterIP',
      podTemplate: { metadata: { labels: { ...GATEWAY_POD_LABELS, ...partOf } }, spec: { serviceAccountName: GATEWAY_SERVICE_ACCOUNT } },
    },
  };
  const meshGateway: KubeObject = {
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshGateway',
    metadata: { name: gateway, labels: { ...partOf, 'kuma.io/mesh': mesh } },
    spec: {
      selectors: [{ match: { 'kuma.io/service': gatewayServiceTag(GATEWAY_NAME, GATEWAY_NAMESPACE) } }],
      conf: { listeners: [{ port: GATEWAY_LISTENER_PORT, protocol: 'HTTP', tags: { port: `http-${GATEWAY_LISTENER_PORT}` } }] },
    },
  };

  // With builtin gateways, to[].targetRef must be kind Mesh and hostnames narrow the rules (builtin-routes.md).
  // While MeshServices are off (mesh-mtls), a MeshService backendRef names a kuma.io/service value; in Exclusive
  // mode (meshidentity) it names the MeshService Kuma generates from the Kubernetes Service, with its port.
  const routes: KubeObject[] = topology.exposures.map((exposure) => {
    const backendRef =
      mode === 'mesh-mtls'
        ? { kind: 'MeshService', name: kumaServiceOf(exposure.service, exposure.namespace, exposure.port.port) }
        : { kind: 'MeshService', name: exposure.service, namespace: exposure.namespace, port: exposure.port.port };
    return {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshHTTPRoute',
      metadata: { name: `${mesh}-${exposure.service}-${exposure.port.name}`.slice(0, 253), namespace: SYSTEM_NAMESPACE, labels: { ...partOf, 'kuma.io/mesh': mesh } },
      spec: {
        targetRef: { kind: 'MeshGateway', name: gateway },
        to: [
          {
            targetRef: { kind: 'Mesh' },
            hostnames: [exposure.hostname],
            rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [backendRef] } }],
          },
        ],
      },
    };
  });

  // The gateway's pods: reached from anywhere on the listener, and by the control plane on the Envoy admin port;
  // they reach DNS, the control plane's dp-server and the exposed ports, nothing else.
  const toExposed: NetworkPolicyRule[] = topology.exposures.map((exposure) => ({
    peers: [podsInNamespace(exposure.namespace, selectorOf(exposure.service))],
    ports: [tcp(services.get(exposure.service)!.ports.find((port) => port.port === exposure.port.port)!.targetPort)],
  }));
  const policies = [
    buildNetworkPolicy({ name: 'default-deny', namespace: GATEWAY_NAMESPACE, podSelector: {}, ingress: [], egress: [], labels: partOf }),
    buildNetworkPolicy({
      name: 'allow-edge-gateway',
      namespace: GATEWAY_NAMESPACE,
      podSelector: { matchLabels: { ...GATEWAY_POD_LABELS } },
      ingress: [
        { peers: [], ports: [tcp(GATEWAY_LISTENER_PORT)] },
        { peers: [podsInNamespace(SYSTEM_NAMESPACE, { ...CONTROL_PLANE_LABELS })], ports: [tcp(ENVOY_ADMIN_PORT)] },
      ],
      egress: [
        { peers: [podsInNamespace('kube-system', { 'k8s-app': 'kube-dns' })], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] },
        { peers: [podsInNamespace(SYSTEM_NAMESPACE, { ...CONTROL_PLANE_LABELS })], ports: [tcp(DP_SERVER_PORT)] },
        ...toExposed,
      ],
      labels: partOf,
    }),
  ];

  return [namespace, serviceAccount, ...policies, instance, meshGateway, ...routes];
}

/**
 * Builds one MeshTrafficPermission per exposed port that lets the gateway's identity in: its `kuma.io/service` tag in
 * mesh-mtls mode, or its SPIFFE ID (namespace and ServiceAccount) with a MeshIdentity.
 */
export function buildGatewayPermissions(topology: Topology, mesh: string, mode: IdentityMode): KubeObject[] {
  return topology.exposures.map((exposure) => {
    const permission =
      mode === 'mesh-mtls'
        ? { from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': gatewayServiceTag(GATEWAY_NAME, GATEWAY_NAMESPACE) } }, default: { action: 'Allow' } }] }
        : { rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: spiffeIdOf(mesh, GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT) } }] } }] };
    return {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: {
        name: `${exposure.service}-${exposure.port.name}-exposed`.slice(0, 253),
        namespace: exposure.namespace,
        labels: { 'kuma.io/mesh': mesh, 'app.kubernetes.io/part-of': topology.name },
      },
      spec: { targetRef: { kind: 'Dataplane', labels: selectorOf(exposure.service), sectionName: exposure.port.name }, ...permission },
    };
  });
}

/** Builds the MeshPassthrough matches, with the protocol and match type Kuma 2.14 accepts, for an external dependency. */
function passthroughMatches(external: ExternalService): Record<string, unknown>[] {
  // Domain matches need a host in the traffic: SNI for tls, the Host header for http. Kuma rejects a Domain match
  // with protocol tcp or mysql (meshpassthrough validator.go, v2.14.3), so plain TCP protocols match by address.
  if (external.protocol === 'tls' || external.protocol === 'http') {
    return [{ type: 'Domain', value: external.host, port: external.port, protocol: external.protocol }];
  }
  const protocol = external.protocol === 'mysql' ? 'mysql' : 'tcp';
  // Kuma builds one filter chain per CIDR match, with that range as its destination prefix, so a dependency with
  // several ranges gets one match each. IPv6 ranges work too: Kuma puts them on the sidecar's IPv6 passthrough
  // listener (getMatchType and hasIPv6Matches in meshpassthrough/plugin/xds, v2.14.3), which the transparent
  // proxy sets up in its default ipFamilyMode dualstack.
  // NOTE: without declared addresses the match is every IPv4 address on the port, as is the core's NetworkPolicy,
  // which narrows it to public addresses. IPv6 destinations are then not matched.
  const ranges = external.addresses.length > 0 ? external.addresses : ['0.0.0.0/0'];
  return ranges.map((range) => ({ type: 'CIDR', value: range, port: external.port, protocol }));
}

/** Returns whether two ranges share an address: the one with the shorter prefix contains the other's first address. */
function rangesOverlap(a: CidrBlock, b: CidrBlock): boolean {
  if (a.family !== b.family) return false;
  const [wide, narrow] = a.hostBits >= b.hostBits ? [a, b] : [b, a];
  return (narrow.networkPart << narrow.hostBits) >> wide.hostBits === wide.networkPart;
}

/**
 * Rejects a tls or http dependency of `caller` whose addresses overlap the range of a tcp-like dependency on the same
 * port. Envoy picks a passthrough filter chain by destination address before it looks at SNI or the application
 * protocol (FilterChainMatch in envoy/config/listener/v3), so at an address in both, the tcp CIDR match wins over
 * the Domain match, which has no address. That chain accepts only raw_buffer transport (listeners_filter_chain.go in
 * meshpassthrough/plugin/xds, v2.14.3), so it closes TLS connections and passes HTTP by address without a Host check.
 * A tcp-like dependency without addresses, or with 0.0.0.0/0 or ::/0, is no more specific than a Domain match.
 * NOTE: a tls or http dependency without addresses is assumed to resolve outside every tcp range on its port.
 * @throws InputError naming the caller, both dependencies, the port and the fix.
 */
function checkShadowedDomainMatches(caller: string, externals: ExternalService[]): void {
  const blocksOf = (external: ExternalService) => external.addresses.map((cidr) => ({ cidr, block: parseCidr(cidr) })).filter((entry): entry is { cidr: string; block: CidrBlock } => typeof entry.block !== 'string');
  const byDomain = externals.filter((external) => external.protocol === 'tls' || external.protocol === 'http');
  const byAddress = externals.filter((external) => external.protocol !== 'tls' && external.protocol !== 'http');
  for (const named of byDomain) {
    for (const raw of byAddress.filter((candidate) => candidate.port === named.port)) {
      for (const own of blocksOf(named)) {
        const other = blocksOf(raw).find((entry) => entry.block.prefixLength > 0 && rangesOverlap(own.block, entry.block));
        if (!other) continue;
        const effect = named.protocol === 'tls' ? 'closes TLS connections' : 'passes HTTP requests by address without checking the Host header';
        throw new InputError(
          `topology: service "${caller}", field calls: "${named.name}" (${named.protocol}, ${own.cidr}) and "${raw.name}" (${raw.protocol}, ${other.cidr}) share port ${named.port} and overlapping addresses. ` +
            `Kuma's MeshPassthrough sends a connection to an address in both through the tcp match of "${raw.name}", which ${effect}. ` +
            `Give them addresses that do not overlap, or use another port for one of them`,
        );
      }
    }
  }
}

/**
 * Builds one MeshPassthrough per caller of external dependencies, in the caller's namespace, selecting its data
 * planes. Mode Matched lets through only the listed destinations, and the Mesh turns passthrough off for every
 * other data plane. Kuma merges the matches of every policy on a data plane, and rejects a repeated value on the
 * same port and protocol, so each caller gets one policy with each match once.
 * @throws InputError when a tls or http dependency's addresses overlap a tcp-like one's range on the same port.
 */
export function buildPassthroughs(topology: Topology, mesh: string): KubeObject[] {
  const services = indexServices(topology);
  const byCaller = new Map<string, ExternalService[]>();
  for (const edge of topology.externalEdges) byCaller.set(edge.from, [...(byCaller.get(edge.from) ?? []), edge.to]);

  return [...byCaller].map(([name, externals]) => {
    checkShadowedDomainMatches(name, externals);
    const caller = services.get(name)!;
    const seen = new Set<string>();
    const appendMatch = externals.flatMap(passthroughMatches).filter((match) => {
      const key = `${String(match.type)} ${String(match.value)} ${String(match.port)} ${String(match.protocol)}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshPassthrough',
      metadata: { name: `${caller.name}-external`, namespace: caller.namespace, labels: { 'kuma.io/mesh': mesh, 'app.kubernetes.io/part-of': topology.name } },
      spec: { targetRef: { kind: 'Dataplane', labels: selectorOf(caller.name) }, default: { passthroughMode: 'Matched', appendMatch } },
    };
  });
}

/** The README sentence on egress to external dependencies. */
export const EGRESS_SUMMARY =
  'Kuma lets each declared caller\'s sidecar pass traffic to its external dependencies with a MeshPassthrough in mode Matched, and every other sidecar refuses destinations outside the mesh. ' +
  'Dependencies spoken over TLS are matched by host name (SNI) and port, HTTP ones by host name (Host header) and port, and plain TCP and database protocols only by address range and port, as is NetworkPolicy for all of them.';
