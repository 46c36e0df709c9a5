import type { LabelSelector } from '../../src/k8s/object.js';
import type { Service, ServicePort } from '../../src/topology/types.js';
import { matchesSelector } from '../../src/verify/objects.js';
import type { IdentityMatch } from './evaluate-reach.js';

// Servers and AuthorizationPolicies as evaluate.ts reads them, and the lookups that its `decide` and `mayReach` make.

export interface Workload {
  labels: Record<string, string>;
  injected: boolean;
  defaultPolicy: { value: string; by: string };
  containerPorts: { name?: string; containerPort: number }[];
  skipInbound: Set<number>;
  skipOutbound: Set<number>;
}

export interface Server {
  id: string;
  name: string;
  namespace: string;
  podSelector?: LabelSelector;
  port: number | string;
  accessPolicy: string;
}

export interface AuthorizationPolicy {
  id: string;
  namespace: string;
  target: { kind: 'Server'; name: string } | { kind: 'Namespace' } | { kind: 'Route' };
  /** The identities one of which the client must prove with mTLS; undefined when the policy needs none. */
  identities?: IdentityMatch[];
  /** The reason Linkerd ignores the policy, when it does. */
  invalid?: string;
}

export interface ServerLookups {
  /** Returns the Servers of a namespace whose podSelector selects pods with these labels, in manifest order. */
  serversSelecting(namespace: string, labels: Record<string, string>): Server[];
  /** Returns the first Server that selects a port of a service, or undefined when none does. */
  serverFor(target: Service, port: ServicePort, workload: Workload): Server | undefined;
  /** Returns the valid AuthorizationPolicies on a Server or on its namespace, in manifest order and indexed by identity. */
  policiesOf(server: Server): PolicyIndex;
  /** Returns the ids of those policies as a denial's reason lists them, or `none`. */
  policyIdsOf(server: Server): string;
}

export function selectsPort(server: Server, target: Service, port: ServicePort, workload: Workload): boolean {
  if (server.namespace !== target.namespace || !server.podSelector || !matchesSelector(server.podSelector, workload.labels)) return false;
  if (typeof server.port === 'number') return server.port === port.targetPort;
  return workload.containerPorts.some((containerPort) => containerPort.name === server.port && containerPort.containerPort === port.targetPort);
}

/**
 * Builds the lookups of `decide`: the Servers that select a pod, the Server that selects a port, and the
 * AuthorizationPolicies that apply to a Server. Verify decides millions of connections, so each result is computed
 * once and then kept.
 */
export function indexServerLookups(servers: Server[], policies: AuthorizationPolicy[]): ServerLookups {
  const selectorIndex = indexServerSelectors(servers);
  // Cached by labels object, because checkServers and serverFor both pass each workload's own labels.
  const selectedByLabels = new WeakMap<Record<string, string>, Map<string, Server[]>>();
  const serversSelecting = (namespace: string, labels: Record<string, string>): Server[] => {
    let byNamespace = selectedByLabels.get(labels);
    if (!byNamespace) selectedByLabels.set(labels, (byNamespace = new Map()));
    let selected = byNamespace.get(namespace);
    if (!selected) byNamespace.set(namespace, (selected = selectorIndex(namespace, labels)));
    return selected;
  };
  // Keyed by the Service object and then its container port: verify passes the topology's own Service objects.
  const serverOfPort = new WeakMap<Service, Map<number, Server | undefined>>();
  const serverFor = (target: Service, port: ServicePort, workload: Workload): Server | undefined => {
    let ports = serverOfPort.get(target);
    if (!ports) serverOfPort.set(target, (ports = new Map()));
    if (!ports.has(port.targetPort)) ports.set(port.targetPort, serversSelecting(target.namespace, workload.labels).find((candidate) => selectsPort(candidate, target, port, workload)));
    return ports.get(port.targetPort);
  };

  // The policies that apply to a Server: those on its namespace and those on it by name, in manifest order.
  const valid = policies.filter((policy) => !policy.invalid);
  let position: Map<AuthorizationPolicy, number> | undefined;
  const onNamespace = new Map<string, AuthorizationPolicy[]>();
  const onServer = new Map<string, Map<string, AuthorizationPolicy[]>>();
  for (const policy of valid) {
    if (policy.target.kind === 'Namespace') {
      addTo(onNamespace, policy.namespace, policy);
    } else if (policy.target.kind === 'Server') {
      let byName = onServer.get(policy.namespace);
      if (!byName) onServer.set(policy.namespace, (byName = new Map()));
      addTo(byName, policy.target.name, policy);
    }
  }
  const policiesOfServer = new Map<Server, PolicyIndex>();
  const policiesOf = (server: Server): PolicyIndex => {
    let found = policiesOfServer.get(server);
    if (!found) {
      const fromNamespace = onNamespace.get(server.namespace) ?? [];
      const fromServer = onServer.get(server.namespace)?.get(server.name) ?? [];
      let applicable = fromServer;
      if (fromNamespace.length > 0) {
        position ??= new Map(valid.map((policy, index) => [policy, index]));
        applicable = [...fromNamespace, ...fromServer].sort((a, b) => position!.get(a)! - position!.get(b)!);
      }
      found = new PolicyIndex(applicable);
      policiesOfServer.set(server, found);
    }
    return found;
  };
  const idsOfServer = new Map<Server, string>();
  const policyIdsOf = (server: Server): string => {
    let ids = idsOfServer.get(server);
    if (ids === undefined) idsOfServer.set(server, (ids = policiesOf(server).policies.map((policy) => policy.id).join(', ') || 'none'));
    return ids;
  };
  return { serversSelecting, serverFor, policiesOf, policyIdsOf };
}

