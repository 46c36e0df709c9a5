/**
 * The index behind the Istio evaluator's `mayReach`: `decide` turned around, from a client's identity to the
 * targets that some ALLOW rule could admit it to. It must name every target that `decide` allows on some port, so
 * each test here reads the matching test in evaluate.ts at its widest. Keep the two in step.
 */

/** The client as Istio's authorization identifies it, with the fields of `Identity` in evaluate.ts. */
export interface ReachIdentity {
  meshed: boolean;
  principal: string | undefined;
  namespace: string | undefined;
  serviceAccount: string | undefined;
}

/** One target as `decide` reads it, before the source and the port are known. */
export interface ReachTarget {
  name: string;
  /** False when the workload has no sidecar, so `decide` allows every client on every port. */
  injected: boolean;
  /** The rules of every ALLOW AuthorizationPolicy that applies to the workload. */
  allows: { rules: Record<string, unknown>[] }[];
  /** True when the mTLS mode of some port is not STRICT, so a client without an Istio certificate gets past it. */
  acceptsPlaintext: boolean;
}

/** Returns the names of the targets that `decide` may allow the client on some port. */
export type ReachIndex = (identity: ReachIdentity) => readonly string[];

/** The source fields that name identities, with the {@link ReachIdentity} field each one matches. */
const IDENTITY_FIELDS = [
  { name: 'principals', identity: 'principal' },
  { name: 'serviceAccounts', identity: 'serviceAccount' },
  { name: 'namespaces', identity: 'namespace' },
] as const;

/** Source fields that `sourceMatches` in evaluate.ts never matches when set: a source entry with one admits no one. */
const NEVER_MATCHING_SOURCE_FIELDS = ['requestPrincipals', 'ipBlocks', 'remoteIpBlocks'];

/**
 * Builds the index over every target, once. A lookup then costs about the size of its result: the targets open to
 * every client of its kind (meshed or not), plus the targets whose rules name one of its identity's values.
 */
export function buildReachIndex(targets: ReachTarget[]): ReachIndex {
  // A client without an Istio certificate has no principal, namespace or service account, so every such client
  // gets the same list.
  const openToUnmeshed: string[] = [];
  const openToMeshed: string[] = [];
  const byField = {
    principal: new PatternIndex(),
    serviceAccount: new PatternIndex(),
    namespace: new PatternIndex(),
  };

  targets.forEach((target, position) => {
    if (!target.injected) {
      openToUnmeshed.push(target.name);
      openToMeshed.push(target.name);
      return;
    }
    // With no ALLOW policy, Istio allows whatever no DENY policy stops.
    let meshedOpen = target.allows.length === 0;
    let unmeshedOpen = target.allows.length === 0;
    for (const rule of target.allows.flatMap((policy) => policy.rules)) {
      const reach = readRuleReach(rule);
      meshedOpen ||= reach.anyMeshed;
      unmeshedOpen ||= reach.anyUnmeshed;
      for (const { field, patterns } of reach.indexed) {
        for (const pattern of patterns) byField[field].add(pattern, position);
      }
    }
    if (meshedOpen) openToMeshed.push(target.name);
    // A STRICT port rejects a client without a certificate before any AuthorizationPolicy is read.
    if (unmeshedOpen && target.acceptsPlaintext) openToUnmeshed.push(target.name);
  });

  return (identity) => {
    if (!identity.meshed) return openToUnmeshed;
    const found = new Set<number>();
    byField.principal.collect(identity.principal!, found);
    byField.serviceAccount.collect(identity.serviceAccount!, found);
    byField.namespace.collect(identity.namespace!, found);
    const names = new Set(openToMeshed);
    for (const position of found) names.add(targets[position]!.name);
    return [...names];
  };
}

/** The clients one ALLOW rule may admit: every meshed one, every unmeshed one, or those with the indexed values. */
interface RuleReach {
  anyMeshed: boolean;
  anyUnmeshed: boolean;
  /** Per source entry, the identity field and its patterns, one of which the client must match. */
  indexed: { field: 'principal' | 'serviceAccount' | 'namespace'; patterns: string[] }[];
}

/**
 * Reads the clients an ALLOW rule may admit, as `ruleMatches` in evaluate.ts tests its `from` list. The rule's `to`
 * list, its `when` conditions and negative fields such as `notPrincipals` only narrow a match, so they are left
 * out, which makes the list wider, never narrower. (ruleMatches rejects every rule with a `when` condition.)
 */
function readRuleReach(rule: Record<string, unknown>): RuleReach {
  const reach: RuleReach = { anyMeshed: false, anyUnmeshed: false, indexed: [] };
  // An empty `from` or source list is unset to Istio, as ruleMatches reads it (pilot/pkg/security/authz/model/model.go).
  if (!Array.isArray(rule.from) || rule.from.length === 0) {
    // Without `from`, the rule admits every client.
    reach.anyMeshed = true;
    reach.anyUnmeshed = true;
    return reach;
  }
  for (const entry of rule.from as ({ source?: Record<string, unknown> } | null)[]) {
    const source = entry?.source ?? {};
    if (NEVER_MATCHING_SOURCE_FIELDS.some((name) => source[name] !== undefined && !isEmptyList(source[name]))) continue;

    // A client without a certificate matches no list of principals, service accounts or namespaces, even `*`.
    const lists = IDENTITY_FIELDS.filter(({ name }) => Array.isArray(source[name]) && !isEmptyList(source[name]));
    if (lists.length === 0) {
      reach.anyMeshed = true;
      reach.anyUnmeshed = true;
      continue;
    }
    // A meshed client must match every list, so indexing one of them is enough. The pattern `*` matches every
    // meshed client.
    const selective = lists.find(({ name }) => !(source[name] as unknown[]).some((pattern) => String(pattern) === '*'));
    if (selective) {
      reach.indexed.push({ field: selective.identity, patterns: (source[selective.name] as unknown[]).map(String) });
    } else {
      reach.anyMeshed = true;
    }
  }
  return reach;
}

/**
 * Targets by the Istio string patterns that name them: exact, prefix `abc*` and suffix `*abc`, read in the order
 * of `matchesPattern` in evaluate.ts. The pattern `*` alone is never added: the caller treats it as open.
 */
class PatternIndex {
  private readonly exact = new Map<string, number[]>();
  private readonly prefixes = new Map<string, number[]>();
  private readonly suffixes = new Map<string, number[]>();

  add(pattern: string, target: number): void {
    if (pattern.endsWith('*')) push(this.prefixes, pattern.slice(0, -1), target);
    else if (pattern.startsWith('*')) push(this.suffixes, pattern.slice(1), target);
    else push(this.exact, pattern, target);
  }

  /** Adds to `found` every target with a pattern that matches `value`: one lookup per prefix and suffix of it. */
  collect(value: string, found: Set<number>): void {
    addAll(found, this.exact.get(value));
    if (this.prefixes.size > 0) {
      for (let end = 0; end <= value.length; end++) addAll(found, this.prefixes.get(value.slice(0, end)));
    }
    if (this.suffixes.size > 0) {
      for (let start = 0; start <= value.length; start++) addAll(found, this.suffixes.get(value.slice(start)));
    }
  }
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}

function push(map: Map<string, number[]>, key: string, target: number): void {
  const targets = map.get(key);
  if (targets) targets.push(target);
  else map.set(key, [target]);
}

function addAll(found: Set<number>, targets: number[] | undefined): void {
  for (const target of targets ?? []) found.add(target);
}
