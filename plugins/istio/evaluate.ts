import type { EvaluateContext, Finding, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import { proxyConflictFindings } from '../../src/k8s/proxy-reservations.js';
import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import { matchesSelector, podTemplateOf } from '../../src/verify/objects.js';
import type { Service, ServicePort } from '../../src/topology/types.js';
import { PROXY_RESERVATIONS, ROOT_NAMESPACE, TRUST_DOMAIN } from './versions.js';
import { readGatewayAccounts, readGatewayModel } from './evaluate-gateway.js';
import { createExternalDecider } from './evaluate-egress.js';
import { buildReachIndex, type ReachIndex } from './evaluate-reach.js';

type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

interface PeerAuthentication {
  id: string;
  namespace: string;
  selector?: LabelSelector;
  mode: MtlsMode;
  portModes: Map<number, MtlsMode>;
}

interface AuthorizationPolicy {
  id: string;
  namespace: string;
  selector?: LabelSelector;
  action: string;
  rules: Record<string, unknown>[];
}

const HTTP_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'];

/** Source fields that match addresses or request tokens rather than workload identities. */
const UNEVALUATED_SOURCE_FIELDS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'];

/**
 * Evaluates Istio's PeerAuthentication and AuthorizationPolicy resources the way a sidecar does: the most
 * specific PeerAuthentication decides the mTLS mode, then DENY policies, then ALLOW policies. The ingress
 * gateway's routes come from its Gateway API objects, and calls to external dependencies from ServiceEntries
 * and Sidecars.
 * NOTE: `when` conditions and request principals (JWT) are not evaluated; a rule that uses them is reported
 * as a finding and never matches.
 */
export function evaluateIstio(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [...proxyConflictFindings(context.objects, context.topology, PROXY_RESERVATIONS)];
  const peerAuthentications = context.objects.filter(isKind('security.istio.io', 'PeerAuthentication')).map((object) => readPeerAuthentication(object, findings));
  const authorizationPolicies = context.objects.filter(isKind('security.istio.io', 'AuthorizationPolicy')).map((object) => readAuthorizationPolicy(object, findings));
  const injectedNamespaces = new Set(
    context.objects
      .filter((object) => object.kind === 'Namespace' && object.metadata.labels?.['istio-injection'] === 'enabled')
      .map((object) => object.metadata.name),
  );
  // The Envoy of a gateway that istiod deploys gets an Istio certificate without any injection.
  const gatewayAccounts = readGatewayAccounts(context.objects);

  for (const peer of peerAuthentications) {
    if (peer.mode === 'PERMISSIVE' || peer.mode === 'DISABLE' || [...peer.portModes.values()].some((mode) => mode === 'PERMISSIVE' || mode === 'DISABLE')) {
      findings.push({ subject: peer.id, message: `allows plaintext (mode ${peer.mode}): set spec.mtls.mode to STRICT` });
    }
  }

  const templates = new Map<string, { labels: Record<string, string>; injected: boolean }>();
  for (const service of context.topology.services) {
    const template = podTemplateOf(context.objects, service);
    const labels = template?.metadata.labels ?? {};
    const optedOut = labels['sidecar.istio.io/inject'] === 'false' || template?.metadata.annotations?.['sidecar.istio.io/inject'] === 'false';
    templates.set(service.name, { labels, injected: injectedNamespaces.has(service.namespace) && !optedOut });
  }

  const modeFor = (namespace: string, labels: Record<string, string>, port: number): { mode: MtlsMode; by: string } => {
    const workload = peerAuthentications.find((peer) => peer.namespace === namespace && peer.selector && matchesSelector(peer.selector, labels));
    if (workload) {
      const portMode = workload.portModes.get(port);
      if (portMode && portMode !== 'UNSET') return { mode: portMode, by: workload.id };
      if (workload.mode !== 'UNSET') return { mode: workload.mode, by: workload.id };
    }
    const namespaceWide = peerAuthentications.find((peer) => peer.namespace === namespace && !peer.selector);
    if (namespaceWide && namespaceWide.mode !== 'UNSET') return { mode: namespaceWide.mode, by: namespaceWide.id };
    const meshWide = peerAuthentications.find((peer) => peer.namespace === ROOT_NAMESPACE && !peer.selector);
    if (meshWide && meshWide.mode !== 'UNSET') return { mode: meshWide.mode, by: meshWide.id };
    return { mode: 'PERMISSIVE', by: 'no PeerAuthentication (Istio defaults to PERMISSIVE)' };
  };

  // verify calls this for every client and port of every target, millions of times on a large topology, so what
  // depends only on the target, its port or the client is worked out once and kept.
  const applicablePolicies = indexPolicies(authorizationPolicies);
  const targetsByName = new Map<string, TargetView>();
  const viewOf = (target: Service): TargetView => {
    let view = targetsByName.get(target.name);
    if (view) return view;
    const workload = templates.get(target.name)!;
    const applicable = applicablePolicies(target.namespace, workload.labels);
    const allows = applicable.filter((policy) => policy.action === 'ALLOW');
    view = {
      workload,
      denies: applicable.filter((policy) => policy.action === 'DENY'),
      allows,
      allowIndex: indexAllows(allows),
      ports: new Map(),
      notInjected: { allowed: true, mtls: false, reason: `${target.namespace}/${target.name} has no sidecar, so Istio enforces nothing on it` },
      allowAllReason: `no ALLOW AuthorizationPolicy applies to ${target.namespace}/${target.name}, so Istio allows everything`,
      noMatchReason: `no rule of the ALLOW AuthorizationPolicies on ${target.namespace}/${target.name} matches (${allows.map((policy) => policy.id).join(', ')})`,
    };
    targetsByName.set(target.name, view);
    return view;
  };
  const portViewOf = (view: TargetView, target: Service, port: number): PortView => {
    let portView = view.ports.get(port);
    if (portView) return portView;
    const { mode, by } = modeFor(target.namespace, view.workload.labels, port);
    portView = { mode, port: String(port), noCertificate: { allowed: false, mtls: false, reason: `${by} requires mTLS and the client has no Istio certificate` } };
    view.ports.set(port, portView);
    return portView;
  };
  const servicesByKey = new Map(context.topology.services.map((service) => [`${service.namespace}/${service.name}`, service]));
  const identities = new WeakMap<Source, Identity>();
  const identityOf = (source: Source): Identity => {
    let identity = identities.get(source);
    if (identity) return identity;
    const service = servicesByKey.get(`${source.namespace}/${source.service}`);
    const sourceWorkload = service && templates.get(service.name);
    const meshed =
      source.meshed &&
      (gatewayAccounts.has(`${source.namespace}/${source.serviceAccount}`) || (sourceWorkload ? sourceWorkload.injected : injectedNamespaces.has(source.namespace)));
    identity = {
      meshed,
      principal: meshed ? `${TRUST_DOMAIN}/ns/${source.namespace}/sa/${source.serviceAccount}` : undefined,
      namespace: meshed ? source.namespace : undefined,
      serviceAccount: meshed ? `${source.namespace}/${source.serviceAccount}` : undefined,
    };
    identities.set(source, identity);
    return identity;
  };

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const view = viewOf(target);
    if (!view.workload.injected) return view.notInjected;
    const identity = identityOf(source);
    const portView = portViewOf(view, target, port.targetPort);
    if (!identity.meshed && portView.mode === 'STRICT') return portView.noCertificate;

    const request: Request = { identity, port: portView.port, http: port.protocol === 'http' || port.protocol === 'http2' || port.protocol === 'grpc' };
    const mtls = identity.meshed && portView.mode === 'STRICT';

    const deny = view.denies.find((policy) => policy.rules.some((rule) => ruleMatches(rule, request, 'DENY')));
    if (deny) return { allowed: false, mtls, reason: `denied by ${deny.id}` };

    if (view.allows.length === 0) return { allowed: true, mtls, reason: view.allowAllReason };
    const allow = findAllow(view, request);
    if (allow) return { allowed: true, mtls, reason: `allowed by ${allow.id}` };
    return { allowed: false, mtls, reason: view.noMatchReason };
  };

  // Built on the first call: it needs the view of every target, which the other checks may never ask for.
  let reachIndex: ReachIndex | undefined;
  const mayReach = (source: Source): Iterable<string> => {
    reachIndex ??= buildReachIndex(
      context.topology.services.map((target) => {
        const view = viewOf(target);
        const acceptsPlaintext = target.ports.some((port) => portViewOf(view, target, port.targetPort).mode !== 'STRICT');
        return { name: target.name, injected: view.workload.injected, allows: view.allows, acceptsPlaintext };
      }),
    );
    return reachIndex(identityOf(source));
  };

  const gateway = readGatewayModel(context, findings);
  const decideExternal = createExternalDecider(context.objects, findings, (source) => identityOf(source).meshed);
  return { decide, mayReach, findings, ...(gateway && { gateway }), decideExternal };
}

