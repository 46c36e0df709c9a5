import type { Finding, MeshDecision, Source } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { cidrContains, parseCidr, parseIpAddress, type CidrBlock, type IpAddress } from '../../src/netpol/cidr.js';
import { candidateAddresses, rangesOf } from '../../src/verify/address-ranges.js';
import type { ExternalService } from '../../src/topology/types.js';
import { CLUSTER_NETWORKS, overlappedClusterNetwork, routeKindOf } from './edge.js';

/** The namespace whose EgressNetworks apply to clients of every namespace: the chart's `egress.globalEgressNetworkNamespace`. */
const GLOBAL_EGRESS_NAMESPACE = 'linkerd-egress';

/** Route kinds in the order Linkerd picks one protocol for a port of an EgressNetwork (policy-controller/grpc/src/outbound.rs at edge-26.8.3). */
const PROTOCOL_ORDER = ['GRPCRoute', 'HTTPRoute', 'TLSRoute', 'TCPRoute'] as const;

interface EgressNetwork {
  id: string;
  name: string;
  namespace: string;
  trafficPolicy: string;
  /** The networks it captures; undefined for every address outside the cluster networks, the default. */
  networks?: { block: CidrBlock; except: CidrBlock[] }[];
  /** False when the policy controller rejects it because its networks overlap the cluster networks. */
  accepted: boolean;
}

const clusterBlocks = CLUSTER_NETWORKS.map((cidr) => parseCidr(cidr) as CidrBlock);

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
    let accepted = true;
    const blocks = spec.networks?.flatMap((network) => {
      const block = parseCidr(network.cidr);
      if (typeof block === 'string') {
        findings.push({ subject: id, message: `network ${network.cidr} is not a valid CIDR: ${block}` });
        return [];
      }
      const except = (network.except ?? []).map((cidr) => parseCidr(cidr)).filter((parsed): parsed is CidrBlock => typeof parsed !== 'string');
      if (overlappedClusterNetwork(block) !== undefined && accepted) {
        accepted = false;
        findings.push({
          subject: id,
          message: `network ${network.cidr} overlaps Linkerd's default clusterNetworks, so the policy controller does not accept the EgressNetwork and ignores its routes`,
        });
      }
      return [{ block, except }];
    });
    networks.push({ id, name: object.metadata.name, namespace, trafficPolicy, accepted, ...(blocks && { networks: blocks }) });
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
 * edge-26.8.3 (policy-controller/runtime/src/lib.rs `lookup_ip`, and
 * policy-controller/k8s/index/src/outbound/index/egress_network.rs). It considers the EgressNetworks of the
 * client's namespace, or else those of the global egress namespace. Among them, the network whose matching CIDR
 * contains the fewest addresses applies, then the name decides. A `Deny` network lets through only what an accepted
 * route attached to it on that port matches, and a network that overlaps the cluster networks accepts no route.
 * With `addresses`, the decision is made at one address of every stretch between network boundaries, so it
 * applies to each address. `callerNamespace` is whether a declared caller of the external runs in the client's
 * namespace: when the networks allow some addresses and deny others, that decides which of the two is reported.
 * NOTE: without `addresses`, the host's address is unknown, so only networks that capture every outside address
 * (no `networks`, or a /0) are taken to contain it. Creation time, which Linkerd compares before the name, is
 * not in the manifests.
 */
export function decideEgress(model: EgressModel, source: Source, external: ExternalService, meshed: boolean, callerNamespace: boolean): MeshDecision {
  const target = `${external.host}:${external.port}`;
  if (!meshed) return { allowed: true, mtls: false, reason: `${source.namespace}/${source.service} has no Linkerd proxy, so Linkerd does not see its connection to ${target}` };

  const local = model.networks.filter((network) => network.namespace === source.namespace);
  const candidates = local.length > 0 ? local : model.networks.filter((network) => network.namespace === GLOBAL_EGRESS_NAMESPACE);
  if (external.addresses.length === 0) return decideAt(model, candidates, source, external, undefined);

  const decisions = addressesToCheck(candidates, external).map((address) => decideAt(model, candidates, source, external, address));
  const denied = decisions.find((decision) => !decision.allowed);
  const allowed = decisions.find((decision) => decision.allowed);
  if (!denied || !allowed) return decisions[0]!;
  return callerNamespace ? denied : allowed;
}

