import type { FromEntry, Permission } from './evaluate.js';
import { carriesAll, filingTagOf, type Tags } from './evaluate-reach.js';
import { SYSTEM_NAMESPACE } from './versions.js';

/**
 * The permissions that apply to one inbound of a callee. Each of `rules` and `from` is indexed on first use, so that
 * judging a caller costs about the number of its matches instead of the number of rules or `from` entries.
 */
export interface InboundPermissions {
  /** In manifest order, in which `rules` are read. */
  permissions: readonly Permission[];
  /** True when one of them has `rules`, so that Kuma reads only `rules`. */
  hasRules: boolean;
  /** The number of services that carry a tag, which picks the tag under which a `from` entry is filed. */
  tagCount: TagCount;
  rules: RuleIndex | undefined;
  from: FromIndex | undefined;
}

/** Returns the number of services whose data planes carry the tag `key` with `value`. */
export type TagCount = (key: string, value: string) => number;

/** The credentials in a caller's certificate: its tags in mesh-mtls mode, and its SPIFFE ID when a MeshIdentity issues it. */
export interface Credentials {
  tags: Tags;
  spiffeId: string | undefined;
}

/** The outcome of the permissions on an inbound for one caller. */
export interface Verdict {
  allowed: boolean;
  /** The permission that decided, such as `MeshTrafficPermission ns-00/svc-0001-http-8080-from-svc-0002`. */
  by: string;
}

interface RuleIndex {
  deny: SpiffeMatches;
  allow: SpiffeMatches;
}

/** SPIFFE ID matches, each with the position of its permission in manifest order. */
interface SpiffeMatches {
  /** The first position of each value matched exactly: type `Exact`, or any type other than `Prefix`. */
  exact: Map<string, number>;
  /** The `Prefix` matches in ascending order of position. */
  prefixes: { value: string; position: number }[];
}

interface FromIndex {
  /** The entry of kind Mesh that Kuma applies last, which every caller matches. */
  lastForEveryCaller: FromEntry | undefined;
  /** The MeshSubset entry without tags that Kuma applies last, which every caller with tags matches. */
  lastForTaggedCallers: FromEntry | undefined;
  /** The MeshSubset entries with tags, each filed under the one of its tags that the fewest services carry: by key, then by value. */
  byTag: { key: string; byValue: Map<string, FromEntry[]> }[];
}

/** Collects the permissions that apply to one inbound, given in manifest order. */
export function inboundPermissions(permissions: readonly Permission[], tagCount: TagCount): InboundPermissions {
  return { permissions, hasRules: permissions.some((permission) => permission.rules.length > 0), tagCount, rules: undefined, from: undefined };
}

/**
 * Decides by the applicable permissions as Kuma 2.14.3 does (`plugin.go` in
 * pkg/plugins/policies/meshtrafficpermission/plugin/v1alpha1). When a permission on the inbound has `rules`, or the
 * callee has a MeshIdentity (`workloadIdentity`), Kuma uses only `rules`: any deny match denies, else any allow match
 * allows. Otherwise it uses only `from`, where the last matching entry in Kuma's policy order decides. Returns
 * undefined when nothing matches.
 */
export function judge(inbound: InboundPermissions, workloadIdentity: boolean, caller: Credentials): Verdict | undefined {
  if (workloadIdentity || inbound.hasRules) {
    inbound.rules ??= indexRules(inbound.permissions);
    return judgeRules(inbound.rules, inbound.permissions, caller.spiffeId);
  }
  inbound.from ??= indexFrom(inbound.permissions, inbound.tagCount);
  return judgeFrom(inbound.from, caller.tags);
}

function indexRules(permissions: readonly Permission[]): RuleIndex {
  const deny: SpiffeMatches = { exact: new Map(), prefixes: [] };
  const allow: SpiffeMatches = { exact: new Map(), prefixes: [] };
  const add = (matches: SpiffeMatches, spiffeId: { type?: string; value?: string } | undefined, position: number) => {
    // A match without a value never matches.
    if (spiffeId?.value === undefined) return;
    if (spiffeId.type === 'Prefix') matches.prefixes.push({ value: spiffeId.value, position });
    else if (!matches.exact.has(spiffeId.value)) matches.exact.set(spiffeId.value, position);
  };
  permissions.forEach((permission, position) => {
    for (const rule of permission.rules) {
      for (const match of rule.deny) add(deny, match.spiffeID, position);
      for (const match of rule.allow) add(allow, match.spiffeID, position);
    }
  });
  return { deny, allow };
}

/** Applies `rules` as Kuma does: the first permission in manifest order with a matching deny, else the first with a matching allow. */
function judgeRules(rules: RuleIndex, permissions: readonly Permission[], spiffeId: string | undefined): Verdict | undefined {
  if (spiffeId === undefined) return undefined;
  const denied = firstMatch(rules.deny, spiffeId);
  if (denied !== undefined) return { allowed: false, by: `MeshTrafficPermission ${permissions[denied]!.id}` };
  const allowed = firstMatch(rules.allow, spiffeId);
  if (allowed !== undefined) return { allowed: true, by: `MeshTrafficPermission ${permissions[allowed]!.id}` };
  return undefined;
}

