import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import type { Finding } from '../../src/plugin/api.js';
import { peerSelectorMatches, selectorMatches, type Endpoint } from './selectors.js';

export type Direction = 'ingress' | 'egress';

/** The mode a rule's `authentication.mode` requests; `unset` leaves the decision to a broader rule. */
export type AuthMode = 'unset' | 'disabled' | 'required' | 'test-always-fail';

interface PortProtocol {
  port?: string;
  endPort?: number;
  protocol?: string;
}

/** One rule of a CiliumNetworkPolicy, in the fields the evaluator reads. */
export interface CiliumRule {
  /** `CiliumNetworkPolicy <namespace>/<name> egress[1]`, for reasons and findings. */
  id: string;
  direction: Direction;
  deny: boolean;
  policyNamespace: string | undefined;
  endpoints?: LabelSelector[];
  entities?: string[];
  cidrs?: unknown[];
  /** The toFQDNs selectors of an egress rule; they select addresses outside the cluster, never a pod. */
  fqdns?: FqdnSelector[];
  toPorts?: { ports?: PortProtocol[]; rules?: unknown }[];
  auth: AuthMode;
  /** True when the rule uses a field the evaluator does not model; such a rule never matches. */
  unsupported: boolean;
  /** True for a rule about ICMP alone, which no TCP or UDP port matches. */
  icmpOnly: boolean;
}

/** A toFQDNs entry, or an L7 DNS rule: a literal name or a pattern with `*` wildcards. */
export interface FqdnSelector {
  matchName?: string;
  matchPattern?: string;
}

/** A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy, reduced to what decides L3/L4 connections. */
export interface CiliumPolicy {
  id: string;
  namespace: string | undefined;
  endpointSelector: LabelSelector | undefined;
  defaultDeny: Record<Direction, boolean>;
  rules: CiliumRule[];
}

// Fields the evaluator does not model; a rule that uses one is reported and never matches.
const UNSUPPORTED: Record<Direction, string[]> = {
  ingress: ['fromRequires', 'fromGroups', 'fromNodes'],
  egress: ['toRequires', 'toGroups', 'toNodes', 'toServices'],
};

/** Entities that include every pod of the cluster (pkg/policy/api/entity.go). */
export const POD_ENTITIES: ReadonlySet<string> = new Set(['all', 'cluster']);

/**
 * Entities that include the reserved `ingress` identity of Cilium's Envoy: `cluster` lists it beside host,
 * remote-node, health and the pods (pkg/policy/api/entity.go, InitEntities).
 */
export const INGRESS_ENTITIES: ReadonlySet<string> = new Set(['all', 'cluster', 'ingress']);

/** The label that Cilium gives the identity of traffic from its Ingress and Gateway API Envoy. */
export const RESERVED_INGRESS_LABEL = 'reserved:ingress';

/** Reads every CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy, reporting what it cannot evaluate. */
export function readCiliumPolicies(objects: readonly KubeObject[], findings: Finding[]): CiliumPolicy[] {
  const policies: CiliumPolicy[] = [];
  for (const object of objects) {
    if (!object.apiVersion.startsWith('cilium.io/')) continue;
    if (object.kind !== 'CiliumNetworkPolicy' && object.kind !== 'CiliumClusterwideNetworkPolicy') continue;
    const namespace = object.kind === 'CiliumNetworkPolicy' ? (object.metadata.namespace ?? 'default') : undefined;
    const id = `${object.kind} ${namespace ? `${namespace}/` : ''}${object.metadata.name}`;
    const specs = [object.spec, ...((object.specs as unknown[] | undefined) ?? [])].filter((spec): spec is Record<string, unknown> => typeof spec === 'object' && spec !== null);
    specs.forEach((spec, index) => policies.push(readSpec(spec, specs.length > 1 ? `${id} specs[${index}]` : id, namespace, findings)));
  }
  return policies;
}

function readSpec(spec: Record<string, unknown>, id: string, namespace: string | undefined, findings: Finding[]): CiliumPolicy {
  if (spec.nodeSelector !== undefined) findings.push({ subject: id, message: 'is a host policy (nodeSelector), which verify does not evaluate' });
  const list = (name: string) => (Array.isArray(spec[name]) ? (spec[name] as Record<string, unknown>[]) : []);
  const rules = [
    ...list('ingress').map((rule, index) => readRule(rule, `${id} ingress[${index}]`, 'ingress', false, namespace, findings)),
    ...list('ingressDeny').map((rule, index) => readRule(rule, `${id} ingressDeny[${index}]`, 'ingress', true, namespace, findings)),
    ...list('egress').map((rule, index) => readRule(rule, `${id} egress[${index}]`, 'egress', false, namespace, findings)),
    ...list('egressDeny').map((rule, index) => readRule(rule, `${id} egressDeny[${index}]`, 'egress', true, namespace, findings)),
  ];

  // pkg/policy/api/rule_validation.go (Sanitize): without enableDefaultDeny, a direction is default deny
  // exactly when the policy has allow or deny rules for it.
  const explicit = (spec.enableDefaultDeny ?? {}) as Partial<Record<Direction, boolean>>;
  const defaultDeny = {
    ingress: explicit.ingress ?? (list('ingress').length > 0 || list('ingressDeny').length > 0),
    egress: explicit.egress ?? (list('egress').length > 0 || list('egressDeny').length > 0),
  };
  return { id, namespace, endpointSelector: spec.endpointSelector as LabelSelector | undefined, defaultDeny, rules };
}

