import { groupEdges, indexServices } from '../../src/k8s/network-policy.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { Edge, Service, Topology } from '../../src/topology/types.js';

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

/** Builds the only egress rule every pod needs outside its edges: cluster DNS, never behind authentication. */
export function dnsEgressRule(): Record<string, unknown> {
  return {
    toEndpoints: [{ matchLabels: { [NAMESPACE_LABEL]: 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
    toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '53', protocol: 'TCP' }] }],
  };
}

/**
 * Builds the CiliumNetworkPolicies: per namespace, default deny in both directions with DNS allowed without
 * authentication. Per service, ingress from exactly its declared callers and egress to exactly its declared
 * callees, port by port, each rule requiring SPIRE mutual authentication.
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
    if (callers.length === 0 && callees.length === 0) continue;

    const spec: Record<string, unknown> = {
      endpointSelector: { matchLabels: { 'k8s:app.kubernetes.io/name': service.name } },
      enableDefaultDeny: { ingress: true, egress: true },
    };
    if (callers.length > 0) {
      spec.ingress = callers.map(([caller, edges]) => ({
        fromEndpoints: [endpointsOf(services.get(caller)!)],
        toPorts: portsOf(edges),
        authentication: { mode: 'required' },
      }));
    }
    if (callees.length > 0) {
      spec.egress = callees.map(([callee, edges]) => ({
        toEndpoints: [endpointsOf(services.get(callee)!)],
        toPorts: portsOf(edges),
        authentication: { mode: 'required' },
      }));
    }
    policies.push(policy(service.name, service.namespace, spec));
  }
  return policies;
}
