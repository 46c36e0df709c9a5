import { parse } from 'yaml';
import type { EvaluateContext, Finding, GatewayModel, MeshDecision, MeshEvaluator, Source } from '../../src/plugin/api.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import type { ExternalService, Service, ServicePort, Topology } from '../../src/topology/types.js';
import { createReachIndex, type ReachIndex } from './evaluate-reach.js';
import { checkExternalRules, decideExternalEgress } from './external.js';
import { readGatewayRoutes } from './gateway.js';
import { decideDirection, readCiliumPolicies, RESERVED_INGRESS_LABEL, type CiliumPolicy, type CiliumRule, type Direction, type SelectingPolicies } from './policies.js';
import { createEndpointIndex, createPolicyIndex, type EndpointIndex, type PolicyIndex } from './selector-index.js';
import { endpointOf, peerSelectorMatches, reservedEndpoint, type Endpoint } from './selectors.js';
import { GATEWAY_NAMESPACE, GATEWAY_NAME, HELM_VALUES_CONFIG_MAP, SPIRE_NAMESPACE } from './versions.js';

/** The settings of the Helm values that the guarantees depend on. */
interface Datapath {
  wireguard: boolean;
  spire: boolean;
  /** Gateway API on, with its requirements: the kube-proxy replacement, the L7 proxy and host network mode. */
  gateway: { enabled: boolean; kubeProxyReplacement: boolean; l7Proxy: boolean; hostNetwork: boolean };
}

/**
 * The gateway's identity as `decide` evaluates it: Cilium's Envoy connects to backends with the reserved `ingress`
 * identity (Documentation/network/servicemesh/default-deny-ingress-policy.rst). It has no SPIFFE ID, because
 * the auth manager skips reserved identities (pkg/auth/manager.go), so it counts as a client that cannot
 * authenticate: `meshed: false`.
 */
export const GATEWAY_SOURCE: Source = {
  service: `${GATEWAY_NAME}-gateway`,
  namespace: GATEWAY_NAMESPACE,
  serviceAccount: '',
  labels: { [RESERVED_INGRESS_LABEL]: '' },
  meshed: false,
};

/**
 * Evaluates the repository's CiliumNetworkPolicies as the Cilium agent enforces them: a connection needs the
 * caller's egress and the callee's ingress, deny rules win, and an allowing rule with
 * `authentication.mode: required` makes the datapath drop packets until the two identities have completed
 * a SPIRE mutual TLS handshake. A connection counts as mTLS only when both rules require authentication and
 * the Helm values turn on WireGuard, because the handshake authenticates the peers but does not encrypt.
 *
 * A source with `meshed: false` models a client that carries a caller's labels but cannot authenticate (a
 * pod Cilium does not manage, so it has no SPIFFE identity and its own egress rules do not apply).
 */