/**
 * Indexes the AuthorizationPolicies for finding those that apply to a workload: the policies in its namespace or
 * the root namespace whose selector, if any, matches its labels. They come in the order of the objects, which
 * decides the policy a decision names. Each policy is filed under its namespace and the first label its selector
 * matches, so a lookup tests only the policies that name one of the workload's labels, select by expressions only,
 * or select every workload.
 */
function indexPolicies(policies: AuthorizationPolicy[]): (namespace: string, labels: Record<string, string>) => AuthorizationPolicy[] {
  const byNamespace = new Map<string, { byLabel: Map<string, number[]>; others: number[] }>();
  policies.forEach((policy, position) => {
    let group = byNamespace.get(policy.namespace);
    if (!group) {
      group = { byLabel: new Map(), others: [] };
      byNamespace.set(policy.namespace, group);
    }
    const label = Object.entries(policy.selector?.matchLabels ?? {})[0];
    if (!label) {
      group.others.push(position);
      return;
    }
    const key = `${label[0]}\0${String(label[1])}`;
    const positions = group.byLabel.get(key);
    if (positions) positions.push(position);
    else group.byLabel.set(key, [position]);
  });

  return (namespace, labels) => {
    const positions: number[] = [];
    for (const name of namespace === ROOT_NAMESPACE ? [namespace] : [namespace, ROOT_NAMESPACE]) {
      const group = byNamespace.get(name);
      if (!group) continue;
      positions.push(...group.others);
      for (const [key, value] of Object.entries(labels)) positions.push(...(group.byLabel.get(`${key}\0${value}`) ?? []));
    }
    positions.sort((a, b) => a - b);
    return positions.map((position) => policies[position]!).filter((policy) => !policy.selector || matchesSelector(policy.selector, labels));
  };
}

