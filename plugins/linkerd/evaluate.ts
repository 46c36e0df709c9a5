import type { EvaluateContext, Finding, GatewayModel, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import { proxyConflictFindings } from '../../src/k8s/proxy-reservations.js';
import { EDGE_GATEWAY_NAME, EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector, readEdgeGatewayRoutes } from '../../src/k8s/edge-gateway.js';
import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import type { Service, ServicePort } from '../../src/topology/types.js';
import { decideEgress, readEgress } from './evaluate-egress.js';
import { buildReachIndex, type Admission, type IdentityMatch, type ReachIndex } from './evaluate-reach.js';
import { addTo, indexServerLookups, selectsPort, type AuthorizationPolicy, type Server, type ServerLookups, type Workload } from './evaluate-servers.js';
import { DEFAULT_POLICY_ANNOTATION, INJECT_ANNOTATION } from './resources.js';
import { CONTROL_PLANE_NAMESPACE, PROXY_RESERVATIONS, TRUST_DOMAIN, identityOf } from './versions.js';

const SKIP_INBOUND_ANNOTATION = 'config.linkerd.io/skip-inbound-ports';
const SKIP_OUTBOUND_ANNOTATION = 'config.linkerd.io/skip-outbound-ports';

/** The cluster-wide default inbound policy: `proxy.defaultInboundPolicy` in linkerd-control-plane, left unchanged here. */
const CLUSTER_DEFAULT_POLICY = 'all-unauthenticated';

/** Default policies that let a client without a Linkerd certificate through (linkerd/website `2-edge/reference/authorization-policy.md`). */
const UNAUTHENTICATED_POLICIES = new Set(['all-unauthenticated', 'cluster-unauthenticated', 'audit']);
const AUTHENTICATED_POLICIES = new Set(['all-authenticated', 'cluster-authenticated']);

/**
 * Evaluates Linkerd's policy resources the way the policy controller of edge-26.8.3 does
 * (policy-controller/k8s/index/src/inbound in linkerd/linkerd2). A port selected by a Server allows what an
 * AuthorizationPolicy on that Server or on its namespace allows, and otherwise applies the Server's
 * `accessPolicy`. A port without a Server applies the default inbound policy of the pod, its namespace, or
 * the cluster. Traffic between two proxies is always mutual TLS, so a connection is mTLS when the client
 * has a proxy and the server port does not bypass its proxy.
 * NOTE: NetworkAuthentication networks are not compared with pod addresses: verify assumes they contain
 * every client, and route-level authorization (HTTPRoute, GRPCRoute) is reported instead of evaluated.
 */
export function evaluateLinkerd(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [...proxyConflictFindings(context.objects, context.topology, PROXY_RESERVATIONS)];
  const { namespaceAnnotations, policyObjects, unevaluated } = groupManifests(context.objects);
  const identityOfAccount = internIdentities();

  const workloads = new Map<string, Workload>();
  for (const service of context.topology.services) {
    workloads.set(service.name, readWorkload(context.objects, service, namespaceAnnotations.get(service.namespace) ?? {}));
  }
  const gateway = context.topology.exposures.length > 0 ? readGateway(context.objects, findings) : undefined;
  if (gateway) workloads.set(gatewayKey, gateway.workload);
  checkDefaultPolicies(context, workloads, findings);

  const servers = (policyObjects.get('Server') ?? []).map((object) => readServer(object, findings));
  const authentications = readAuthentications(policyObjects, identityOfAccount, findings);
  const policies = (policyObjects.get('AuthorizationPolicy') ?? []).map((object) => readAuthorizationPolicy(object, authentications, identityOfAccount));
  const { serversSelecting, serverFor, policiesOf, policyIdsOf } = indexServerLookups(servers, policies);
  checkServers(context, servers, serversSelecting, workloads, findings);
  checkPolicies(policies, servers, findings);
  reportUnevaluated(unevaluated, findings);

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const workload = workloads.get(target.name)!;
    if (!workload.injected) {
      return { allowed: true, mtls: false, reason: `${target.namespace}/${target.name} has no Linkerd proxy, so Linkerd enforces nothing on it` };
    }
    if (workload.skipInbound.has(port.targetPort)) {
      return { allowed: true, mtls: false, reason: `port ${port.targetPort} of ${target.namespace}/${target.name} bypasses the proxy (${SKIP_INBOUND_ANNOTATION})` };
    }

    const meshed = isSourceMeshed(source, port, workloads, namespaceAnnotations);
    const identity = meshed ? identityOfAccount(source.namespace, source.serviceAccount) : undefined;
    const server = serverFor(target, port, workload);
    if (!server) {
      const { value, by } = workload.defaultPolicy;
      return decideDefault(value, meshed, `no Server selects port ${port.targetPort} of ${target.namespace}/${target.name}, so ${by} applies`);
    }

    const allow = policiesOf(server).firstAdmitting(identity);
    if (allow) {
      const clients = allow.identities ? `the client's identity ${identity}` : 'any client, authenticated or not';
      return { allowed: true, mtls: meshed, reason: `${allow.id} lets ${clients} use ${server.id}` };
    }
    const names = policyIdsOf(server);
    return decideDefault(server.accessPolicy, meshed, `no AuthorizationPolicy on ${server.id} matches ${identity ?? 'a client without a Linkerd identity'} (policies: ${names}), so its accessPolicy applies`);
  };

  /** Returns the clients `decide` may allow on a port, following its steps without the reasons. Keep the two in step. */
  const admissionOf = (target: Service, port: ServicePort): Admission => {
    const workload = workloads.get(target.name)!;
    if (!workload.injected || workload.skipInbound.has(port.targetPort)) return { kind: 'everyone' };
    const server = serverFor(target, port, workload);
    if (!server) return admissionOfDefault(workload.defaultPolicy.value);
    const applicable = policiesOf(server).policies;
    if (applicable.some((policy) => !policy.identities)) return { kind: 'everyone' };
    const fallback = admissionOfDefault(server.accessPolicy);
    if (fallback.kind !== 'identities') return fallback;
    const identities: IdentityMatch[] = [];
    for (const policy of applicable) {
      for (const match of policy.identities!) identities.push(match);
    }
    return { kind: 'identities', identities };
  };

  // The index is built on the first call, because only verify uses it. A call then costs about the size of its
  // result. A client with a proxy counts as meshed on every port, so a port it skips only makes the result larger.
  let reach: ReachIndex | undefined;
  const mayReach = (source: Source): string[] => {
    reach ??= buildReachIndex(context.topology.services, admissionOf);
    const meshed = isClientMeshed(source, workloads, namespaceAnnotations);
    return reach.targetsOf(meshed ? identityOfAccount(source.namespace, source.serviceAccount) : undefined);
  };

  const egress = context.topology.externals.length > 0 ? readEgress(context.objects, findings) : undefined;
  const namespaceOf = new Map(context.topology.services.map((service) => [service.name, service.namespace]));
  const callerNamespaces = new Set(context.topology.externalEdges.map((edge) => `${namespaceOf.get(edge.from)}/${edge.to.name}`));
  const decideExternal = egress
    ? (source: Source, external: Parameters<NonNullable<MeshEvaluator['decideExternal']>>[1]) =>
        decideEgress(egress, source, external, isClientMeshed(source, workloads, namespaceAnnotations), callerNamespaces.has(`${source.namespace}/${external.name}`))
    : undefined;

  // An EgressNetwork applies to every pod of its namespace, and AuthorizationPolicy governs only inbound
  // traffic, so Linkerd limits egress per namespace: NetworkPolicy narrows it to the declared callers.
  return { decide, mayReach, findings, ...(gateway && { gateway: gateway.model }), ...(decideExternal && { decideExternal, externalScope: 'namespace' as const }) };
}

