import { peerMatches, type CiliumPolicy, type CiliumRule } from './policies.js';
import { append, createEndpointIndex, ruleFilings } from './selector-index.js';
import type { Endpoint } from './selectors.js';

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
  const targetIndex = createEndpointIndex(targets.map((target) => target.endpoint));

  const enforced = new Uint8Array(targets.length);
  const open = new Set<number>();
  const rulesByLabel = new Map<string, RuleEntry[]>();
  const rulesByNamespace = new Map<string, RuleEntry[]>();
  for (const policy of policies) {
    const selected = targetIndex.selectedBy(policy);
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