function readRule(rule: Record<string, unknown>, id: string, direction: Direction, deny: boolean, policyNamespace: string | undefined, findings: Finding[]): CiliumRule {
  const prefix = direction === 'ingress' ? 'from' : 'to';
  const unsupported = UNSUPPORTED[direction].filter((field) => rule[field] !== undefined);
  for (const field of unsupported) {
    findings.push({ subject: id, message: `uses ${field}, which verify does not evaluate; the rule is treated as matching nothing` });
  }
  const toPorts = rule.toPorts as CiliumRule['toPorts'];
  // L7 DNS rules filter the lookups that Cilium's DNS proxy forwards, not connections, and feed toFQDNs.
  const l7 = (toPorts ?? []).filter((portRule) => portRule.rules !== undefined && !isDnsOnly(portRule.rules));
  if (l7.length > 0) {
    findings.push({ subject: id, message: 'has L7 rules, which verify does not evaluate: it decides the connection at L4 only' });
  }
  const mode = (rule.authentication as { mode?: string } | undefined)?.mode;
  return {
    id,
    direction,
    deny,
    policyNamespace,
    endpoints: rule[`${prefix}Endpoints`] as LabelSelector[] | undefined,
    entities: rule[`${prefix}Entities`] as string[] | undefined,
    fqdns: direction === 'egress' && rule.toFQDNs !== undefined ? ((rule.toFQDNs as FqdnSelector[] | null) ?? []) : undefined,
    cidrs: rule[`${prefix}CIDR`] !== undefined || rule[`${prefix}CIDRSet`] !== undefined ? [...((rule[`${prefix}CIDR`] as unknown[]) ?? []), ...((rule[`${prefix}CIDRSet`] as unknown[]) ?? [])] : undefined,
    toPorts,
    auth: mode === 'required' || mode === 'disabled' || mode === 'test-always-fail' ? mode : 'unset',
    unsupported: unsupported.length > 0,
    // A rule with `icmps` and no `toPorts` allows or denies ICMP only (pkg/policy/api/ingress.go and egress.go).
    icmpOnly: rule.icmps !== undefined && (toPorts === undefined || toPorts.length === 0),
  };
}

function isDnsOnly(rules: unknown): boolean {
  return typeof rules === 'object' && rules !== null && Object.keys(rules).every((key) => key === 'dns');
}

/** Returns the DNS patterns of a rule's L7 DNS rules on any of its ports; empty without such rules. */
export function dnsRulesOf(rule: CiliumRule): FqdnSelector[] {
  return (rule.toPorts ?? []).flatMap((portRule) => ((portRule.rules as { dns?: FqdnSelector[] } | undefined)?.dns ?? []));
}

/**
 * Returns whether a toFQDNs entry or an L7 DNS rule matches a host name, as the CRD's field documentation
 * describes them. Matching ignores case and a trailing dot. `*` alone matches every name, and elsewhere 0 or
 * more characters of one label, so `*.example.com` matches one level of subdomains.
 */
export function fqdnMatches(selector: FqdnSelector, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (selector.matchName !== undefined) return selector.matchName.toLowerCase().replace(/\.$/, '') === name;
  if (selector.matchPattern === undefined) return false;
  const pattern = selector.matchPattern.toLowerCase().replace(/\.$/, '');
  if (pattern === '*') return true;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[-a-z0-9_]*');
  return new RegExp(`^${source}$`).test(name);
}

/** Returns whether a policy applies to an endpoint: a namespaced policy only to pods of its namespace. */
export function policySelects(policy: CiliumPolicy, endpoint: Endpoint): boolean {
  if (!policy.endpointSelector) return false;
  if (policy.namespace !== undefined && policy.namespace !== endpoint.namespace) return false;
  return selectorMatches(policy.endpointSelector, endpoint);
}

/**
 * Returns whether a rule's peer part admits an endpoint. A rule with ports and no peer field allows every
 * peer on those ports, and a rule without either allows nothing. CIDR peers never match pods, because Cilium
 * applies them only to traffic from outside the cluster (pkg/policy/api/ingress.go).
 * NOTE: the empty-rule case was not confirmed in Cilium's code, and the generated policies contain no such rule.
 */
