// Compiles NetworkPolicy objects once into rules with interned selectors, peers and ports.

import type { IpBlockTable } from './ip-blocks.js';
import type { CompiledSelector, SelectorTable } from './selectors.js';
import type { Protocol } from './types.js';
import { describeValue, isRecord, readObject, readOptionalList, type Fail } from './validation.js';

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
export const TCP = 0;

export const enum PortKind {
  Any,
  Range,
  Named,
}

export interface CompiledPort {
  protocol: number;
  kind: PortKind;
  first: number;
  last: number;
  name: string;
}

/**
 * Peer of a rule. For a pod peer, `namespace` is set when only `podSelector`
 * is given (the pod must be in the policy's namespace), and an undefined
 * selector matches everything.
 */
export interface CompiledPeer {
  /** Index into the evaluator's per-peer match caches; equal peers share it. */
  id: number;
  ipBlockId: number | undefined;
  namespace: string | undefined;
  namespaceSelector: CompiledSelector | undefined;
  podSelector: CompiledSelector | undefined;
}

/** Rule of a policy. An undefined list means all peers or all ports. */
interface CompiledRule {
  peers: CompiledPeer[] | undefined;
  /** The ids of `peers`, for the evaluator's match caches. */
  peerIds: Int32Array | undefined;
  ports: CompiledPort[] | undefined;
}

export interface CompiledPolicy {
  /** `<namespace>/<name>`, as reported in decisions. */
  key: string;
  index: number;
  namespace: string;
  podSelector: CompiledSelector;
  /** Undefined when the policy's types do not include Ingress. */
  ingressRules: CompiledRule[] | undefined;
  /** Undefined when the policy's types do not include Egress. */
  egressRules: CompiledRule[] | undefined;
  usesNamedPorts: boolean;
}

/** Tables that intern selectors and ipBlocks shared by all policies. */
export interface CompileTables {
  selectors: SelectorTable;
  ipBlocks: IpBlockTable;
  /** Distinct peers by id, interned by `internPeer`. */
  peers: CompiledPeer[];
  peerIds: Map<string, number>;
}

function internPeer(tables: CompileTables, peer: Omit<CompiledPeer, 'id'>): CompiledPeer {
  const key = [peer.ipBlockId ?? '', peer.namespace ?? '', peer.namespaceSelector?.id ?? '', peer.podSelector?.id ?? ''].join('\n');
  const id = tables.peerIds.get(key);
  if (id !== undefined) {
    return tables.peers[id]!;
  }
  const compiled = { id: tables.peers.length, ...peer };
  tables.peers.push(compiled);
  tables.peerIds.set(key, compiled.id);
  return compiled;
}

const SPEC_FIELDS = ['podSelector', 'policyTypes', 'ingress', 'egress'] as const;
const PEER_FIELDS = ['podSelector', 'namespaceSelector', 'ipBlock'] as const;
const PORT_FIELDS = ['protocol', 'port', 'endPort'] as const;
// IANA_SVC_NAME, the format Kubernetes requires for named ports.
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