/** The key of the edge gateway among the workloads: not a valid service name, so it cannot collide with one. */
const gatewayKey = `${EDGE_GATEWAY_NAMESPACE}/${EDGE_GATEWAY_NAME}`;

/**
 * Reads the edge gateway: its Deployment's pod template shows whether Linkerd injects it, its ServiceAccount is its
 * identity, and its routes come from the nginx.conf of its ConfigMap.
 */
function readGateway(objects: KubeObject[], findings: Finding[]): { workload: Workload; model: GatewayModel } {
  const deployment = objects.find((object) => object.kind === 'Deployment' && object.metadata.namespace === EDGE_GATEWAY_NAMESPACE && object.metadata.name === EDGE_GATEWAY_NAME);
  const template = (deployment?.spec as { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: { serviceAccountName?: string } } } | undefined)?.template;
  const annotations = template?.metadata?.annotations ?? {};
  const injection = annotations[INJECT_ANNOTATION];
  const injected = injection === 'enabled' || injection === 'ingress';
  const subject = `Deployment ${EDGE_GATEWAY_NAMESPACE}/${EDGE_GATEWAY_NAME}`;
  if (!deployment) findings.push({ subject, message: 'the edge gateway is missing, so no exposed port is reachable' });
  else if (!injected) findings.push({ subject, message: `the gateway has no Linkerd proxy (${INJECT_ANNOTATION} is not enabled), so its connections carry no identity` });

  const { routes, findings: routeFindings } = readEdgeGatewayRoutes(objects);
  findings.push(...routeFindings);
  const labels = template?.metadata?.labels ?? edgeGatewayPodSelector();
  const serviceAccount = template?.spec?.serviceAccountName ?? 'default';
  return {
    workload: {
      labels,
      injected,
      defaultPolicy: { value: CLUSTER_DEFAULT_POLICY, by: 'the cluster default inbound policy' },
      containerPorts: [],
      skipInbound: new Set(),
      skipOutbound: parsePorts(annotations[SKIP_OUTBOUND_ANNOTATION]),
    },
    model: {
      source: { service: gatewayKey, namespace: EDGE_GATEWAY_NAMESPACE, serviceAccount, labels, meshed: injected },
      pods: { namespace: EDGE_GATEWAY_NAMESPACE, labels: edgeGatewayPodSelector() },
      routes,
    },
  };
}

