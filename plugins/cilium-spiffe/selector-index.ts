import type { LabelSelector } from '../../src/k8s/object.js';
import { INGRESS_ENTITIES, policySelects, POD_ENTITIES, RESERVED_INGRESS_LABEL, type CiliumPolicy, type CiliumRule, type Direction, type SelectingPolicies } from './policies.js';
import { identityLabelKey, peerScope, type Endpoint } from './selectors.js';

/**
 * The places the index files a selector under: identity labels (`label\0value`) of which every endpoint it
 * matches carries at least one, or a namespace every endpoint it matches is in. `any` when no such places
 * exist, and `none` when the selector matches no endpoint.
 */
export type Filing = { labels: string[] } | { namespace: string } | 'any' | 'none';

/** A fixed list of endpoints, indexed by identity label and namespace so a selector reads only the endpoints it may match. */
export interface EndpointIndex {
  /** Returns the positions of the endpoints a policy selects, exactly as `policySelects` decides. */
  selectedBy(policy: CiliumPolicy): number[];
  /**
   * Returns the positions of the endpoints that a rule's peer part may admit, or `all`. The result contains
   * every endpoint `peerMatches` accepts and may contain others.
   */
  peerCandidates(rule: CiliumRule): Iterable<number> | 'all';
}

/** Indexes a list of endpoints. The positions in its results are positions in `endpoints`. */
export function createEndpointIndex(endpoints: readonly Endpoint[]): EndpointIndex {
  const byLabel = new Map<string, number[]>();
  const byNamespace = new Map<string, number[]>();
  endpoints.forEach((endpoint, index) => {
    for (const label of labelKeysOf(endpoint)) append(byLabel, label, index);
    append(byNamespace, endpoint.namespace, index);
  });

  return {
    selectedBy(policy: CiliumPolicy): number[] {
      if (!policy.endpointSelector) return [];
      const term = bestTerm(policy.endpointSelector);
      if (term === 'none') return [];

      let candidates: Iterable<number>;
      if (term !== undefined && !isNamespaceWide(term)) candidates = new Set(term.flatMap((label) => byLabel.get(label) ?? []));
      else if (policy.namespace !== undefined) candidates = byNamespace.get(policy.namespace) ?? [];
      else if (term !== undefined) candidates = new Set(term.flatMap((label) => byLabel.get(label) ?? []));
      else candidates = endpoints.keys();
      return [...candidates].filter((index) => policySelects(policy, endpoints[index]!));
    },

    peerCandidates(rule: CiliumRule): Iterable<number> | 'all' {
      if (rule.unsupported) return [];
      const filings = ruleFilings(rule);
      if (filings === 'any') return 'all';
      const found = new Set<number>();
      for (const filing of filings) {
        const positions = 'namespace' in filing ? [byNamespace.get(filing.namespace)] : filing.labels.map((label) => byLabel.get(label));
        for (const list of positions) for (const index of list ?? []) found.add(index);
      }
      return found;
    },
  };
}

/** The policies that select an endpoint, looked up by the labels and namespace their endpoint selectors require. */
export interface PolicyIndex {
  /**
   * Returns the policies that select an endpoint, in manifest order, as `policySelects` decides. The result
   * is cached per endpoint object, so an endpoint must not change after its first lookup.
   */
  selecting(endpoint: Endpoint): SelectingPolicies;
}

/**
 * Builds the index that finds the policies selecting an endpoint. Each policy is filed under the most
 * selective term of its endpoint selector, under its namespace, or, for a clusterwide policy without an
 * indexable term, among the policies every lookup reads. A lookup reads the lists of the endpoint's labels
 * and namespace, then checks each policy found with `policySelects`.
 */
export function createPolicyIndex(policies: readonly CiliumPolicy[]): PolicyIndex {
  const byLabel = new Map<string, number[]>();
  const byNamespace = new Map<string, number[]>();
  const unfiled: number[] = [];
  policies.forEach((policy, position) => {
    if (!policy.endpointSelector) return;
    const term = bestTerm(policy.endpointSelector);
    if (term === 'none') return;
    if (term !== undefined && !isNamespaceWide(term)) for (const label of term) append(byLabel, label, position);
    else if (policy.namespace !== undefined) append(byNamespace, policy.namespace, position);
    else if (term !== undefined) for (const label of term) append(byLabel, label, position);
    else unfiled.push(position);
  });

  const cache = new WeakMap<Endpoint, SelectingPolicies>();
  return {
    selecting(endpoint: Endpoint): SelectingPolicies {
      const cached = cache.get(endpoint);
      if (cached !== undefined) return cached;

      const positions = [...unfiled, ...(byNamespace.get(endpoint.namespace) ?? [])];
      for (const label of labelKeysOf(endpoint)) {
        const filed = byLabel.get(label);
        if (filed !== undefined) positions.push(...filed);
      }
      // Sorting the positions keeps manifest order, on which reasons and the first deny rule depend. A policy
      // filed under several of the endpoint's labels is checked once.
      positions.sort((a, b) => a - b);
      const found = positions.filter((position, index) => (index === 0 || positions[index - 1] !== position) && policySelects(policies[position]!, endpoint));
      const selecting = groupSelecting(found.map((position) => policies[position]!));
      cache.set(endpoint, selecting);
      return selecting;
    },
  };
}