/** The client as Istio's authorization identifies it: a principal only when it has an Istio certificate. */
interface Identity {
  meshed: boolean;
  principal: string | undefined;
  namespace: string | undefined;
  /** `namespace/name` of the service account, as `serviceAccounts` patterns match it. */
  serviceAccount: string | undefined;
}

interface Request {
  identity: Identity;
  /** The container port, as a string, as `ports` patterns match it. */
  port: string;
  http: boolean;
}

/** The state that decisions on one target share: its workload, the policies that select it, and decisions by port. */
interface TargetView {
  workload: { labels: Record<string, string>; injected: boolean };
  denies: AuthorizationPolicy[];
  allows: AuthorizationPolicy[];
  allowIndex: AllowIndex;
  ports: Map<number, PortView>;
  notInjected: MeshDecision;
  allowAllReason: string;
  noMatchReason: string;
}

interface PortView {
  mode: MtlsMode;
  port: string;
  noCertificate: MeshDecision;
}

/**
 * The ALLOW policies of one target, for finding the first that matches without trying each: rules that name
 * exact principals and exact ports (or no ports) are indexed by principal and port, with the position of their
 * policy. The policies with any other rule are kept, with their positions, to be tried in order.
 */
interface AllowIndex {
  byPrincipal: Map<string, Map<string, number>>;
  others: { position: number; policy: AuthorizationPolicy }[];
}

/** Port key in {@link AllowIndex} of a rule without `to`, which matches every port. */
const ANY_PORT = '*';