export function evaluateCilium(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [];
  const policies = readCiliumPolicies(context.objects, findings);
  const policyIndex = createPolicyIndex(policies);
  const datapath = readDatapath(context.objects, findings);
  const namespaceLabels = readNamespaceLabels(context.objects);
  const endpoints = new Map(context.topology.services.map((service) => [service.name, serviceEndpoint(context.objects, service, namespaceLabels)]));
  // Kept per Source object, which verify reuses for every call of one client, so the policy index caches each
  // client's policies once. NOTE: a Source object changed in place after its first call keeps its old endpoint.
  const sourceEndpoints = new WeakMap<Source, Endpoint>();
  const sourceEndpoint = (source: Source): Endpoint => {
    let endpoint = sourceEndpoints.get(source);
    if (endpoint === undefined) {
      const reserved = Object.keys(source.labels).find((label) => label.startsWith('reserved:'));
      endpoint = reserved !== undefined ? reservedEndpoint(reserved) : endpointOf(source.namespace, source.labels, source.serviceAccount, namespaceLabels(source.namespace));
      sourceEndpoints.set(source, endpoint);
    }
    return endpoint;
  };

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const callee = endpoints.get(target.name)!;
    const caller = sourceEndpoint(source);
    const ingress = decideDirection(policyIndex.selecting(callee), 'ingress', callee, caller, port.targetPort, 'TCP');
    if (!ingress.allowed) return { allowed: false, mtls: false, reason: `ingress to ${target.namespace}/${target.name}: no rule allows it (${ingress.rules.join(', ')})` };
    if (!ingress.enforced) {
      // The caller's own egress rules still apply to a managed caller.
      if (source.meshed) {
        const egress = decideDirection(policyIndex.selecting(caller), 'egress', caller, callee, port.targetPort, 'TCP');
        if (!egress.allowed) return { allowed: false, mtls: false, reason: `egress from ${source.namespace}/${source.service}: no rule allows it (${egress.rules.join(', ')})` };
      }
      return { allowed: true, mtls: false, reason: `no CiliumNetworkPolicy puts ${target.namespace}/${target.name} in default deny for ingress` };
    }

    if (!source.meshed) {
      if (ingress.auth !== 'none') return { allowed: false, mtls: false, reason: `${ingress.rules.join(', ')} requires mutual authentication, and ${caller.namespace === '' ? `the reserved identity ${Object.keys(caller.labels).join(', ')}` : 'a client that Cilium does not manage'} has no SPIFFE identity` };
      return { allowed: true, mtls: false, reason: `${ingress.rules.join(', ')} allows it without authentication` };
    }

    const egress = decideDirection(policyIndex.selecting(caller), 'egress', caller, callee, port.targetPort, 'TCP');
    if (!egress.allowed) return { allowed: false, mtls: false, reason: `egress from ${source.namespace}/${source.service}: no rule allows it (${egress.rules.join(', ')})` };
    if (ingress.auth === 'always-fail' || egress.auth === 'always-fail') return { allowed: false, mtls: false, reason: `authentication mode test-always-fail in ${[...ingress.rules, ...egress.rules].join(', ')}` };

    const allowedBy = `allowed by ${[...egress.rules, ...ingress.rules].join(', ') || 'no default deny'}`;
    const gaps = [
      ...(egress.auth === 'spire' ? [] : [`the egress rule (${egress.rules.join(', ') || 'none, egress is not default deny'}) does not require authentication`]),
      ...(ingress.auth === 'spire' ? [] : [`the ingress rule (${ingress.rules.join(', ')}) does not require authentication`]),
      ...(datapath.spire ? [] : ['SPIRE mutual authentication is off in the Helm values']),
      ...(datapath.wireguard ? [] : ['WireGuard encryption is off in the Helm values']),
    ];
    return { allowed: true, mtls: gaps.length === 0, reason: gaps.length === 0 ? `${allowedBy}, with SPIRE mutual authentication over WireGuard` : `${allowedBy}, but ${gaps.join('; ')}` };
  };

  // The index is built on the first call, so callers that only use `decide` do not pay for it.
  let reachIndex: ReachIndex | undefined;
  const mayReach = (source: Source): string[] => {
    reachIndex ??= createReachIndex(policies, context.topology.services.map((service) => ({ name: service.name, endpoint: endpoints.get(service.name)! })));
    return reachIndex.reach(sourceEndpoint(source));
  };

  const exposes = context.topology.exposures.length > 0;
  const routes = readGatewayRoutes(context.objects, namespaceLabels, findings);
  // Envoy's connections to backends carry the reserved ingress identity, which SPIRE mutual authentication skips.
  const gateway: GatewayModel | undefined = exposes || routes.length > 0 ? { source: GATEWAY_SOURCE, pods: null, routes, mtls: false } : undefined;
  const decideExternal = (source: Source, external: ExternalService): MeshDecision => decideExternalEgress(policyIndex.selecting(sourceEndpoint(source)), external);

  findings.push(...checkDatapath(datapath, exposes));
  findings.push(...checkExternalRules(policyIndex, context.topology, endpoints));
  findings.push(...checkConflicts(policyIndex, context.topology, endpoints));
  findings.push(...checkOutsideCluster(policies));
  findings.push(...checkPlumbingWithoutAuthentication(policies));
  findings.push(...checkDns(policyIndex, context.topology, endpoints));
  findings.push(...checkOneSidedHoles(policyIndex, context.topology, endpoints, namespaceLabels));
  return { decide, mayReach, findings: dedupe(findings), ...(gateway && { gateway }), decideExternal };
}

