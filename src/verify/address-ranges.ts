// Address ranges of external dependencies, and the points where NetworkPolicy ipBlocks can change a decision:
// enough to decide egress to a whole range exactly by checking one address of each stretch between them.
import { NON_PUBLIC_IPV4 } from '../k8s/network-policy.js';
import { parseCidr, type CidrBlock } from '../netpol/cidr.js';
import type { NetworkPolicyObject } from '../netpol/evaluate.js';
import type { ExternalService } from '../topology/types.js';

/** An address range as two inclusive ends, in one address family. */
export interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/**
 * Global unicast IPv6 (2000::/3, RFC 4291 section 2.4). An external without `addresses` may resolve to any of
 * it, so an IPv6 rule that opens it to an undeclared caller is counted too.
 */
export const PUBLIC_IPV6 = '2000::/3';

/**
 * Returns one address of each stretch of `ranges` in which no ipBlock of any policy starts or ends. Every
 * address of such a stretch is in the same ipBlocks, so the policies decide all of them alike, and checking
 * these addresses decides the whole range exactly.
 */
export function candidateAddresses(ranges: AddressRange[], boundaries: Map<4 | 6, bigint[]>): string[] {
  const addresses = new Set<string>();
  for (const range of ranges) {
    const points = [range.first, ...(boundaries.get(range.family) ?? []).filter((point) => point > range.first && point <= range.last)];
    for (const point of points) addresses.add(formatAddress(range.family, point));
  }
  return [...addresses];
}

/** Returns the address ranges an external may have: its `addresses`, or every public IPv4 and IPv6 address. */
export function rangesOf(external: ExternalService): AddressRange[] {
  if (external.addresses.length > 0) return external.addresses.flatMap((cidr) => rangeOfText(cidr));
  const publicIpv4 = subtract(rangeOfText('0.0.0.0/0'), NON_PUBLIC_IPV4.flatMap((cidr) => rangeOfText(cidr)));
  return [...publicIpv4, ...rangeOfText(PUBLIC_IPV6)];
}

export function describeRanges(external: ExternalService): string {
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
export function subtract(ranges: AddressRange[], holes: AddressRange[]): AddressRange[] {
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
export function collectBoundaries(policies: NetworkPolicyObject[]): Map<4 | 6, bigint[]> {
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
  for (const [family, set] of points) sorted.set(family, [...set].sort(compareBigints));
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

function compareBigints(a: bigint, b: bigint): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