/**
 * Indexes Servers by namespace and one pair of their `matchLabels`, the pair fewest Servers share, so that finding
 * the Servers that select a pod tests only those whose pair the pod's labels contain. Servers without
 * `matchLabels` are tested for every pod of their namespace, and Servers without a podSelector select no pod.
 */
function indexServerSelectors(servers: Server[]): (namespace: string, labels: Record<string, string>) => Server[] {
  // Namespace, then label key, then label value.
  const byPair = new Map<string, Map<string, Map<string, Server[]>>>();
  const groupOf = (namespace: string, key: string, value: string): Server[] => {
    let keys = byPair.get(namespace);
    if (!keys) byPair.set(namespace, (keys = new Map()));
    let values = keys.get(key);
    if (!values) keys.set(key, (values = new Map()));
    let group = values.get(value);
    if (!group) values.set(value, (group = []));
    return group;
  };

  // First the groups of each Server's pairs and how many Servers share each pair. Then each Server joins its rarest group.
  const groupsOf = new Map<Server, Server[][]>();
  const sharing = new Map<Server[], number>();
  for (const server of servers) {
    const pairs = Object.entries(server.podSelector?.matchLabels ?? {});
    if (pairs.length === 0) continue;
    const groups = pairs.map(([key, value]) => groupOf(server.namespace, key, value));
    groupsOf.set(server, groups);
    for (const group of groups) sharing.set(group, (sharing.get(group) ?? 0) + 1);
  }
  for (const [server, groups] of groupsOf) {
    groups.reduce((rarest, group) => (sharing.get(group)! < sharing.get(rarest)! ? group : rarest)).push(server);
  }

  const withoutLabels = new Map<string, Server[]>();
  for (const server of servers) {
    if (server.podSelector && !groupsOf.has(server)) addTo(withoutLabels, server.namespace, server);
  }

  const position = new Map(servers.map((server, index) => [server, index]));
  return (namespace, labels) => {
    const groups: Server[][] = [];
    const unlabelled = withoutLabels.get(namespace);
    if (unlabelled) groups.push(unlabelled);
    const keys = byPair.get(namespace);
    if (keys) {
      for (const [key, value] of Object.entries(labels)) {
        const group = keys.get(key)?.get(value);
        if (group && group.length > 0) groups.push(group);
      }
    }
    // Each Server is in one group, so merging the groups in manifest order lists each candidate once.
    const candidates = groups.length <= 1 ? (groups[0] ?? []) : groups.flat().sort((a, b) => position.get(a)! - position.get(b)!);
    return candidates.filter((server) => matchesSelector(server.podSelector!, labels));
  };
}

export function addTo<K, T>(groups: Map<K, T[]>, key: K, item: T): void {
  const group = groups.get(key);
  if (group) group.push(item);
  else groups.set(key, [item]);
}

/**
 * The policies on one Server in manifest order, indexed on the first lookup by the identities they admit.
 * Linkerd matches an identity exactly, or by a suffix after a dot (`*.suffix`), and `*` matches every identity.
 * A lookup therefore costs one map lookup per dot in the identity instead of a scan of every policy, which
 * matters for a Server with hundreds of callers.
 */
export class PolicyIndex {
  // Each field is the position of the first policy that admits such clients, so the smallest candidate wins.
  private open = Infinity;
  private everyIdentity = Infinity;
  private byExact: Map<string, number> | undefined;
  private bySuffix: Map<string, number> | undefined;

  constructor(readonly policies: readonly AuthorizationPolicy[]) {}

  /**
   * Returns the first policy in manifest order that admits a client, or undefined when none does: `identity` is
   * the client's Linkerd identity, or undefined for a client without a proxy, which only policies without
   * `identities` admit.
   */
  firstAdmitting(identity: string | undefined): AuthorizationPolicy | undefined {
    const byExact = this.byExact ?? this.build();
    let first = this.open;
    if (identity !== undefined) {
      first = Math.min(first, this.everyIdentity, byExact.get(identity) ?? Infinity);
      // `*.suffix` needs a dot right before the suffix, so only the text after each dot can match.
      const bySuffix = this.bySuffix;
      if (bySuffix) {
        for (let dot = identity.indexOf('.'); dot !== -1; dot = identity.indexOf('.', dot + 1)) {
          first = Math.min(first, bySuffix.get(identity.slice(dot + 1)) ?? Infinity);
        }
      }
    }
    return first === Infinity ? undefined : this.policies[first];
  }

  private build(): Map<string, number> {
    const byExact = new Map<string, number>();
    this.policies.forEach((policy, position) => {
      if (!policy.identities) {
        this.open = Math.min(this.open, position);
        return;
      }
      for (const match of policy.identities) {
        if ('exact' in match) {
          if (!byExact.has(match.exact)) byExact.set(match.exact, position);
        } else if (match.suffix === '') {
          this.everyIdentity = Math.min(this.everyIdentity, position);
        } else {
          this.bySuffix ??= new Map();
          if (!this.bySuffix.has(match.suffix)) this.bySuffix.set(match.suffix, position);
        }
      }
    });
    this.byExact = byExact;
    return byExact;
  }
}
