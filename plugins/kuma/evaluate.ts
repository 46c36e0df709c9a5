import type { EvaluateContext, Finding, GatewayModel, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import { proxyConflictFindings } from '../../src/k8s/proxy-reservations.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import type { ExternalService, Service, ServicePort } from '../../src/topology/types.js';
import { NAMESPACE_TAG } from './resources.js';
import { decideExternalTraffic, readGatewayInstances, readGatewayRoutes, type GatewayInstance } from './evaluate-edge.js';
import { inboundPermissions, judge, targetRefRank, type Credentials, type InboundPermissions, type Verdict } from './evaluate-inbound.js';
import { buildReachIndex, indexPermissionsByTarget, type ReachIndex, type ReachTarget, type TargetIndex, type Tags } from './evaluate-reach.js';
import { PROXY_RESERVATIONS, SYSTEM_NAMESPACE, kumaServiceOf } from './versions.js';

type TargetRef = { kind?: string; name?: string; namespace?: string; labels?: Record<string, string>; tags?: Record<string, string>; sectionName?: string };
type Match = { spiffeID?: { type?: string; value?: string }; sni?: unknown };

export interface Permission {
  id: string;
  name: string;
  mesh: string;
  namespace: string;
  targetRef: TargetRef;
  /** The key and value pairs of the top-level targetRef's `labels` (Dataplane) or `tags` (MeshSubset), else empty. */
  selector: [string, string][];
  from: FromEntry[];
  rules: { deny: Match[]; allow: Match[] }[];
  /** The rank of the top-level targetRef in Kuma's policy order, from {@link targetRefRank}. */
  rank: number;
  /** The position among all MeshTrafficPermissions, in manifest order. */
  index: number;
}

/** A `from` entry of a MeshTrafficPermission. */
export interface FromEntry {
  targetRef: TargetRef;
  action: string;
  /** The key and value pairs of the targetRef's tags, empty unless it is a MeshSubset. */
  tags: [string, string][];
  /** The outcome for a caller that this entry matches last. */
  verdict: Verdict;
  permission: Permission;
  /** The position in the permission's `from`. */
  index: number;
  /** The tag under which the indexes file the entry, set by `filingTagOf` on first use. */
  filingTag: [string, string] | undefined;
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

/** A caller's data plane: a builtin gateway's, or the pod's own, which may have no sidecar. */
interface CallerState {
  gateway: GatewayInstance | undefined;
  workload: Workload;
  /** The credentials of its certificate, set on first use. */
  credentials: Credentials | undefined;
}

/** A callee as decide judges it, before any caller. */
interface Callee {
  workload: Workload;
  mtls: MtlsSetting;
  /** The reason of every decision when Kuma enforces nothing on the callee: no sidecar, or mTLS off. */
  unenforced: string | undefined;
  /** Its inbounds by port name. */
  inbounds: Map<string, Inbound>;
}

/** One inbound of a callee: the permissions that apply to it, and the reason of a decision when none allows the caller. */
interface Inbound {
  permissions: InboundPermissions;
  noneAllows: string;
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
  const findings: Finding[] = [...proxyConflictFindings(context.objects, context.topology, PROXY_RESERVATIONS)];
  const { objects, topology } = context;

  const namespaceLabels = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  const kumaObjects = kumaObjectsByKind(objects);
  const kumaObjectsOf = (kind: string) => kumaObjects.get(kind) ?? [];
  const meshes = new Map(kumaObjectsOf('Mesh').map((object) => [object.metadata.name, object]));
  const identities = kumaObjectsOf('MeshIdentity').map((object) => readIdentity(object, findings));
  const meshTlsModes = kumaObjectsOf('MeshTLS').map((object) => readMeshTls(object, findings));
  const permissions = kumaObjectsOf('MeshTrafficPermission').map((object, index) => readPermission(object, index, findings));
  const gatewayInstances = readGatewayInstances(objects, namespaceLabels, findings);
  if (gatewayInstances.length > 1) findings.push({ subject: gatewayInstances[1]!.id, message: 'is a second MeshGatewayInstance, and verify models only the first one' });
  const gatewayInstance: GatewayInstance | undefined = gatewayInstances[0];

  // 1. Which pods have a sidecar, and in which mesh. Cached per labels object, which verify shares between a service's
  // pod template and its clients.
  // NOTE: the cache assumes that a labels object does not change after its first call, as in verify.
  const workloadsByLabels = new WeakMap<Record<string, string>, { namespace: string; workload: Workload }>();
  const workloadOf = (namespace: string, podLabels: Record<string, string>): Workload => {
    const cached = workloadsByLabels.get(podLabels);
    if (cached?.namespace === namespace) return cached.workload;
    const workload = readWorkload(namespace, podLabels);
    workloadsByLabels.set(podLabels, { namespace, workload });
    return workload;
  };
  const readWorkload = (namespace: string, podLabels: Record<string, string>): Workload => {
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

  // Cached per Source object, because verify passes the same object in every call for a client.
  // NOTE: the cache assumes that a Source does not change after its first call, as in verify.
  const callers = new WeakMap<Source, CallerState>();
  /** Returns the data plane a connection comes from: a builtin gateway's, or the pod's own, which may have no sidecar. */
  const callerOf = (source: Source): CallerState => {
    let caller = callers.get(source);
    if (!caller) {
      const gateway = gatewayOf(source);
      caller = { gateway, workload: gateway ? gatewayWorkload(gateway) : workloadOf(source.namespace, source.labels), credentials: undefined };
      callers.set(source, caller);
    }
    return caller;
  };

  /** Returns what the caller's certificate proves: its tags in mesh-mtls mode, and its SPIFFE ID when a MeshIdentity issues it. */
  const credentialsOf = (source: Source, caller: CallerState): Credentials => {
    if (!caller.credentials) {
      const tags = caller.gateway ? tagsOf(caller.gateway.tags) : sourceTagsOf(source, caller.workload, servicesByKey);
      const identity = mtlsOf(caller.workload).identity;
      caller.credentials = { tags, spiffeId: identity ? renderSpiffeId(identity, source) : undefined };
    }
    return caller.credentials;
  };

  const callees = new Map<string, Callee>();
  /** Returns the callee's data plane and mTLS, and the reason when Kuma enforces nothing on it. */
  const calleeOf = (target: Service): Callee => {
    let callee = callees.get(target.name);
    if (!callee) {
      const workload = workloads.get(target.name)!;
      const mtls = mtlsOf(workload);
      let unenforced: string | undefined;
      if (!workload.injected) unenforced = `${target.namespace}/${target.name} has no Kuma sidecar, so Kuma enforces nothing on it`;
      else if (mtls.mode === 'OFF') unenforced = `${mtls.by}: without mTLS Kuma enforces no MeshTrafficPermission`;
      callee = { workload, mtls, unenforced, inbounds: new Map() };
      callees.set(target.name, callee);
    }
    return callee;
  };

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const callee = calleeOf(target);
    if (callee.unenforced !== undefined) return { allowed: true, mtls: false, reason: callee.unenforced };
    const { workload: targetWorkload, mtls } = callee;

    const caller = callerOf(source);
    const sourceWorkload = caller.workload;
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
    const inbound = inboundOf(callee, target, port);
    const verdict = judge(inbound.permissions, mtls.source === 'identity', credentialsOf(source, caller));
    if (!verdict) return { allowed: false, mtls: true, reason: inbound.noneAllows };
    return { allowed: verdict.allowed, mtls: true, reason: `${verdict.allowed ? 'allowed' : 'denied'} by ${verdict.by}` };
  };

  const decideExternal = (source: Source, external: ExternalService): MeshDecision => {
    const { workload } = callerOf(source);
    if (!source.meshed || !workload.injected) {
      return { allowed: true, mtls: false, reason: `${source.namespace}/${source.service} has no Kuma sidecar, so Kuma does not see its connections` };
    }
    // NOTE: MeshPassthrough does not apply to builtin gateways, which verify does not ask about externals.
    const declared = topology.externalEdges.some((edge) => edge.from === source.service && edge.to.name === external.name);
    return decideExternalTraffic(objects, meshes.get(workload.mesh), { mesh: workload.mesh, namespace: source.namespace, labels: workload.labels }, external, declared);
  };

  // Built on first use, since only verify needs them. Then decide reads only the permissions on the callee, and
  // mayReach costs about the size of its result instead of the number of services.
  let indexes: ({ targets: ReachTarget[] } & TargetIndex) | undefined;
  let reach: ReachIndex | undefined;
  const indexesOf = () => {
    if (!indexes) {
      const targets = reachTargets();
      indexes = { targets, ...indexPermissionsByTarget(targets, permissions, appliesOnSomePort) };
    }
    return indexes;
  };

  /** Returns the permissions of the callee's mesh that apply to one of its inbounds, indexed on first use by port name. */
  function inboundOf(callee: Callee, target: Service, port: ServicePort): Inbound {
    let inbound = callee.inbounds.get(port.name);
    if (!inbound) {
      const { permissionsByTarget, tagCount } = indexesOf();
      const onSomePort = permissionsByTarget.get(target.name) ?? [];
      // The index lists the permissions on some port of the topology's service, so with one port they are exact.
      const hasOnePort = target.ports.length === 1 && servicesByKey.get(serviceKey(target.name, target.namespace)) === target;
      const applicable = hasOnePort ? onSomePort : onSomePort.filter((permission) => appliesTo(permission, target, port, callee.workload));
      inbound = {
        permissions: inboundPermissions(applicable, tagCount),
        noneAllows: `no MeshTrafficPermission on ${target.namespace}/${target.name} port ${port.name} allows the caller, and Kuma denies by default with mTLS on`,
      };
      callee.inbounds.set(port.name, inbound);
    }
    return inbound;
  }

  const mayReach = (source: Source): Set<string> => {
    if (!reach) {
      const { targets, permissionsByTarget, tagCount } = indexesOf();
      reach = buildReachIndex(targets, permissionsByTarget, tagCount);
    }
    // As in decide, permissions judge only callers with a sidecar of the target's mesh, so a caller without a
    // sidecar needs no credentials.
    const caller = callerOf(source);
    if (!source.meshed || !caller.workload.injected) return reach.targetsOf({ mesh: undefined, tags: NO_TAGS, spiffeId: undefined });
    const { tags, spiffeId } = credentialsOf(source, caller);
    return reach.targetsOf({ mesh: caller.workload.mesh, tags, spiffeId });
  };

  /** Lists every service with the mTLS its data plane enforces, as the first steps of decide find it. */
  function reachTargets(): ReachTarget[] {
    return topology.services.map((service) => {
      const { workload, mtls } = calleeOf(service);
      let mode: ReachTarget['mode'] = 'strict';
      if (!workload.injected || mtls.mode === 'OFF') mode = 'open';
      else if (mtls.mode === 'PERMISSIVE') mode = 'permissive';
      const kumaServices = new Set<string>();
      if (Object.hasOwn(workload.labels, 'kuma.io/service')) kumaServices.add(workload.labels['kuma.io/service']!);
      for (const port of service.ports) kumaServices.add(kumaServiceOf(service.name, service.namespace, port.port));
      return { service, mesh: workload.mesh, mode, workloadIdentity: mtls.source === 'identity', labels: workload.labels, kumaServices: [...kumaServices] };
    });
  }

  function appliesOnSomePort(permission: Permission, target: ReachTarget): boolean {
    const workload = workloads.get(target.service.name)!;
    for (const port of target.service.ports) {
      if (appliesTo(permission, target.service, port, workload)) return true;
    }
    return false;
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

/** The tags of a caller that no permission judges. */
const NO_TAGS: Tags = new Map();

/** Models a builtin gateway pod: Kuma runs a data plane in it, though its pods carry kuma.io/sidecar-injection=disabled. */
function gatewayWorkload(instance: GatewayInstance): Workload {
  return { injected: true, mesh: instance.mesh, labels: { ...instance.podLabels, [NAMESPACE_TAG]: instance.namespace, 'kuma.io/mesh': instance.mesh } };
}

function tagsOf(tags: Record<string, string>): Tags {
  const result: Tags = new Map();
  for (const key of Object.keys(tags)) result.set(key, [tags[key]!]);
  return result;
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
  if (identities.length === 0) return undefined;
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
  const tags: Tags = new Map();
  for (const key of Object.keys(workload.labels)) {
    if (!key.includes('kuma.io/') || key === NAMESPACE_TAG) tags.set(key, [workload.labels[key]!]);
  }
  // The labels above never include kuma.io/service, so it gets a list of its own.
  const kumaServices: string[] = [];
  const service = services.get(serviceKey(source.service, source.namespace));
  if (service) {
    for (const port of service.ports) {
      const value = `${service.name}_${service.namespace}_svc_${port.port}`;
      if (!kumaServices.includes(value)) kumaServices.push(value);
    }
  } else {
    kumaServices.push(`${source.service}_${source.namespace}_svc`);
  }
  tags.set('kuma.io/service', kumaServices);
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
      return pairsMatch(permission.selector, workload.labels) && sectionOk;
    case 'MeshSubset': {
      // The inbound's tags are the Dataplane labels, with `kuma.io/service` set to the port's value.
      const service = `${target.name}_${target.namespace}_svc_${port.port}`;
      for (const [key, value] of permission.selector) {
        if ((key === 'kuma.io/service' ? service : workload.labels[key]) !== value) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function serviceKey(name: string, namespace: string): string {
  return `${namespace}\0${name}`;
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return pairsMatch(Object.entries(selector), labels);
}

function pairsMatch(pairs: readonly [string, string][], labels: Record<string, string>): boolean {
  for (const [key, value] of pairs) {
    if (labels[key] !== value) return false;
  }
  return true;
}

/** Groups the objects of Kuma's API groups by kind, each group in manifest order. */
function kumaObjectsByKind(objects: readonly KubeObject[]): Map<string, KubeObject[]> {
  const byKind = new Map<string, KubeObject[]>();
  for (const object of objects) {
    if (!object.apiVersion.startsWith('kuma.io/')) continue;
    const group = byKind.get(object.kind);
    if (group) group.push(object);
    else byKind.set(object.kind, [object]);
  }
  return byKind;
}

function meshLabelOf(object: KubeObject): string {
  return object.metadata.labels?.['kuma.io/mesh'] ?? 'default';
}

function readPermission(object: KubeObject, index: number, findings: Finding[]): Permission {
  const spec = (object.spec ?? {}) as { targetRef?: TargetRef; from?: { targetRef?: TargetRef; default?: { action?: string } }[]; rules?: { default?: { allow?: Match[]; allowWithShadowDeny?: Match[]; deny?: Match[] } }[] };
  const id = `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
  const subject = `MeshTrafficPermission ${id}`;
  const targetRef = spec.targetRef ?? { kind: 'Mesh' };
  if (!['Mesh', 'Dataplane', 'MeshSubset'].includes(targetRef.kind ?? 'Mesh') || (targetRef.kind === 'Dataplane' && targetRef.name !== undefined)) {
    findings.push({ subject, message: `targets ${targetRef.kind}${targetRef.name ? ` ${targetRef.name}` : ''}, which verify does not evaluate; select data planes by labels instead` });
  }
  if (object.metadata.labels?.['kuma.io/mesh'] === undefined) findings.push({ subject, message: 'lacks the label kuma.io/mesh, so it belongs to the mesh "default"' });
  if (object.metadata.labels?.['kuma.io/effect'] === 'shadow') findings.push({ subject, message: 'is labelled kuma.io/effect=shadow, so Kuma does not enforce it' });

  const fromSpecs = spec.from ?? [];
  for (const entry of fromSpecs) {
    const kind = entry.targetRef?.kind;
    if (kind !== 'Mesh' && kind !== 'MeshSubset') findings.push({ subject, message: `has a "from" entry of kind ${kind}, which verify does not evaluate and never matches` });
  }
  const rules = (spec.rules ?? []).map((rule) => {
    const all = [...(rule.default?.deny ?? []), ...(rule.default?.allow ?? []), ...(rule.default?.allowWithShadowDeny ?? [])];
    if (all.some((match) => match.sni !== undefined)) findings.push({ subject, message: 'matches by SNI, which verify does not evaluate and never matches' });
    return { deny: rule.default?.deny ?? [], allow: [...(rule.default?.allow ?? []), ...(rule.default?.allowWithShadowDeny ?? [])] };
  });
  let selector: [string, string][] = [];
  if (targetRef.kind === 'Dataplane') selector = Object.entries(targetRef.labels ?? {});
  if (targetRef.kind === 'MeshSubset') selector = Object.entries(targetRef.tags ?? {});
  const namespace = object.metadata.namespace ?? 'default';
  const permission: Permission = { id, name: object.metadata.name, mesh: meshLabelOf(object), namespace, targetRef, selector, from: [], rules, rank: targetRefRank(targetRef, namespace), index };
  fromSpecs.forEach((entry, position) => {
    const ref = entry.targetRef ?? {};
    const action = entry.default?.action ?? 'Deny';
    const tags = ref.kind === 'MeshSubset' ? Object.entries(ref.tags ?? {}) : [];
    const verdict = { allowed: action === 'Allow' || action === 'AllowWithShadowDeny', by: subject };
    permission.from.push({ targetRef: ref, action, tags, verdict, permission, index: position, filingTag: undefined });
  });
  return permission;
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