function serviceEndpoint(objects: readonly KubeObject[], service: Service, namespaceLabels: (namespace: string) => Record<string, string>): Endpoint {
  const template = podTemplateOf(objects, service);
  const containers = (template?.spec.containers ?? []) as { ports?: { name?: string; containerPort: number; protocol?: string }[] }[];
  const serviceAccount = (template?.spec.serviceAccountName as string | undefined) ?? 'default';
  return endpointOf(service.namespace, template?.metadata.labels ?? {}, serviceAccount, namespaceLabels(service.namespace), containers.flatMap((container) => container.ports ?? []));
}

function readNamespaceLabels(objects: readonly KubeObject[]): (namespace: string) => Record<string, string> {
  const declared = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  return (namespace) => ({ ...(declared.get(namespace) ?? {}), 'kubernetes.io/metadata.name': namespace });
}

/** Reads the Helm values from their ConfigMap; missing or unreadable values count as everything off. */
function readDatapath(objects: readonly KubeObject[], findings: Finding[]): Datapath {
  const subject = `ConfigMap ${HELM_VALUES_CONFIG_MAP.namespace}/${HELM_VALUES_CONFIG_MAP.name}`;
  const configMap = objects.find(
    (object) => object.kind === 'ConfigMap' && object.metadata.name === HELM_VALUES_CONFIG_MAP.name && object.metadata.namespace === HELM_VALUES_CONFIG_MAP.namespace,
  );
  const text = (configMap?.data as Record<string, unknown> | undefined)?.[HELM_VALUES_CONFIG_MAP.key];
  if (typeof text !== 'string') {
    findings.push({ subject, message: `is missing, or has no "${HELM_VALUES_CONFIG_MAP.key}": verify cannot tell whether WireGuard and SPIRE are on. Regenerate the repository` });
    return { wireguard: false, spire: false, gateway: { enabled: false, kubeProxyReplacement: false, l7Proxy: false, hostNetwork: false } };
  }
  let values: Record<string, any>;
  try {
    values = (parse(text) ?? {}) as Record<string, any>;
  } catch (error) {
    findings.push({ subject, message: `"${HELM_VALUES_CONFIG_MAP.key}" is not valid YAML (${(error as Error).message.split('\n')[0]})` });
    return { wireguard: false, spire: false, gateway: { enabled: false, kubeProxyReplacement: false, l7Proxy: false, hostNetwork: false } };
  }
  return {
    wireguard: values.encryption?.enabled === true && values.encryption?.type === 'wireguard',
    // The chart enables authentication processing by default; only an explicit false turns it off.
    spire: values.authentication?.enabled !== false && values.authentication?.mutual?.spire?.enabled === true,
    gateway: {
      enabled: values.gatewayAPI?.enabled === true,
      // The chart accepts the string "true" as well as the boolean.
      kubeProxyReplacement: values.kubeProxyReplacement === true || values.kubeProxyReplacement === 'true',
      // The L7 proxy is on unless the values turn it off.
      l7Proxy: values.l7Proxy !== false,
      hostNetwork: values.gatewayAPI?.hostNetwork?.enabled === true,
    },
  };
}

