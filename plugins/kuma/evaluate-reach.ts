import type { Service } from '../../src/topology/types.js';
import type { Permission } from './evaluate.js';
import { SYSTEM_NAMESPACE } from './versions.js';

/** Tags as a certificate or a data plane carries them: each key with its values. */
export type Tags = Map<string, Set<string>>;

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
  /** The Dataplane labels of its pods and the `kuma.io/service` value of each port: every tag a targetRef may select. */
  tags: Tags;
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
  /** Allowing `from` entries, each filed under one `key\0value` of its tags: the tag the fewest services carry. */
  byTag: Map<string, { tags: [string, string][]; target: string }[]>;
  /** Targets with an allowing rule whose SPIFFE ID match is exact, by that ID. */
  bySpiffeId: Map<string, Set<string>>;
  /** Targets with an allowing rule whose SPIFFE ID match is a prefix, by that prefix. */
  bySpiffePrefix: Map<string, Set<string>>;
  /** The lengths of the prefixes in `bySpiffePrefix`, so that a lookup tries only those. */
  prefixLengths: Set<number>;
}

/**
 * Lists, for each target, the permissions of its mesh that `decide` counts on at least one of its ports, in the order
 * of `permissions`. A permission is checked only against the targets that carry the rarest tag of its selector, or,
 * for a selector without tags, against every target of its namespace (of every namespace for a policy in the system
 * namespace).
 *
 * `appliesOnSomePort` must return whether `decide` counts the permission on at least one port of the target.
 */
export function indexPermissionsByTarget(
  targets: readonly ReachTarget[],
  permissions: readonly Permission[],
  appliesOnSomePort: (permission: Permission, target: ReachTarget) => boolean,
): Map<string, Permission[]> {
  const targetsByTag = new Map<string, ReachTarget[]>();
  const targetsByNamespace = new Map<string, ReachTarget[]>();
  for (const target of targets) {
    append(targetsByNamespace, target.service.namespace, target);
    for (const [key, values] of target.tags) for (const value of values) append(targetsByTag, tagKey(key, value), target);
  }

  const byTarget = new Map<string, Permission[]>();
  for (const permission of permissions) {
    const ref = permission.targetRef;
    let selector: [string, string][] = [];
    if (ref.kind === 'Dataplane') selector = Object.entries(ref.labels ?? {});
    if (ref.kind === 'MeshSubset') selector = Object.entries(ref.tags ?? {});
    let candidates: readonly ReachTarget[];
    if (selector.length === 0) {
      candidates = permission.namespace === SYSTEM_NAMESPACE ? targets : (targetsByNamespace.get(permission.namespace) ?? []);
    } else {
      // Every target the selector selects carries each of its tags, so the targets with its rarest tag are enough.
      const selected = selector.map(([key, value]) => targetsByTag.get(tagKey(key, value)) ?? []);
      candidates = selected.reduce((rarest, next) => (next.length < rarest.length ? next : rarest));
    }
    for (const target of candidates) {
      if (target.mesh === permission.mesh && appliesOnSomePort(permission, target)) append(byTarget, target.service.name, permission);
    }
  }
  return byTarget;
}

/**
 * Builds the index behind `mayReach`. A target with no sidecar or without mTLS is open to every caller, and a
 * permissive one to every caller outside its mesh. The rest are filed under what each permission on them lets in:
 * every caller of the mesh, callers with given tags, or callers with a given SPIFFE ID or prefix. Only the allowing
 * entries and rules count, so a deny that `decide` would apply only makes the result larger.
 *
 * `permissionsByTarget` comes from {@link indexPermissionsByTarget}. `callerTags` are the tags of the service clients,
 * used only to pick the tag under which a `from` entry is filed.
 */
export function buildReachIndex(targets: readonly ReachTarget[], permissionsByTarget: Map<string, Permission[]>, callerTags: readonly Tags[]): ReachIndex {
  const callerTagCounts = new Map<string, number>();
  for (const tags of callerTags) {
    for (const [key, values] of tags) for (const value of values) callerTagCounts.set(tagKey(key, value), (callerTagCounts.get(tagKey(key, value)) ?? 0) + 1);
  }

  const open: string[] = [];
  const permissiveByMesh = new Map<string, string[]>();
  const meshes = new Map<string, MeshReach>();
  const allowsOf = new Map<Permission, PermissionAllows>();
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
      let allows = allowsOf.get(permission);
      if (!allows) {
        allows = allowsOfPermission(permission);
        allowsOf.set(permission, allows);
      }
      // With a MeshIdentity on the target, `decide` ignores `from` and reads only `rules`.
      if (!target.workloadIdentity) {
        for (const tags of allows.fromTags) {
          if (tags.length === 0) reach.everyCaller.add(name);
          else append(reach.byTag, rarestCallerTag(tags), { tags, target: name });
        }
      }
      for (const match of allows.spiffeIds) {
        if (match.prefix) {
          addTo(reach.bySpiffePrefix, match.value, name);
          reach.prefixLengths.add(match.value.length);
        } else {
          addTo(reach.bySpiffeId, match.value, name);
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
      for (const [key, values] of caller.tags) {
        for (const value of values) {
          for (const entry of reach.byTag.get(tagKey(key, value)) ?? []) {
            if (entry.tags.every(([tag, expected]) => caller.tags.get(tag)?.has(expected))) found.add(entry.target);
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

  /** Returns the `key\0value` of the tag that the fewest service clients carry, so that few callers look it up in vain. */
  function rarestCallerTag(tags: [string, string][]): string {
    const keys = tags.map(([key, value]) => tagKey(key, value));
    return keys.reduce((best, key) => ((callerTagCounts.get(key) ?? 0) < (callerTagCounts.get(best) ?? 0) ? key : best));
  }
}

/** The callers a permission allows, as `decide` reads it: the tags of each allowing `from` entry and each allowing SPIFFE ID match. */
interface PermissionAllows {
  /** The tags each allowing `from` entry requires, empty for an entry that every caller of the mesh matches. */
  fromTags: [string, string][][];
  spiffeIds: { value: string; prefix: boolean }[];
}

function allowsOfPermission(permission: Permission): PermissionAllows {
  // `decide` never matches a `from` entry of another kind, nor a rule without a SPIFFE ID value.
  const fromTags = permission.from
    .filter((entry) => isAllow(entry.action) && (entry.targetRef.kind === 'Mesh' || entry.targetRef.kind === 'MeshSubset'))
    .map((entry) => (entry.targetRef.kind === 'Mesh' ? [] : Object.entries(entry.targetRef.tags ?? {})));
  const spiffeIds = permission.rules
    .flatMap((rule) => rule.allow)
    .flatMap((match) => (match.spiffeID?.value === undefined ? [] : [{ value: match.spiffeID.value, prefix: match.spiffeID.type === 'Prefix' }]));
  return { fromTags, spiffeIds };
}

function isAllow(action: string): boolean {
  return action === 'Allow' || action === 'AllowWithShadowDeny';
}

function newMeshReach(): MeshReach {
  return { everyCaller: new Set(), byTag: new Map(), bySpiffeId: new Map(), bySpiffePrefix: new Map(), prefixLengths: new Set() };
}

function tagKey(key: string, value: string): string {
  return `${key}\0${value}`;
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