/** Returns the lowest position among the matches of the SPIFFE ID, or undefined when none matches. */
function firstMatch(matches: SpiffeMatches, spiffeId: string): number | undefined {
  let first = matches.exact.get(spiffeId);
  for (const prefix of matches.prefixes) {
    if (first !== undefined && prefix.position >= first) break;
    if (spiffeId.startsWith(prefix.value)) {
      first = prefix.position;
      break;
    }
  }
  return first;
}

function indexFrom(permissions: readonly Permission[], tagCount: TagCount): FromIndex {
  const from: FromIndex = { lastForEveryCaller: undefined, lastForTaggedCallers: undefined, byTag: [] };
  for (const permission of permissions) {
    for (const entry of permission.from) {
      const kind = entry.targetRef.kind;
      // Any other kind never matches.
      if (kind === 'Mesh') from.lastForEveryCaller = appliedLast(from.lastForEveryCaller, entry);
      else if (kind === 'MeshSubset' && entry.tags.length === 0) from.lastForTaggedCallers = appliedLast(from.lastForTaggedCallers, entry);
      else if (kind === 'MeshSubset') fileEntry(from, entry, tagCount);
    }
  }
  return from;
}

/** Files a tagged entry under its tag that the fewest services carry, so that few callers bring it up in vain. */
function fileEntry(from: FromIndex, entry: FromEntry, tagCount: TagCount): void {
  const [key, value] = filingTagOf(entry, tagCount);
  let byKey = from.byTag.find((candidate) => candidate.key === key);
  if (!byKey) {
    byKey = { key, byValue: new Map() };
    from.byTag.push(byKey);
  }
  const entries = byKey.byValue.get(value);
  if (entries) entries.push(entry);
  else byKey.byValue.set(value, [entry]);
}

/**
 * Applies the `from` entries of permissions in the order of {@link compareByTargetRef}, so a later matching entry
 * overrides an earlier one. Kuma merges every entry whose tags the caller carries in this order (BuildRules and
 * createRule in pkg/plugins/policies/core/rules/rules.go), and an entry's own specificity does not count. A kind Mesh
 * entry matches every caller, and a MeshSubset entry the callers with all its tags.
 * NOTE: Kuma groups entries into cliques of intersecting tag sets first. With entries that use different values of
 * the same tag, a caller can be judged by a group that lacks some entries it matches, and verify does not model that.
 */
function judgeFrom(from: FromIndex, tags: Tags): Verdict | undefined {
  let last = appliedLast(from.lastForEveryCaller, from.lastForTaggedCallers);
  for (const { key, byValue } of from.byTag) {
    const values = tags.get(key);
    if (!values) continue;
    for (const value of values) {
      const entries = byValue.get(value);
      if (!entries) continue;
      for (const entry of entries) {
        if (carriesAll(tags, entry.tags)) last = appliedLast(last, entry);
      }
    }
  }
  return last?.verdict;
}

/**
 * Returns the entry that Kuma applies later: the one of the stronger permission by {@link compareByTargetRef}, of
 * the permission that comes later in the manifests when neither is stronger (Kuma's sort is stable), or the later
 * entry of the same permission.
 */
function appliedLast(a: FromEntry | undefined, b: FromEntry | undefined): FromEntry | undefined {
  if (!a || !b) return a ?? b;
  const order = compareByTargetRef(a.permission, b.permission) || a.permission.index - b.permission.index || a.index - b.index;
  return order > 0 ? a : b;
}

/** Precedence of top-level targetRef kinds in Kuma 2.14.3 (`order` in api/common/v1alpha1/targetref.go). */
const KIND_ORDER: Record<string, number> = {
  Mesh: 1,
  Dataplane: 2,
  MeshSubset: 3,
  MeshGateway: 4,
  MeshService: 5,
  MeshExternalService: 6,
  MeshMultiZoneService: 7,
  MeshServiceSubset: 8,
  MeshHTTPRoute: 9,
};

/**
 * Ranks a permission's top-level targetRef for {@link compareByTargetRef}: by kind, then a Dataplane ref with
 * sectionName after one without, then the system role (kuma-system) before the workload-owner role (other
 * namespaces). A higher rank is stronger.
 */
export function targetRefRank(targetRef: { kind?: string; sectionName?: string }, namespace: string): number {
  const kind = KIND_ORDER[targetRef.kind ?? 'Mesh'] ?? 0;
  const section = targetRef.kind === 'Dataplane' && targetRef.sectionName ? 1 : 0;
  const role = namespace === SYSTEM_NAMESPACE ? 1 : 4;
  return kind * 100 + section * 10 + role;
}

/**
 * Compares two permissions as SortByTargetRef in Kuma 2.14.3 does (pkg/plugins/policies/core/matchers/dataplane.go),
 * which sorts the weakest first: by {@link targetRefRank}, then by name in descending order, so that the
 * alphabetically first name is strongest. Returns a positive number when `a` is stronger, and 0 for permissions of
 * equal rank and name.
 * NOTE: Kuma also orders by the kuma.io/origin label, which verify ignores because one cluster gives all its
 * policies the same origin.
 */
function compareByTargetRef(a: Permission, b: Permission): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.name === b.name) return 0;
  return a.name < b.name ? 1 : -1;
}
