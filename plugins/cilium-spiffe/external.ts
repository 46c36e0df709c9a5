import type { Finding, MeshDecision } from '../../src/plugin/api.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { dnsRulesOf, fqdnMatches, peerMatches, portMatches, type CiliumRule, type FqdnSelector, type SelectingPolicies } from './policies.js';
import type { PolicyIndex } from './selector-index.js';
import { endpointOf, type Endpoint } from './selectors.js';

/** A peer outside the cluster: no labels, so it matches no endpoint selector, and no named ports. */
const OUTSIDE: Endpoint = { namespace: '', labels: {}, ports: [] };

/** The cluster DNS server as the rules select it, for the DNS proxy rule that toFQDNs needs. */
const KUBE_DNS = endpointOf('kube-system', { 'k8s-app': 'kube-dns' }, 'coredns', { 'kubernetes.io/metadata.name': 'kube-system' });

/** Entities that include addresses outside the cluster (pkg/policy/api/entity.go). */
const WORLD_ENTITIES = new Set(['all', 'world', 'world-ipv4', 'world-ipv6']);

/**
 * Returns how a rule reaches an external dependency, or `null` when it does not. `name` means a toFQDNs entry
 * matches its host. `address` means a world entity, a CIDR or a rule with ports and no peer; verify does not
 * compare CIDRs with the host's addresses, so any CIDR counts as reaching it.
 */
function reachOf(rule: CiliumRule, external: ExternalService): 'name' | 'address' | null {
  if (rule.unsupported || !portMatches(rule, external.port, 'TCP', OUTSIDE)) return null;
  if (rule.fqdns?.some((selector) => fqdnMatches(selector, external.host))) return 'name';
  if (rule.entities?.some((entity) => WORLD_ENTITIES.has(entity)) || rule.cidrs !== undefined) return 'address';
  const hasPeerField = rule.endpoints !== undefined || rule.entities !== undefined || rule.fqdns !== undefined;
  return !hasPeerField && peerMatches(rule, OUTSIDE) ? 'address' : null;
}

/** Returns whether a rule sends the endpoint's lookups of `host` to kube-dns through Cilium's DNS proxy. */
function proxiesLookup(rule: CiliumRule, host: string): boolean {
  if (rule.deny || rule.direction !== 'egress' || !peerMatches(rule, KUBE_DNS) || !portMatches(rule, 53, 'UDP', KUBE_DNS)) return false;
  return dnsRulesOf(rule).some((selector) => fqdnMatches(selector, host));
}

/**
 * Decides whether the CiliumNetworkPolicies let a source open a connection to an external dependency: the
 * egress rules of the policies that select the source (`selecting`), deny rules first. A toFQDNs rule takes
 * effect only when a DNS rule of the same endpoint sends its lookups of the host through the DNS proxy, which
 * is where Cilium learns the addresses (toFQDNs field documentation in the CiliumNetworkPolicy CRD).
 */
export function decideExternalEgress(selecting: SelectingPolicies, external: ExternalService): MeshDecision {
  const target = `${external.name} (${external.host}:${external.port})`;
  const rules = selecting.rules.egress;

  const deny = rules.find((rule) => rule.deny && reachOf(rule, external) !== null);
  if (deny) return { allowed: false, mtls: false, reason: `${deny.id} denies egress to ${target}` };

  const enforcing = selecting.enforcing.egress;
  if (enforcing.length === 0) return { allowed: true, mtls: false, reason: `no CiliumNetworkPolicy puts the source in default deny for egress` };

  const allowing = rules.filter((rule) => !rule.deny && reachOf(rule, external) !== null);
  if (allowing.length === 0) return { allowed: false, mtls: false, reason: `no egress rule allows ${target} (${enforcing.map((policy) => policy.id).join(', ')})` };

  const byAddress = allowing.filter((rule) => reachOf(rule, external) === 'address');
  if (byAddress.length > 0) return { allowed: true, mtls: false, reason: `${byAddress.map((rule) => rule.id).join(', ')} allows ${target} by address` };

  const dns = rules.filter((rule) => proxiesLookup(rule, external.host));
  const names = allowing.map((rule) => rule.id).join(', ');
  if (dns.length === 0) return { allowed: false, mtls: false, reason: `${names} names ${external.host}, but no DNS rule sends its lookups through Cilium's DNS proxy, so no address is ever allowed` };
  return { allowed: true, mtls: false, reason: `${names} allows ${target} by host name, learnt through ${dns.map((rule) => rule.id).join(', ')}` };
}

function describe(selector: FqdnSelector): string {
  return selector.matchName !== undefined ? `matchName ${selector.matchName}` : `matchPattern ${selector.matchPattern ?? ''}`;
}

/** Returns whether a rule's ports admit only `port` over TCP. */
function onlyPort(rule: CiliumRule, port: number): boolean {
  const entries = (rule.toPorts ?? []).flatMap((portRule) => portRule.ports ?? []);
  if (entries.length === 0) return false;
  return entries.every((entry) => {
    const protocol = (entry.protocol ?? 'ANY').toUpperCase();
    return String(entry.port ?? '') === String(port) && (entry.endPort === undefined || entry.endPort === port) && (protocol === 'TCP' || protocol === 'ANY');
  });
}

/**
 * Reports toFQDNs rules wider than the topology's external dependencies, for each service the rule's policy
 * selects: a host the service does not declare, a wildcard pattern, or ports beyond the declared port.
 * Callers that are not declared at all show up in verify through `decideExternal`.
 */
export function checkExternalRules(policyIndex: PolicyIndex, topology: Topology, endpoints: Map<string, Endpoint>): Finding[] {
  const findings: Finding[] = [];
  for (const service of topology.services) {
    const endpoint = endpoints.get(service.name)!;
    const declared = topology.externalEdges.filter((edge) => edge.from === service.name).map((edge) => edge.to);
    for (const rule of policyIndex.selecting(endpoint).policies.flatMap((policy) => policy.rules)) {
      if (rule.deny || rule.fqdns === undefined) continue;
      for (const selector of rule.fqdns) {
        const subject = `${rule.id} (${service.namespace}/${service.name})`;
        if (selector.matchPattern !== undefined && selector.matchPattern.includes('*')) {
          findings.push({ subject, message: `allows egress to every name that ${describe(selector)} matches, more than the declared hosts: use matchName` });
          continue;
        }
        const externals = declared.filter((external) => fqdnMatches(selector, external.host));
        if (externals.length === 0) {
          findings.push({ subject, message: `allows egress to ${describe(selector)}, which ${service.name} does not declare as an external dependency` });
          continue;
        }
        if (!externals.some((external) => onlyPort(rule, external.port))) {
          findings.push({ subject, message: `allows egress to ${describe(selector)} on more than the declared port ${externals.map((external) => external.port).join(', ')}/TCP` });
        }
      }
    }
  }
  return findings;
}
