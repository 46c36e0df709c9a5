import { podsInNamespace, buildNetworkPolicy, groupEdges, indexServices, tcp } from '../../src/k8s/network-policy.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
import type { Topology } from '../../src/topology/types.js';
import { ISTIOD_XDS_PORT, ROOT_NAMESPACE, TRUST_DOMAIN } from './versions.js';

/** The SPIFFE principal Istio gives a service account, without the `spiffe://` scheme, as AuthorizationPolicy expects it. */
export function principalOf(namespace: string, serviceAccount: string): string {
  return `${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Builds STRICT PeerAuthentication mesh-wide and in every application namespace, so no namespace can fall back to plaintext. */
export function buildPeerAuthentications(topology: Topology): KubeObject[] {
  const strict = (namespace: string): KubeObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace },
    spec: { mtls: { mode: 'STRICT' } },
  });
  return [strict(ROOT_NAMESPACE), ...topology.namespaces.map(strict)];
}

/** Builds an allow-nothing policy per namespace and one ALLOW policy per caller and callee, by principal and port. */
export function buildAuthorizationPolicies(topology: Topology): KubeObject[] {
  const policies: KubeObject[] = topology.namespaces.map((namespace) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-nothing', namespace },
    // An ALLOW policy without rules matches no request, so every workload in the namespace denies by default.
    spec: {},
  }));

  const services = indexServices(topology);
  for (const edges of groupEdges(topology.edges, (edge) => `${edge.to}\0${edge.from}`).values()) {
    const callee = services.get(edges[0]!.to)!;
    const caller = services.get(edges[0]!.from)!;
    policies.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `${callee.name}-from-${caller.name}`.slice(0, 253), namespace: callee.namespace },
      spec: {
        selector: { matchLabels: selectorOf(callee.name) },
        action: 'ALLOW',
        rules: [
          {
            from: [{ source: { principals: [principalOf(caller.namespace, caller.name)] } }],
            // Ports are the workload's container ports: Istio matches them after the Service forwards.
            to: [{ operation: { ports: edges.map((edge) => String(edge.port.targetPort)) } }],
          },
        ],
      },
    });
  }
  return policies;
}

/** Lets every pod of each application namespace reach istiod for configuration and certificates, and nothing more. */
export function buildPlumbingPolicies(topology: Topology): KubeObject[] {
  return topology.namespaces.map((namespace) =>
    buildNetworkPolicy({
      name: 'allow-istio-control-plane',
      namespace,
      podSelector: {},
      egress: [{ peers: [podsInNamespace(ROOT_NAMESPACE, { app: 'istiod' })], ports: [tcp(ISTIOD_XDS_PORT)] }],
      labels: { 'app.kubernetes.io/part-of': topology.name },
    }),
  );
}