function checkDatapath(datapath: Datapath, exposes: boolean): Finding[] {
  const subject = `ConfigMap ${HELM_VALUES_CONFIG_MAP.namespace}/${HELM_VALUES_CONFIG_MAP.name}`;
  const gateway = datapath.gateway;
  const gatewayFindings = !exposes
    ? []
    : [
        ...(gateway.enabled ? [] : [{ subject, message: 'does not turn on Gateway API, so nothing serves the exposed services: set gatewayAPI.enabled to true' }]),
        ...(gateway.kubeProxyReplacement ? [] : [{ subject, message: 'does not turn on the kube-proxy replacement, without which Cilium\'s operator leaves Gateway API off: set kubeProxyReplacement to true' }]),
        ...(gateway.l7Proxy ? [] : [{ subject, message: 'turns off the L7 proxy (l7Proxy), the Envoy that serves Gateway API' }]),
        ...(gateway.hostNetwork ? [] : [{ subject, message: 'does not expose the Gateway on the nodes\' host network (gatewayAPI.hostNetwork.enabled), so kind cannot reach it without a load balancer' }]),
      ];
  return [
    ...gatewayFindings,
    ...(datapath.spire ? [] : [{ subject, message: 'does not turn on SPIRE mutual authentication: set authentication.mutual.spire.enabled to true' }]),
    ...(datapath.wireguard ? [] : [{ subject, message: 'does not turn on WireGuard: set encryption.enabled to true and encryption.type to wireguard, because mutual authentication alone does not encrypt' }]),
  ];
}

/** Reports pairs where rules disagree on authentication, since the evaluator does not rank them by specificity. */
function checkConflicts(policyIndex: PolicyIndex, topology: Topology, endpoints: Map<string, Endpoint>): Finding[] {
  const findings: Finding[] = [];
  const mayConflict = conflictCheck();
  for (const edge of topology.edges) {
    const caller = endpoints.get(edge.from)!;
    const callee = endpoints.get(edge.to)!;
    const callerPolicies = policyIndex.selecting(caller);
    const calleePolicies = policyIndex.selecting(callee);
    const ingress = mayConflict(calleePolicies, 'ingress') ? decideDirection(calleePolicies, 'ingress', callee, caller, edge.port.targetPort, 'TCP') : undefined;
    const egress = mayConflict(callerPolicies, 'egress') ? decideDirection(callerPolicies, 'egress', caller, callee, edge.port.targetPort, 'TCP') : undefined;
    for (const decision of [ingress, egress]) {
      if (decision?.conflict) findings.push({ subject: `${edge.from} -> ${edge.to}:${edge.port.port}`, message: `rules disagree on authentication: ${decision.conflict}` });
    }
  }
  return findings;
}

/**
 * Returns a cached test of whether `decideDirection` can report a conflict for an endpoint: only when its
 * allowing rules for that direction include one that requires authentication and one that disables it.
 */
function conflictCheck(): (selecting: SelectingPolicies, direction: Direction) => boolean {
  const cache = new Map<SelectingPolicies, Partial<Record<Direction, boolean>>>();
  return (selecting, direction) => {
    const entry = cache.get(selecting) ?? {};
    cache.set(selecting, entry);
    entry[direction] ??= ['required', 'disabled'].every((mode) => selecting.rules[direction].some((rule) => !rule.deny && rule.auth === mode));
    return entry[direction];
  };
}

/** Reports allow rules that open traffic to or from addresses outside the cluster, which no topology declares. */
function checkOutsideCluster(policies: CiliumPolicy[]): Finding[] {
  return policies
    .flatMap((policy) => policy.rules)
    .filter((rule) => !rule.deny && (rule.cidrs !== undefined || (rule.entities ?? []).some((entity) => entity === 'world' || entity === 'all')))
    .map((rule) => ({ subject: rule.id, message: `allows traffic ${rule.direction === 'egress' ? 'to' : 'from'} addresses outside the cluster, which the topology does not declare` }));
}

