import type { Edge, ExternalService, Service, Topology } from '../topology/types.js';
import type { GatewayPods } from '../plugin/api.js';
import { selectorOf, type KubeObject, type LabelSelector } from './object.js';

/** A peer of a NetworkPolicy rule. */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

/** A port of a NetworkPolicy rule. */
export interface NetworkPolicyPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}

/** A NetworkPolicy rule: `from` for ingress, `to` for egress. */
export interface NetworkPolicyRule {
  peers: NetworkPolicyPeer[];
  ports: NetworkPolicyPort[];
}

export interface NetworkPolicyProps {
  name: string;
  namespace: string;
  podSelector: LabelSelector;
  ingress?: NetworkPolicyRule[];
  egress?: NetworkPolicyRule[];
  labels?: Record<string, string>;
}

/** Builds a NetworkPolicy; `policyTypes` lists each direction that has rules, so an empty list denies that direction. */
export function buildNetworkPolicy(props: NetworkPolicyProps): KubeObject {
  const policyTypes = [...(props.ingress ? ['Ingress'] : []), ...(props.egress ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: props.name, namespace: props.namespace, ...(props.labels && { labels: props.labels }) },
    spec: {
      podSelector: props.podSelector,
      policyTypes,
      ...(props.ingress && { ingress: props.ingress.map((rule) => ({ from: rule.peers, ports: rule.ports })) }),
      ...(props.egress && { egress: props.egress.map((rule) => ({ to: rule.peers, ports: rule.ports })) }),
    },
  };
}

/** Selects pods by label in one namespace, named by its `kubernetes.io/metadata.name` label. */
export function podsInNamespace(namespace: string, podLabels?: Record<string, string>): NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    podSelector: podLabels ? { matchLabels: podLabels } : {},
  };
}

export function tcp(port: number): NetworkPolicyPort {
  return { protocol: 'TCP', port };
}

/**
 * The ranges NetworkPolicy keeps an external dependency without `addresses` out of: private (RFC 1918, which
 * include the pod, Service and kind node networks), carrier-grade NAT, loopback and link-local, where cluster
 * and cloud metadata endpoints live.
 */
export const NON_PUBLIC_IPV4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16'];

/** Returns the NetworkPolicy peers for an external dependency: its address ranges, or every public IPv4 address. */
export function externalPeers(external: ExternalService): NetworkPolicyPeer[] {
  if (external.addresses.length > 0) return external.addresses.map((cidr) => ({ ipBlock: { cidr } }));
  return [{ ipBlock: { cidr: '0.0.0.0/0', except: NON_PUBLIC_IPV4 } }];
}

/**
 * Builds the NetworkPolicies every plugin shares: default deny, DNS, both ends of each declared edge, the
 * gateway's way in to each exposed port (when its pods can be selected), and each declared caller's egress to
 * its external dependencies.
 */
export function buildCorePolicies(topology: Topology, gatewayPods: GatewayPods | null = null): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const policies: KubeObject[] = [];

  for (const namespace of topology.namespaces) {
    policies.push(buildNetworkPolicy({ name: 'default-deny', namespace, podSelector: {}, ingress: [], egress: [], labels }));
    policies.push(
      buildNetworkPolicy({
        name: 'allow-dns',
        namespace,
        podSelector: {},
        egress: [{ peers: [podsInNamespace('kube-system', { 'k8s-app': 'kube-dns' })], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] }],
        labels,
      }),
    );
  }

  const byName = new Map(topology.services.map((service) => [service.name, service]));
  const outgoing = groupEdges(topology.edges, (edge) => edge.from);
  const incoming = groupEdges(topology.edges, (edge) => edge.to);

  const externalCalls = new Map<string, ExternalService[]>();
  for (const edge of topology.externalEdges) externalCalls.set(edge.from, [...(externalCalls.get(edge.from) ?? []), edge.to]);

  for (const service of topology.services) {
    const calls = outgoing.get(service.name) ?? [];
    const externals = externalCalls.get(service.name) ?? [];
    if (calls.length > 0 || externals.length > 0) {
      const egress = [...groupEdges(calls, (edge) => edge.to)].map(([callee, edges]) => ({
        peers: [podsInNamespace(byName.get(callee)!.namespace, selectorOf(callee))],
        ports: edges.map((edge) => tcp(edge.port.targetPort)),
      }));
      for (const external of externals) egress.push({ peers: externalPeers(external), ports: [tcp(external.port)] });
      policies.push(buildNetworkPolicy({ name: `${service.name}-egress`, namespace: service.namespace, podSelector: { matchLabels: selectorOf(service.name) }, egress, labels }));
    }

    const callers = incoming.get(service.name) ?? [];
    const exposed = gatewayPods ? service.ports.filter((port) => service.exposedPorts.includes(port.port)) : [];
    if (callers.length > 0 || exposed.length > 0) {
      const ingress = [...groupEdges(callers, (edge) => edge.from)].map(([caller, edges]) => ({
        peers: [podsInNamespace(byName.get(caller)!.namespace, selectorOf(caller))],
        ports: edges.map((edge) => tcp(edge.port.targetPort)),
      }));
      if (gatewayPods && exposed.length > 0) ingress.push({ peers: [podsInNamespace(gatewayPods.namespace, gatewayPods.labels)], ports: exposed.map((port) => tcp(port.targetPort)) });
      policies.push(buildNetworkPolicy({ name: `${service.name}-ingress`, namespace: service.namespace, podSelector: { matchLabels: selectorOf(service.name) }, ingress, labels }));
    }
  }
  return policies;
}

/** Groups edges by a key, keeping the topology's sorted order inside each group. */
export function groupEdges(edges: Edge[], keyOf: (edge: Edge) => string): Map<string, Edge[]> {
  const groups = new Map<string, Edge[]>();
  for (const edge of edges) {
    const key = keyOf(edge);
    const group = groups.get(key);
    if (group) group.push(edge);
    else groups.set(key, [edge]);
  }
  return groups;
}

/** Returns the services of a topology by name. */
export function indexServices(topology: Topology): Map<string, Service> {
  return new Map(topology.services.map((service) => [service.name, service]));
}
