import { buildNetworkPolicy, podsInNamespace, tcp, type NetworkPolicyRule } from '../../src/k8s/network-policy.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
import type { GatewayPods, IngressGateway } from '../../src/plugin/api.js';
import type { Exposure, Topology } from '../../src/topology/types.js';
import { principalOf } from './resources.js';
import {
  GATEWAY_CLASS,
  GATEWAY_NAME_LABEL,
  INGRESS_DEPLOYMENT_NAME,
  INGRESS_GATEWAY_NAME,
  INGRESS_LISTENER_PORT,
  INGRESS_NAMESPACE,
  ISTIOD_XDS_PORT,
  ROOT_NAMESPACE,
} from './versions.js';

/** The name of the gateway's one listener; istiod also names the gateway Service's port after it. */
export const INGRESS_LISTENER_NAME = 'http';

/**
 * The gateway's pods as NetworkPolicy selects them. istiod labels the pods of the Deployment it creates for a
 * Gateway with the Gateway's name under this key and selects them by it (kube-gateway.yaml, Istio 1.30.3).
 */
export const GATEWAY_PODS: GatewayPods = { namespace: INGRESS_NAMESPACE, labels: { [GATEWAY_NAME_LABEL]: INGRESS_GATEWAY_NAME } };

/**
 * The principal of the gateway's Envoy. The Deployment istiod creates runs `pilot-agent proxy router` with the
 * ServiceAccount `<gateway>-istio`, fetches an Istio certificate for it from istiod on port 15012, and so opens
 * mutual TLS to meshed backends like any sidecar (kube-gateway.yaml, Istio 1.30.3).
 */
export const GATEWAY_PRINCIPAL = principalOf(INGRESS_NAMESPACE, INGRESS_DEPLOYMENT_NAME);

/** The gateway as the core uses it: its pods, and `kubectl port-forward` to its Service on the listener's port. */
export const INGRESS: IngressGateway = {
  pods: GATEWAY_PODS,
  entry: { portForward: { namespace: INGRESS_NAMESPACE, service: INGRESS_DEPLOYMENT_NAME, port: INGRESS_LISTENER_PORT } },
};

/** Names the AuthorizationPolicy that lets the gateway reach the exposed ports of one service. */
export function gatewayPolicyName(service: string): string {
  return `${service}-from-istio-ingress`;
}

/**
 * Builds the gateway's namespace, the Gateway, its NetworkPolicies, and one route per exposed port.
 * Returns nothing when the topology exposes no service, so such repositories deploy no gateway.
 */
export function buildIngressManifests(topology: Topology): KubeObject[] {
  if (topology.exposures.length === 0) return [];
  return [buildGatewayNamespace(), buildGateway(topology), ...buildGatewayNetworkPolicies(topology), ...topology.exposures.map(buildRoute)];
}

function buildGatewayNamespace(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: INGRESS_NAMESPACE,
      // No `app.kubernetes.io/part-of` label: the listener admits routes only from namespaces that carry it.
      // The gateway pod meets "restricted" because istiod gets gateways.seccompProfile=RuntimeDefault, and the
      // one sysctl it sets, net.ipv4.ip_unprivileged_port_start, is on the baseline list of safe sysctls.
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  };
}

function buildGateway(topology: Topology): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name: INGRESS_GATEWAY_NAME,
      namespace: INGRESS_NAMESPACE,
      // istiod makes the gateway's Service a LoadBalancer unless this annotation sets another type
      // (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go, Istio 1.30.3). kind has no load balancer,
      // and make verify reaches the gateway through kubectl port-forward.
      annotations: { 'networking.istio.io/service-type': 'ClusterIP' },
    },
    spec: {
      gatewayClassName: GATEWAY_CLASS,
      listeners: [
        {
          name: INGRESS_LISTENER_NAME,
          port: INGRESS_LISTENER_PORT,
          protocol: 'HTTP',
          allowedRoutes: {
            // Only the application's namespaces may attach routes, and only HTTP and gRPC routes.
            namespaces: { from: 'Selector', selector: { matchLabels: { 'app.kubernetes.io/part-of': topology.name } } },
            kinds: [
              { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' },
              { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' },
            ],
          },
        },
      ],
    },
  };
}

/**
 * Builds default deny for the gateway's namespace, then opens exactly what the gateway needs: its listener from
 * anywhere, DNS, istiod for configuration and its certificate, and the exposed container ports of each exposed
 * service. The core admits the gateway on the callees' side.
 */
function buildGatewayNetworkPolicies(topology: Topology): KubeObject[] {
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const backends: NetworkPolicyRule[] = groupExposures(topology).map((exposures) => ({
    peers: [podsInNamespace(exposures[0]!.namespace, selectorOf(exposures[0]!.service))],
    ports: exposures.map((exposure) => tcp(exposure.port.targetPort)),
  }));

  return [
    buildNetworkPolicy({ name: 'default-deny', namespace: INGRESS_NAMESPACE, podSelector: {}, ingress: [], egress: [], labels }),
    buildNetworkPolicy({
      name: 'allow-dns',
      namespace: INGRESS_NAMESPACE,
      podSelector: {},
      egress: [{ peers: [podsInNamespace('kube-system', { 'k8s-app': 'kube-dns' })], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] }],
      labels,
    }),
    buildNetworkPolicy({
      name: 'ingress-gateway',
      namespace: INGRESS_NAMESPACE,
      podSelector: { matchLabels: GATEWAY_PODS.labels },
      // A rule without peers admits every source: clients outside the cluster reach the listener.
      ingress: [{ peers: [], ports: [tcp(INGRESS_LISTENER_PORT)] }],
      egress: [{ peers: [podsInNamespace(ROOT_NAMESPACE, { app: 'istiod' })], ports: [tcp(ISTIOD_XDS_PORT)] }, ...backends],
      labels,
    }),
  ];
}

/** Groups the exposed ports by service, in the topology's order. */
function groupExposures(topology: Topology): Exposure[][] {
  const byService = new Map<string, Exposure[]>();
  for (const exposure of topology.exposures) byService.set(exposure.service, [...(byService.get(exposure.service) ?? []), exposure]);
  return [...byService.values()];
}

/** Builds the route of one exposed port: GRPCRoute for gRPC, HTTPRoute for HTTP and HTTP/2, in the service's namespace. */
function buildRoute(exposure: Exposure): KubeObject {
  const grpc = exposure.port.protocol === 'grpc';
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: grpc ? 'GRPCRoute' : 'HTTPRoute',
    metadata: { name: `${exposure.service}-${exposure.port.name}`, namespace: exposure.namespace },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: INGRESS_NAMESPACE, name: INGRESS_GATEWAY_NAME, sectionName: INGRESS_LISTENER_NAME }],
      hostnames: [exposure.hostname],
      rules: [{ backendRefs: [{ group: '', kind: 'Service', name: exposure.service, port: exposure.port.port }] }],
    },
  };
}

/** Builds one ALLOW policy per exposed service: the gateway's principal, on the exposed container ports only. */
export function buildGatewayAuthorizationPolicies(topology: Topology): KubeObject[] {
  return groupExposures(topology).map((exposures) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: gatewayPolicyName(exposures[0]!.service), namespace: exposures[0]!.namespace },
    spec: {
      selector: { matchLabels: selectorOf(exposures[0]!.service) },
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: [GATEWAY_PRINCIPAL] } }],
          to: [{ operation: { ports: exposures.map((exposure) => String(exposure.port.targetPort)) } }],
        },
      ],
    },
  }));
}
