import type { EvaluateContext, Finding, GatewayModel, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import { EDGE_GATEWAY_NAME, EDGE_GATEWAY_NAMESPACE, edgeGatewayPodSelector, readEdgeGatewayRoutes } from '../../src/k8s/edge-gateway.js';
import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import { matchesSelector, podTemplateOf } from '../../src/verify/objects.js';
import type { Service, ServicePort } from '../../src/topology/types.js';
import { decideEgress, readEgress } from './evaluate-egress.js';
import { buildReachIndex, type Admission, type IdentityMatch, type ReachIndex } from './evaluate-reach.js';
import { DEFAULT_POLICY_ANNOTATION, INJECT_ANNOTATION } from './resources.js';
import { CONTROL_PLANE_NAMESPACE, TRUST_DOMAIN, identityOf } from './versions.js';

const SKIP_INBOUND_ANNOTATION = 'config.linkerd.io/skip-inbound-ports';
const SKIP_OUTBOUND_ANNOTATION = 'config.linkerd.io/skip-outbound-ports';

/** The cluster-wide default inbound policy: `proxy.defaultInboundPolicy` in linkerd-control-plane, left unchanged here. */
const CLUSTER_DEFAULT_POLICY = 'all-unauthenticated';

/** Default policies that let a client without a Linkerd certificate through (linkerd/website `2-edge/reference/authorization-policy.md`). */
const UNAUTHENTICATED_POLICIES = new Set(['all-unauthenticated', 'cluster-unauthenticated', 'audit']);
const AUTHENTICATED_POLICIES = new Set(['all-authenticated', 'cluster-authenticated']);

interface Workload {
  labels: Record<string, string>;
  injected: boolean;
  defaultPolicy: { value: string; by: string };
  containerPorts: { name?: string; containerPort: number }[];
  skipInbound: Set<number>;
  skipOutbound: Set<number>;
}

interface Server {
  id: string;
  name: string;
  namespace: string;
  podSelector?: LabelSelector;
  port: number | string;
  accessPolicy: string;
}

interface AuthorizationPolicy {
  id: string;
  namespace: string;
  target: { kind: 'Server'; name: string } | { kind: 'Namespace' } | { kind: 'Route' };
  /** The identities one of which the client must prove with mTLS; undefined when the policy needs none. */
  identities?: IdentityMatch[];
  /** The reason Linkerd ignores the policy, when it does. */
  invalid?: string;
}

interface ServerLookups {
  /** Returns the first Server that selects a port of a service, or undefined when none does. */
  serverFor(target: Service, port: ServicePort, workload: Workload): Server | undefined;
  /** Returns the valid AuthorizationPolicies on a Server or on its namespace, in manifest order. */
  applicableTo(server: Server): AuthorizationPolicy[];
}

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
  const findings: Finding[] = [];
  const namespaceAnnotations = new Map(
    context.objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.annotations ?? {}]),
  );

  const workloads = new Map<string, Workload>();
  for (const service of context.topology.services) {
    workloads.set(service.name, readWorkload(context.objects, service, namespaceAnnotations.get(service.namespace) ?? {}));
  }
  const gateway = context.topology.exposures.length > 0 ? readGateway(context.objects, findings) : undefined;
  if (gateway) workloads.set(gatewayKey, gateway.workload);
  checkDefaultPolicies(context, workloads, findings);

  const servers = context.objects.filter(isPolicyKind('Server')).map((object) => readServer(object, findings));
  const authentications = readAuthentications(context.objects, findings);
  const policies = context.objects.filter(isPolicyKind('AuthorizationPolicy')).map((object) => readAuthorizationPolicy(object, authentications));
  checkServers(context, servers, workloads, findings);
  checkPolicies(policies, servers, findings);
  reportUnevaluated(context.objects, findings);

  const { serverFor, applicableTo } = indexServerLookups(servers, policies);

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const workload = workloads.get(target.name)!;
    if (!workload.injected) {
      return { allowed: true, mtls: false, reason: `${target.namespace}/${target.name} has no Linkerd proxy, so Linkerd enforces nothing on it` };
    }
    if (workload.skipInbound.has(port.targetPort)) {
      return { allowed: true, mtls: false, reason: `port ${port.targetPort} of ${target.namespace}/${target.name} bypasses the proxy (${SKIP_INBOUND_ANNOTATION})` };
    }

    const meshed = isSourceMeshed(source, port, workloads, namespaceAnnotations);
    const identity = meshed ? identityOf(source.namespace, source.serviceAccount) : undefined;
    const server = serverFor(target, port, workload);
    if (!server) {
      const { value, by } = workload.defaultPolicy;
      return decideDefault(value, meshed, `no Server selects port ${port.targetPort} of ${target.namespace}/${target.name}, so ${by} applies`);
    }

    const applicable = applicableTo(server);
    const allow = applicable.find((policy) => !policy.identities || (identity !== undefined && policy.identities.some((match) => matchesIdentity(match, identity))));
    if (allow) {
      const clients = allow.identities ? `the client's identity ${identity}` : 'any client, authenticated or not';
      return { allowed: true, mtls: meshed, reason: `${allow.id} lets ${clients} use ${server.id}` };
    }
    const names = applicable.map((policy) => policy.id).join(', ') || 'none';
    return decideDefault(server.accessPolicy, meshed, `no AuthorizationPolicy on ${server.id} matches ${identity ?? 'a client without a Linkerd identity'} (policies: ${names}), so its accessPolicy applies`);
  };

  /** Returns the clients `decide` may allow on a port, following its steps without the reasons. Keep the two in step. */
  const admissionOf = (target: Service, port: ServicePort): Admission => {
    const workload = workloads.get(target.name)!;
    if (!workload.injected || workload.skipInbound.has(port.targetPort)) return { kind: 'everyone' };
    const server = serverFor(target, port, workload);
    if (!server) return admissionOfDefault(workload.defaultPolicy.value);
    const applicable = applicableTo(server);
    if (applicable.some((policy) => !policy.identities)) return { kind: 'everyone' };
    const fallback = admissionOfDefault(server.accessPolicy);
    if (fallback.kind !== 'identities') return fallback;
    return { kind: 'identities', identities: applicable.flatMap((policy) => policy.identities ?? []) };
  };

  // The index is built on the first call, because only verify uses it. A call then costs about the size of its
  // result. A client with a proxy counts as meshed on every port, so a port it skips only makes the result larger.
  let reach: ReachIndex | undefined;
  const mayReach = (source: Source): string[] => {
    reach ??= buildReachIndex(context.topology.services, admissionOf);
    const meshed = isClientMeshed(source, workloads, namespaceAnnotations);
    return reach.targetsOf(meshed ? identityOf(source.namespace, source.serviceAccount) : undefined);
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
  for (const part of (value ?? '').split(',').map((entry) => entry.trim()).filter(Boolean)) {
    const [low, high] = part.split('-').map(Number);
    if (low === undefined || Number.isNaN(low)) continue;
    for (let port = low; port <= (high ?? low); port++) ports.add(port);
  }
  return ports;
}