/** Pods that must never sit behind authentication: cluster DNS, the rest of kube-system and SPIRE itself. */
const PLUMBING: { name: string; endpoint: Endpoint }[] = [
  { name: 'kube-dns', endpoint: endpointOf('kube-system', { 'k8s-app': 'kube-dns' }, 'coredns', { 'kubernetes.io/metadata.name': 'kube-system' }) },
  { name: 'a kube-system pod', endpoint: endpointOf('kube-system', {}, 'default', { 'kubernetes.io/metadata.name': 'kube-system' }) },
  { name: 'the SPIRE server', endpoint: endpointOf(SPIRE_NAMESPACE, { app: 'spire-server' }, 'spire-server', { 'kubernetes.io/metadata.name': SPIRE_NAMESPACE }) },
  { name: 'a SPIRE agent', endpoint: endpointOf(SPIRE_NAMESPACE, { app: 'spire-agent' }, 'spire-agent', { 'kubernetes.io/metadata.name': SPIRE_NAMESPACE }) },
];

/**
 * Reports rules that require authentication on DNS, on kube-system or on SPIRE: while SPIRE is not issuing
 * identities (at install, after a restart), such a rule drops that traffic and nothing can recover it.
 */
function checkPlumbingWithoutAuthentication(policies: CiliumPolicy[]): Finding[] {
  const findings: Finding[] = [];
  for (const rule of policies.flatMap((policy) => policy.rules)) {
    if (rule.deny || (rule.auth !== 'required' && rule.auth !== 'test-always-fail')) continue;
    const touched = PLUMBING.filter(({ endpoint }) => peerOnly(rule, endpoint)).map(({ name }) => name);
    if (rulePortsInclude(rule, 53)) touched.push('port 53 (DNS)');
    if (touched.length > 0) findings.push({ subject: rule.id, message: `requires authentication on traffic to or from ${touched.join(', ')}: remove "authentication" from this rule, as DNS, kube-system and SPIRE must work before identities exist` });
  }
  return findings;
}

function peerOnly(rule: CiliumRule, endpoint: Endpoint): boolean {
  if (rule.endpoints?.some((selector) => peerSelectorMatches(selector ?? {}, rule.policyNamespace, endpoint))) return true;
  return rule.entities?.some((entity) => entity === 'all' || entity === 'cluster' || entity === 'kube-apiserver') ?? false;
}

function rulePortsInclude(rule: CiliumRule, port: number): boolean {
  return (rule.toPorts ?? []).some((portRule) => (portRule.ports ?? []).some((entry) => String(entry.port) === String(port)));
}

/** Checks that every service reaches kube-dns on UDP and TCP 53 at the CiliumNetworkPolicy layer, without authentication. */
function checkDns(policyIndex: PolicyIndex, topology: Topology, endpoints: Map<string, Endpoint>): Finding[] {
  const dns = PLUMBING[0]!.endpoint;
  const findings: Finding[] = [];
  for (const service of topology.services) {
    const endpoint = endpoints.get(service.name)!;
    for (const protocol of ['UDP', 'TCP']) {
      const decision = decideDirection(policyIndex.selecting(endpoint), 'egress', endpoint, dns, 53, protocol);
      if (!decision.allowed) findings.push({ subject: `${service.namespace}/${service.name}`, message: `CiliumNetworkPolicies block DNS (${protocol} 53 to kube-dns): add an egress rule to k8s-app=kube-dns in kube-system` });
      else if (decision.auth !== 'none') findings.push({ subject: `${service.namespace}/${service.name}`, message: `DNS (${protocol} 53 to kube-dns) requires authentication in ${decision.rules.join(', ')}` });
    }
  }
  return findings;
}

/**
 * Reports undeclared connections that one direction allows on its own, even when the other direction stops
 * them today: each side must hold by itself. The peers are every service and, in every namespace of the
 * topology, a pod with an identity that has no edges.
 */