/** Decides one connection at one address, or, for `undefined`, at an address no narrower network captures. */
function decideAt(model: EgressModel, candidates: EgressNetwork[], source: Source, external: ExternalService, text: string | undefined): MeshDecision {
  const target = `${external.host}:${external.port}${text ? ` at ${text}` : ''}`;
  const address = text ? parseIpAddress(text) : undefined;
  const matched = candidates
    .map((network) => ({ network, size: matchedSize(network, address) }))
    .filter((entry): entry is { network: EgressNetwork; size: bigint } => entry.size !== undefined)
    .sort((a, b) => compareSizes(a.size, b.size) || a.network.namespace.localeCompare(b.network.namespace) || a.network.name.localeCompare(b.network.name));
  const chosen = matched[0]?.network;
  if (!chosen) return { allowed: true, mtls: false, reason: `no EgressNetwork of namespace ${source.namespace} or ${GLOBAL_EGRESS_NAMESPACE} captures ${target}, so Linkerd lets it through` };
  if (chosen.trafficPolicy !== 'Deny') return { allowed: true, mtls: false, reason: `${chosen.id} captures ${target} with trafficPolicy ${chosen.trafficPolicy}` };
  if (!chosen.accepted) return { allowed: false, mtls: false, reason: `${chosen.id} denies ${target}: it is not accepted, because its networks overlap the cluster networks, so none of its routes apply` };

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

function compareSizes(a: bigint, b: bigint): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Returns one address of each stretch of the external's addresses in which no network starts or ends. */
function addressesToCheck(networks: EgressNetwork[], external: ExternalService): string[] {
  const points = new Map<4 | 6, bigint[]>([
    [4, []],
    [6, []],
  ]);
  const blocks = [...clusterBlocks, ...networks.flatMap((network) => (network.networks ?? []).flatMap(({ block, except }) => [block, ...except]))];
  for (const block of blocks) {
    const first = block.networkPart << block.hostBits;
    points.get(block.family)!.push(first, first + (1n << block.hostBits));
  }
  return candidateAddresses(rangesOf(external), points);
}

/**
 * Returns the number of addresses of the network's smallest CIDR that contains the address (less its
 * exceptions, as Linkerd's `block_size` counts it), or undefined when none does. A network without `networks`
 * is 0.0.0.0/0 and ::/0 less the cluster networks.
 */
function matchedSize(network: EgressNetwork, address: IpAddress | undefined): bigint | undefined {
  const sizeOf = (block: CidrBlock) => 1n << block.hostBits;
  if (!network.networks) {
    const family = address?.family ?? 4;
    if (address && clusterBlocks.some((block) => cidrContains(block, address))) return undefined;
    const excluded = clusterBlocks.filter((block) => block.family === family).reduce((sum, block) => sum + sizeOf(block), 0n);
    return (family === 4 ? 1n << 32n : 1n << 128n) - excluded;
  }
  const containing = network.networks.filter(({ block, except }) =>
    address ? cidrContains(block, address) && !except.some((hole) => cidrContains(hole, address)) : block.prefixLength === 0,
  );
  if (containing.length === 0) return undefined;
  return containing.map(({ block, except }) => sizeOf(block) - except.reduce((sum, hole) => sum + sizeOf(hole), 0n)).reduce((min, size) => (size < min ? size : min));
}

/** Matches a host against route hostnames: no hostnames match every host, and `*.example.com` matches one or more labels. */
function matchesHostname(hostnames: string[], host: string): boolean {
  if (hostnames.length === 0) return true;
  return hostnames.some((name) => (name.startsWith('*.') ? host.endsWith(name.slice(1)) : name === host));
}
