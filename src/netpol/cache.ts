// Runtime records of namespaces and pods, and the per-direction decision caches.

import { PortKind, type CompiledPeer, type CompiledPolicy, type CompiledPort } from './compile.js';
import type { DirectionDecision, PodModel } from './evaluate.js';
import type { CompiledSelector, LabelMap } from './selectors.js';

export interface NamespaceRecord {
  name: string;
  labels: LabelMap;
  /** Namespace selector results by selector id: 0 not computed yet, 1 match, 2 no match. */
  selectorResults: Uint8Array;
}

export interface ContainerPortRecord {
  name: string | undefined;
  port: number;
  protocol: number;
}

/** Pods with the same namespace and labels, which the same policies select. */
export interface LabelClass {
  id: number;
  labels: LabelMap;
  ingressPolicies: CompiledPolicy[];
  egressPolicies: CompiledPolicy[];
}

/**
 * Either end of a connection. Two ends with the same `peerClass` match the
 * same peers of every policy, and two ends with the same `targetClass` also
 * have the same container ports, so cached decisions are keyed by these ids.
 */
export interface Endpoint {
  /** Undefined for an external address. */
  namespace: NamespaceRecord | undefined;
  labels: LabelMap;
  /** Ids of the interned ipBlocks that contain the address. */
  ipBlocks: ReadonlySet<number>;
  ports: ContainerPortRecord[];
  peerClass: number;
  targetClass: number;
}

export interface PodRecord extends Endpoint {
  model: PodModel;
  namespace: NamespaceRecord;
  ingress: DirectionContext | undefined;
  egress: DirectionContext | undefined;
}

/**
 * Rule that can match one port and protocol. `namedPorts` is set when only
 * named port entries can match, which depends on the destination's ports.
 */
interface ActiveRule {
  policyOrdinal: number;
  /** Undefined when the rule allows all peers. */
  peerIds: Int32Array | undefined;
  namedPorts: CompiledPort[] | undefined;
}

export const EMPTY_LABELS: LabelMap = new Map();
// Class ids below this are cached in dense rows; see DirectionContext.decideSparse.
const DENSE_CLASSES = 256;
// Allowing policies are keyed by a bit mask while it fits in a small integer.
const MAX_MASK_POLICIES = 30;

/**
 * Policies that isolate a set of pods in one direction, with the decisions
 * computed so far. A decision depends only on these policies, the port, the
 * protocol and the class of the other end, so it is cached in one Int32Array
 * row per port and protocol, indexed by class id.
 */
export class DirectionContext {
  private readonly rows = new Map<number, Int32Array>();
  private readonly sparse = new Map<number, number>();
  private readonly activeRulesByPort = new Map<number, ActiveRule[]>();
  private lastPortKey = -1;
  private lastRow: Int32Array = new Int32Array(0);
  private readonly decisions: DirectionDecision[] = [];
  private readonly decisionIds = new Map<number | string, number>();
  private readonly denied: DirectionDecision;

  constructor(
    private readonly policies: CompiledPolicy[],
    private readonly direction: 'ingress' | 'egress',
    private readonly peerMatcher: PeerMatcher,
  ) {
    this.denied = freezeDecision(true, false, policies.map((policy) => policy.key));
  }

  /** Returns the decision for the other end, computing and caching it on first use. */
  decide(portKey: number, other: Endpoint, classId: number, destinationPorts: ContainerPortRecord[]): DirectionDecision {
    if (classId >= DENSE_CLASSES) {
      return this.decideSparse(portKey, other, classId, destinationPorts);
    }
    let row = portKey === this.lastPortKey ? this.lastRow : this.selectRow(portKey);
    const cachedId = classId < row.length ? row[classId]! : 0;
    if (cachedId !== 0) {
      return this.decisions[cachedId - 1]!;
    }

    const id = this.evaluate(portKey, other, destinationPorts);
    if (classId >= row.length) {
      const grown = new Int32Array(Math.max(64, classId + 1, row.length * 2));
      grown.set(row);
      row = grown;
      this.rows.set(portKey, row);
      this.lastRow = row;
    }
    row[classId] = id;
    return this.decisions[id - 1]!;
  }

  /**
   * Decides for a class id beyond the dense rows and caches the result in a map. With thousands of pods of distinct
   * labels, each context decides for only a few of them, so a dense row would grow to every class id for nothing.
   */
  private decideSparse(portKey: number, other: Endpoint, classId: number, destinationPorts: ContainerPortRecord[]): DirectionDecision {
    // Port keys are below 2^18 (port * 4 + protocol), so the key is unique and stays an exact integer.
    const key = classId * 262_144 + portKey;
    let id = this.sparse.get(key);
    if (id === undefined) {
      id = this.evaluate(portKey, other, destinationPorts);
      this.sparse.set(key, id);
    }
    return this.decisions[id - 1]!;
  }

