import type { KubeObject } from '../../src/k8s/object.js';
import { NON_PUBLIC_IPV4 } from '../../src/k8s/network-policy.js';
import { parseCidr, type CidrBlock } from '../../src/netpol/cidr.js';
import { createNetworkPolicyEvaluator, type NamespaceModel, type NetworkPolicyObject, type PodModel } from '../../src/netpol/evaluate.js';
import type { MeshDecision, Source } from '../../src/plugin/api.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';

/** An address range as two inclusive ends, in one address family. */
interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/**
 * Global unicast IPv6 (2000::/3, RFC 4291 section 2.4). An external without `addresses` may resolve to any of
 * it, so an IPv6 rule that opens it to an undeclared caller is counted too.
 */
const PUBLIC_IPV6 = '2000::/3';

/**
 * Decides egress to external dependencies by NetworkPolicy, the only layer that limits it under NSM.
 *
 * NSM v1.18.0 has no egress resource (deployments-k8s apps/registry-k8s defines only the NetworkService and
 * NetworkServiceEndpoint CRDs), and this plugin sends no traffic to hosts outside the cluster over NSM. Calico
 * open source v3.32 matches destinations by address only: its EntityRule has nets, selectors, ports, service
 * accounts and services, and its NetworkSet has only nets (tigera/docs calico_versioned_docs/version-3.32,
 * _includes/content/_entityrule.mdx and reference/resources/networkset.mdx). Domain names in policy are a
 * Calico Enterprise and Calico Cloud feature (docs.tigera.io "DNS policy"). So this evaluator decides, from the
 * NetworkPolicies in the manifests, whether a pod with the source's labels may open TCP connections to the
 * external's port at any address the external may have: its `addresses`, or without them any public address.
 */
export class ExternalEgressEvaluator {
  private readonly evaluator: ReturnType<typeof createNetworkPolicyEvaluator>;
  /** Every start and end of an ipBlock range in the policies, by family: the points where a decision can change. */
  private readonly boundaries: Map<4 | 6, bigint[]>;
  /** The pod model name of each namespace and label set, because the evaluator rejects two different pods with one name. */
  private readonly podNames = new Map<string, string>();

  constructor(objects: KubeObject[], topology: Topology) {
    const policies = objects.filter((object) => object.kind === 'NetworkPolicy' && object.apiVersion === 'networking.k8s.io/v1') as unknown as NetworkPolicyObject[];
    this.evaluator = createNetworkPolicyEvaluator(policies, readNamespaces(objects, topology));
    this.boundaries = collectBoundaries(policies);
  }

  decide(source: Source, external: ExternalService): MeshDecision {
    const ranges = rangesOf(external);
    const candidates = this.candidatesIn(ranges);
    const pod = this.podOf(source);
    const allowedAt: string[] = [];
    const policies = new Set<string>();
    let denial = '';
    for (const address of candidates) {
      const decision = this.evaluator.decide({ from: pod, to: { ip: address }, port: external.port, protocol: 'TCP' });
      if (decision.allowed) {
        allowedAt.push(address);
        for (const policy of decision.egress.policies) policies.add(policy);
      } else if (!denial) {
        denial = decision.egress.policies.length > 0 ? `no egress rule of ${decision.egress.policies.join(', ')} allows it` : '';
      }
    }

    const target = `TCP ${external.port} to ${describeRanges(external)}`;
    if (allowedAt.length === 0) {
      return { allowed: false, mtls: false, reason: `NetworkPolicy denies ${target}: ${denial || 'no policy allows it'}` };
    }
    const by = policies.size > 0 ? [...policies].sort().join(', ') : `no policy isolates the egress of ${source.namespace}/${source.service}`;
    const part = allowedAt.length < candidates.length ? ` (only part of that range, starting at ${allowedAt[0]})` : '';
    return {
      allowed: true,
      mtls: false,
      reason: `NetworkPolicy allows ${target}${part}: ${by}. Any host at those addresses is reachable, not only ${external.host}, because Calico open source and NSM have no rule by host name`,
    };
  }

