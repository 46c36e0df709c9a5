import type { EvaluateContext, Finding, GatewayModel, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import type { ExternalService, Service, ServicePort } from '../../src/topology/types.js';
import { NAMESPACE_TAG } from './resources.js';
import { decideExternalTraffic, readGatewayInstances, readGatewayRoutes, type GatewayInstance } from './evaluate-edge.js';
import { buildReachIndex, indexPermissionsByTarget, type ReachIndex, type ReachTarget, type Tags } from './evaluate-reach.js';
import { SYSTEM_NAMESPACE, kumaServiceOf } from './versions.js';

type TargetRef = { kind?: string; name?: string; namespace?: string; labels?: Record<string, string>; tags?: Record<string, string>; sectionName?: string };
type Match = { spiffeID?: { type?: string; value?: string }; sni?: unknown };

export interface Permission {
  id: string;
  name: string;
  mesh: string;
  namespace: string;
  targetRef: TargetRef;
  from: { targetRef: TargetRef; action: string }[];
  rules: { deny: Match[]; allow: Match[] }[];
}

interface Identity {
  id: string;
  mesh: string;
  matchLabels: Record<string, string> | undefined;
  trustDomain: string;
  path: string;
}

/** A pod as Kuma models it: whether it has a sidecar, its mesh and its Dataplane labels. */
interface Workload {
  injected: boolean;
  mesh: string;
  labels: Record<string, string>;
}

/** The mTLS a data plane enforces on its inbounds. */
interface MtlsSetting {
  mode: 'STRICT' | 'PERMISSIVE' | 'OFF';
  /** `mesh` when the certificate comes from Mesh.mtls, `identity` when from a MeshIdentity. */
  source: 'mesh' | 'identity' | 'none';
  identity?: Identity;
  by: string;
}

/**
 * Evaluates Kuma's Mesh, MeshIdentity, MeshTLS and MeshTrafficPermission resources the way a sidecar of
 * Kuma 2.14 does. A connection to a meshed pod needs mTLS from the same mesh when the mode is STRICT; with mTLS on,
 * the connection is then allowed only when a MeshTrafficPermission on the callee's inbound allows the caller.
 * NOTE: verify does not evaluate `MeshService` and `MeshServiceSubset` references or SNI matches. Each is reported
 * as a finding and never matches.
 */
export function evaluateKuma(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [];
  const { objects, topology } = context;

  const namespaceLabels = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  const meshes = new Map(objects.filter(isKuma('Mesh')).map((object) => [object.metadata.name, object]));
  const identities = objects.filter(isKuma('MeshIdentity')).map((object) => readIdentity(object, findings));
  const meshTlsModes = objects.filter(isKuma('MeshTLS')).map((object) => readMeshTls(object, findings));
  const permissions = objects.filter(isKuma('MeshTrafficPermission')).map((object) => readPermission(object, findings));
  const gatewayInstances = readGatewayInstances(objects, namespaceLabels, findings);
  if (gatewayInstances.length > 1) findings.push({ subject: gatewayInstances[1]!.id, message: 'is a second MeshGatewayInstance, and verify models only the first one' });
  const gatewayInstance: GatewayInstance | undefined = gatewayInstances[0];

  // 1. Which pods have a sidecar, and in which mesh.
  const workloadOf = (namespace: string, podLabels: Record<string, string>): Workload => {
    const labels = namespaceLabels.get(namespace) ?? {};
    const podSetting = podLabels['kuma.io/sidecar-injection'];
    const injected = podSetting !== undefined ? podSetting === 'enabled' || podSetting === 'true' : labels['kuma.io/sidecar-injection'] === 'enabled' || labels['kuma.io/sidecar-injection'] === 'true';
    const mesh = podLabels['kuma.io/mesh'] ?? labels['kuma.io/mesh'] ?? 'default';
    return { injected, mesh, labels: { ...podLabels, [NAMESPACE_TAG]: namespace, 'kuma.io/mesh': mesh } };
  };
  const workloads = new Map<string, Workload>();
  for (const service of topology.services) {
    const template = podTemplateOf(objects, service);
    workloads.set(service.name, workloadOf(service.namespace, template?.metadata.labels ?? {}));
  }

  for (const namespace of topology.namespaces) {
    const labels = namespaceLabels.get(namespace) ?? {};
    if (labels['kuma.io/sidecar-injection'] !== 'enabled') {
      findings.push({ subject: `Namespace ${namespace}`, message: 'lacks the label kuma.io/sidecar-injection=enabled, so its pods get no sidecar' });
    }
    const mesh = labels['kuma.io/mesh'];
    if (mesh === undefined) findings.push({ subject: `Namespace ${namespace}`, message: 'lacks the label kuma.io/mesh, so its pods join the mesh "default"' });
    else if (!meshes.has(mesh)) findings.push({ subject: `Namespace ${namespace}`, message: `names the mesh "${mesh}" in kuma.io/mesh, but no Mesh of that name is in the manifests` });
  }
  for (const [name, mesh] of meshes) {
    const setting = meshMtls(mesh);
    if (setting.mode === 'PERMISSIVE') findings.push({ subject: `Mesh ${name}`, message: 'accepts plaintext (mtls backend mode PERMISSIVE): set the mode to STRICT' });
    if (setting.problem) findings.push({ subject: `Mesh ${name}`, message: setting.problem });
  }
  for (const tls of meshTlsModes) {
    if (tls.mode === 'Permissive') findings.push({ subject: tls.id, message: 'accepts plaintext (mode Permissive): set the mode to Strict' });
  }

  // 2. The mTLS a data plane enforces: a MeshIdentity that selects it wins over the Mesh's builtin CA.
  const mtlsOf = (workload: Workload): MtlsSetting => {
    const mesh = meshes.get(workload.mesh);
    if (!mesh) return { mode: 'OFF', source: 'none', by: `no Mesh "${workload.mesh}" in the manifests` };
    const identity = bestIdentity(identities, workload);
    if (identity) {
      const permissive = meshTlsModes.find((tls) => tls.mesh === workload.mesh && tls.mode === 'Permissive');
      if (permissive) return { mode: 'PERMISSIVE', source: 'identity', identity, by: permissive.id };
      return { mode: 'STRICT', source: 'identity', identity, by: identity.id };
    }
    const setting = meshMtls(mesh);
    if (setting.mode === 'OFF') return { mode: 'OFF', source: 'none', by: `Mesh ${workload.mesh} has no enabled mTLS backend` };
    return { mode: setting.mode, source: 'mesh', by: `Mesh ${workload.mesh} (${setting.mode})` };
  };

  // Service names are unique in a validated topology.
  const servicesByKey = new Map(topology.services.map((service) => [serviceKey(service.name, service.namespace), service]));

  /** Returns the data plane a connection comes from: a builtin gateway's, or the pod's own, which may have no sidecar. */
  const callerOf = (source: Source): { gateway: GatewayInstance | undefined; workload: Workload } => {
    const gateway = gatewayOf(source);
    return { gateway, workload: gateway ? gatewayWorkload(gateway) : workloadOf(source.namespace, source.labels) };
  };

  /** Returns what the caller's certificate proves: its tags in mesh-mtls mode, and its SPIFFE ID when a MeshIdentity issues it. */
  const credentialsOf = (source: Source, gateway: GatewayInstance | undefined, workload: Workload): { tags: Tags; spiffeId: string | undefined } => {
    const tags = gateway ? tagsOf(gateway.tags) : sourceTagsOf(source, workload, servicesByKey);
    const identity = mtlsOf(workload).identity;
    return { tags, spiffeId: identity ? renderSpiffeId(identity, source) : undefined };
  };

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const targetWorkload = workloads.get(target.name)!;
    if (!targetWorkload.injected) {
      return { allowed: true, mtls: false, reason: `${target.namespace}/${target.name} has no Kuma sidecar, so Kuma enforces nothing on it` };
    }
    const mtls = mtlsOf(targetWorkload);
    if (mtls.mode === 'OFF') {
      return { allowed: true, mtls: false, reason: `${mtls.by}: without mTLS Kuma enforces no MeshTrafficPermission` };
    }

    const { gateway, workload: sourceWorkload } = callerOf(source);
    const sourceMeshed = source.meshed && sourceWorkload.injected;
    const sameMesh = sourceMeshed && sourceWorkload.mesh === targetWorkload.mesh;
    if (!sameMesh) {
      if (mtls.mode === 'STRICT') {
        const cause = sourceMeshed ? `the client's certificate comes from the mesh "${sourceWorkload.mesh}"` : 'the client has no Kuma certificate';
        return { allowed: false, mtls: false, reason: `${mtls.by} requires mTLS and ${cause}` };
      }
      return { allowed: true, mtls: false, reason: `${mtls.by} accepts plaintext, and Kuma applies no permission to it` };
    }

    // 3. The permissions on this inbound, judged on what the caller's certificate proves.
    const { tags: sourceTags, spiffeId } = credentialsOf(source, gateway, sourceWorkload);
    const caller = mtls.source === 'identity' ? { workloadIdentity: true, spiffeId } : { workloadIdentity: false, tags: sourceTags, spiffeId };
    const verdict = judge(inboundPermissionsOf(target, port, targetWorkload), caller);
    if (!verdict) return { allowed: false, mtls: true, reason: `no MeshTrafficPermission on ${target.namespace}/${target.name} port ${port.name} allows the caller, and Kuma denies by default with mTLS on` };
    return { allowed: verdict.allowed, mtls: true, reason: `${verdict.allowed ? 'allowed' : 'denied'} by ${verdict.by}` };
  };

  const decideExternal = (source: Source, external: ExternalService): MeshDecision => {
    const gateway = gatewayOf(source);
    const workload = gateway ? gatewayWorkload(gateway) : workloadOf(source.namespace, source.labels);
    if (!source.meshed || !workload.injected) {
      return { allowed: true, mtls: false, reason: `${source.namespace}/${source.service} has no Kuma sidecar, so Kuma does not see its connections` };
    }
    // NOTE: MeshPassthrough does not apply to builtin gateways, which verify does not ask about externals.
    const declared = topology.externalEdges.some((edge) => edge.from === source.service && edge.to.name === external.name);
    return decideExternalTraffic(objects, meshes.get(workload.mesh), { mesh: workload.mesh, namespace: source.namespace, labels: workload.labels }, external, declared);
  };

  // Built on first use, since only verify needs them. Then decide reads only the permissions on the callee, and
  // mayReach costs about the size of its result instead of the number of services.
  let indexes: { targets: ReachTarget[]; permissionsByTarget: Map<string, Permission[]> } | undefined;
  let reach: ReachIndex | undefined;
  const indexesOf = () => {
    if (!indexes) {
      const targets = reachTargets();
      indexes = { targets, permissionsByTarget: indexPermissionsByTarget(targets, permissions, appliesOnSomePort) };
    }
    return indexes;
  };

  // Cached by target and port name, because the permissions on an inbound do not depend on the caller.
  const inbounds = new Map<string, InboundPermissions>();
  /** Returns the permissions of the callee's mesh that apply to one of its inbounds. */
  function inboundPermissionsOf(target: Service, port: ServicePort, workload: Workload): InboundPermissions {
    const key = `${target.name}\0${port.name}`;
    let inbound = inbounds.get(key);
    if (!inbound) {
      const applicable = (indexesOf().permissionsByTarget.get(target.name) ?? []).filter((permission) => appliesTo(permission, target, port, workload));
      inbound = { permissions: applicable, ordered: sortByTargetRef(applicable), hasRules: applicable.some((permission) => permission.rules.length > 0) };
      inbounds.set(key, inbound);
    }
    return inbound;
  }

  const mayReach = (source: Source): Set<string> => {
    if (!reach) {
      const { targets, permissionsByTarget } = indexesOf();
      reach = buildReachIndex(targets, permissionsByTarget, serviceClientTags());
    }
    // The same caller as in decide: a caller without a sidecar, or from another mesh, is never judged by permissions.
    const { gateway, workload } = callerOf(source);
    const mesh = source.meshed && workload.injected ? workload.mesh : undefined;
    const { tags, spiffeId } = credentialsOf(source, gateway, workload);
    return reach.targetsOf({ mesh, tags, spiffeId });
  };

  /** Lists every service with the mTLS its data plane enforces, as the first steps of decide find it. */
  function reachTargets(): ReachTarget[] {
    return topology.services.map((service) => {
      const workload = workloads.get(service.name)!;
      const mtls = mtlsOf(workload);
      let mode: ReachTarget['mode'] = 'strict';
      if (!workload.injected || mtls.mode === 'OFF') mode = 'open';
      else if (mtls.mode === 'PERMISSIVE') mode = 'permissive';
      const tags: Tags = tagsOf(workload.labels);
      tags.set('kuma.io/service', new Set([...(tags.get('kuma.io/service') ?? []), ...service.ports.map((port) => kumaServiceOf(service.name, service.namespace, port.port))]));
      return { service, mesh: workload.mesh, mode, workloadIdentity: mtls.source === 'identity', tags };
    });
  }

  function appliesOnSomePort(permission: Permission, target: ReachTarget): boolean {
    return target.service.ports.some((port) => appliesTo(permission, target.service, port, workloads.get(target.service.name)!));
  }

  /** Returns the certificate tags of each service's own client, which verify uses as a caller. */
  function serviceClientTags(): Tags[] {
    return topology.services.map((service) => {
      const source: Source = { service: service.name, namespace: service.namespace, serviceAccount: service.name, labels: {}, meshed: true };
      return sourceTagsOf(source, workloads.get(service.name)!, servicesByKey);
    });
  }

  const evaluator: MeshEvaluator = { decide, findings, decideExternal, mayReach };
  if (gatewayInstance) evaluator.gateway = gatewayModelOf(gatewayInstance);
  return evaluator;

  /** Returns the gateway instance whose pods `source` is: its namespace and the `app` label Kuma gives the pods. */
  function gatewayOf(source: Source): GatewayInstance | undefined {
    return gatewayInstances.find((instance) => instance.namespace === source.namespace && source.labels.app === instance.name);
  }

  function gatewayModelOf(instance: GatewayInstance): GatewayModel {
    return {
      source: { service: instance.name, namespace: instance.namespace, serviceAccount: instance.serviceAccount, labels: { ...instance.podLabels }, meshed: true },
      pods: { namespace: instance.namespace, labels: { ...instance.podLabels } },
      routes: readGatewayRoutes(objects, topology, instance, findings),
    };
  }
}