function selectsPort(server: Server, target: Service, port: ServicePort, workload: Workload): boolean {
  if (server.namespace !== target.namespace || !server.podSelector || !matchesSelector(server.podSelector, workload.labels)) return false;
  if (typeof server.port === 'number') return server.port === port.targetPort;
  return workload.containerPorts.some((containerPort) => containerPort.name === server.port && containerPort.containerPort === port.targetPort);
}

/**
 * Builds the two lookups of `decide`: the Server that selects a port, and the AuthorizationPolicies that apply
 * to a Server. Verify decides millions of connections, so each result is computed once and then kept.
 */
function indexServerLookups(servers: Server[], policies: AuthorizationPolicy[]): ServerLookups {
  // Servers grouped by namespace in manifest order: a Server selects pods of its own namespace only, so the first
  // match in the group is the first match among all Servers.
  const serversByNamespace = groupBy(servers, (server) => server.namespace);
  const serverOfPort = new Map<string, Server | undefined>();
  const serverFor = (target: Service, port: ServicePort, workload: Workload): Server | undefined => {
    const key = `${target.namespace}/${target.name}:${port.targetPort}`;
    if (!serverOfPort.has(key)) serverOfPort.set(key, serversByNamespace.get(target.namespace)?.find((candidate) => selectsPort(candidate, target, port, workload)));
    return serverOfPort.get(key);
  };

  // The policies that apply to a Server: those on its namespace and those on it by name, in manifest order.
  const valid = policies.filter((policy) => !policy.invalid);
  const position = new Map(valid.map((policy, index) => [policy, index]));
  const onNamespace = new Map<string, AuthorizationPolicy[]>();
  const onServer = new Map<string, AuthorizationPolicy[]>();
  for (const policy of valid) {
    if (policy.target.kind === 'Namespace') addTo(onNamespace, policy.namespace, policy);
    else if (policy.target.kind === 'Server') addTo(onServer, `${policy.namespace}/${policy.target.name}`, policy);
  }
  const policiesOfServer = new Map<Server, AuthorizationPolicy[]>();
  const applicableTo = (server: Server): AuthorizationPolicy[] => {
    let applicable = policiesOfServer.get(server);
    if (!applicable) {
      applicable = [...(onNamespace.get(server.namespace) ?? []), ...(onServer.get(`${server.namespace}/${server.name}`) ?? [])];
      applicable.sort((a, b) => position.get(a)! - position.get(b)!);
      policiesOfServer.set(server, applicable);
    }
    return applicable;
  };
  return { serverFor, applicableTo };
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) addTo(groups, keyOf(item), item);
  return groups;
}