/** Groups the policies that select one endpoint by direction, keeping their order, with a rule lookup per direction. */
export function groupSelecting(policies: readonly CiliumPolicy[]): SelectingPolicies {
  const rules: Record<Direction, CiliumRule[]> = { ingress: [], egress: [] };
  for (const policy of policies) {
    for (const rule of policy.rules) rules[rule.direction].push(rule);
  }
  // Built on the first lookup of each direction, because a client's endpoint is looked up for egress only.
  const lookups: Partial<Record<Direction, RuleLookup>> = {};
  return {
    policies,
    rules,
    enforcing: { ingress: policies.filter((policy) => policy.defaultDeny.ingress), egress: policies.filter((policy) => policy.defaultDeny.egress) },
    candidateRules(direction: Direction, peer: Endpoint): readonly CiliumRule[] {
      lookups[direction] ??= createRuleLookup(rules[direction]);
      return lookups[direction](peer);
    },
  };
}

type RuleLookup = (peer: Endpoint) => readonly CiliumRule[];

/** Rules filed under one key, in their original order, with their positions for merging lists. */
interface FiledRules {
  positions: number[];
  rules: CiliumRule[];
}

/**
 * Files rules under the labels or namespace their peer selectors require, as `ruleFilings` gives them, so a
 * lookup returns, in the original order, the rules that may admit a peer. Unsupported rules never match, so
 * they are left out.
 */
function createRuleLookup(rules: readonly CiliumRule[]): RuleLookup {
  const byLabel = new Map<string, FiledRules>();
  const byNamespace = new Map<string, FiledRules>();
  const unfiled: FiledRules = { positions: [], rules: [] };
  const file = (filed: FiledRules, position: number): void => {
    // A rule filed under one key twice, by two selectors or by repeated `In` values, is listed once.
    if (filed.positions[filed.positions.length - 1] === position) return;
    filed.positions.push(position);
    filed.rules.push(rules[position]!);
  };
  const fileUnder = (map: Map<string, FiledRules>, key: string, position: number): void => {
    let filed = map.get(key);
    if (filed === undefined) {
      filed = { positions: [], rules: [] };
      map.set(key, filed);
    }
    file(filed, position);
  };
  rules.forEach((rule, position) => {
    if (rule.unsupported) return;
    const filings = ruleFilings(rule);
    if (filings === 'any') {
      file(unfiled, position);
      return;
    }
    for (const filing of filings) {
      if ('namespace' in filing) fileUnder(byNamespace, filing.namespace, position);
      else for (const label of filing.labels) fileUnder(byLabel, label, position);
    }
  });
  if (byLabel.size === 0 && byNamespace.size === 0) return () => unfiled.rules;

  return (peer) => {
    // Most peers hit one list, which is returned as it is. A second list starts a merge.
    let first: FiledRules | undefined = unfiled.rules.length > 0 ? unfiled : undefined;
    let more: FiledRules[] | undefined;
    const hit = (filed: FiledRules | undefined): void => {
      if (filed === undefined) return;
      if (first === undefined) first = filed;
      else (more ??= []).push(filed);
    };
    hit(byNamespace.get(peer.namespace));
    for (const label of labelKeysOf(peer)) hit(byLabel.get(label));
    if (first === undefined) return [];
    if (more === undefined) return first.rules;

    // A rule filed under several keys the peer has appears in several lists: merge them by position, once each.
    const positions = [first, ...more].flatMap((filed) => filed.positions).sort((a, b) => a - b);
    return positions.filter((position, index) => index === 0 || positions[index - 1] !== position).map((position) => rules[position]!);
  };
}

const labelKeys = new WeakMap<Endpoint, string[]>();

/**
 * Returns an endpoint's identity labels as the indexes file them (`label\0value`). The result is cached per
 * endpoint object, which is safe because the plugin never changes an endpoint after building it.
 */