/** Models a builtin gateway pod: Kuma runs a data plane in it, though its pods carry kuma.io/sidecar-injection=disabled. */
function gatewayWorkload(instance: GatewayInstance): Workload {
  return { injected: true, mesh: instance.mesh, labels: { ...instance.podLabels, [NAMESPACE_TAG]: instance.namespace, 'kuma.io/mesh': instance.mesh } };
}

function tagsOf(tags: Record<string, string>): Tags {
  return new Map(Object.entries(tags).map(([key, value]) => [key, new Set([value])]));
}

/** Returns the mTLS mode of a Mesh's enabled backend. A backend without `mode` is STRICT, the first value of Kuma's Mode enum. */
function meshMtls(mesh: KubeObject): { mode: 'STRICT' | 'PERMISSIVE' | 'OFF'; problem?: string } {
  const mtls = (mesh.spec as { mtls?: { enabledBackend?: string; backends?: { name?: string; type?: string; mode?: string }[] } } | undefined)?.mtls;
  if (!mtls?.enabledBackend) return { mode: 'OFF' };
  const backend = (mtls.backends ?? []).find((candidate) => candidate.name === mtls.enabledBackend);
  if (!backend) return { mode: 'OFF', problem: `enables the mtls backend "${mtls.enabledBackend}", which is not in spec.mtls.backends` };
  const mode = backend.mode ?? 'STRICT';
  if (mode !== 'STRICT' && mode !== 'PERMISSIVE') return { mode: 'OFF', problem: `has the unknown mtls mode "${mode}": use STRICT` };
  return { mode };
}

