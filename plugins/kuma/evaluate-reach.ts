import type { Service } from '../../src/topology/types.js';
import type { FromEntry, Permission } from './evaluate.js';
import type { TagCount } from './evaluate-inbound.js';
import { SYSTEM_NAMESPACE } from './versions.js';

/** Tags as a certificate carries them: each key with its distinct values. */
export type Tags = Map<string, readonly string[]>;

/** A callee as `decide` judges it, before any permission. */
export interface ReachTarget {
  service: Service;
  /** The mesh of its data plane. */
  mesh: string;
  /**
   * `open` when `decide` allows every caller (no sidecar, or mTLS off). `permissive` when it allows every caller
   * without a certificate of the target's mesh and judges the others by permissions. `strict` when it judges callers
   * of the target's mesh by permissions and denies the rest.
   */
  mode: 'open' | 'permissive' | 'strict';
  /** True when a MeshIdentity issues the target's certificate, so that `decide` reads only the permissions' `rules`. */
  workloadIdentity: boolean;
  /** The Dataplane labels of its pods: with `kuma.io/service`, every tag a targetRef may select. */
  labels: Record<string, string>;
  /** The distinct values of its `kuma.io/service` tag: one for each port, and a pod label of that name if any. */
  kumaServices: string[];
}

/** A caller as `decide` judges it on a callee of the caller's own mesh. */
export interface ReachCaller {
  /** The mesh of the caller's certificate, or undefined when it has no sidecar or is not meshed. */
  mesh: string | undefined;
  /** The tags its certificate carries in mesh-mtls mode. */
  tags: Tags;
  /** The SPIFFE ID a MeshIdentity gives it, if any. */
  spiffeId: string | undefined;
}

/** The services each caller may reach, built once from the targets and the MeshTrafficPermissions. */
export interface ReachIndex {
  /** Returns the names of the services `caller` may reach on some port: a superset of those `decide` allows. */
  targetsOf(caller: ReachCaller): Set<string>;
}

/** The targets that permissions of one mesh open to callers of that mesh, by what the caller must prove. */
interface MeshReach {
  /** Targets with an allowing `from` entry that every caller of the mesh matches. */
  everyCaller: Set<string>;
  /** Allowing `from` entries, each filed by the key and value of one of its tags: the tag the fewest services carry. */
  byTag: Map<string, Map<string, { tags: [string, string][]; target: string }[]>>;
  /** Targets with an allowing rule whose SPIFFE ID match is exact, by that ID. */
  bySpiffeId: Map<string, Set<string>>;
  /** Targets with an allowing rule whose SPIFFE ID match is a prefix, by that prefix. */
  bySpiffePrefix: Map<string, Set<string>>;
  /** The lengths of the prefixes in `bySpiffePrefix`, so that a lookup tries only those. */
  prefixLengths: Set<number>;
}

/** The permissions on each target, and the number of targets that carry each tag. */
export interface TargetIndex {
  /** By target name, the permissions of its mesh that `decide` counts on at least one of its ports, in manifest order. */
  permissionsByTarget: Map<string, Permission[]>;
  tagCount: TagCount;
}

/**
 * Lists, for each target, the permissions of its mesh that `decide` counts on at least one of its ports, in the order
 * of `permissions`, and counts the targets that carry each tag. A permission is checked only against the targets that
 * carry the rarest tag of its selector, or, for a selector without tags, against every target of its namespace (of
 * every namespace for a policy in the system namespace).
 *
 * `appliesOnSomePort` must return whether `decide` counts the permission on at least one port of the target.
 */
export function indexPermissionsByTarget(
  targets: readonly ReachTarget[],
  permissions: readonly Permission[],
  appliesOnSomePort: (permission: Permission, target: ReachTarget) => boolean,
): TargetIndex {
  // Indexed by one tag key at a time on first use, since selectors and `from` entries use few keys.
  const targetsByTag = new Map<string, Map<string, ReachTarget[]>>();
  const targetsWith = (key: string, value: string): readonly ReachTarget[] => {
    let byValue = targetsByTag.get(key);
    if (!byValue) {
      byValue = new Map();
      for (const target of targets) {
        if (key === 'kuma.io/service') for (const kumaService of target.kumaServices) append(byValue, kumaService, target);
        else if (Object.hasOwn(target.labels, key)) append(byValue, target.labels[key]!, target);
      }
      targetsByTag.set(key, byValue);
    }
    return byValue.get(value) ?? NO_TARGETS;
  };
  let targetsByNamespace: Map<string, ReachTarget[]> | undefined;

  const byTarget = new Map<string, Permission[]>();
  for (const permission of permissions) {
    const selector = permission.selector;
    let candidates: readonly ReachTarget[];
    if (selector.length === 0) {
      if (!targetsByNamespace) {
        targetsByNamespace = new Map();
        for (const target of targets) append(targetsByNamespace, target.service.namespace, target);
      }
      candidates = permission.namespace === SYSTEM_NAMESPACE ? targets : (targetsByNamespace.get(permission.namespace) ?? []);
    } else {
      // Every target the selector selects carries each of its tags, so the targets with its rarest tag are enough.
      candidates = targets;
      for (const [key, value] of selector) {
        const selected = targetsWith(key, value);
        if (selected.length < candidates.length) candidates = selected;
      }
    }
    for (const target of candidates) {
      if (target.mesh === permission.mesh && appliesOnSomePort(permission, target)) append(byTarget, target.service.name, permission);
    }
  }
  return { permissionsByTarget: byTarget, tagCount: (key, value) => targetsWith(key, value).length };
}