function addTo<T>(groups: Map<string, T[]>, key: string, item: T): void {
  const group = groups.get(key);
  if (group) group.push(item);
  else groups.set(key, [item]);
}

function matchesIdentity(match: IdentityMatch, identity: string): boolean {
  if ('exact' in match) return match.exact === identity;
  return match.suffix === '' || identity.endsWith(`.${match.suffix}`);
}

function parseIdentity(value: string): IdentityMatch {
  if (value === '*') return { suffix: '' };
  if (value.startsWith('*.')) return { suffix: value.slice(2) };
  return { exact: value };
}

function isPolicyKind(kind: string): (object: KubeObject) => boolean {
  return (object) => object.kind === kind && object.apiVersion.startsWith('policy.linkerd.io/');
}

function readServer(object: KubeObject, findings: Finding[]): Server {
  const spec = (object.spec ?? {}) as { podSelector?: LabelSelector; port?: number | string; accessPolicy?: string };
  const id = `Server ${object.metadata.namespace}/${object.metadata.name}`;
  const accessPolicy = spec.accessPolicy ?? 'deny';
  if (accessPolicy !== 'deny') findings.push({ subject: id, message: `accessPolicy "${accessPolicy}" lets through clients that no AuthorizationPolicy names: set it to deny` });
  return { id, name: object.metadata.name, namespace: object.metadata.namespace ?? 'default', podSelector: spec.podSelector, port: spec.port ?? 0, accessPolicy };
}

interface Authentications {
  meshTls: Map<string, IdentityMatch[]>;
  networks: Set<string>;
}