/** Finds the most specific MeshIdentity of the mesh that selects the workload: most labels, then the first name. */
function bestIdentity(identities: Identity[], workload: Workload): Identity | undefined {
  return identities
    .filter((identity) => identity.mesh === workload.mesh && identity.matchLabels !== undefined && labelsMatch(identity.matchLabels, workload.labels))
    .sort((a, b) => Object.keys(b.matchLabels!).length - Object.keys(a.matchLabels!).length || (a.id < b.id ? -1 : 1))[0];
}

function renderSpiffeId(identity: Identity, source: Source): string {
  const path = identity.path.replace(/\{\{\s*\.Namespace\s*\}\}/g, source.namespace).replace(/\{\{\s*\.ServiceAccount\s*\}\}/g, source.serviceAccount);
  return `spiffe://${identity.trustDomain}${path}`;
}

/**
 * Lists the tags a caller's certificate carries in mesh-mtls mode: its pod labels, namespace and `kuma.io/service`
 * (`<service>_<namespace>_svc_<port>` for each port of the Service that selects it, `pkg/core/ca/issuer`, v2.14.3).
 */
function sourceTagsOf(source: Source, workload: Workload, services: Map<string, Service>): Tags {
  const tags = new Map<string, Set<string>>();
  const add = (key: string, value: string) => tags.set(key, (tags.get(key) ?? new Set()).add(value));
  for (const [key, value] of Object.entries(workload.labels)) if (!key.includes('kuma.io/') || key === NAMESPACE_TAG) add(key, value);
  const service = services.get(serviceKey(source.service, source.namespace));
  if (service) for (const port of service.ports) add('kuma.io/service', `${service.name}_${service.namespace}_svc_${port.port}`);
  else add('kuma.io/service', `${source.service}_${source.namespace}_svc`);
  return tags;
}

