import type { KubeObject } from '../../src/k8s/object.js';
import { admitsRoute, referenceGranted, type GatewayListener } from '../../src/verify/gateway-api.js';
import type { Finding, GatewayRoute } from '../../src/plugin/api.js';
import type { Exposure, Topology } from '../../src/topology/types.js';
import { GATEWAY_CLASS, GATEWAY_LISTENER, GATEWAY_NAME, GATEWAY_NAMESPACE, GATEWAY_PORT } from './versions.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'];

/** Names the route of one exposure: the service and its port's name, which is unique in the service. */
function routeName(exposure: Exposure): string {
  return `${exposure.service}-${exposure.port.name}`;
}

/**
 * Builds the ingress path of a topology that exposes services: the gateway's namespace, and one Gateway of
 * class `cilium` with one plain HTTP listener. Per exposed port, a GRPCRoute (gRPC) or an HTTPRoute (HTTP and
 * HTTP/2) in the service's namespace sends the exposure's host name to that Service port and nowhere else.
 * The listener admits routes only from the namespaces of exposed services.
 */
export function buildGatewayResources(topology: Topology): KubeObject[] {
  if (topology.exposures.length === 0) return [];
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const namespaces = [...new Set(topology.exposures.map((exposure) => exposure.namespace))].sort();

  const namespace: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    // No pods run here: Cilium's Envoy runs in the cilium-envoy DaemonSet in kube-system.
    metadata: { name: GATEWAY_NAMESPACE, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } },
  };
  const gateway: KubeObject = {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'Gateway',
    metadata: { name: GATEWAY_NAME, namespace: GATEWAY_NAMESPACE, labels },
    spec: {
      gatewayClassName: GATEWAY_CLASS,
      listeners: [
        {
          name: GATEWAY_LISTENER,
          protocol: 'HTTP',
          port: GATEWAY_PORT,
          allowedRoutes: {
            namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces }] } },
            kinds: ROUTE_KINDS.map((kind) => ({ group: GATEWAY_GROUP, kind })),
          },
        },
      ],
    },
  };

  const routes = topology.exposures.map((exposure): KubeObject => ({
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: exposure.port.protocol === 'grpc' ? 'GRPCRoute' : 'HTTPRoute',
    metadata: { name: routeName(exposure), namespace: exposure.namespace, labels },
    spec: {
      parentRefs: [{ group: GATEWAY_GROUP, kind: 'Gateway', namespace: GATEWAY_NAMESPACE, name: GATEWAY_NAME, sectionName: GATEWAY_LISTENER }],
      hostnames: [exposure.hostname],
      rules: [{ backendRefs: [{ group: '', kind: 'Service', name: exposure.service, port: exposure.port.port }] }],
    },
  }));
  return [namespace, gateway, ...routes];
}

type Listener = GatewayListener;

interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

interface BackendRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  port?: number;
}

interface RouteRule {
  backendRefs?: (BackendRef & { filters?: RouteFilter[] })[];
  filters?: RouteFilter[];
}

interface RouteFilter {
  type?: string;
  requestMirror?: { backendRef?: BackendRef };
}

/**
 * Reads the routes attached to the repository's Gateway, as Cilium's controller would program Envoy. A route
 * counts when a parentRef names the Gateway (and, if given, its listener and port), the listener's
 * allowedRoutes admit the route's namespace and kind, and its host names meet the listener's. Each backend
 * and each request mirror of each rule becomes one route per host name. A route without host names matches
 * every host, so it is reported with the host name `*`. A backend in another namespace counts only with a
 * ReferenceGrant that allows it.
 */