  /** Runs the active rules against the other end and returns the decision id (1-based). */
  private evaluate(portKey: number, other: Endpoint, destinationPorts: ContainerPortRecord[]): number {
    const port = portKey >> 2;
    const protocol = portKey & 3;
    const useMask = this.policies.length <= MAX_MASK_POLICIES;
    const ordinals: number[] = [];
    let mask = 0;
    let lastOrdinal = -1;

    const rules = this.activeRules(portKey);
    for (let ruleIndex = 0; ruleIndex < rules.length; ruleIndex++) {
      const rule = rules[ruleIndex]!;
      if (rule.policyOrdinal === lastOrdinal) {
        continue;
      }
      if (rule.namedPorts !== undefined && !namedPortsMatch(rule.namedPorts, port, protocol, destinationPorts)) {
        continue;
      }
      if (rule.peerIds !== undefined && !this.peerMatcher.matchesAny(rule.peerIds, other)) {
        continue;
      }
      lastOrdinal = rule.policyOrdinal;
      ordinals.push(lastOrdinal);
      if (useMask) {
        mask |= 1 << lastOrdinal;
      }
    }

    const decisionKey = useMask ? mask : ordinals.join(',');
    let id = this.decisionIds.get(decisionKey);
    if (id === undefined) {
      const decision =
        ordinals.length === 0
          ? this.denied
          : freezeDecision(true, true, ordinals.map((ordinal) => this.policies[ordinal]!.key));
      this.decisions.push(decision);
      id = this.decisions.length;
      this.decisionIds.set(decisionKey, id);
    }
    return id;
  }

  /** Lists, in policy order, the rules whose ports can match the port and protocol. */
  private activeRules(portKey: number): ActiveRule[] {
    let active = this.activeRulesByPort.get(portKey);
    if (active !== undefined) {
      return active;
    }
    const port = portKey >> 2;
    const protocol = portKey & 3;
    active = [];
    this.policies.forEach((policy, policyOrdinal) => {
      const rules = (this.direction === 'ingress' ? policy.ingressRules : policy.egressRules) ?? [];
      for (const rule of rules) {
        const peerIds = rule.peerIds;
        if (rule.ports === undefined || rule.ports.some((entry) => numericPortMatches(entry, port, protocol))) {
          active.push({ policyOrdinal, peerIds, namedPorts: undefined });
          continue;
        }
        const namedPorts = rule.ports.filter((entry) => entry.kind === PortKind.Named && entry.protocol === protocol);
        if (namedPorts.length > 0) {
          active.push({ policyOrdinal, peerIds, namedPorts });
        }
      }
    });
    this.activeRulesByPort.set(portKey, active);
    return active;
  }

  private selectRow(portKey: number): Int32Array {
    let row = this.rows.get(portKey);
    if (row === undefined) {
      row = new Int32Array(0);
      this.rows.set(portKey, row);
    }
    this.lastPortKey = portKey;
    this.lastRow = row;
    return row;
  }
}

function freezeDecision(isolated: boolean, allowed: boolean, policies: string[]): DirectionDecision {
  return Object.freeze({ isolated, allowed, policies: Object.freeze(policies) });
}

export const NOT_ISOLATED = freezeDecision(false, true, []);
export const SELF_ISOLATED = freezeDecision(true, true, []);

function numericPortMatches(entry: CompiledPort, port: number, protocol: number): boolean {
  return (
    entry.protocol === protocol &&
    (entry.kind === PortKind.Any || (entry.kind === PortKind.Range && port >= entry.first && port <= entry.last))
  );
}

/**
 * Checks named port entries. A name matches when the destination has a
 * container port of that name and protocol whose number is `port`, for
 * ingress and egress rules alike, so it never matches an external address.
 */
function namedPortsMatch(entries: CompiledPort[], port: number, protocol: number, destinationPorts: ContainerPortRecord[]): boolean {
  for (const entry of entries) {
    for (const containerPort of destinationPorts) {
      if (containerPort.name === entry.name && containerPort.protocol === protocol && containerPort.port === port) {
        return true;
      }
    }
  }
  return false;
}

/**
 * Matches interned peers against endpoints, caching each result by
 * (peer id, peer class) in one byte: 0 not computed yet, 1 match, 2 no match.
 */
export class PeerMatcher {
  private readonly results: Uint8Array[];

  constructor(private readonly peers: readonly CompiledPeer[]) {
    this.results = peers.map(() => new Uint8Array(0));
  }

  matchesAny(peerIds: Int32Array, endpoint: Endpoint): boolean {
    const classId = endpoint.peerClass;
    for (let index = 0; index < peerIds.length; index++) {
      const peerId = peerIds[index]!;
      let row = this.results[peerId]!;
      let cached = classId < row.length ? row[classId]! : 0;
      if (cached === 0) {
        if (classId >= row.length) {
          const grown = new Uint8Array(Math.max(64, classId + 1, row.length * 2));
          grown.set(row);
          row = grown;
          this.results[peerId] = row;
        }
        cached = peerMatches(this.peers[peerId]!, endpoint) ? 1 : 2;
        row[classId] = cached;
      }
      if (cached === 1) {
        return true;
      }
    }
    return false;
  }
}

export function peerMatches(peer: CompiledPeer, endpoint: Endpoint): boolean {
  if (peer.ipBlockId !== undefined) {
    return endpoint.ipBlocks.has(peer.ipBlockId);
  }
  const namespace = endpoint.namespace;
  if (namespace === undefined) {
    // Pod and namespace selectors never match an address outside the cluster.
    return false;
  }
  if (peer.namespaceSelector === undefined) {
    if (namespace.name !== peer.namespace) {
      return false;
    }
  } else if (!namespaceMatches(namespace, peer.namespaceSelector)) {
    return false;
  }
  return peer.podSelector === undefined || peer.podSelector.matches(endpoint.labels);
}

function namespaceMatches(namespace: NamespaceRecord, selector: CompiledSelector): boolean {
  const cached = namespace.selectorResults[selector.id];
  if (cached !== 0) {
    return cached === 1;
  }
  const matches = selector.matches(namespace.labels);
  namespace.selectorResults[selector.id] = matches ? 1 : 2;
  return matches;
}