/** Checks whether a permission's top-level targetRef selects the callee's inbound for this port. */
function appliesTo(permission: Permission, target: Service, port: ServicePort, workload: Workload): boolean {
  // A policy outside the system namespace applies only to data planes in its own namespace.
  if (permission.namespace !== SYSTEM_NAMESPACE && permission.namespace !== target.namespace) return false;
  const ref = permission.targetRef;
  const sectionOk = ref.sectionName === undefined || ref.sectionName === port.name || ref.sectionName === String(port.targetPort);
  switch (ref.kind ?? 'Mesh') {
    case 'Mesh':
      return true;
    case 'Dataplane':
      // Kuma 2.14.3 selects every data plane when name, namespace and labels are all unset, and none when only
      // namespace is set (allDataplanesSelected in pkg/plugins/policies/core/matchers/dataplane.go).
      if (ref.name !== undefined) return false;
      if (ref.labels === undefined) return ref.namespace === undefined && sectionOk;
      return labelsMatch(ref.labels, workload.labels) && sectionOk;
    case 'MeshSubset': {
      const tags = { ...workload.labels, 'kuma.io/service': `${target.name}_${target.namespace}_svc_${port.port}` };
      return labelsMatch(ref.tags ?? {}, tags);
    }
    default:
      return false;
  }
}