function labelKeysOf(endpoint: Endpoint): string[] {
  let keys = labelKeys.get(endpoint);
  if (keys === undefined) {
    keys = Object.entries(endpoint.labels).map(([key, value]) => `${key}\0${value}`);
    labelKeys.set(endpoint, keys);
  }
  return keys;
}

const filingsByRule = new WeakMap<CiliumRule, Exclude<Filing, 'any' | 'none'>[] | 'any'>();

/** Returns {@link computeRuleFilings} for a rule, computed once per rule object, because each index files the same rules. */
export function ruleFilings(rule: CiliumRule): Exclude<Filing, 'any' | 'none'>[] | 'any' {
  let filings = filingsByRule.get(rule);
  if (filings === undefined) {
    filings = computeRuleFilings(rule);
    filingsByRule.set(rule, filings);
  }
  return filings;
}

/** Returns where to file a rule's peers, `any` when the rule may match every caller. Fields that never match a pod are skipped. */
function computeRuleFilings(rule: CiliumRule): Exclude<Filing, 'any' | 'none'>[] | 'any' {
  // `peerMatches`: a rule with ports and no peer field allows every peer on those ports.
  const hasPeerField = rule.endpoints !== undefined || rule.entities !== undefined || rule.cidrs !== undefined || rule.fqdns !== undefined;
  if (!hasPeerField) return (rule.toPorts ?? []).length > 0 ? 'any' : [];

  const filings: Exclude<Filing, 'any' | 'none'>[] = [];
  for (const selector of rule.endpoints ?? []) {
    const filing = peerFiling(selector ?? {}, rule.policyNamespace);
    if (filing === 'any') return 'any';
    if (filing !== 'none') filings.push(filing);
  }
  for (const entity of rule.entities ?? []) {
    if (POD_ENTITIES.has(entity)) return 'any';
    // The one other entity that `peerMatches` accepts, `ingress`, matches only the reserved identity of Cilium's Envoy.
    if (INGRESS_ENTITIES.has(entity)) filings.push({ labels: [`${RESERVED_INGRESS_LABEL}\0`] });
  }
  // CIDR and toFQDNs peers never match a pod or a reserved identity.
  return filings;
}

/** Returns where to file a peer selector: under its most selective term, or the namespace `peerScope` confines it to. */
function peerFiling(selector: LabelSelector, policyNamespace: string | undefined): Filing {
  const term = bestTerm(selector);
  if (term === 'none') return 'none';
  const scope = peerScope(selector, policyNamespace);
  if (typeof scope === 'object' && (term === undefined || isNamespaceWide(term))) return { namespace: scope.namespace };
  if (term !== undefined) return { labels: term };
  return 'any';
}

/**
 * Returns the most selective term of a selector as the endpoint labels (`label\0value`) one of which every
 * endpoint it matches carries: a matchLabels entry, or the values of an `In` expression. Returns `undefined`
 * when no term has a fixed value, and `none` when the selector matches no endpoint, as `selectorMatches` decides.
 */
function bestTerm(selector: LabelSelector): string[] | undefined | 'none' {
  const terms: string[][] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const label = identityLabelKey(key);
    if (label === undefined) return 'none';
    terms.push([`${label}\0${String(value)}`]);
  }
  for (const expression of selector.matchExpressions ?? []) {
    const label = identityLabelKey(expression.key);
    switch (expression.operator) {
      case 'In': {
        const values = (expression.values ?? []).map(String);
        if (label === undefined || values.length === 0) return 'none';
        terms.push(values.map((value) => `${label}\0${value}`));
        break;
      }
      case 'Exists':
        if (label === undefined) return 'none';
        break;
      case 'NotIn':
      case 'DoesNotExist':
        break;
      default:
        return 'none';
    }
  }
  // Prefer a term on a workload's own labels, and among those the one with the fewest values. On a tie, the first wins.
  let best: string[] | undefined;
  let bestRank = Infinity;
  for (const term of terms) {
    const rank = (isNamespaceWide(term) ? 1_000_000 : 0) + term.length;
    if (rank < bestRank) {
      best = term;
      bestRank = rank;
    }
  }
  return best;
}

/** Identity labels that every pod of a namespace, or of the cluster, shares. */
const NAMESPACE_WIDE_PREFIXES = ['k8s:io.kubernetes.pod.namespace\0', 'k8s:io.cilium.k8s.namespace.labels.', 'k8s:io.cilium.k8s.policy.cluster\0'];

/** Returns whether a term is on labels that whole namespaces share, so filing under it narrows little. */
function isNamespaceWide(term: readonly string[]): boolean {
  return term.some((label) => NAMESPACE_WIDE_PREFIXES.some((prefix) => label.startsWith(prefix)));
}

export function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
