import type { LabelSelector } from '../../src/k8s/object.js';
import { INGRESS_ENTITIES, peerMatches, POD_ENTITIES, policySelects, RESERVED_INGRESS_LABEL, type CiliumPolicy, type CiliumRule } from './policies.js';
import { identityLabelKey, peerScope, type Endpoint } from './selectors.js';

/** A service in the reach index: its name and the identity labels of its pods. */
export interface ReachTarget {
  name: string;
  endpoint: Endpoint;
}

/**
 * An index of the services whose ingress rules may admit a caller, for `mayReach`. `reach` returns a superset
 * of the services that `decide` allows the caller on some port.
 */
export interface ReachIndex {
  reach(caller: Endpoint): string[];
}

/** An allowing ingress rule and the services whose policies contain it. */
interface RuleEntry {
  rule: CiliumRule;
  targets: readonly number[];
}

/**
 * The places the index files a selector under: identity labels (`label\0value`) of which every endpoint it
 * matches carries at least one, or a namespace every endpoint it matches is in. `any` when no such places
 * exist, and `none` when the selector matches no endpoint.
 */
type Filing = { labels: string[] } | { namespace: string } | 'any' | 'none';

/**
 * Builds the index behind `mayReach`. `decide` allows a connection only when the callee's ingress allows the
 * caller: either no policy puts the callee in default deny for ingress, or an allowing ingress rule of a
 * policy that selects the callee matches the caller (`peerMatches`). The index files each such rule under the
 * labels or the namespace its peer selectors require, so a lookup reads only the rules that could name the
 * caller, and checks each with `peerMatches`.
 *
 * The open services go into every result: those no policy puts in default deny for ingress, and those with a
 * rule that matches any peer (no peer field, the `all` or `cluster` entity, a selector without an indexable
 * term). Ports, deny rules, authentication and the caller's egress are not looked at, so the result may name
 * services that `decide` denies.
 */
export function createReachIndex(policies: readonly CiliumPolicy[], targets: readonly ReachTarget[]): ReachIndex {
  const targetsByLabel = new Map<string, number[]>();
  const targetsByNamespace = new Map<string, number[]>();
  targets.forEach((target, index) => {
    for (const [key, value] of Object.entries(target.endpoint.labels)) append(targetsByLabel, `${key}\0${value}`, index);
    append(targetsByNamespace, target.endpoint.namespace, index);
  });

  const enforced = new Uint8Array(targets.length);
  const open = new Set<number>();
  const rulesByLabel = new Map<string, RuleEntry[]>();
  const rulesByNamespace = new Map<string, RuleEntry[]>();
  for (const policy of policies) {
    const selected = selectedTargets(policy, targets, targetsByLabel, targetsByNamespace);
    if (selected.length === 0) continue;
    if (policy.defaultDeny.ingress) for (const index of selected) enforced[index] = 1;

    for (const rule of policy.rules) {
      // Only allowing ingress rules can let `decide` allow a connection once the callee is in default deny.
      if (rule.direction !== 'ingress' || rule.deny || rule.unsupported || rule.icmpOnly) continue;
      const filings = ruleFilings(rule);
      if (filings === 'any') {
        for (const index of selected) open.add(index);
        continue;
      }
      const entry: RuleEntry = { rule, targets: selected };
      for (const filing of filings) {
        if ('namespace' in filing) append(rulesByNamespace, filing.namespace, entry);
        else for (const label of filing.labels) append(rulesByLabel, label, entry);
      }
    }
  }
  targets.forEach((_, index) => {
    if (enforced[index] === 0) open.add(index);
  });

  return {
    reach(caller: Endpoint): string[] {
      const reached = new Set(open);
      const checked = new Set<RuleEntry>();
      const visit = (entries: readonly RuleEntry[] | undefined): void => {
        for (const entry of entries ?? []) {
          if (checked.has(entry)) continue;
          checked.add(entry);
          if (!peerMatches(entry.rule, caller)) continue;
          for (const index of entry.targets) reached.add(index);
        }
      };
      for (const [key, value] of Object.entries(caller.labels)) visit(rulesByLabel.get(`${key}\0${value}`));
      visit(rulesByNamespace.get(caller.namespace));
      return [...reached].map((index) => targets[index]!.name);
    },
  };
}

/** Returns the positions of the targets a policy selects, looking up only the candidates its endpoint selector allows. */
function selectedTargets(policy: CiliumPolicy, targets: readonly ReachTarget[], byLabel: Map<string, number[]>, byNamespace: Map<string, number[]>): number[] {
  if (!policy.endpointSelector) return [];
  const term = bestTerm(policy.endpointSelector);
  if (term === 'none') return [];

  let candidates: Iterable<number>;
  if (term !== undefined && !isNamespaceWide(term)) candidates = new Set(term.flatMap((label) => byLabel.get(label) ?? []));
  else if (policy.namespace !== undefined) candidates = byNamespace.get(policy.namespace) ?? [];
  else if (term !== undefined) candidates = new Set(term.flatMap((label) => byLabel.get(label) ?? []));
  else candidates = targets.keys();
  return [...candidates].filter((index) => policySelects(policy, targets[index]!.endpoint));
}

/** Returns where to file a rule's peers, `any` when the rule may match every caller. Fields that never match a pod are skipped. */
function ruleFilings(rule: CiliumRule): Exclude<Filing, 'any' | 'none'>[] | 'any' {
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
  // Prefer a term on a workload's own labels, and among those the one with the fewest values.
  const ranked = terms.map((term) => ({ term, rank: (isNamespaceWide(term) ? 1_000_000 : 0) + term.length }));
  ranked.sort((a, b) => a.rank - b.rank);
  return ranked[0]?.term;
}

/** Identity labels that every pod of a namespace, or of the cluster, shares. */
const NAMESPACE_WIDE_PREFIXES = ['k8s:io.kubernetes.pod.namespace\0', 'k8s:io.cilium.k8s.namespace.labels.', 'k8s:io.cilium.k8s.policy.cluster\0'];

/** Returns whether a term is on labels that whole namespaces share, so filing under it narrows little. */
function isNamespaceWide(term: readonly string[]): boolean {
  return term.some((label) => NAMESPACE_WIDE_PREFIXES.some((prefix) => label.startsWith(prefix)));
}

function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