/** The permissions that apply to one inbound of a callee. */
interface InboundPermissions {
  /** In manifest order, in which `rules` are read. */
  permissions: Permission[];
  /** Sorted from the weakest to the strongest, in which `from` entries are applied. */
  ordered: Permission[];
  /** True when one of them has `rules`, so that Kuma reads only `rules`. */
  hasRules: boolean;
}

interface Caller {
  /** Whether the callee's data plane gets its identity from a MeshIdentity, which makes Kuma ignore `from`. */
  workloadIdentity: boolean;
  tags?: Map<string, Set<string>>;
  spiffeId?: string;
}

/**
 * Decides by the applicable permissions as Kuma 2.14.3 does (`plugin.go` in
 * pkg/plugins/policies/meshtrafficpermission/plugin/v1alpha1). When a permission on the inbound has `rules`, or the
 * callee has a MeshIdentity, Kuma uses only `rules`: any deny match denies, else any allow match allows. Otherwise
 * it uses only `from`, where the last matching entry in Kuma's policy order decides. Returns undefined when
 * nothing matches.
 */
function judge(inbound: InboundPermissions, caller: Caller): { allowed: boolean; by: string } | undefined {
  if (caller.workloadIdentity || inbound.hasRules) return judgeRules(inbound.permissions, caller);
  return judgeFrom(inbound.ordered, caller);
}