function readAuthentications(objects: KubeObject[], findings: Finding[]): Authentications {
  const meshTls = new Map<string, IdentityMatch[]>();
  for (const object of objects.filter(isPolicyKind('MeshTLSAuthentication'))) {
    const namespace = object.metadata.namespace ?? 'default';
    const spec = (object.spec ?? {}) as { identities?: string[]; identityRefs?: { kind: string; name?: string; namespace?: string }[] };
    const matches = (spec.identities ?? []).map(parseIdentity);
    for (const reference of spec.identityRefs ?? []) {
      const referenceNamespace = reference.namespace ?? namespace;
      if (reference.kind === 'ServiceAccount') {
        // NOTE: a ServiceAccount reference without a name is read as every ServiceAccount of its namespace.
        matches.push(reference.name ? { exact: identityOf(referenceNamespace, reference.name) } : { suffix: `${referenceNamespace}.serviceaccount.identity.${CONTROL_PLANE_NAMESPACE}.${TRUST_DOMAIN}` });
      } else if (reference.kind === 'Namespace') {
        matches.push({ suffix: `${reference.name ?? referenceNamespace}.serviceaccount.identity.${CONTROL_PLANE_NAMESPACE}.${TRUST_DOMAIN}` });
      } else {
        findings.push({ subject: `MeshTLSAuthentication ${namespace}/${object.metadata.name}`, message: `identityRefs names a ${reference.kind}, which Linkerd does not support` });
      }
    }
    meshTls.set(`${namespace}/${object.metadata.name}`, matches);
  }

  const networks = new Set<string>();
  for (const object of objects.filter(isPolicyKind('NetworkAuthentication'))) {
    const key = `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
    networks.add(key);
    findings.push({ subject: `NetworkAuthentication ${key}`, message: 'authenticates by address, not identity; verify assumes its networks contain every client' });
  }
  return { meshTls, networks };
}

/** Reads an AuthorizationPolicy as the policy controller's `policy_client_authz` does, including when it ignores one. */
function readAuthorizationPolicy(object: KubeObject, authentications: Authentications): AuthorizationPolicy {
  const namespace = object.metadata.namespace ?? 'default';
  const id = `AuthorizationPolicy ${namespace}/${object.metadata.name}`;
  const spec = (object.spec ?? {}) as { targetRef?: { group?: string; kind?: string; name?: string }; requiredAuthenticationRefs?: { group?: string; kind?: string; name?: string; namespace?: string }[] };
  const targetKind = spec.targetRef?.kind;
  const target: AuthorizationPolicy['target'] =
    targetKind === 'Server' ? { kind: 'Server', name: spec.targetRef?.name ?? '' } : targetKind === 'Namespace' ? { kind: 'Namespace' } : { kind: 'Route' };

  let identities: IdentityMatch[] | undefined;
  let invalid: string | undefined;
  for (const reference of spec.requiredAuthenticationRefs ?? []) {
    const key = `${reference.namespace ?? namespace}/${reference.name ?? ''}`;
    if (reference.kind === 'MeshTLSAuthentication' || reference.kind === 'ServiceAccount') {
      if (identities) invalid = 'names more than one MeshTLSAuthentication or ServiceAccount, so Linkerd ignores it';
      const matches = reference.kind === 'ServiceAccount' ? [{ exact: identityOf(reference.namespace ?? namespace, reference.name ?? '') }] : authentications.meshTls.get(key);
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
function checkServers(context: EvaluateContext, servers: Server[], workloads: Map<string, Workload>, findings: Finding[]): void {
  const owners = new Map<string, string>();
  const servicesByNamespace = groupBy(context.topology.services, (service) => service.namespace);
  for (const server of servers) {
    const selected = (servicesByNamespace.get(server.namespace) ?? []).filter(
      (service) => server.podSelector !== undefined && matchesSelector(server.podSelector, workloads.get(service.name)!.labels),
    );
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
  for (const policy of policies) {
    if (policy.invalid) findings.push({ subject: policy.id, message: policy.invalid });
    else if (policy.target.kind === 'Route') findings.push({ subject: policy.id, message: 'targets a route; verify does not evaluate route-level authorization' });
    else if (policy.target.kind === 'Server') {
      const name = policy.target.name;
      if (!servers.some((server) => server.namespace === policy.namespace && server.name === name)) {
        findings.push({ subject: policy.id, message: `targets Server ${policy.namespace}/${name}, which does not exist` });
      }
    }
  }
}

/** Reports resources that change Linkerd's authorization in ways this evaluator does not model. */
function reportUnevaluated(objects: KubeObject[], findings: Finding[]): void {
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
