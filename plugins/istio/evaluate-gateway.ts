import type { KubeObject } from '../../src/k8s/object.js';
import type { EvaluateContext, Finding, GatewayModel, GatewayRoute, Source } from '../../src/plugin/api.js';
import { admitsRoute, referenceGranted, type GatewayListener } from '../../src/verify/gateway-api.js';
import { GATEWAY_PODS } from './ingress.js';
import { GATEWAY_CLASS, GATEWAY_NAME_LABEL, INGRESS_GATEWAY_NAME, INGRESS_NAMESPACE } from './versions.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** The route kinds the evaluator reads; both attach to HTTP and HTTPS listeners. */
const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute'];

type Listener = GatewayListener & { port: number; protocol: string };

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
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: Filter[];
}

interface Filter {
  requestMirror?: { backendRef?: BackendRef };
}

interface RouteSpec {
  parentRefs?: ParentRef[];
  hostnames?: string[];
  rules?: { backendRefs?: BackendRef[]; filters?: Filter[] }[];
}

/**
 * Returns the ServiceAccount, as `namespace/name`, of every Gateway that istiod deploys itself (class `istio`):
 * `<gateway>-istio` unless the `gateway.istio.io/service-account` annotation names another
 * (deploymentcontroller.go, Istio 1.30.3). Such a gateway's Envoy gets an Istio certificate for that account.
 */
export function readGatewayAccounts(objects: KubeObject[]): Set<string> {
  const accounts = new Set<string>();
  for (const gateway of objects.filter(isGateway)) {
    const spec = (gateway.spec ?? {}) as { gatewayClassName?: string };
    if (spec.gatewayClassName !== GATEWAY_CLASS) continue;
    accounts.add(`${gateway.metadata.namespace ?? 'default'}/${serviceAccountOf(gateway)}`);
  }
  return accounts;
}

function serviceAccountOf(gateway: KubeObject): string {
  return gateway.metadata.annotations?.['gateway.istio.io/service-account'] ?? `${gateway.metadata.name}-${GATEWAY_CLASS}`;
}

/**
 * Reads the ingress gateway and every route attached to it from the objects. Returns undefined when the topology
 * exposes nothing and no gateway exists. A missing Gateway gives a model without routes, so verify names each
 * exposed port that nothing routes to.
 */