/** Decides whether a client has a Linkerd proxy at all, for egress, where no port of the client is skipped. */
function isClientMeshed(source: Source, workloads: Map<string, Workload>, namespaceAnnotations: Map<string, Record<string, string>>): boolean {
  if (!source.meshed) return false;
  const workload = workloads.get(source.service);
  if (workload) return workload.injected;
  const injection = namespaceAnnotations.get(source.namespace)?.[INJECT_ANNOTATION];
  return injection === 'enabled' || injection === 'ingress';
}

/** Returns the clients that a default policy or a Server's accessPolicy admits, which are those decideDefault allows. */
function admissionOfDefault(policy: string): Admission {
  if (UNAUTHENTICATED_POLICIES.has(policy)) return { kind: 'everyone' };
  if (AUTHENTICATED_POLICIES.has(policy)) return { kind: 'meshed' };
  return { kind: 'identities', identities: [] };
}

/** Applies a default policy, or a Server's accessPolicy, which take the same values. */
function decideDefault(policy: string, meshed: boolean, cause: string): MeshDecision {
  if (UNAUTHENTICATED_POLICIES.has(policy)) return { allowed: true, mtls: meshed, reason: `${cause}: "${policy}" allows clients without mTLS` };
  if (AUTHENTICATED_POLICIES.has(policy)) {
    return meshed ? { allowed: true, mtls: true, reason: `${cause}: "${policy}" allows every meshed client` } : { allowed: false, mtls: false, reason: `${cause}: "${policy}" requires mTLS` };
  }
  return { allowed: false, mtls: meshed, reason: `${cause}: "${policy}" denies it` };
}

function readWorkload(objects: KubeObject[], service: Service, namespaceAnnotations: Record<string, string>): Workload {
  const template = podTemplateOf(objects, service);
  const annotations = template?.metadata.annotations ?? {};
  const injection = annotations[INJECT_ANNOTATION] ?? namespaceAnnotations[INJECT_ANNOTATION];
  const podPolicy = annotations[DEFAULT_POLICY_ANNOTATION];
  const namespacePolicy = namespaceAnnotations[DEFAULT_POLICY_ANNOTATION];
  const defaultPolicy = podPolicy
    ? { value: podPolicy, by: `the pod annotation ${DEFAULT_POLICY_ANNOTATION}` }
    : namespacePolicy
      ? { value: namespacePolicy, by: `the annotation ${DEFAULT_POLICY_ANNOTATION} of namespace ${service.namespace}` }
      : { value: CLUSTER_DEFAULT_POLICY, by: 'the cluster default inbound policy' };
  const containers = (template?.spec.containers ?? []) as { ports?: { name?: string; containerPort: number }[] }[];
  return {
    labels: template?.metadata.labels ?? {},
    injected: injection === 'enabled' || injection === 'ingress',
    defaultPolicy,
    containerPorts: containers.flatMap((container) => container.ports ?? []),
    skipInbound: parsePorts(annotations[SKIP_INBOUND_ANNOTATION] ?? namespaceAnnotations[SKIP_INBOUND_ANNOTATION]),
    skipOutbound: parsePorts(annotations[SKIP_OUTBOUND_ANNOTATION] ?? namespaceAnnotations[SKIP_OUTBOUND_ANNOTATION]),
  };
}