/**
 * Builds the index behind `mayReach`. A target with no sidecar or without mTLS is open to every caller, and a
 * permissive one to every caller outside its mesh. The rest are filed under what each permission on them lets in:
 * every caller of the mesh, callers with given tags, or callers with a given SPIFFE ID or prefix. Only the allowing
 * entries and rules count, so a deny that `decide` would apply only makes the result larger.
 *
 * `permissionsByTarget` comes from {@link indexPermissionsByTarget}. `tagCount` picks the tag under which a `from`
 * entry is filed. A service's own client carries about the tags of its data plane, so the tag that the fewest
 * services carry is also the one that the fewest callers look up in vain.
 */
export function buildReachIndex(targets: readonly ReachTarget[], permissionsByTarget: Map<string, Permission[]>, tagCount: TagCount): ReachIndex {
  const open: string[] = [];
  const permissiveByMesh = new Map<string, string[]>();
  const meshes = new Map<string, MeshReach>();
  for (const target of targets) {
    const name = target.service.name;
    if (target.mode === 'open') {
      open.push(name);
      continue;
    }
    if (target.mode === 'permissive') append(permissiveByMesh, target.mesh, name);

    const reach = meshes.get(target.mesh) ?? newMeshReach();
    meshes.set(target.mesh, reach);
    for (const permission of permissionsByTarget.get(name) ?? []) {
      // With a MeshIdentity on the target, `decide` ignores `from` and reads only `rules`. It matches only `from`
      // entries of kind Mesh or MeshSubset, and one without tags matches every caller of the mesh.
      if (!target.workloadIdentity) {
        for (const entry of permission.from) {
          const kind = entry.targetRef.kind;
          if (!entry.verdict.allowed || (kind !== 'Mesh' && kind !== 'MeshSubset')) continue;
          if (entry.tags.length === 0) {
            reach.everyCaller.add(name);
            continue;
          }
          const [key, value] = filingTagOf(entry, tagCount);
          append(innerMapOf(reach.byTag, key), value, { tags: entry.tags, target: name });
        }
      }
      // `decide` never matches a rule without a SPIFFE ID value.
      for (const rule of permission.rules) {
        for (const match of rule.allow) {
          const value = match.spiffeID?.value;
          if (value === undefined) continue;
          if (match.spiffeID!.type === 'Prefix') {
            addTo(reach.bySpiffePrefix, value, name);
            reach.prefixLengths.add(value.length);
          } else {
            addTo(reach.bySpiffeId, value, name);
          }
        }
      }
    }
  }

  return {
    targetsOf(caller) {
      const found = new Set(open);
      // Without a certificate of the target's mesh, a permissive target lets the caller in unjudged.
      for (const [mesh, names] of permissiveByMesh) if (mesh !== caller.mesh) for (const name of names) found.add(name);
      const reach = caller.mesh === undefined ? undefined : meshes.get(caller.mesh);
      if (!reach) return found;

      for (const name of reach.everyCaller) found.add(name);
      for (const [key, byValue] of reach.byTag) {
        for (const value of caller.tags.get(key) ?? []) {
          for (const entry of byValue.get(value) ?? []) {
            if (carriesAll(caller.tags, entry.tags)) found.add(entry.target);
          }
        }
      }
      const id = caller.spiffeId;
      if (id !== undefined) {
        for (const name of reach.bySpiffeId.get(id) ?? []) found.add(name);
        for (const length of reach.prefixLengths) {
          if (length > id.length) continue;
          for (const name of reach.bySpiffePrefix.get(id.slice(0, length)) ?? []) found.add(name);
        }
      }
      return found;
    },
  };
}

function newMeshReach(): MeshReach {
  return { everyCaller: new Set(), byTag: new Map(), bySpiffeId: new Map(), bySpiffePrefix: new Map(), prefixLengths: new Set() };
}

/**
 * Returns the tag under which the indexes file a `from` entry that has tags: the one that the fewest services carry,
 * so that few callers look it up in vain. Stores it in the entry on first use.
 */
export function filingTagOf(entry: FromEntry, tagCount: TagCount): [string, string] {
  if (entry.filingTag) return entry.filingTag;
  let rarest = entry.tags[0]!;
  if (entry.tags.length > 1) {
    let rarestCount = Infinity;
    for (const tag of entry.tags) {
      const count = tagCount(tag[0], tag[1]);
      if (count >= rarestCount) continue;
      rarest = tag;
      rarestCount = count;
    }
  }
  entry.filingTag = rarest;
  return rarest;
}

const NO_TARGETS: readonly ReachTarget[] = [];

/** Checks whether `tags` has every key and value of `required`. */
export function carriesAll(tags: Tags, required: readonly [string, string][]): boolean {
  for (const [key, value] of required) {
    if (!tags.get(key)?.includes(value)) return false;
  }
  return true;
}

/** Returns the inner map under `key`, adding an empty one when there is none. */
function innerMapOf<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = map.get(key);
  if (!inner) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

function append<T>(map: Map<string, T[]>, key: string, item: T): void {
  const items = map.get(key);
  if (items) items.push(item);
  else map.set(key, [item]);
}

function addTo(map: Map<string, Set<string>>, key: string, item: string): void {
  const items = map.get(key);
  if (items) items.add(item);
  else map.set(key, new Set([item]));
}