function judgeRules(permissions: Permission[], caller: Caller): { allowed: boolean; by: string } | undefined {
  const matchesSpiffe = (match: Match) =>
    caller.spiffeId !== undefined &&
    match.spiffeID?.value !== undefined &&
    (match.spiffeID.type === 'Prefix' ? caller.spiffeId.startsWith(match.spiffeID.value) : caller.spiffeId === match.spiffeID.value);
  const denied = permissions.find((permission) => permission.rules.some((rule) => rule.deny.some(matchesSpiffe)));
  if (denied) return { allowed: false, by: `MeshTrafficPermission ${denied.id}` };
  const allowed = permissions.find((permission) => permission.rules.some((rule) => rule.allow.some(matchesSpiffe)));
  if (allowed) return { allowed: true, by: `MeshTrafficPermission ${allowed.id}` };
  return undefined;
}

/**
 * Applies the `from` entries of permissions sorted by {@link sortByTargetRef}, so a later matching entry overrides an
 * earlier one. Kuma merges every entry whose tags the caller carries in this order (BuildRules and createRule in
 * pkg/plugins/policies/core/rules/rules.go), and an entry's own specificity does not count.
 * NOTE: Kuma groups entries into cliques of intersecting tag sets first. With entries that use different values of
 * the same tag, a caller can be judged by a group that lacks some entries it matches, and verify does not model that.
 */
