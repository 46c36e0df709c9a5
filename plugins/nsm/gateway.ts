import { buildEdgeGateway, EDGE_GATEWAY_NAME, EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector, readEdgeGatewayRoutes, type EdgeGateway } from '../../src/k8s/edge-gateway.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { Finding, GatewayModel, MeshDecision, PodTemplate, Source } from '../../src/plugin/api.js';
import type { Service, ServicePort, Topology } from '../../src/topology/types.js';

/**
 * Builds the ingress gateway: the shared nginx edge gateway, left out of NSM. NSM v1.18.0 ships no gateway, so the
 * gateway proxies to each exposed Service's cluster DNS name over the cluster network. It gets no NSM annotation,
 * and so no NSM interface. The core's ingress NetworkPolicy of each exposed service admits the gateway's pods on
 * the exposed target ports only, and the gateway's own egress policy allows nothing else. A called service's
 * Service is headless on the nsm app path, so its name gives the pod's address, which changes with the pod:
 * nginx resolves the names while it runs.
 */
export function buildGateway(topology: Topology): EdgeGateway | undefined {
  if (topology.exposures.length === 0) return undefined;
  return buildEdgeGateway(topology, { resolveWhileRunning: true });
}

/** The gateway's routes and identity as `verify` models them, and how its connections are decided. */
export interface GatewayEvaluation {
  model: GatewayModel;
  /** Decides a connection from `source` when `source` is the gateway; returns undefined for any other source. */
  decide(source: Source, target: Service, port: ServicePort): MeshDecision | undefined;
  /**
   * Lists the services the routes forward to when `source` is the gateway, which include every service `decide`
   * allows it. Returns undefined for any other source.
   */
  routedServices(source: Source): string[] | undefined;
  findings: Finding[];
}

/**
 * Reads the gateway from the objects. NSM takes no part in the gateway's connections, so what limits them beside
 * NetworkPolicy is the gateway's own nginx configuration: the gateway opens a connection to a service port only
 * when a server block forwards a host name to it. `decide` counts exactly those ports as allowed, never as mTLS.
 */
export function evaluateGateway(objects: KubeObject[], topology: Topology): GatewayEvaluation | undefined {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.metadata.namespace === EDGE_GATEWAY_NAMESPACE && object.metadata.name === EDGE_GATEWAY_NAME);
  if (topology.exposures.length === 0 && !deployment) return undefined;

  const { routes, findings } = readEdgeGatewayRoutes(objects);
  const template = (deployment?.spec as { template?: PodTemplate } | undefined)?.template;
  const templateSpec = template?.spec as { serviceAccountName?: string } | undefined;
  const source: Source = {
    service: EDGE_GATEWAY_NAME,
    namespace: EDGE_GATEWAY_NAMESPACE,
    serviceAccount: templateSpec?.serviceAccountName ?? 'default',
    labels: template?.metadata.labels ?? edgeGatewayPodSelector(),
    // The gateway has no NSM interface: it is not an NSM client.
    meshed: false,
  };
  if (!deployment) findings.push({ subject: `Deployment ${EDGE_GATEWAY_NAMESPACE}/${EDGE_GATEWAY_NAME}`, message: 'is missing, so nothing serves the exposed ports' });

  const isGateway = (candidate: Source): boolean =>
    candidate.namespace === source.namespace && candidate.serviceAccount === source.serviceAccount && candidate.service === source.service;

  const decide = (candidate: Source, target: Service, port: ServicePort): MeshDecision | undefined => {
    if (!isGateway(candidate)) return undefined;
    const matching = routes.filter((route) => route.service === target.name && route.namespace === target.namespace && route.port === port.port);
    if (matching.length === 0) {
      return { allowed: false, mtls: false, reason: `no server of the gateway's nginx configuration forwards to ${target.namespace}/${target.name}:${port.port}` };
    }
    const hosts = matching.map((route) => route.hostname).join(', ');
    return {
      allowed: true,
      mtls: false,
      reason: `${matching[0]!.resource.replace(/ \(.*$/, '')} forwards ${hosts} to ${target.namespace}/${target.name}:${port.port} in plain HTTP over the cluster network; NSM carries no gateway traffic, so only NetworkPolicy limits that hop`,
    };
  };

  const routed = [...new Set(routes.map((route) => route.service))];
  const routedServices = (candidate: Source): string[] | undefined => (isGateway(candidate) ? [...routed] : undefined);

  return { model: { source, pods: { namespace: EDGE_GATEWAY_NAMESPACE, labels: edgeGatewayPodSelector() }, routes, mtls: false }, decide, routedServices, findings };
}