/** Decides whether a client is meshed: it has a proxy, and its connection to the port does not bypass that proxy. */
function isSourceMeshed(source: Source, port: ServicePort, workloads: Map<string, Workload>, namespaceAnnotations: Map<string, Record<string, string>>): boolean {
  if (!source.meshed) return false;
  const workload = workloads.get(source.service);
  if (workload) return workload.injected && !workload.skipOutbound.has(port.targetPort) && !workload.skipOutbound.has(port.port);
  const injection = namespaceAnnotations.get(source.namespace)?.[INJECT_ANNOTATION];
  return injection === 'enabled' || injection === 'ingress';
}

/** Parses Linkerd's port lists: comma-separated ports and `low-high` ranges. */
function parsePorts(value: string | undefined): Set<number> {
  const ports = new Set<number>();
  if (!value) return ports;
  for (const part of value.split(',').map((entry) => entry.trim()).filter(Boolean)) {
    const [low, high] = part.split('-').map(Number);
    if (low === undefined || Number.isNaN(low)) continue;
    for (let port = low; port <= (high ?? low); port++) ports.add(port);
  }
  return ports;
}

function parseIdentity(value: string): IdentityMatch {
  if (value === '*') return { suffix: '' };
  if (value.startsWith('*.')) return { suffix: value.slice(2) };
  return { exact: value };
}

function isPolicyKind(kind: string): (object: KubeObject) => boolean {
  return (object) => object.kind === kind && object.apiVersion.startsWith('policy.linkerd.io/');
}

/** The manifests the evaluator reads, sorted in one pass, because a large topology has tens of thousands. */
interface ManifestGroups {
  /** The annotations of each Namespace. A later Namespace of the same name replaces an earlier one. */
  namespaceAnnotations: Map<string, Record<string, string>>;
  /** The objects of Linkerd's policy API by kind, in manifest order. */
  policyObjects: Map<string, KubeObject[]>;
  /** The objects reportUnevaluated may report: ServerAuthorizations and Gateway API routes, in manifest order. */
  unevaluated: KubeObject[];
}

function groupManifests(objects: readonly KubeObject[]): ManifestGroups {
  const namespaceAnnotations = new Map<string, Record<string, string>>();
  const policyObjects = new Map<string, KubeObject[]>();
  const unevaluated: KubeObject[] = [];
  const isServerAuthorization = isPolicyKind('ServerAuthorization');
  for (const object of objects) {
    if (object.kind === 'Namespace') namespaceAnnotations.set(object.metadata.name, object.metadata.annotations ?? {});
    if (object.apiVersion.startsWith('policy.linkerd.io/')) addTo(policyObjects, object.kind, object);
    if (isServerAuthorization(object) || object.kind === 'HTTPRoute' || object.kind === 'GRPCRoute') unevaluated.push(object);
  }
  return { namespaceAnnotations, policyObjects, unevaluated };
}

/**
 * Returns a function that builds the Linkerd identity of a ServiceAccount and returns the same string object for the
 * same account. V8 caches a string's hash in the string, so each identity is hashed once however many maps it keys.
 */
function internIdentities(): (namespace: string, serviceAccount: string) => string {
  const identities = new Map<string, Map<string, string>>();
  return (namespace, serviceAccount) => {
    let byAccount = identities.get(namespace);
    if (!byAccount) identities.set(namespace, (byAccount = new Map()));
    let identity = byAccount.get(serviceAccount);
    if (identity === undefined) byAccount.set(serviceAccount, (identity = identityOf(namespace, serviceAccount)));
    return identity;
  };
}

function readServer(object: KubeObject, findings: Finding[]): Server {
  const spec = (object.spec ?? {}) as { podSelector?: LabelSelector; port?: number | string; accessPolicy?: string };
  const id = `Server ${object.metadata.namespace}/${object.metadata.name}`;
  const accessPolicy = spec.accessPolicy ?? 'deny';
  if (accessPolicy !== 'deny') findings.push({ subject: id, message: `accessPolicy "${accessPolicy}" lets through clients that no AuthorizationPolicy names: set it to deny` });
  return { id, name: object.metadata.name, namespace: object.metadata.namespace ?? 'default', podSelector: spec.podSelector, port: spec.port ?? 0, accessPolicy };
}