function judgeFrom(ordered: Permission[], caller: Caller): { allowed: boolean; by: string } | undefined {
  let last: { action: string; id: string } | undefined;
  for (const permission of ordered) {
    for (const entry of permission.from) {
      if (fromMatches(entry.targetRef, caller)) last = { action: entry.action, id: permission.id };
    }
  }
  if (!last) return undefined;
  return { allowed: last.action === 'Allow' || last.action === 'AllowWithShadowDeny', by: `MeshTrafficPermission ${last.id}` };
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
 * Sorts permissions from the weakest to the strongest, as SortByTargetRef in Kuma 2.14.3 does
 * (pkg/plugins/policies/core/matchers/dataplane.go). The keys are the top-level kind, then a Dataplane ref with
 * sectionName after one without, then the system role (kuma-system) before the workload-owner role (other
 * namespaces). Among the rest, names sort in descending order, so the alphabetically first name is strongest.
 * NOTE: Kuma also orders by the kuma.io/origin label, which verify ignores because one cluster gives all its
 * policies the same origin.
 */
function sortByTargetRef(permissions: Permission[]): Permission[] {
  const kindOf = (permission: Permission) => KIND_ORDER[permission.targetRef.kind ?? 'Mesh'] ?? 0;
  const sectionOf = (permission: Permission) => (permission.targetRef.kind === 'Dataplane' && permission.targetRef.sectionName ? 1 : 0);
  const roleOf = (permission: Permission) => (permission.namespace === SYSTEM_NAMESPACE ? 1 : 4);
  const compareNamesDescending = (a: Permission, b: Permission) => {
    if (a.name === b.name) return 0;
    return a.name < b.name ? 1 : -1;
  };
  return [...permissions].sort((a, b) => kindOf(a) - kindOf(b) || sectionOf(a) - sectionOf(b) || roleOf(a) - roleOf(b) || compareNamesDescending(a, b));
}

/** Checks whether a `from` entry selects the caller: kind Mesh selects every caller, MeshSubset the callers with all its tags. */
function fromMatches(ref: TargetRef, caller: Caller): boolean {
  if (ref.kind === 'Mesh') return true;
  if (ref.kind !== 'MeshSubset' || !caller.tags) return false;
  return Object.entries(ref.tags ?? {}).every(([key, value]) => caller.tags!.get(key)?.has(value));
}

function serviceKey(name: string, namespace: string): string {
  return `${namespace}\0${name}`;
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function isKuma(kind: string): (object: KubeObject) => boolean {
  return (object) => object.kind === kind && object.apiVersion.startsWith('kuma.io/');
}

function meshLabelOf(object: KubeObject): string {
  return object.metadata.labels?.['kuma.io/mesh'] ?? 'default';
}

function readPermission(object: KubeObject, findings: Finding[]): Permission {
  const spec = (object.spec ?? {}) as { targetRef?: TargetRef; from?: { targetRef?: TargetRef; default?: { action?: string } }[]; rules?: { default?: { allow?: Match[]; allowWithShadowDeny?: Match[]; deny?: Match[] } }[] };
  const id = `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
  const subject = `MeshTrafficPermission ${id}`;
  const targetRef = spec.targetRef ?? { kind: 'Mesh' };
  if (!['Mesh', 'Dataplane', 'MeshSubset'].includes(targetRef.kind ?? 'Mesh') || (targetRef.kind === 'Dataplane' && targetRef.name !== undefined)) {
    findings.push({ subject, message: `targets ${targetRef.kind}${targetRef.name ? ` ${targetRef.name}` : ''}, which verify does not evaluate; select data planes by labels instead` });
  }
  if (object.metadata.labels?.['kuma.io/mesh'] === undefined) findings.push({ subject, message: 'lacks the label kuma.io/mesh, so it belongs to the mesh "default"' });
  if (object.metadata.labels?.['kuma.io/effect'] === 'shadow') findings.push({ subject, message: 'is labelled kuma.io/effect=shadow, so Kuma does not enforce it' });

  const from = (spec.from ?? []).map((entry) => {
    const ref = entry.targetRef ?? {};
    if (ref.kind !== 'Mesh' && ref.kind !== 'MeshSubset') findings.push({ subject, message: `has a "from" entry of kind ${ref.kind}, which verify does not evaluate and never matches` });
    return { targetRef: ref, action: entry.default?.action ?? 'Deny' };
  });
  const rules = (spec.rules ?? []).map((rule) => {
    const all = [...(rule.default?.deny ?? []), ...(rule.default?.allow ?? []), ...(rule.default?.allowWithShadowDeny ?? [])];
    if (all.some((match) => match.sni !== undefined)) findings.push({ subject, message: 'matches by SNI, which verify does not evaluate and never matches' });
    return { deny: rule.default?.deny ?? [], allow: [...(rule.default?.allow ?? []), ...(rule.default?.allowWithShadowDeny ?? [])] };
  });
  return { id, name: object.metadata.name, mesh: meshLabelOf(object), namespace: object.metadata.namespace ?? 'default', targetRef, from, rules };
}

function readIdentity(object: KubeObject, findings: Finding[]): Identity {
  const spec = (object.spec ?? {}) as { selector?: { dataplane?: { matchLabels?: Record<string, string> } }; spiffeID?: { trustDomain?: string; path?: string } };
  const mesh = meshLabelOf(object);
  const id = `MeshIdentity ${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
  if (object.metadata.namespace !== SYSTEM_NAMESPACE) findings.push({ subject: id, message: `is outside ${SYSTEM_NAMESPACE}, where Kuma ignores it` });
  const trustDomain = spec.spiffeID?.trustDomain ?? `${mesh}.default.mesh.local`;
  if (trustDomain.includes('{{')) findings.push({ subject: id, message: 'has a templated trust domain, so verify cannot tell the SPIFFE IDs it issues' });
  // Kuma selects nothing when the selector or its dataplane part is missing, or outside the system namespace.
  let matchLabels: Record<string, string> | undefined;
  if (object.metadata.namespace === SYSTEM_NAMESPACE && spec.selector?.dataplane) matchLabels = spec.selector.dataplane.matchLabels ?? {};
  return { id, mesh, matchLabels, trustDomain, path: spec.spiffeID?.path ?? '/ns/{{ .Namespace }}/sa/{{ .ServiceAccount }}' };
}

function readMeshTls(object: KubeObject, findings: Finding[]): { id: string; mesh: string; mode: string } {
  const spec = (object.spec ?? {}) as { targetRef?: TargetRef; rules?: { default?: { mode?: string } }[]; from?: { default?: { mode?: string } }[] };
  const id = `MeshTLS ${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
  const modes = [...(spec.rules ?? []), ...(spec.from ?? [])].map((entry) => entry.default?.mode).filter((mode): mode is string => mode !== undefined);
  if ((spec.targetRef?.kind ?? 'Mesh') !== 'Mesh') findings.push({ subject: id, message: 'targets a subset of the mesh, which verify treats as the whole mesh' });
  return { id, mesh: meshLabelOf(object), mode: modes.includes('Permissive') ? 'Permissive' : 'Strict' };
}
