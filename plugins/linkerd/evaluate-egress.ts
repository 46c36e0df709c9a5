import type { Finding, MeshDecision, Source } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock } from '../../src/netpol/cidr.js';
import type { ExternalService } from '../../src/topology/types.js';
import { routeKindOf } from './edge.js';

/** The namespace whose EgressNetworks apply to clients of every namespace: the chart's `egress.globalEgressNetworkNamespace`. */
const GLOBAL_EGRESS_NAMESPACE = 'linkerd-egress';

/** Route kinds in the order Linkerd picks one protocol for a port of an EgressNetwork (policy-controller/grpc/src/outbound.rs at edge-26.8.3). */
const PROTOCOL_ORDER = ['GRPCRoute', 'HTTPRoute', 'TLSRoute', 'TCPRoute'] as const;

interface EgressNetwork {
  id: string;
  name: string;
  namespace: string;
  trafficPolicy: string;
  /** The CIDRs it captures; undefined for every address outside the cluster networks, the default. */
  networks?: CidrBlock[];
}

interface EgressRoute {
  id: string;
  kind: string;
  namespace: string;
  hostnames: string[];
  parents: { name: string; namespace: string; port?: number }[];
}

export interface EgressModel {
  networks: EgressNetwork[];
  routes: EgressRoute[];
}

/** Reads the EgressNetworks and the Gateway API routes attached to them. */
export function readEgress(objects: KubeObject[], findings: Finding[]): EgressModel {
  const networks: EgressNetwork[] = [];
  for (const object of objects.filter((candidate) => candidate.kind === 'EgressNetwork' && candidate.apiVersion.startsWith('policy.linkerd.io/'))) {
    const namespace = object.metadata.namespace ?? 'default';
    const id = `EgressNetwork ${namespace}/${object.metadata.name}`;
    const spec = (object.spec ?? {}) as { trafficPolicy?: string; networks?: { cidr: string; except?: string[] }[] };
    const trafficPolicy = spec.trafficPolicy ?? 'Allow';
    if (trafficPolicy !== 'Deny') findings.push({ subject: id, message: `trafficPolicy "${trafficPolicy}" lets every host through: set it to Deny and allow hosts with routes` });
    const blocks = spec.networks?.flatMap((network) => {
      const block = parseCidr(network.cidr);
      if (typeof block === 'string') {
        findings.push({ subject: id, message: `network ${network.cidr} is not a valid CIDR: ${block}` });
        return [];
      }
      if ((network.except ?? []).length > 0) findings.push({ subject: id, message: `network ${network.cidr} has exceptions, which verify does not evaluate` });
      return [block];
    });
    networks.push({ id, name: object.metadata.name, namespace, trafficPolicy, ...(blocks && { networks: blocks }) });
  }

  const routes: EgressRoute[] = [];
  for (const object of objects.filter((candidate) => (PROTOCOL_ORDER as readonly string[]).includes(candidate.kind) && candidate.apiVersion.startsWith('gateway.networking.k8s.io/'))) {
    const namespace = object.metadata.namespace ?? 'default';
    const spec = (object.spec ?? {}) as { hostnames?: string[]; parentRefs?: { group?: string; kind?: string; name: string; namespace?: string; port?: number }[] };
    const parents = (spec.parentRefs ?? [])
      .filter((parent) => parent.kind === 'EgressNetwork' && parent.group === 'policy.linkerd.io')
      .map((parent) => ({ name: parent.name, namespace: parent.namespace ?? namespace, ...(parent.port !== undefined && { port: parent.port }) }));
    if (parents.length === 0) continue;
    routes.push({ id: `${object.kind} ${namespace}/${object.metadata.name}`, kind: object.kind, namespace, hostnames: spec.hostnames ?? [], parents });
  }
  return { networks, routes };
}

