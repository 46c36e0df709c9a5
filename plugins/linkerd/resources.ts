import { buildNetworkPolicy, groupEdges, indexServices, podsInNamespace, tcp } from '../../src/k8s/network-policy.js';
import { SERVER_COMPONENT, selectorOf, type KubeObject } from '../../src/k8s/object.js';
import type { Service, ServicePort, Topology } from '../../src/topology/types.js';
import {
  CONTROL_PLANE_COMPONENT_LABEL,
  CONTROL_PLANE_NAMESPACE,
  DESTINATION_PORT,
  IDENTITY_PORT,
  POLICY_PORT,
  PROXY_PORTS,
} from './versions.js';

const POLICY_API = 'policy.linkerd.io';

/** The annotation that injects the proxy, and the one that sets the policy of ports without a Server. */
export const INJECT_ANNOTATION = 'linkerd.io/inject';
export const DEFAULT_POLICY_ANNOTATION = 'config.linkerd.io/default-inbound-policy';

/**
 * Annotations of every application namespace: inject the proxy, and deny every connection that no Server
 * and AuthorizationPolicy allows. Linkerd reads both when a pod is created (linkerd/website
 * `2-edge/features/server-policy.md`).
 */
export const NAMESPACE_ANNOTATIONS = { [INJECT_ANNOTATION]: 'enabled', [DEFAULT_POLICY_ANNOTATION]: 'deny' } as const;

/**
 * The Server `proxyProtocol` of a port: HTTP variants by name, and `opaque` for databases and other TCP
 * protocols, because the proxy must not wait for a client preamble that a server-first protocol never sends.
 * Values from the Server reference in linkerd/website `2-edge/reference/authorization-policy.md`.
 */
export function proxyProtocolOf(port: ServicePort): string {
  switch (port.protocol) {
    case 'http':
      return 'HTTP/1';
    case 'http2':
      return 'HTTP/2';
    case 'grpc':
      return 'gRPC';
    default:
      return 'opaque';
  }
}

/**
 * The Service `appProtocol` of a port, with the values Linkerd maps to a protocol (linkerd/website
 * `2-edge/features/protocol-detection.md`): `http` is HTTP/1, `kubernetes.io/h2c` is HTTP/2 (gRPC included),
 * and `linkerd.io/opaque` is opaque TCP. Linkerd treats any other value as opaque too, so only these name the protocol.
 */
export function appProtocolOf(port: ServicePort): string {
  switch (port.protocol) {
    case 'http':
      return 'http';
    case 'http2':
    case 'grpc':
      return 'kubernetes.io/h2c';
    default:
      return 'linkerd.io/opaque';
  }
}

export function serverNameOf(service: Service, port: ServicePort): string {
  return `${service.name}-${port.name}`;
}

export function authenticationNameOf(callee: Service, caller: Service): string {
  return `${callee.name}-from-${caller.name}`;
}

export function authorizationNameOf(callee: Service, port: ServicePort, caller: Service): string {
  return `${serverNameOf(callee, port)}-from-${caller.name}`;
}

/**
 * Builds one Server per port of every service. A Server denies whatever no AuthorizationPolicy allows
 * (`accessPolicy: deny`), so a port without callers accepts nothing, not even from meshed clients.
 */
export function buildServers(topology: Topology): KubeObject[] {
  return topology.services.flatMap((service) =>
    service.ports.map((port) => ({
      apiVersion: `${POLICY_API}/v1beta3`,
      kind: 'Server',
      metadata: { name: serverNameOf(service, port), namespace: service.namespace, labels: { 'app.kubernetes.io/part-of': topology.name } },
      spec: {
        // Only the application's own pods: the verification clients carry the name label but not the component.
        podSelector: { matchLabels: { ...selectorOf(service.name), ...SERVER_COMPONENT } },
        // The container port: the inbound proxy matches Servers on the port named in the transport header.
        port: port.targetPort,
        proxyProtocol: proxyProtocolOf(port),
        accessPolicy: 'deny',
      },
    })),
  );
}

/**
 * Builds, per caller and callee, a MeshTLSAuthentication naming the caller's ServiceAccount, and per edge an
 * AuthorizationPolicy that lets that identity use the callee port's Server. A MeshTLSAuthentication matches
 * only clients with a Linkerd certificate, so every allowed connection is mutual TLS.
 */