function compilePeer(raw: unknown, path: string, namespace: string, tables: CompileTables, fail: Fail): CompiledPeer {
  const peer = readObject(raw, path, PEER_FIELDS, fail);
  const present = PEER_FIELDS.filter((field) => peer[field] !== undefined && peer[field] !== null);
  if (present.length === 0) {
    return fail(path, 'a peer must set podSelector, namespaceSelector or ipBlock');
  }
  if (present.includes('ipBlock')) {
    if (present.length > 1) {
      return fail(path, 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer');
    }
    const ipBlock = tables.ipBlocks.compile(peer.ipBlock, `${path}.ipBlock`, fail);
    return internPeer(tables, { ipBlockId: ipBlock.id, namespace: undefined, namespaceSelector: undefined, podSelector: undefined });
  }

  const namespaceSelector = present.includes('namespaceSelector')
    ? tables.selectors.compile(peer.namespaceSelector, `${path}.namespaceSelector`, fail)
    : undefined;
  const podSelector = present.includes('podSelector')
    ? tables.selectors.compile(peer.podSelector, `${path}.podSelector`, fail)
    : undefined;
  return internPeer(tables, {
    ipBlockId: undefined,
    namespace: namespaceSelector === undefined ? namespace : undefined,
    namespaceSelector,
    podSelector,
  });
}

function compilePort(raw: unknown, path: string, fail: Fail): CompiledPort {
  const entry = readObject(raw, path, PORT_FIELDS, fail);
  const protocolValue = entry.protocol ?? 'TCP';
  const protocol = PROTOCOLS.indexOf(protocolValue as Protocol);
  if (protocol < 0) {
    return fail(`${path}.protocol`, `unsupported protocol ${describeValue(protocolValue)}; expected one of ${PROTOCOLS.join(', ')}`);
  }

  const port = entry.port ?? undefined;
  const endPort = entry.endPort ?? undefined;
  if (port === undefined) {
    if (endPort !== undefined) {
      return fail(`${path}.endPort`, 'endPort requires a numeric port');
    }
    return { protocol, kind: PortKind.Any, first: 0, last: 0, name: '' };
  }

  if (typeof port === 'string') {
    if (!PORT_NAME.test(port)) {
      return fail(
        `${path}.port`,
        `invalid port name "${port}": expected at most 15 lowercase letters, digits and single inner hyphens, with at least one letter`,
      );
    }
    if (endPort !== undefined) {
      return fail(`${path}.endPort`, 'endPort cannot be used with a named port');
    }
    return { protocol, kind: PortKind.Named, first: 0, last: 0, name: port };
  }

  if (!isPortNumber(port)) {
    return fail(`${path}.port`, `expected a port number from 1 to 65535 or a port name, got ${describeValue(port)}`);
  }
  if (endPort === undefined) {
    return { protocol, kind: PortKind.Range, first: port, last: port, name: '' };
  }
  if (!isPortNumber(endPort) || endPort < port) {
    return fail(`${path}.endPort`, `expected a port number from ${port} to 65535, got ${describeValue(endPort)}`);
  }
  return { protocol, kind: PortKind.Range, first: port, last: endPort, name: '' };
}

export function isPortNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function compileRules(
  rawRules: unknown[],
  path: string,
  peerField: 'from' | 'to',
  namespace: string,
  tables: CompileTables,
  fail: Fail,
): CompiledRule[] {
  return rawRules.map((rawRule, index) => {
    const rulePath = `${path}[${index}]`;
    const rule = readObject(rawRule, rulePath, [peerField, 'ports'], fail);
    const rawPeers = readOptionalList(rule[peerField], `${rulePath}.${peerField}`, fail) ?? [];
    const rawPorts = readOptionalList(rule.ports, `${rulePath}.ports`, fail) ?? [];
    const peers =
      rawPeers.length === 0
        ? undefined
        : rawPeers.map((peer, peerIndex) => compilePeer(peer, `${rulePath}.${peerField}[${peerIndex}]`, namespace, tables, fail));
    return {
      peers,
      peerIds: peers === undefined ? undefined : Int32Array.from(peers, (peer) => peer.id),
      ports:
        rawPorts.length === 0
          ? undefined
          : rawPorts.map((port, portIndex) => compilePort(port, `${rulePath}.ports[${portIndex}]`, fail)),
    };
  });
}

export function compilePolicy(raw: unknown, position: number, tables: CompileTables): CompiledPolicy {
  const where = `policies[${position}]`;
  if (!isRecord(raw)) {
    throw new Error(`${where}: expected a NetworkPolicy object, got ${describeValue(raw)}`);
  }
  const metadata = raw.metadata;
  if (!isRecord(metadata)) {
    throw new Error(`${where}.metadata: missing or not an object`);
  }
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name === '') {
    throw new Error(`${where}.metadata.name: missing or empty`);
  }
  if (typeof namespace !== 'string' || namespace === '') {
    throw new Error(`${where}.metadata.namespace: missing or empty for policy "${name}"; set the namespace explicitly`);
  }

  const key = `${namespace}/${name}`;
  const fail: Fail = (path, problem) => {
    throw new Error(`NetworkPolicy ${key}: ${path}: ${problem}`);
  };
  if (raw.apiVersion !== 'networking.k8s.io/v1') {
    fail('apiVersion', `expected "networking.k8s.io/v1", got ${describeValue(raw.apiVersion)}`);
  }
  if (raw.kind !== 'NetworkPolicy') {
    fail('kind', `expected "NetworkPolicy", got ${describeValue(raw.kind)}`);
  }

  const spec = readObject(raw.spec, 'spec', SPEC_FIELDS, fail);
  if (spec.podSelector === undefined || spec.podSelector === null) {
    fail('spec.podSelector', 'missing; use {} to select every pod in the namespace');
  }
  const podSelector = tables.selectors.compile(spec.podSelector, 'spec.podSelector', fail);
  const rawIngress = readOptionalList(spec.ingress, 'spec.ingress', fail) ?? [];
  const rawEgress = readOptionalList(spec.egress, 'spec.egress', fail) ?? [];

  // Defaulting as in the API server: without policyTypes, a policy is always
  // an Ingress policy, and an Egress policy only if its egress list is non-empty.
  const rawTypes = readOptionalList(spec.policyTypes, 'spec.policyTypes', fail) ?? [];
  rawTypes.forEach((type, index) => {
    if (type !== 'Ingress' && type !== 'Egress') {
      fail(`spec.policyTypes[${index}]`, `unsupported value ${describeValue(type)}; expected Ingress or Egress`);
    }
  });
  if (rawTypes.length > 2) {
    fail('spec.policyTypes', `expected at most 2 entries, got ${rawTypes.length}`);
  }
  const hasIngressType = rawTypes.length === 0 || rawTypes.includes('Ingress');
  const hasEgressType = rawTypes.length === 0 ? rawEgress.length > 0 : rawTypes.includes('Egress');

  // Rules are validated even when policyTypes makes them inert.
  const ingressRules = compileRules(rawIngress, 'spec.ingress', 'from', namespace, tables, fail);
  const egressRules = compileRules(rawEgress, 'spec.egress', 'to', namespace, tables, fail);
  const rulesUseNamedPorts = (rules: CompiledRule[]): boolean =>
    rules.some((rule) => rule.ports?.some((port) => port.kind === PortKind.Named) ?? false);

  return {
    key,
    index: position,
    namespace,
    podSelector,
    ingressRules: hasIngressType ? ingressRules : undefined,
    egressRules: hasEgressType ? egressRules : undefined,
    usesNamedPorts: (hasIngressType && rulesUseNamedPorts(ingressRules)) || (hasEgressType && rulesUseNamedPorts(egressRules)),
  };
}