function indexAllows(allows: AuthorizationPolicy[]): AllowIndex {
  const index: AllowIndex = { byPrincipal: new Map(), others: [] };
  allows.forEach((policy, position) => {
    const simple = policy.rules.map(readSimpleRule);
    if (simple.some((rule) => rule === undefined)) {
      index.others.push({ position, policy });
      return;
    }
    for (const rule of simple) {
      for (const principal of rule!.principals) {
        const ports = index.byPrincipal.get(principal) ?? new Map<string, number>();
        for (const port of rule!.ports) if (!ports.has(port)) ports.set(port, position);
        index.byPrincipal.set(principal, ports);
      }
    }
  });
  return index;
}

/** Reads a rule that only names exact principals and exact ports; undefined for any other rule. */
function readSimpleRule(rule: Record<string, unknown>): { principals: string[]; ports: string[] } | undefined {
  // Empty lists constrain nothing (see ruleMatches), so rules with them are left to ruleMatches.
  if (Object.keys(rule).some((key) => key !== 'from' && key !== 'to') || !Array.isArray(rule.from) || rule.from.length === 0) return undefined;
  if (Array.isArray(rule.to) && rule.to.length === 0) return undefined;
  const principals: string[] = [];
  for (const entry of rule.from as { source?: Record<string, unknown> }[]) {
    const source = entry?.source;
    if (!source || Object.keys(entry).length !== 1 || Object.keys(source).length !== 1 || !isExactList(source.principals)) return undefined;
    principals.push(...(source.principals as string[]));
  }
  if (rule.to === undefined) return { principals, ports: [ANY_PORT] };
  if (!Array.isArray(rule.to)) return undefined;
  const ports: string[] = [];
  for (const entry of rule.to as { operation?: Record<string, unknown> }[]) {
    const operation = entry?.operation;
    if (!operation || Object.keys(entry).length !== 1) return undefined;
    if (Object.keys(operation).length === 0) {
      ports.push(ANY_PORT);
      continue;
    }
    if (Object.keys(operation).length !== 1 || !isExactList(operation.ports)) return undefined;
    ports.push(...(operation.ports as string[]));
  }
  return { principals, ports };
}

function isExactList(values: unknown): boolean {
  return Array.isArray(values) && values.length > 0 && values.every((value) => typeof value === 'string' && !value.includes('*'));
}

/** Returns the first ALLOW policy, in the order of {@link TargetView.allows}, with a rule that matches. */
function findAllow(view: TargetView, request: Request): AuthorizationPolicy | undefined {
  const ports = request.identity.principal === undefined ? undefined : view.allowIndex.byPrincipal.get(request.identity.principal);
  let position = Math.min(ports?.get(request.port) ?? Infinity, ports?.get(ANY_PORT) ?? Infinity);
  for (const other of view.allowIndex.others) {
    if (other.position >= position) break;
    if (other.policy.rules.some((rule) => ruleMatches(rule, request))) {
      position = other.position;
      break;
    }
  }
  return view.allows[position];
}

/** Returns whether a rule matches: any of its sources and any of its operations must match, and a missing list matches anything. */
function ruleMatches(rule: Record<string, unknown>, request: Request, action: 'ALLOW' | 'DENY' = 'ALLOW'): boolean {
  if (rule.when !== undefined) return false;
  const from = rule.from as { source?: Record<string, unknown> }[] | undefined;
  const to = rule.to as { operation?: Record<string, unknown> }[] | undefined;
  // Istio reads policies as protobuf, where an empty list is the same as a missing one: it constrains nothing.
  const sourceOk = !from?.length || from.some((entry) => sourceMatches(entry.source ?? {}, request.identity));
  const operationOk = !to?.length || to.some((entry) => operationMatches(entry.operation ?? {}, request, action));
  return sourceOk && operationOk;
}

function sourceMatches(source: Record<string, unknown>, identity: Identity): boolean {
  return (
    field(source.principals, identity.principal, true) &&
    field(source.notPrincipals, identity.principal, false) &&
    field(source.namespaces, identity.namespace, true) &&
    field(source.notNamespaces, identity.namespace, false) &&
    field(source.serviceAccounts, identity.serviceAccount, true) &&
    field(source.notServiceAccounts, identity.serviceAccount, false) &&
    source.requestPrincipals === undefined &&
    source.ipBlocks === undefined &&
    source.remoteIpBlocks === undefined
  );
}