export function readGatewayModel(context: EvaluateContext, findings: Finding[]): GatewayModel | undefined {
  const gateways = context.objects.filter(isGateway);
  const gateway = gateways.find((object) => object.metadata.namespace === INGRESS_NAMESPACE && object.metadata.name === INGRESS_GATEWAY_NAME);
  for (const other of gateways) {
    if (other === gateway || (other.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName !== GATEWAY_CLASS) continue;
    findings.push({ subject: `Gateway ${other.metadata.namespace}/${other.metadata.name}`, message: `is a second Istio gateway, which verify does not evaluate: serve every route from ${INGRESS_NAMESPACE}/${INGRESS_GATEWAY_NAME}` });
  }
  if (!gateway && context.topology.exposures.length === 0) return undefined;

  const name = gateway?.metadata.name ?? INGRESS_GATEWAY_NAME;
  const serviceAccount = gateway ? serviceAccountOf(gateway) : `${INGRESS_GATEWAY_NAME}-${GATEWAY_CLASS}`;
  const source: Source = {
    service: serviceAccount,
    namespace: INGRESS_NAMESPACE,
    serviceAccount,
    labels: { [GATEWAY_NAME_LABEL]: name, 'gateway.networking.k8s.io/gateway-class-name': GATEWAY_CLASS },
    meshed: true,
  };
  const routes = gateway ? readRoutes(context.objects, gateway, findings) : [];
  return { source, pods: GATEWAY_PODS, routes };
}

function readRoutes(objects: KubeObject[], gateway: KubeObject, findings: Finding[]): GatewayRoute[] {
  const listeners = ((gateway.spec as { listeners?: Listener[] } | undefined)?.listeners ?? []).filter((listener) => listener.protocol === 'HTTP' || listener.protocol === 'HTTPS');
  const namespaceLabels = new Map(
    objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, { ...object.metadata.labels, 'kubernetes.io/metadata.name': object.metadata.name }]),
  );
  const routes: GatewayRoute[] = [];

  for (const route of objects.filter((object) => ROUTE_KINDS.includes(object.kind) && object.apiVersion.startsWith(`${GATEWAY_GROUP}/`))) {
    const namespace = route.metadata.namespace ?? 'default';
    const spec = (route.spec ?? {}) as RouteSpec;
    const attached = (spec.parentRefs ?? [])
      .filter((ref) => refersTo(ref, namespace, gateway))
      .flatMap((ref) => listeners.filter((listener) => selectsListener(ref, listener) && admitsRoute(listener, route.kind, namespace, INGRESS_NAMESPACE, (name) => namespaceLabels.get(name) ?? { 'kubernetes.io/metadata.name': name })));
    if (attached.length === 0) continue;

    const hostnames = [...new Set(attached.flatMap((listener) => effectiveHostnames(listener.hostname, spec.hostnames ?? [])))];
    const resource = `${route.kind} ${namespace}/${route.metadata.name}`;
    for (const rule of spec.rules ?? []) {
      // The gateway sends requests to each weighted backend, and copies of them to each mirror.
      const targets = [
        ...(rule.backendRefs ?? []).filter((backend) => backend.weight !== 0),
        ...mirrorsOf(rule.filters),
        ...(rule.backendRefs ?? []).flatMap((backend) => mirrorsOf(backend.filters)),
      ];
      for (const backend of targets) {
        if ((backend.group ?? '') !== '' || (backend.kind ?? 'Service') !== 'Service') {
          findings.push({ subject: resource, message: `sends requests to ${backend.kind ?? 'Service'} ${backend.name}, which verify does not evaluate: route to Services only` });
          continue;
        }
        const backendNamespace = backend.namespace ?? namespace;
        // Gateway API resolves a reference into another namespace only when a ReferenceGrant there allows it.
        if (backendNamespace !== namespace && !referenceGranted(objects, route.kind, namespace, backendNamespace, backend.name)) continue;
        if (backend.port === undefined) {
          findings.push({ subject: resource, message: `names Service ${backendNamespace}/${backend.name} without a port: set backendRefs[].port` });
          continue;
        }
        for (const hostname of hostnames) routes.push({ hostname, service: backend.name, namespace: backendNamespace, port: backend.port, resource });
      }
    }
  }
  return routes;
}

function isGateway(object: KubeObject): boolean {
  return object.kind === 'Gateway' && object.apiVersion.startsWith(`${GATEWAY_GROUP}/`);
}

function refersTo(ref: ParentRef, routeNamespace: string, gateway: KubeObject): boolean {
  return (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (ref.kind ?? 'Gateway') === 'Gateway' && (ref.namespace ?? routeNamespace) === gateway.metadata.namespace && ref.name === gateway.metadata.name;
}

function selectsListener(ref: ParentRef, listener: Listener): boolean {
  return (ref.sectionName === undefined || ref.sectionName === listener.name) && (ref.port === undefined || ref.port === listener.port);
}

/** Lists the host names a route serves on a listener: its own names that the listener's name admits, `*` when neither sets one. */
function effectiveHostnames(listenerHostname: string | undefined, routeHostnames: string[]): string[] {
  if (routeHostnames.length === 0) return [listenerHostname ?? '*'];
  if (listenerHostname === undefined) return routeHostnames;
  return routeHostnames.filter((hostname) => hostnameMatches(listenerHostname, hostname) || hostnameMatches(hostname, listenerHostname));
}

function hostnameMatches(pattern: string, hostname: string): boolean {
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1));
  return pattern === hostname;
}

function mirrorsOf(filters: Filter[] | undefined): BackendRef[] {
  return (filters ?? []).flatMap((filter) => (filter.requestMirror?.backendRef ? [filter.requestMirror.backendRef] : []));
}