export function peerMatches(rule: CiliumRule, peer: Endpoint): boolean {
  if (rule.unsupported) return false;
  const hasPeerField = rule.endpoints !== undefined || rule.entities !== undefined || rule.cidrs !== undefined || rule.fqdns !== undefined;
  if (!hasPeerField) return (rule.toPorts ?? []).length > 0;
  if (rule.endpoints?.some((selector) => peerSelectorMatches(selector ?? {}, rule.policyNamespace, peer))) return true;
  const entities = peer.labels[RESERVED_INGRESS_LABEL] !== undefined ? INGRESS_ENTITIES : POD_ENTITIES;
  if (rule.entities?.some((entity) => entities.has(entity))) return true;
  return false;
}

/** Returns whether a rule's ports admit a destination port; named ports resolve on the destination pod. */
export function portMatches(rule: CiliumRule, port: number, protocol: string, destination: Endpoint): boolean {
  if (rule.icmpOnly) return false;
  if (rule.toPorts === undefined || rule.toPorts.length === 0) return true;
  return rule.toPorts.some((portRule) =>
    (portRule.ports ?? []).some((entry) => {
      const wanted = (entry.protocol ?? 'ANY').toUpperCase();
      if (wanted !== 'ANY' && wanted !== protocol) return false;
      const text = String(entry.port ?? '');
      if (/^[0-9]+$/.test(text)) {
        const first = Number(text);
        if (first === 0) return true;
        return entry.endPort !== undefined ? port >= first && port <= entry.endPort : port === first;
      }
      const named = destination.ports.find((candidate) => candidate.name?.toLowerCase() === text.toLowerCase());
      return named !== undefined && named.containerPort === port && (named.protocol ?? 'TCP') === protocol;
    }),
  );
}

/** The policies that select one endpoint, in manifest order, with their rules split by direction. */
export interface SelectingPolicies {
  policies: readonly CiliumPolicy[];
  /** The rules of `policies` for each direction, in policy order and then rule order. */
  rules: Record<Direction, readonly CiliumRule[]>;
  /** The policies of `policies` that put the endpoint in default deny, for each direction. */
  enforcing: Record<Direction, readonly CiliumPolicy[]>;
  /**
   * Returns the rules of `rules[direction]`, in the same order, that may admit `peer`: every rule that
   * `peerMatches` accepts, and possibly others.
   */
  candidateRules(direction: Direction, peer: Endpoint): readonly CiliumRule[];
}

/** The outcome of one direction of a connection at the CiliumNetworkPolicy layer. */
export interface DirectionDecision {
  /** True when some policy puts the endpoint in default deny for this direction. */
  enforced: boolean;
  allowed: boolean;
  /** The authentication the datapath requires; `none` when no allowing rule requests any. */
  auth: 'none' | 'spire' | 'always-fail';
  /** The allowing rules, the denying rule, or the policies that enforce default deny. */
  rules: string[];
  /** Set when allowing rules disagree: one requires authentication, another explicitly disables it. */
  conflict?: string;
}

/**
 * Decides one direction: the policies that select `subject` (`selecting`) against traffic from or to `peer`
 * on `port`.
 * Deny rules win over allow rules. Authentication follows pkg/policy/mapstate.go (Merge): an explicit mode
 * beats an unset one, and the higher of two explicit modes wins.
 * NOTE: in Cilium, a more specific rule with `mode: disabled` keeps its mode against a broader `required` rule.
 * The evaluator does not rank rules by specificity, so it reports any such mix as a conflict.
 */
export function decideDirection(selecting: SelectingPolicies, direction: Direction, subject: Endpoint, peer: Endpoint, port: number, protocol: string): DirectionDecision {
  const enforcing = selecting.enforcing[direction];
  const destination = direction === 'ingress' ? subject : peer;
  let deny: CiliumRule | undefined;
  const allows: CiliumRule[] = [];
  for (const rule of selecting.candidateRules(direction, peer)) {
    if (!peerMatches(rule, peer) || !portMatches(rule, port, protocol, destination)) continue;
    if (!rule.deny) allows.push(rule);
    else deny ??= rule;
  }
  if (deny) return { enforced: true, allowed: false, auth: 'none', rules: [deny.id] };

  const modes = new Set(allows.map((rule) => rule.auth));
  const auth = modes.has('test-always-fail') ? 'always-fail' : modes.has('required') ? 'spire' : 'none';
  const conflict = modes.has('required') && modes.has('disabled') ? `${allows.filter((rule) => rule.auth === 'disabled').map((rule) => rule.id).join(', ')} disable authentication that ${allows.filter((rule) => rule.auth === 'required').map((rule) => rule.id).join(', ')} require` : undefined;

  if (enforcing.length === 0) return { enforced: false, allowed: true, auth, rules: allows.map((rule) => rule.id), ...(conflict && { conflict }) };
  if (allows.length === 0) return { enforced: true, allowed: false, auth: 'none', rules: enforcing.map((policy) => policy.id) };
  return { enforced: true, allowed: true, auth, rules: allows.map((rule) => rule.id), ...(conflict && { conflict }) };
}