interface Authentications {
  /** The identities of each MeshTLSAuthentication, by namespace and then name. */
  meshTls: Map<string, Map<string, IdentityMatch[]>>;
  /** The NetworkAuthentications as `namespace/name`. */
  networks: Set<string>;
}

function readAuthentications(policyObjects: Map<string, KubeObject[]>, identityOfAccount: (namespace: string, serviceAccount: string) => string, findings: Finding[]): Authentications {
  const meshTls = new Map<string, Map<string, IdentityMatch[]>>();
  for (const object of policyObjects.get('MeshTLSAuthentication') ?? []) {
    const namespace = object.metadata.namespace ?? 'default';
    const spec = (object.spec ?? {}) as { identities?: string[]; identityRefs?: { kind: string; name?: string; namespace?: string }[] };
    const matches = (spec.identities ?? []).map(parseIdentity);
    for (const reference of spec.identityRefs ?? []) {
      const referenceNamespace = reference.namespace ?? namespace;
      if (reference.kind === 'ServiceAccount') {
        // NOTE: a ServiceAccount reference without a name is read as every ServiceAccount of its namespace.
        matches.push(reference.name ? { exact: identityOfAccount(referenceNamespace, reference.name) } : { suffix: `${referenceNamespace}.serviceaccount.identity.${CONTROL_PLANE_NAMESPACE}.${TRUST_DOMAIN}` });
      } else if (reference.kind === 'Namespace') {
        matches.push({ suffix: `${reference.name ?? referenceNamespace}.serviceaccount.identity.${CONTROL_PLANE_NAMESPACE}.${TRUST_DOMAIN}` });
      } else {
        findings.push({ subject: `MeshTLSAuthentication ${namespace}/${object.metadata.name}`, message: `identityRefs names a ${reference.kind}, which Linkerd does not support` });
      }
    }
    let byName = meshTls.get(namespace);
    if (!byName) meshTls.set(namespace, (byName = new Map()));
    byName.set(object.metadata.name, matches);
  }

  const networks = new Set<string>();
  for (const object of policyObjects.get('NetworkAuthentication') ?? []) {
    const key = `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
    networks.add(key);
    findings.push({ subject: `NetworkAuthentication ${key}`, message: 'authenticates by address, not identity; verify assumes its networks contain every client' });
  }
  return { meshTls, networks };
}

/** Reads an AuthorizationPolicy as the policy controller's `policy_client_authz` does, including when it ignores one. */
function readAuthorizationPolicy(object: KubeObject, authentications: Authentications, identityOfAccount: (namespace: string, serviceAccount: string) => string): AuthorizationPolicy {
  const namespace = object.metadata.namespace ?? 'default';
  const id = `AuthorizationPolicy ${namespace}/${object.metadata.name}`;
  const spec = (object.spec ?? {}) as { targetRef?: { group?: string; kind?: string; name?: string }; requiredAuthenticationRefs?: { group?: string; kind?: string; name?: string; namespace?: string }[] };
  const targetKind = spec.targetRef?.kind;
  const target: AuthorizationPolicy['target'] =
    targetKind === 'Server' ? { kind: 'Server', name: spec.targetRef?.name ?? '' } : targetKind === 'Namespace' ? { kind: 'Namespace' } : { kind: 'Route' };

  let identities: IdentityMatch[] | undefined;
  let invalid: string | undefined;
  for (const reference of spec.requiredAuthenticationRefs ?? []) {
    const referenceNamespace = reference.namespace ?? namespace;
    const referenceName = reference.name ?? '';
    const key = `${referenceNamespace}/${referenceName}`;
    if (reference.kind === 'MeshTLSAuthentication' || reference.kind === 'ServiceAccount') {
      if (identities) invalid = 'names more than one MeshTLSAuthentication or ServiceAccount, so Linkerd ignores it';
      const matches = reference.kind === 'ServiceAccount' ? [{ exact: identityOfAccount(referenceNamespace, referenceName) }] : authentications.meshTls.get(referenceNamespace)?.get(referenceName);
      if (!matches) invalid = `requires MeshTLSAuthentication ${key}, which does not exist, so Linkerd ignores it`;
      identities = matches ?? [];
    } else if (reference.kind === 'NetworkAuthentication') {
      if (!authentications.networks.has(key)) invalid = `requires NetworkAuthentication ${key}, which does not exist, so Linkerd ignores it`;
    } else {
      invalid = `requires a ${String(reference.kind)}, which Linkerd does not support, so it ignores the policy`;
    }
  }
  if (targetKind !== 'Server' && targetKind !== 'Namespace' && targetKind !== 'HTTPRoute' && targetKind !== 'GRPCRoute') {
    invalid = `targets a ${String(targetKind)}, which Linkerd does not support, so it ignores the policy`;
  }
  return { id, namespace, target, identities, ...(invalid && { invalid }) };
}

function checkDefaultPolicies(context: EvaluateContext, workloads: Map<string, Workload>, findings: Finding[]): void {
  const reported = new Set<string>();
  for (const service of context.topology.services) {
    const { value, by } = workloads.get(service.name)!.defaultPolicy;
    if (value === 'deny' || reported.has(by)) continue;
    reported.add(by);
    const subject = by.startsWith('the pod') ? `pod template of ${service.namespace}/${service.name}` : by.includes('namespace') ? `Namespace ${service.namespace}` : 'cluster default inbound policy';
    const effect = UNAUTHENTICATED_POLICIES.has(value) ? 'accepts plaintext from clients outside the mesh' : 'accepts any meshed client';
    findings.push({ subject, message: `default inbound policy "${value}" ${effect} on ports without a Server: set ${DEFAULT_POLICY_ANNOTATION} to deny` });
  }
}

/** Reports Servers that select no pod, a port their pods do not have, or a port another Server already selects. */
function checkServers(context: EvaluateContext, servers: Server[], serversSelecting: ServerLookups['serversSelecting'], workloads: Map<string, Workload>, findings: Finding[]): void {
  const owners = new Map<string, string>();
  // The services each Server selects, in topology order.
  const selectedBy = new Map<Server, Service[]>();
  for (const service of context.topology.services) {
    for (const server of serversSelecting(service.namespace, workloads.get(service.name)!.labels)) addTo(selectedBy, server, service);
  }
  for (const server of servers) {
    const selected = selectedBy.get(server) ?? [];
    if (selected.length === 0) {
      findings.push({ subject: server.id, message: 'selects no pod of the topology' });
      continue;
    }
    for (const service of selected) {
      const port = service.ports.find((candidate) => selectsPort(server, service, candidate, workloads.get(service.name)!));
      if (!port) {
        findings.push({ subject: server.id, message: `selects port ${server.port}, which no container of ${service.namespace}/${service.name} exposes (container ports: ${service.ports.map((candidate) => candidate.targetPort).join(', ')})` });
        continue;
      }
      const key = `${service.name}:${port.targetPort}`;
      const owner = owners.get(key);
      if (owner) findings.push({ subject: server.id, message: `selects port ${port.targetPort} of ${service.name}, which ${owner} also selects; Servers must not overlap` });
      else owners.set(key, server.id);
    }
  }
}

function checkPolicies(policies: AuthorizationPolicy[], servers: Server[], findings: Finding[]): void {
  const serverNames = new Map<string, Set<string>>();
  for (const server of servers) {
    let names = serverNames.get(server.namespace);
    if (!names) serverNames.set(server.namespace, (names = new Set()));
    names.add(server.name);
  }
  for (const policy of policies) {
    if (policy.invalid) findings.push({ subject: policy.id, message: policy.invalid });
    else if (policy.target.kind === 'Route') findings.push({ subject: policy.id, message: 'targets a route; verify does not evaluate route-level authorization' });
    else if (policy.target.kind === 'Server') {
      const name = policy.target.name;
      if (!serverNames.get(policy.namespace)?.has(name)) {
        findings.push({ subject: policy.id, message: `targets Server ${policy.namespace}/${name}, which does not exist` });
      }
    }
  }
}

/** Reports resources that change Linkerd's authorization in ways this evaluator does not model. */
function reportUnevaluated(objects: readonly KubeObject[], findings: Finding[]): void {
  for (const object of objects) {
    const subject = `${object.kind} ${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
    if (isPolicyKind('ServerAuthorization')(object)) {
      findings.push({ subject, message: 'ServerAuthorization is the older policy resource, which verify does not evaluate: use AuthorizationPolicy' });
    }
    const routeKind = object.kind === 'HTTPRoute' || object.kind === 'GRPCRoute';
    const parents = ((object.spec ?? {}) as { parentRefs?: { kind?: string }[] }).parentRefs ?? [];
    if (routeKind && parents.some((parent) => parent.kind === 'Server')) {
      findings.push({ subject, message: 'attaches to a Server, which replaces its default routes and probe authorizations; verify does not evaluate routes' });
    }
  }
}