export function buildAuthorizations(topology: Topology): KubeObject[] {
  const services = indexServices(topology);
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const objects: KubeObject[] = [];

  for (const edges of groupEdges(topology.edges, (edge) => `${edge.to}\0${edge.from}`).values()) {
    const callee = services.get(edges[0]!.to)!;
    const caller = services.get(edges[0]!.from)!;
    const authentication = authenticationNameOf(callee, caller);
    objects.push({
      apiVersion: `${POLICY_API}/v1alpha1`,
      kind: 'MeshTLSAuthentication',
      metadata: { name: authentication, namespace: callee.namespace, labels },
      spec: { identityRefs: [{ kind: 'ServiceAccount', name: caller.name, namespace: caller.namespace }] },
    });
    for (const edge of edges) {
      objects.push({
        apiVersion: `${POLICY_API}/v1alpha1`,
        kind: 'AuthorizationPolicy',
        metadata: { name: authorizationNameOf(callee, edge.port, caller), namespace: callee.namespace, labels },
        spec: {
          targetRef: { group: POLICY_API, kind: 'Server', name: serverNameOf(callee, edge.port) },
          requiredAuthenticationRefs: [{ group: POLICY_API, kind: 'MeshTLSAuthentication', name: authentication }],
        },
      });
    }
  }
  return objects;
}

/**
 * Builds the NetworkPolicies Linkerd's own traffic needs, in the application namespaces:
 * - every pod reaches the identity (8080), destination (8086) and policy (8090) controllers;
 * - per declared caller and callee, the caller's proxy reaches the callee's proxy on its inbound port 4143.
 *   Since edge-25.3.2 (linkerd/linkerd2 commit "Default meshed traffic to inbound proxy port", the
 *   `proxy.outboundTransportMode: transport-header` default) a meshed client connects to the server's port
 *   4143 and names the real port in a header inside TLS, so NetworkPolicy never matches the service port of
 *   meshed traffic. These rules still allow only the declared callers, and the Servers hold the ports.
 * The webhooks live in the `linkerd` namespace, which this repository does not restrict, so they need no rule.
 */
export function buildPlumbingPolicies(topology: Topology): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const services = indexServices(topology);
  const controlPlane = (component: string) => podsInNamespace(CONTROL_PLANE_NAMESPACE, { [CONTROL_PLANE_COMPONENT_LABEL]: component });

  const policies: KubeObject[] = topology.namespaces.map((namespace) =>
    buildNetworkPolicy({
      name: 'allow-linkerd-control-plane',
      namespace,
      podSelector: {},
      egress: [
        { peers: [controlPlane('identity')], ports: [tcp(IDENTITY_PORT)] },
        { peers: [controlPlane('destination')], ports: [tcp(DESTINATION_PORT), tcp(POLICY_PORT)] },
      ],
      labels,
    }),
  );

  const outgoing = groupEdges(topology.edges, (edge) => edge.from);
  const incoming = groupEdges(topology.edges, (edge) => edge.to);
  for (const service of topology.services) {
    const callees = [...new Set((outgoing.get(service.name) ?? []).map((edge) => edge.to))];
    if (callees.length > 0) {
      policies.push(
        buildNetworkPolicy({
          name: `${service.name}-linkerd-proxy-egress`,
          namespace: service.namespace,
          podSelector: { matchLabels: selectorOf(service.name) },
          egress: callees.map((callee) => ({ peers: [podsInNamespace(services.get(callee)!.namespace, selectorOf(callee))], ports: [tcp(PROXY_PORTS.inbound)] })),
          labels,
        }),
      );
    }
    const callers = [...new Set((incoming.get(service.name) ?? []).map((edge) => edge.from))];
    if (callers.length > 0) {
      policies.push(
        buildNetworkPolicy({
          name: `${service.name}-linkerd-proxy-ingress`,
          namespace: service.namespace,
          podSelector: { matchLabels: selectorOf(service.name) },
          ingress: callers.map((caller) => ({ peers: [podsInNamespace(services.get(caller)!.namespace, selectorOf(caller))], ports: [tcp(PROXY_PORTS.inbound)] })),
          labels,
        }),
      );
    }
  }
  return policies;
}