function operationMatches(operation: Record<string, unknown>, request: Request, action: 'ALLOW' | 'DENY'): boolean {
  // On TCP, Istio drops an ALLOW rule that uses HTTP-only fields, but keeps a DENY rule without them, so the
  // deny grows wider (pilot/pkg/security/authz/model/model.go, Istio 1.30).
  if (!request.http && action === 'ALLOW' && HTTP_FIELDS.some((name) => operation[name] !== undefined)) return false;
  return field(operation.ports, request.port, true) && field(operation.notPorts, request.port, false);
}

/** Matches a value against an Istio string list: exact, `*`, prefix `abc*` or suffix `*abc`. A missing or empty list does not constrain. */
function field(patterns: unknown, value: string | undefined, positive: boolean): boolean {
  if (!Array.isArray(patterns) || patterns.length === 0) return true;
  const hit = value !== undefined && patterns.some((pattern) => matchesPattern(String(pattern), value));
  return positive ? hit : !hit;
}

function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

function isKind(group: string, kind: string): (object: KubeObject) => boolean {
  return (object) => object.kind === kind && object.apiVersion.startsWith(`${group}/`);
}

function readPeerAuthentication(object: KubeObject, findings: Finding[]): PeerAuthentication {
  const spec = (object.spec ?? {}) as { selector?: LabelSelector; mtls?: { mode?: string }; portLevelMtls?: Record<string, { mode?: string }> };
  const id = `PeerAuthentication ${object.metadata.namespace}/${object.metadata.name}`;
  const portModes = new Map<number, MtlsMode>();
  for (const [port, setting] of Object.entries(spec.portLevelMtls ?? {})) portModes.set(Number(port), (setting.mode ?? 'UNSET') as MtlsMode);
  if (spec.selector && object.metadata.namespace === ROOT_NAMESPACE) {
    findings.push({ subject: id, message: 'a selector in the root namespace applies only to workloads in that namespace' });
  }
  return { id, namespace: object.metadata.namespace ?? 'default', selector: spec.selector, mode: (spec.mtls?.mode ?? 'UNSET') as MtlsMode, portModes };
}

function readAuthorizationPolicy(object: KubeObject, findings: Finding[]): AuthorizationPolicy {
  const spec = (object.spec ?? {}) as { selector?: LabelSelector; action?: string; rules?: Record<string, unknown>[]; targetRef?: unknown; targetRefs?: unknown };
  const id = `AuthorizationPolicy ${object.metadata.namespace}/${object.metadata.name}`;
  for (const rule of spec.rules ?? []) {
    if (rule.when !== undefined) findings.push({ subject: id, message: 'has a "when" condition, which verify does not evaluate' });
    // Each of these narrows a rule to some addresses or requests, which a per-port verdict cannot express, so
    // verify refuses to pass rather than guess in either direction.
    const sources = ((rule.from ?? []) as { source?: Record<string, unknown> }[]).map((entry) => entry.source ?? {});
    for (const name of UNEVALUATED_SOURCE_FIELDS) {
      if (sources.some((source) => source[name] !== undefined)) findings.push({ subject: id, message: `matches on source.${name}, which verify does not evaluate; use principals or serviceAccounts` });
    }
    const operations = ((rule.to ?? []) as { operation?: Record<string, unknown> }[]).map((entry) => entry.operation ?? {});
    for (const name of HTTP_FIELDS) {
      if (operations.some((operation) => operation[name] !== undefined)) findings.push({ subject: id, message: `matches on operation.${name}, which verify does not evaluate per request; authorize by port` });
    }
  }
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined) findings.push({ subject: id, message: 'uses targetRef, which applies to waypoints and gateways only' });
  return { id, namespace: object.metadata.namespace ?? 'default', selector: spec.selector, action: spec.action ?? 'ALLOW', rules: spec.rules ?? [] };
}