function checkOneSidedHoles(policyIndex: PolicyIndex, topology: Topology, endpoints: Map<string, Endpoint>, namespaceLabels: (namespace: string) => Record<string, string>): Finding[] {
  const declared = new Set(topology.edges.map((edge) => `${edge.from}\0${edge.to}\0${edge.port.port}`));
  const peers = [
    ...topology.services.map((service) => ({ name: service.name, endpoint: endpoints.get(service.name)! })),
    ...topology.namespaces.map((namespace) => ({
      name: `a pod without edges in ${namespace}`,
      endpoint: endpointOf(namespace, { 'app.kubernetes.io/name': 'verify-stranger', 'app.kubernetes.io/component': 'verify-client' }, 'verify-stranger', namespaceLabels(namespace)),
    })),
  ];
  const targets = topology.services;

  // Per peer, the targets that one side may allow, as positions in `topology.services`. Every other pair is
  // in default deny on both sides with no allowing rule that matches it, so neither side allows it.
  const peerIndex = createEndpointIndex(peers.map((peer) => peer.endpoint));
  const candidates = peers.map(() => new Set<number>());
  targets.forEach((target, targetPosition) => {
    const selecting = policyIndex.selecting(endpoints.get(target.name)!);
    for (const peerPosition of admittedPeers(selecting, 'ingress', peerIndex, peers.length)) candidates[peerPosition]!.add(targetPosition);
  });
  peers.forEach((peer, peerPosition) => {
    const selecting = policyIndex.selecting(peer.endpoint);
    for (const targetPosition of admittedPeers(selecting, 'egress', peerIndex, peers.length)) {
      // Peers after the services are the pods without edges, which are never targets.
      if (targetPosition < targets.length) candidates[peerPosition]!.add(targetPosition);
    }
  });

  // The pairs are checked in the order of peers, then targets, then ports, so the findings keep that order.
  const findings: Finding[] = [];
  peers.forEach((peer, peerPosition) => {
    for (const targetPosition of [...candidates[peerPosition]!].sort((a, b) => a - b)) {
      const target = targets[targetPosition]!;
      const callee = endpoints.get(target.name)!;
      for (const port of target.ports) {
        if (declared.has(`${peer.name}\0${target.name}\0${port.port}`)) continue;
        const pair = `${peer.name} -> ${target.name}:${port.port}`;
        const ingress = decideDirection(policyIndex.selecting(callee), 'ingress', callee, peer.endpoint, port.targetPort, 'TCP');
        const egress = decideDirection(policyIndex.selecting(peer.endpoint), 'egress', peer.endpoint, callee, port.targetPort, 'TCP');
        if (ingress.allowed) findings.push({ subject: pair, message: `is not declared, but the ingress side allows it (${ingress.rules.join(', ') || `no policy puts ${target.name} in default deny`})` });
        if (egress.allowed) findings.push({ subject: pair, message: `is not declared, but the egress side allows it (${egress.rules.join(', ') || `no policy puts ${peer.name} in default deny`})` });
      }
    }
  });
  return findings;
}

/**
 * Returns the positions in `index` of the peers that the subject's rules for `direction` may allow: every
 * position when no policy puts the subject in default deny for that direction, or else the candidates of
 * its allowing rules. Deny rules only take peers away, so they are not looked at.
 */
function admittedPeers(selecting: SelectingPolicies, direction: Direction, index: EndpointIndex, count: number): Iterable<number> {
  if (selecting.enforcing[direction].length === 0) return Array.from({ length: count }, (_, position) => position);
  const found = new Set<number>();
  for (const rule of selecting.rules[direction]) {
    if (rule.deny) continue;
    const candidates = index.peerCandidates(rule);
    if (candidates === 'all') return Array.from({ length: count }, (_, position) => position);
    for (const position of candidates) found.add(position);
  }
  return found;
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = `${finding.subject}\0${finding.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
