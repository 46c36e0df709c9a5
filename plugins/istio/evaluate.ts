import type { EvaluateContext, Finding, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import { matchesSelector, podTemplateOf } from '../../src/verify/objects.js';
import type { Service, ServicePort } from '../../src/topology/types.js';
import { ROOT_NAMESPACE, TRUST_DOMAIN } from './versions.js';

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

/**
 * Evaluates Istio's PeerAuthentication and AuthorizationPolicy resources the way a sidecar does: the most
 * specific PeerAuthentication decides the mTLS mode, then DENY policies, then ALLOW policies.
 * NOTE: `when` conditions and request principals (JWT) are not evaluated; a rule that uses them is reported
 * as a finding and never matches.
 */
export function evaluateIstio(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [];
  const peerAuthentications = context.objects.filter(isKind('security.istio.io', 'PeerAuthentication')).map((object) => readPeerAuthentication(object, findings));
  const authorizationPolicies = context.objects.filter(isKind('security.istio.io', 'AuthorizationPolicy')).map((object) => readAuthorizationPolicy(object, findings));
  const injectedNamespaces = new Set(
    context.objects
      .filter((object) => object.kind === 'Namespace' && object.metadata.labels?.['istio-injection'] === 'enabled')
      .map((object) => object.metadata.name),
  );

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

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const targetWorkload = templates.get(target.name)!;
    if (!targetWorkload.injected) {
      return { allowed: true, mtls: false, reason: `${target.namespace}/${target.name} has no sidecar, so Istio enforces nothing on it` };
    }
    const sourceWorkload = templates.get(source.service);
    const sourceMeshed = source.meshed && (sourceWorkload ? sourceWorkload.injected || !templates.has(source.service) : injectedNamespaces.has(source.namespace));
    const { mode, by } = modeFor(target.namespace, targetWorkload.labels, port.targetPort);
    if (!sourceMeshed && mode === 'STRICT') {
      return { allowed: false, mtls: false, reason: `${by} requires mTLS and the client has no Istio certificate` };
    }

    const request = {
      principal: sourceMeshed ? `${TRUST_DOMAIN}/ns/${source.namespace}/sa/${source.serviceAccount}` : undefined,
      namespace: sourceMeshed ? source.namespace : undefined,
      port: port.targetPort,
      http: port.protocol === 'http' || port.protocol === 'http2' || port.protocol === 'grpc',
    };
    const applicable = authorizationPolicies.filter(
      (policy) => (policy.namespace === target.namespace || policy.namespace === ROOT_NAMESPACE) && (!policy.selector || matchesSelector(policy.selector, targetWorkload.labels)),
    );
    const mtls = sourceMeshed && mode === 'STRICT';

    const deny = applicable.find((policy) => policy.action === 'DENY' && policy.rules.some((rule) => ruleMatches(rule, request)));
    if (deny) return { allowed: false, mtls, reason: `denied by ${deny.id}` };

    const allows = applicable.filter((policy) => policy.action === 'ALLOW');
    if (allows.length === 0) return { allowed: true, mtls, reason: `no ALLOW AuthorizationPolicy applies to ${target.namespace}/${target.name}, so Istio allows everything` };
    const allow = allows.find((policy) => policy.rules.some((rule) => ruleMatches(rule, request)));
    if (allow) return { allowed: true, mtls, reason: `allowed by ${allow.id}` };
    return { allowed: false, mtls, reason: `no rule of the ALLOW AuthorizationPolicies on ${target.namespace}/${target.name} matches (${allows.map((policy) => policy.id).join(', ')})` };
  };

  return { decide, findings };
}

interface Request {
  principal: string | undefined;
  namespace: string | undefined;
  port: number;
  http: boolean;
}

/** A rule matches when any of its sources and any of its operations match; a missing list matches anything. */
function ruleMatches(rule: Record<string, unknown>, request: Request): boolean {
  if (rule.when !== undefined) return false;
  const from = rule.from as { source?: Record<string, unknown> }[] | undefined;
  const to = rule.to as { operation?: Record<string, unknown> }[] | undefined;
  const sourceOk = !from || from.some((entry) => sourceMatches(entry.source ?? {}, request));
  const operationOk = !to || to.some((entry) => operationMatches(entry.operation ?? {}, request));
  return sourceOk && operationOk;
}

function sourceMatches(source: Record<string, unknown>, request: Request): boolean {
  const serviceAccount = request.principal ? request.principal.replace(/^[^/]+\/ns\/([^/]+)\/sa\/(.+)$/, '$1/$2') : undefined;
  return (
    field(source.principals, request.principal, true) &&
    field(source.notPrincipals, request.principal, false) &&
    field(source.namespaces, request.namespace, true) &&
    field(source.notNamespaces, request.namespace, false) &&
    field(source.serviceAccounts, serviceAccount, true) &&
    field(source.notServiceAccounts, serviceAccount, false) &&
    source.requestPrincipals === undefined &&
    source.ipBlocks === undefined &&
    source.remoteIpBlocks === undefined
  );
}

function operationMatches(operation: Record<string, unknown>, request: Request): boolean {
  const port = String(request.port);
  if (!request.http && HTTP_FIELDS.some((name) => operation[name] !== undefined)) return false;
  return field(operation.ports, port, true) && field(operation.notPorts, port, false);
}

/** Matches a value against an Istio string list: exact, `*`, prefix `abc*` or suffix `*abc`. A missing list does not constrain. */
function field(patterns: unknown, value: string | undefined, positive: boolean): boolean {
  if (!Array.isArray(patterns)) return true;
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
  }
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined) findings.push({ subject: id, message: 'uses targetRef, which applies to waypoints and gateways only' });
  return { id, namespace: object.metadata.namespace ?? 'default', selector: spec.selector, action: spec.action ?? 'ALLOW', rules: spec.rules ?? [] };
}