export function readGatewayRoutes(objects: readonly KubeObject[], namespaceLabels: (namespace: string) => Record<string, string>, findings: Finding[]): GatewayRoute[] {
  const gateway = objects.find((object) => object.kind === 'Gateway' && object.apiVersion.startsWith(`${GATEWAY_GROUP}/`) && object.metadata.name === GATEWAY_NAME && object.metadata.namespace === GATEWAY_NAMESPACE);
  const subject = `Gateway ${GATEWAY_NAMESPACE}/${GATEWAY_NAME}`;
  if (!gateway) return [];
  const spec = (gateway.spec ?? {}) as { gatewayClassName?: string; listeners?: Listener[] };
  if (spec.gatewayClassName !== GATEWAY_CLASS) {
    findings.push({ subject, message: `has gatewayClassName "${spec.gatewayClassName ?? ''}", so Cilium's controller does not program it: set it to "${GATEWAY_CLASS}"` });
    return [];
  }
  const listeners = spec.listeners ?? [];
  if (!listeners.some((listener) => listener.port === GATEWAY_PORT)) {
    findings.push({ subject, message: `has no listener on port ${GATEWAY_PORT}, the port that kind maps to the host for make verify` });
  }

  const routes: GatewayRoute[] = [];
  for (const route of objects) {
    if (!ROUTE_KINDS.includes(route.kind) || !route.apiVersion.startsWith(`${GATEWAY_GROUP}/`)) continue;
    const namespace = route.metadata.namespace ?? 'default';
    const resource = `${route.kind} ${namespace}/${route.metadata.name}`;
    const routeSpec = (route.spec ?? {}) as { parentRefs?: ParentRef[]; hostnames?: string[]; rules?: RouteRule[] };
    const attached = listeners.filter((listener) => (routeSpec.parentRefs ?? []).some((parent) => refersTo(parent, namespace, listener)) && admitsRoute(listener, route.kind, namespace, GATEWAY_NAMESPACE, namespaceLabels));
    if (attached.length === 0) continue;

    const hostnames = (routeSpec.hostnames ?? []).length > 0 ? routeSpec.hostnames! : ['*'];
    const served = hostnames.filter((hostname) => attached.some((listener) => hostnamesIntersect(listener.hostname, hostname)));
    for (const backend of (routeSpec.rules ?? []).flatMap(backendsOf)) {
      if ((backend.group ?? '') !== '' || (backend.kind ?? 'Service') !== 'Service') {
        findings.push({ subject: resource, message: `sends traffic to ${backend.kind ?? 'Service'} ${backend.name}, which verify does not evaluate` });
        continue;
      }
      const backendNamespace = backend.namespace ?? namespace;
      if (backendNamespace !== namespace && !referenceGranted(objects, route.kind, namespace, backendNamespace, backend.name)) continue;
      for (const hostname of served) {
        routes.push({ hostname, service: backend.name, namespace: backendNamespace, port: backend.port ?? 0, resource });
      }
    }
  }
  return routes;
}

function backendsOf(rule: RouteRule): BackendRef[] {
  const mirrors = (filters: RouteFilter[] | undefined) => (filters ?? []).flatMap((filter) => (filter.requestMirror?.backendRef ? [filter.requestMirror.backendRef] : []));
  return [...(rule.backendRefs ?? []).flatMap((backend) => [backend, ...mirrors(backend.filters)]), ...mirrors(rule.filters)];
}

function refersTo(parent: ParentRef, routeNamespace: string, listener: Listener): boolean {
  if ((parent.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (parent.kind ?? 'Gateway') !== 'Gateway') return false;
  if (parent.name !== GATEWAY_NAME || (parent.namespace ?? routeNamespace) !== GATEWAY_NAMESPACE) return false;
  if (parent.sectionName !== undefined && parent.sectionName !== listener.name) return false;
  return parent.port === undefined || parent.port === listener.port;
}

/** Returns whether a listener's host name and a route's host name can both match some request (Gateway API hostname rules). */
function hostnamesIntersect(listenerHostname: string | undefined, routeHostname: string): boolean {
  if (listenerHostname === undefined || routeHostname === '*') return true;
  const covers = (wildcard: string, name: string) => wildcard.startsWith('*.') && name.endsWith(wildcard.slice(1)) && name.length > wildcard.length - 1;
  return listenerHostname === routeHostname || covers(listenerHostname, routeHostname) || covers(routeHostname, listenerHostname);
}