  /**
   * Returns one address of each stretch of `ranges` in which no ipBlock of any policy starts or ends. Every
   * address of such a stretch is in the same ipBlocks, so the policies decide all of them alike, and checking
   * these addresses decides the whole range exactly.
   */
  private candidatesIn(ranges: AddressRange[]): string[] {
    const addresses = new Set<string>();
    for (const range of ranges) {
      const points = [range.first, ...(this.boundaries.get(range.family) ?? []).filter((point) => point > range.first && point <= range.last)];
      for (const point of points) addresses.add(formatAddress(range.family, point));
    }
    return [...addresses];
  }

  private podOf(source: Source): PodModel {
    const key = JSON.stringify([source.namespace, Object.entries(source.labels).sort()]);
    let name = this.podNames.get(key);
    if (!name) {
      name = `external-client-${this.podNames.size}`;
      this.podNames.set(key, name);
    }
    return { name, namespace: source.namespace, labels: source.labels };
  }
}

/** Returns the address ranges an external may have: its `addresses`, or every public IPv4 and IPv6 address. */
function rangesOf(external: ExternalService): AddressRange[] {
  if (external.addresses.length > 0) return external.addresses.flatMap((cidr) => rangeOfText(cidr));
  const publicIpv4 = subtract(rangeOfText('0.0.0.0/0'), NON_PUBLIC_IPV4.flatMap((cidr) => rangeOfText(cidr)));
  return [...publicIpv4, ...rangeOfText(PUBLIC_IPV6)];
}

function describeRanges(external: ExternalService): string {
  if (external.addresses.length > 0) return external.addresses.join(', ');
  return `public addresses (0.0.0.0/0 except ${NON_PUBLIC_IPV4.join(', ')}; ${PUBLIC_IPV6})`;
}

function rangeOfText(text: string): AddressRange[] {
  const block = parseCidr(text);
  return typeof block === 'string' ? [] : [rangeOf(block)];
}

function rangeOf(block: CidrBlock): AddressRange {
  const first = block.networkPart << block.hostBits;
  return { family: block.family, first, last: first + (1n << block.hostBits) - 1n };
}

/** Removes every address of `holes` from `ranges`. */
function subtract(ranges: AddressRange[], holes: AddressRange[]): AddressRange[] {
  let result = ranges;
  for (const hole of holes) {
    result = result.flatMap((range) => {
      if (range.family !== hole.family || hole.last < range.first || hole.first > range.last) return [range];
      const parts: AddressRange[] = [];
      if (hole.first > range.first) parts.push({ family: range.family, first: range.first, last: hole.first - 1n });
      if (hole.last < range.last) parts.push({ family: range.family, first: hole.last + 1n, last: range.last });
      return parts;
    });
  }
  return result;
}

/** Collects the first address, and the address after the last, of every ipBlock cidr and except range. */
function collectBoundaries(policies: NetworkPolicyObject[]): Map<4 | 6, bigint[]> {
  const points = new Map<4 | 6, Set<bigint>>([
    [4, new Set()],
    [6, new Set()],
  ]);
  for (const policy of policies) {
    for (const rule of policy.spec?.egress ?? []) {
      for (const peer of rule.to ?? []) {
        if (!peer.ipBlock) continue;
        for (const text of [peer.ipBlock.cidr, ...(peer.ipBlock.except ?? [])]) {
          for (const range of rangeOfText(text)) {
            points.get(range.family)!.add(range.first);
            points.get(range.family)!.add(range.last + 1n);
          }
        }
      }
    }
  }
  const sorted = new Map<4 | 6, bigint[]>();
  for (const [family, set] of points) sorted.set(family, [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  return sorted;
}

function formatAddress(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));

  // RFC 5952: the longest run of two or more zero groups, the first of equal runs, becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < groups.length; start++) {
    let length = 0;
    while (groups[start + length] === '0') length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** Lists the namespaces of the manifests and of the topology with their labels, as NetworkPolicy selects them. */
function readNamespaces(objects: KubeObject[], topology: Topology): NamespaceModel[] {
  const declared = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  const names = new Set([...topology.namespaces, ...declared.keys()]);
  return [...names].map((name) => ({ name, labels: { ...(declared.get(name) ?? {}), 'kubernetes.io/metadata.name': name } }));
}