/**
 * Decides whether Linkerd lets `source` reach an external host, as its policy controller resolves egress at
 * edge-26.8.3 (policy-controller/k8s/index/src/outbound/index/egress_network.rs). It considers the EgressNetworks of
 * the client's namespace, or else those of the global egress namespace. Among them, the most specific network that
 * contains the address applies. A `Deny` network lets through only what a route attached to it on that port matches.
 * NOTE: without `addresses`, the host's address is unknown, so only networks that capture every outside address
 * (no `networks`, or a /0) are taken to contain it.
 */
export function decideEgress(model: EgressModel, source: Source, external: ExternalService, meshed: boolean): MeshDecision {
  const target = `${external.host}:${external.port}`;
  if (!meshed) return { allowed: true, mtls: false, reason: `${source.namespace}/${source.service} has no Linkerd proxy, so Linkerd does not see its connection to ${target}` };

  const local = model.networks.filter((network) => network.namespace === source.namespace);
  const candidates = local.length > 0 ? local : model.networks.filter((network) => network.namespace === GLOBAL_EGRESS_NAMESPACE);
  const matched = candidates
    .map((network) => ({ network, size: matchedPrefix(network, external) }))
    .filter((entry): entry is { network: EgressNetwork; size: number } => entry.size !== undefined)
    .sort((a, b) => b.size - a.size || a.network.namespace.localeCompare(b.network.namespace) || a.network.name.localeCompare(b.network.name));
  const chosen = matched[0]?.network;
  if (!chosen) return { allowed: true, mtls: false, reason: `no EgressNetwork of namespace ${source.namespace} or ${GLOBAL_EGRESS_NAMESPACE} captures ${target}, so Linkerd lets it through` };
  if (chosen.trafficPolicy !== 'Deny') return { allowed: true, mtls: false, reason: `${chosen.id} captures ${target} with trafficPolicy ${chosen.trafficPolicy}` };

  const attached = model.routes.filter(
    (route) =>
      (route.namespace === chosen.namespace || route.namespace === source.namespace) &&
      route.parents.some((parent) => parent.name === chosen.name && parent.namespace === chosen.namespace && (parent.port === undefined || parent.port === external.port)),
  );
  const served = PROTOCOL_ORDER.find((kind) => attached.some((route) => route.kind === kind));
  const needed = routeKindOf(external);
  if (!served) return { allowed: false, mtls: false, reason: `${chosen.id} denies ${target}: no route is attached to it on port ${external.port}` };
  if (served !== needed) {
    return { allowed: false, mtls: false, reason: `${chosen.id} serves port ${external.port} as a ${served}, so the ${external.protocol} connection to ${target} needs a ${needed} that cannot apply` };
  }
  const route = attached.find((candidate) => candidate.kind === needed && (needed === 'TCPRoute' || matchesHostname(candidate.hostnames, external.host)));
  if (!route) return { allowed: false, mtls: false, reason: `${chosen.id} denies ${target}: no ${needed} attached to it on port ${external.port} names ${external.host}` };
  const by = needed === 'TCPRoute' ? `port ${external.port} of every address it captures` : `host ${external.host} on port ${external.port}`;
  return { allowed: true, mtls: false, reason: `${route.id} allows ${by} through ${chosen.id}, for every client in namespace ${source.namespace}` };
}

/** Returns the prefix length of the network's CIDR that contains the external's address, or undefined when none does. */
function matchedPrefix(network: EgressNetwork, external: ExternalService): number | undefined {
  if (!network.networks) return 0;
  const first = external.addresses[0];
  const address = first ? parseIpAddress(first.split('/')[0]!) : undefined;
  const containing = network.networks.filter((block) => (address ? cidrContains(block, address) : block.prefixLength === 0));
  if (containing.length === 0) return undefined;
  return Math.max(...containing.map((block) => block.prefixLength));
}

/** Matches a host against route hostnames: no hostnames match every host, and `*.example.com` matches one or more labels. */
function matchesHostname(hostnames: string[], host: string): boolean {
  if (hostnames.length === 0) return true;
  return hostnames.some((name) => (name.startsWith('*.') ? host.endsWith(name.slice(1)) : name === host));
}
