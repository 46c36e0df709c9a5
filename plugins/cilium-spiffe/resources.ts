import { groupEdges, indexServices } from '../../src/k8s/network-policy.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { Edge, ExternalService, Service, Topology } from '../../src/topology/types.js';

/** The Cilium label of a pod's namespace; a namespaced policy's peers without it stay in the policy's namespace. */
export const NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';

/** Selects the pods of a service in its namespace, by the label every policy of the repository uses. */
export function endpointsOf(service: Service): { matchLabels: Record<string, string> } {
  return { matchLabels: { [NAMESPACE_LABEL]: service.namespace, 'k8s:app.kubernetes.io/name': service.name } };
}

function portsOf(edges: Edge[]): { ports: { port: string; protocol: 'TCP' }[] }[] {
  // Cilium matches the container port, after the Service has forwarded the connection.
  return [{ ports: edges.map((edge) => ({ port: String(edge.port.targetPort), protocol: 'TCP' as const })) }];
}

/** The per-namespace policy: default deny in both directions, and DNS. */
export const NAMESPACE_POLICY = 'default-deny-allow-dns';

/** The reserved identity of traffic that Cilium's Envoy sends on behalf of Ingress and Gateway API. */
export const INGRESS_ENTITY = 'ingress';

/** Builds the only egress rule every pod needs outside its edges: cluster DNS, never behind authentication. */
export function dnsEgressRule(): Record<string, unknown> {
  return {
    toEndpoints: [{ matchLabels: { [NAMESPACE_LABEL]: 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
    toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '53', protocol: 'TCP' }] }],
  };
}

/**
 * Builds the DNS rule of a caller of external dependencies: the same peer and ports as {@link dnsEgressRule},
 * with an L7 DNS rule, so the agent sends the caller's lookups through its DNS proxy, which learns the
 * addresses that toFQDNs rules allow. The pattern `*` lets every lookup through, including cluster names;
 * Cilium widens the L7 rule to that anyway, because the namespace's plain DNS rule selects the same peer on
 * the same ports (pkg/policy/l4.go and rule.go, appendL7WildcardRule).
 */
export function dnsProxyEgressRule(): Record<string, unknown> {
  const rule = dnsEgressRule() as { toEndpoints: unknown; toPorts: { ports: unknown }[] };
  return { toEndpoints: rule.toEndpoints, toPorts: [{ ports: rule.toPorts[0]!.ports, rules: { dns: [{ matchPattern: '*' }] } }] };
}

/**
 * Builds the egress rule to one external dependency: its host name through toFQDNs on its TCP port. Cilium
 * allows the addresses its DNS proxy saw the caller resolve that name into, and never an address inside the
 * cluster (toFQDNs field documentation in the CiliumNetworkPolicy CRD). No authentication: the external peer
 * has no SPIFFE identity, so a rule that required it would drop the traffic.
 */
export function externalEgressRule(external: ExternalService): Record<string, unknown> {
  return { toFQDNs: [{ matchName: external.host }], toPorts: [{ ports: [{ port: String(external.port), protocol: 'TCP' }] }] };
}

/**
 * Builds the CiliumNetworkPolicies: per namespace, default deny in both directions with DNS allowed without
 * authentication. Per service, ingress from exactly its declared callers and egress to exactly its declared
 * callees, port by port, each rule requiring SPIRE mutual authentication. An exposed service also admits
 * Cilium's Envoy (the `ingress` entity) on its exposed ports. A caller of external dependencies gets a
 * toFQDNs rule per dependency and the DNS proxy rule. Neither kind of rule can require authentication.
 */
export function buildCiliumPolicies(topology: Topology): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const policy = (name: string, namespace: string, spec: Record<string, unknown>): KubeObject => ({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name, namespace, labels },
    spec,
  });
  const policies: KubeObject[] = [];

  for (const namespace of topology.namespaces) {
    // The CRD schema requires at least one rule list, so DNS shares the policy that turns on default deny.
    // Authentication is never required on DNS: while SPIRE is not issuing identities it would drop DNS too.
    policies.push(policy(NAMESPACE_POLICY, namespace, { endpointSelector: {}, enableDefaultDeny: { ingress: true, egress: true }, egress: [dnsEgressRule()] }));
  }

  const services = indexServices(topology);
  const outgoing = groupEdges(topology.edges, (edge) => edge.from);
  const incoming = groupEdges(topology.edges, (edge) => edge.to);
  for (const service of topology.services) {
    const callers = [...groupEdges(incoming.get(service.name) ?? [], (edge) => edge.from)];
    const callees = [...groupEdges(outgoing.get(service.name) ?? [], (edge) => edge.to)];
    const exposed = service.ports.filter((port) => service.exposedPorts.includes(port.port));
    const externals = topology.externalEdges.filter((edge) => edge.from === service.name).map((edge) => edge.to);
    if (callers.length === 0 && callees.length === 0 && exposed.length === 0 && externals.length === 0) continue;

    const spec: Record<string, unknown> = {
      endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': service.name } },
      enableDefaultDeny: { ingress: true, egress: true },
    };
    const ingress: Record<string, unknown>[] = callers.map(([caller, edges]) => ({
      fromEndpoints: [endpointsOf(services.get(caller)!)],
      toPorts: portsOf(edges),
      authentication: { mode: 'required' },
    }));
    if (exposed.length > 0) {
      // Envoy's connections to backends carry the reserved `ingress` identity, which has no SPIFFE ID: the
      // auth manager skips reserved identities (pkg/auth/manager.go), so `authentication` here would drop them.
      ingress.push({ fromEntities: [INGRESS_ENTITY], toPorts: [{ ports: exposed.map((port) => ({ port: String(port.targetPort), protocol: 'TCP' })) }] });
    }
    const egress: Record<string, unknown>[] = callees.map(([callee, edges]) => ({
      toEndpoints: [endpointsOf(services.get(callee)!)],
      toPorts: portsOf(edges),
      authentication: { mode: 'required' },
    }));
    if (externals.length > 0) egress.push(...externals.map(externalEgressRule), dnsProxyEgressRule());
    if (ingress.length > 0) spec.ingress = ingress;
    if (egress.length > 0) spec.egress = egress;
    policies.push(policy(service.name, service.namespace, spec));
  }
  return policies;
}
