import type { GatewayModel, MeshDecision, MeshEvaluator, MeshPlugin, Source } from '../plugin/api.js';
import { InputError } from '../errors.js';
import type { KubeObject } from '../k8s/object.js';
import { createNetworkPolicyEvaluator, type NamespaceModel, type NetworkPolicyObject, type PodModel } from '../netpol/evaluate.js';
import type { ExternalService, Service, ServicePort, Topology } from '../topology/types.js';
import { STRANGER, strangerNamespace } from '../generate/clients.js';
import { podTemplateOf } from './objects.js';
import { candidateAddresses, collectBoundaries, rangesOf, subtract, type AddressRange } from './address-ranges.js';

/** The kinds of client `verify` tries every service port from; `gateway` is the mesh's ingress gateway. */
export type ClientKind = 'service' | 'stranger' | 'outside' | 'unmeshed' | 'gateway';

/** The outcome for one client and one service port. */
export interface PairResult {
  client: string;
  clientKind: ClientKind;
  /** The service, or the external dependency when `external` is true. */
  service: string;
  port: number;
  /** True for a connection to a dependency outside the cluster. */
  external?: boolean;
  declared: boolean;
  networkPolicy: { allowed: boolean; policies: string[] };
  mesh: { allowed: boolean; mtls: boolean; reason: string };
  /** The layer that stops the connection: `none` when both layers allow it. */
  stoppedBy: 'none' | 'network-policy' | 'mesh' | 'both';
  /** Problems with this pair, empty when it matches the topology. */
  problems: string[];
}

/** A check of the setup as a whole, such as DNS. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyResult {
  topology: string;
  mesh: string;
  ok: boolean;
  /**
   * Counts of the run. `declared` counts service edges, `exposed` exposed ports and `externalCalls` declared calls
   * to external dependencies. The two `Allowed` counts cover service clients and service ports only.
   */
  counts: { pairs: number; declared: number; exposed: number; externalCalls: number; networkPolicyAllowed: number; meshAllowed: number; mismatches: number };
  checks: Check[];
  mismatches: PairResult[];
  /** Every pair, filled only when asked for, since large topologies have millions. */
  pairs?: PairResult[];
  /** The mesh's own limit, from {@link MeshEvaluator.limit}. When set, `ok` proves no mTLS on the application's traffic. */
  limit?: string;
}

export interface VerifyRequest {
  topology: Topology;
  plugin: MeshPlugin;
  options: Record<string, string>;
  objects: KubeObject[];
  /** Keep every pair in the result, not only mismatches. */
  includeAllPairs?: boolean;
  /**
   * Decide every client and port with both evaluators, instead of only those that NetworkPolicy, the mesh's
   * `mayReach` or the topology bring up. The result is the same, only slower; tests compare the two.
   */
  exhaustive?: boolean;
}

/**
 * The maximum number of pairs `includeAllPairs` keeps. Each kept pair costs about 1.7 KB with its reasons, so this bounds the
 * list at about 350 MB (an estimate from a run at 500 services, which used 850 MB for about 500,000 pairs).
 */
export const MAX_LISTED_PAIRS = 200_000;

/** The namespace of the outside client: it is in no topology, so none of its policies apply. */
const OUTSIDE_NAMESPACE = 'verify-outside';

/**
 * Decides, for every client and every service port, whether a connection is allowed at the NetworkPolicy
 * layer and at the mesh layer, each on its own, and compares both with the declared edges.
 */
export function verifyRepository(request: VerifyRequest): VerifyResult {
  const { topology, plugin, options, objects } = request;
  const namespaces = readNamespaces(objects, topology);
  const policies = objects.filter((object) => object.kind === 'NetworkPolicy' && object.apiVersion === 'networking.k8s.io/v1') as unknown as NetworkPolicyObject[];
  const networkPolicy = createNetworkPolicyEvaluator(policies, namespaces);
  const mesh: MeshEvaluator = plugin.evaluate({ topology, options, objects });

  const pods = new Map(topology.services.map((service) => [service.name, podOf(objects, service)]));
  const declared = new Map<string, Map<string, Set<number>>>();
  for (const edge of topology.edges) {
    const callees = declared.get(edge.from) ?? new Map<string, Set<number>>();
    callees.set(edge.to, (callees.get(edge.to) ?? new Set<number>()).add(edge.port.port));
    declared.set(edge.from, callees);
  }
  const clients = buildClients(topology, pods);
  const totalPorts = topology.services.reduce((sum, service) => sum + service.ports.length, 0);
  if (request.includeAllPairs && clients.length * totalPorts > MAX_LISTED_PAIRS) {
    throw new InputError(
      `--all: this repository has ${clients.length * totalPorts} client and port pairs, more than the ${MAX_LISTED_PAIRS} that verify lists in memory. Run verify without --all, which names every pair that differs from the topology`,
    );
  }

  const result: VerifyResult = {
    topology: topology.name,
    mesh: plugin.id,
    ok: true,
    counts: { pairs: 0, declared: topology.edges.length, exposed: topology.exposures.length, externalCalls: topology.externalEdges.length, networkPolicyAllowed: 0, meshAllowed: 0, mismatches: 0 },
    checks: [],
    mismatches: [],
    ...(request.includeAllPairs && { pairs: [] }),
  };

  // Millions of pairs on a large topology: a pair's result, with its messages, is built only when it is kept, and
  // only the targets that some layer or the topology brings up for a client are decided (see candidateTargets).
  const targetPods = topology.services.map((service) => pods.get(service.name)!);
  const candidates = request.exhaustive || request.includeAllPairs ? undefined : candidateTargets(topology, networkPolicy, mesh, clients, targetPods, declared);
  clients.forEach((client, clientIndex) => {
    const callees = declared.get(client.name);
    const targets = candidates?.[clientIndex];
    if (targets) result.counts.pairs += totalPorts - targets.reduce((sum, index) => sum + topology.services[index]!.ports.length, 0);
    for (const index of targets ?? topology.services.keys()) {
      const target = topology.services[index]!;
      const targetPod = targetPods[index]!;
      const declaredPorts = callees?.get(target.name);
      for (const port of target.ports) {
        const isEdge = declaredPorts?.has(port.port) ?? false;
        const np = networkPolicy.decide({ from: client.pod, to: targetPod, port: port.targetPort });
        const meshDecision = mesh.decide(client.source, target, port);
        result.counts.pairs++;
        if (np.allowed && client.kind === 'service') result.counts.networkPolicyAllowed++;
        if (meshDecision.allowed && client.kind === 'service') result.counts.meshAllowed++;
        if (!result.pairs && !hasProblem(client, isEdge, np, meshDecision)) continue;

        const pair = describePair(client, target, port, isEdge, np, meshDecision);
        if (pair.problems.length > 0) {
          result.counts.mismatches++;
          result.mismatches.push(pair);
        }
        result.pairs?.push(pair);
      }
    }
  });

  const gatewayChecks = verifyGateway(topology, mesh, networkPolicy, targetPods, result);
  const externalChecks = verifyExternals(topology, mesh, networkPolicy, policies, clients, result);
  result.checks = [
    ...checkDns(topology, pods, networkPolicy),
    ...gatewayChecks,
    ...externalChecks,
    ...mesh.findings.map((finding) => ({ name: finding.subject, ok: false, detail: finding.message })),
  ];
  result.ok = result.mismatches.length === 0 && result.checks.every((check) => check.ok);
  if (mesh.limit) result.limit = mesh.limit;
  return result;
}

/**
 * For each client, the positions of the targets worth deciding, in topology order, or `undefined` to decide them
 * all: those its egress rules or the targets' ingress rules could allow, those the mesh may allow, and its declared
 * callees. Every other target's ports are denied at both layers and undeclared, so they cannot hold a problem.
 */
function candidateTargets(topology: Topology, networkPolicy: NetworkPolicyEvaluator, mesh: MeshEvaluator, clients: Client[], targetPods: PodModel[], declared: Map<string, Map<string, Set<number>>>): (number[] | undefined)[] | undefined {
  const mayReach = mesh.mayReach?.bind(mesh);
  if (!mayReach) return undefined;
  const positions = new Map(topology.services.map((service, index) => [service.name, index]));
  const targetSet = networkPolicy.podSet(targetPods);
  const clientSet = networkPolicy.podSet(clients.map((client) => client.pod));
  // Ingress turned around: per client, the targets whose rules admit it; `open` admit everyone.
  const open: number[] = [];
  const admittedBy: number[][] = clients.map(() => []);
  targetPods.forEach((pod, target) => {
    const sources = networkPolicy.reachable(pod, 'ingress', clientSet);
    if (sources === undefined) open.push(target);
    else for (const client of sources) admittedBy[client]!.push(target);
  });
  return clients.map((client, index) => {
    const egress = networkPolicy.reachable(client.pod, 'egress', targetSet);
    const meshTargets = mayReach(client.source);
    if (egress === undefined || meshTargets === undefined) return undefined;
    const found = new Set<number>([...egress, ...open, ...admittedBy[index]!]);
    for (const name of meshTargets) {
      const position = positions.get(name);
      if (position !== undefined) found.add(position);
    }
    for (const name of declared.get(client.name)?.keys() ?? []) found.add(positions.get(name)!);
    return [...found].sort((a, b) => a - b);
  });
}

/**
 * Lists the connections that the mesh evaluator allows although its `mayReach` leaves the target out, for every
 * client that verify tries. The list is empty when `mayReach` is missing or names every service it must.
 */
export function checkMayReach(request: Omit<VerifyRequest, 'includeAllPairs' | 'exhaustive'>): string[] {
  const { topology, plugin, options, objects } = request;
  const mesh = plugin.evaluate({ topology, options, objects });
  if (!mesh.mayReach) return [];
  const pods = new Map(topology.services.map((service) => [service.name, podOf(objects, service)]));
  const problems: string[] = [];
  for (const client of buildClients(topology, pods)) {
    const named = mesh.mayReach(client.source);
    if (named === undefined) continue;
    const reached = new Set(named);
    for (const target of topology.services) {
      if (reached.has(target.name)) continue;
      for (const port of target.ports) {
        const decision = mesh.decide(client.source, target, port);
        if (decision.allowed) problems.push(`mayReach of ${client.name} (${client.kind}) leaves out ${target.name}, but decide allows port ${port.port}: ${decision.reason}`);
      }
    }
  }
  return problems;
}

/** Counts a pair and keeps it when it has problems or every pair is asked for. */
function record(result: VerifyResult, pair: PairResult): void {
  result.counts.pairs++;
  if (pair.problems.length > 0) {
    result.counts.mismatches++;
    result.mismatches.push(pair);
  }
  result.pairs?.push(pair);
}

/**
 * Checks the ingress gateway. Its routes must reach exactly the exposed ports, by their host names. Its identity
 * must reach exactly the exposed ports at both layers, with NetworkPolicy judged on the callee's side only,
 * because the gateway's own namespace belongs to the mesh.
 */
function verifyGateway(topology: Topology, mesh: MeshEvaluator, networkPolicy: NetworkPolicyEvaluator, targetPods: PodModel[], result: VerifyResult): Check[] {
  const gateway = mesh.gateway;
  if (!gateway) {
    if (topology.exposures.length === 0) return [];
    return [{ name: 'gateway', ok: false, detail: 'the topology exposes services, but the mesh evaluator describes no gateway: the plugin must set MeshEvaluator.gateway' }];
  }

  const expected = new Map(topology.exposures.map((exposure) => [`${exposure.hostname} ${exposure.service} ${exposure.port.port}`, exposure]));
  const found = new Set<string>();
  const problems: string[] = [];
  for (const route of gateway.routes) {
    const key = `${route.hostname} ${route.service} ${route.port}`;
    found.add(key);
    if (expected.has(key)) continue;
    const target = topology.services.find((service) => service.name === route.service && service.namespace === route.namespace);
    const exposed = target?.exposedPorts.includes(route.port) ?? false;
    problems.push(
      exposed
        ? `${route.resource} routes ${route.hostname} to ${route.namespace}/${route.service}:${route.port}, which is exposed under another host name`
        : `${route.resource} routes ${route.hostname} to ${route.namespace}/${route.service}:${route.port}, which the topology does not expose`,
    );
  }
  for (const [key, exposure] of expected) {
    if (!found.has(key)) problems.push(`${exposure.namespace}/${exposure.service}:${exposure.port.port} is exposed, but no gateway route sends ${exposure.hostname} to it`);
  }

  const client: Client = {
    name: 'gateway',
    kind: 'gateway',
    pod: gateway.pods ? { name: 'gateway', namespace: gateway.pods.namespace, labels: gateway.pods.labels } : { name: 'gateway', namespace: OUTSIDE_NAMESPACE, labels: {} },
    source: gateway.source,
  };
  topology.services.forEach((target, index) => {
    for (const port of target.ports) {
      const exposed = target.exposedPorts.includes(port.port);
      const np = networkPolicy.decide({ from: client.pod, to: targetPods[index]!, port: port.targetPort });
      const meshDecision = mesh.decide(gateway.source, target, port);
      record(result, describeGatewayPair(gateway, target, port, exposed, np, meshDecision));
    }
  });
  return [{ name: 'gateway routes', ok: problems.length === 0, detail: problems.length === 0 ? `the gateway routes exactly the ${expected.size} exposed port(s)` : problems.join('; ') }];
}

/** Builds the result of the gateway and one service port. NetworkPolicy is judged only when it can select the gateway's pods. */
function describeGatewayPair(gateway: GatewayModel, target: Service, port: ServicePort, exposed: boolean, np: NetworkPolicyDecision, meshDecision: MeshDecision): PairResult {
  const problems: string[] = [];
  const edge = `gateway -> ${target.name}:${port.port}`;
  const judged = gateway.pods !== null;
  if (exposed) {
    if (judged && !np.ingress.allowed) problems.push(`${edge} is exposed, but NetworkPolicy ingress denies it (no rule of ${np.ingress.policies.join(', ')} admits the gateway's pods)`);
    if (!meshDecision.allowed) problems.push(`${edge} is exposed, but the mesh denies it: ${meshDecision.reason}`);
    else if (!meshDecision.mtls && gateway.mtls !== false) problems.push(`${edge} is exposed, but the mesh does not require mTLS on it: ${meshDecision.reason}`);
  } else {
    if (judged && np.ingress.allowed) problems.push(`${edge} is not exposed, but NetworkPolicy ingress allows the gateway (${np.ingress.policies.join(', ') || `no policy isolates ${target.namespace}/${target.name}`})`);
    if (meshDecision.allowed) problems.push(`${edge} is not exposed, but the mesh allows the gateway: ${meshDecision.reason}`);
  }
  const npAllowed = judged ? np.ingress.allowed : meshDecision.allowed;
  return {
    client: 'gateway',
    clientKind: 'gateway',
    service: target.name,
    port: port.port,
    declared: exposed,
    networkPolicy: { allowed: npAllowed, policies: judged ? [...np.ingress.policies] : ['(NetworkPolicy cannot select the gateway; the mesh layer decides)'] },
    mesh: meshDecision,
    stoppedBy: stoppedBy(npAllowed, meshDecision.allowed),
    problems,
  };
}

/** Returns an address of an external dependency for NetworkPolicy: the start of its first range, or a public documentation address. */
function addressOf(external: ExternalService): string {
  return external.addresses[0]?.split('/')[0] ?? '203.0.113.10';
}

/**
 * Checks every service client and the stranger against every external dependency. A declared caller must get
 * through both layers, and each layer on its own must reject any other client.
 */
function verifyExternals(topology: Topology, mesh: MeshEvaluator, networkPolicy: NetworkPolicyEvaluator, policies: NetworkPolicyObject[], clients: Client[], result: VerifyResult): Check[] {
  if (topology.externals.length === 0) return [];
  const decideExternal = mesh.decideExternal?.bind(mesh);
  if (!decideExternal) return [{ name: 'external dependencies', ok: false, detail: 'the topology declares external dependencies, but the mesh evaluator has no decideExternal' }];
  const declared = new Set(topology.externalEdges.map((edge) => `${edge.from}\0${edge.to.name}`));
  // For a mesh that limits egress per namespace: the namespaces where some declared caller of each dependency runs.
  const namespaceOf = new Map(topology.services.map((service) => [service.name, service.namespace]));
  const callerNamespaces = new Set(topology.externalEdges.map((edge) => `${namespaceOf.get(edge.from)}\0${edge.to.name}`));
  const perNamespace = mesh.externalScope === 'namespace';
  // An undeclared client must be refused at every address the dependency may have, not only at the one that
  // stands for it: one address of each stretch between the policies' ipBlock boundaries decides them all.
  // Addresses it shares, on the same port, with a dependency the client does call are left out: no layer that
  // matches by address can tell the two apart there.
  const boundaries = collectBoundaries(policies);
  const callsByClient = groupBy(topology.externalEdges, (edge) => edge.from);
  for (const client of clients) {
    if (client.kind !== 'service' && client.kind !== 'stranger') continue;
    const ownCalls = client.kind === 'service' ? (callsByClient.get(client.name) ?? []).map((edge) => edge.to) : [];
    for (const external of topology.externals) {
      const isDeclared = ownCalls.includes(external);
      const samePort = ownCalls.filter((other) => other.port === external.port);
      const distinct = subtract(rangesOf(external), samePort.flatMap((other) => rangesOf(other)));
      // A declared call is judged at one address of the dependency; an undeclared one at all of its own.
      let address = addressOf(external);
      let egress = networkPolicy.decide({ from: client.pod, to: { ip: address }, port: external.port }).egress;
      if (!isDeclared) {
        const addresses = candidateAddresses(distinct, boundaries);
        // With no address of its own left, NetworkPolicy cannot refuse the dependency without refusing the other.
        if (addresses.length === 0) egress = { ...egress, allowed: false };
        for (const [index, ip] of addresses.entries()) {
          const atAddress = networkPolicy.decide({ from: client.pod, to: { ip }, port: external.port }).egress;
          if (atAddress.allowed || index === 0) [egress, address] = [atAddress, ip];
          if (atAddress.allowed) break;
        }
      }
      // Host names distinguish tls and http dependencies unless the mesh matches only by address. Other protocols
      // carry no host name, so a dependency at a shared address and port is reachable as well.
      const hostMatched = mesh.externalMatch !== 'address' && isHostProtocol(external.protocol) && samePort.every((other) => isHostProtocol(other.protocol));
      const indistinct = distinct.length < rangesOf(external).length || !sameRanges(distinct, rangesOf(external));
      const meshDecision = decideExternal(client.source, external);
      const edge = `${client.name}${client.kind === 'service' ? '' : ` (${client.kind})`} -> ${external.name} (${external.host}:${external.port})`;
      const problems: string[] = [];
      if (isDeclared) {
        if (!egress.allowed) problems.push(`${edge} is declared, but NetworkPolicy egress denies it (no rule of ${egress.policies.join(', ')} allows ${addressOf(external)}:${external.port})`);
        if (!meshDecision.allowed) problems.push(`${edge} is declared, but the mesh denies it: ${meshDecision.reason}`);
      } else {
        if (egress.allowed) problems.push(`${edge} is not declared, but NetworkPolicy egress allows it at ${address} (${egress.policies.join(', ') || `no policy isolates the pods of ${client.pod.namespace}`})`);
        const sharedNamespace = perNamespace && callerNamespaces.has(`${client.pod.namespace}\0${external.name}`);
        const sharedAddress = indistinct && !hostMatched;
        if (meshDecision.allowed && !sharedNamespace && !sharedAddress) problems.push(`${edge} is not declared, but the mesh allows it: ${meshDecision.reason}`);
      }
      if (!result.pairs && problems.length === 0) {
        result.counts.pairs++;
        continue;
      }
      record(result, {
        client: client.name,
        clientKind: client.kind,
        service: external.name,
        port: external.port,
        external: true,
        declared: isDeclared,
        networkPolicy: { allowed: egress.allowed, policies: [...egress.policies] },
        mesh: meshDecision,
        stoppedBy: stoppedBy(egress.allowed, meshDecision.allowed),
        problems,
      });
    }
  }
  const failed = result.mismatches.some((pair) => pair.external);
  return [{ name: 'external dependencies', ok: !failed, detail: failed ? 'see the mismatches of the external dependencies' : `${topology.externalEdges.length} declared call(s) to ${topology.externals.length} external dependencies pass both layers, and no other client reaches them` }];
}

/** Returns whether a protocol names its host on the wire: TLS in its SNI, HTTP in its Host header. */
function isHostProtocol(protocol: ExternalService['protocol']): boolean {
  return protocol === 'tls' || protocol === 'http';
}

function sameRanges(a: AddressRange[], b: AddressRange[]): boolean {
  return a.length === b.length && a.every((range, index) => range.family === b[index]!.family && range.first === b[index]!.first && range.last === b[index]!.last);
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}

function stoppedBy(networkPolicyAllowed: boolean, meshAllowed: boolean): PairResult['stoppedBy'] {
  if (networkPolicyAllowed && meshAllowed) return 'none';
  if (networkPolicyAllowed) return 'mesh';
  if (meshAllowed) return 'network-policy';
  return 'both';
}

interface Client {
  name: string;
  kind: ClientKind;
  pod: PodModel;
  source: Source;
}

function buildClients(topology: Topology, pods: Map<string, PodModel>): Client[] {
  const clients: Client[] = [];
  const callers = new Set(topology.edges.map((edge) => edge.from));
  for (const service of topology.services) {
    // A separate pod with the service's labels: Kubernetes never blocks a pod's traffic to itself.
    const pod = { ...pods.get(service.name)!, name: `client-${service.name}` };
    const source = { service: service.name, namespace: service.namespace, serviceAccount: service.name, labels: pod.labels, meshed: true };
    clients.push({ name: service.name, kind: 'service', pod, source });
  }

  const strangerLabels = { 'app.kubernetes.io/name': STRANGER, 'app.kubernetes.io/component': 'verify-client' };
  const namespace = strangerNamespace(topology);
  clients.push({
    name: STRANGER,
    kind: 'stranger',
    pod: { name: STRANGER, namespace, labels: strangerLabels },
    source: { service: STRANGER, namespace, serviceAccount: STRANGER, labels: strangerLabels, meshed: true },
  });

  const outsideLabels = { 'app.kubernetes.io/name': 'verify-outside' };
  clients.push({
    name: 'verify-outside',
    kind: 'outside',
    pod: { name: 'verify-outside', namespace: OUTSIDE_NAMESPACE, labels: outsideLabels },
    source: { service: 'verify-outside', namespace: OUTSIDE_NAMESPACE, serviceAccount: 'default', labels: outsideLabels, meshed: false },
  });

  // A pod outside the mesh with a caller's labels gets through NetworkPolicy, so only mandatory mTLS stops it.
  for (const service of topology.services) {
    if (!callers.has(service.name)) continue;
    const pod = pods.get(service.name)!;
    const unmeshedPod = { ...pod, name: `verify-unmeshed-${service.name}` };
    clients.push({ name: service.name, kind: 'unmeshed', pod: unmeshedPod, source: { service: service.name, namespace: service.namespace, serviceAccount: service.name, labels: pod.labels, meshed: false } });
  }
  return clients;
}

type NetworkPolicyEvaluator = ReturnType<typeof createNetworkPolicyEvaluator>;
type NetworkPolicyDecision = ReturnType<NetworkPolicyEvaluator['decide']>;

/** Returns whether {@link describePair} would find a problem, without building its messages. Keep the two in step. */
function hasProblem(client: Client, isEdge: boolean, np: NetworkPolicyDecision, meshDecision: MeshDecision): boolean {
  const isDeclared = client.kind === 'service' && isEdge;
  const labelsDeclared = (client.kind === 'service' || client.kind === 'unmeshed') && isEdge;
  if (labelsDeclared ? !np.allowed : (np.egress.allowed && client.kind !== 'outside') || np.ingress.allowed) return true;
  return isDeclared ? !meshDecision.allowed || !meshDecision.mtls : meshDecision.allowed;
}

/** Builds the result of one client and port: `isEdge` is true when the topology declares the client's edge to it. */
function describePair(client: Client, target: Service, port: ServicePort, isEdge: boolean, np: NetworkPolicyDecision, meshDecision: MeshDecision): PairResult {
  const isDeclared = client.kind === 'service' && isEdge;
  // A pod outside the mesh with a caller's labels is that caller to NetworkPolicy, so its declared edges pass there.
  const labelsDeclared = (client.kind === 'service' || client.kind === 'unmeshed') && isEdge;
  const problems: string[] = [];
  const edge = `${client.name}${client.kind === 'service' ? '' : ` (${client.kind})`} -> ${target.name}:${port.port}`;

  if (labelsDeclared) {
    if (!np.allowed) problems.push(`${edge} is declared, but NetworkPolicy denies it (${describeDenial(np)})`);
  } else {
    // Each side must refuse on its own, so that a change to one side never opens an edge.
    if (np.egress.allowed && client.kind !== 'outside') {
      problems.push(`${edge} is not declared, but NetworkPolicy egress allows it (${np.egress.policies.join(', ') || `no policy isolates the pods of ${client.pod.namespace}`})`);
    }
    if (np.ingress.allowed) {
      problems.push(`${edge} is not declared, but NetworkPolicy ingress allows it (${np.ingress.policies.join(', ') || `no policy isolates ${target.namespace}/${target.name}`})`);
    }
  }
  if (isDeclared) {
    if (!meshDecision.allowed) problems.push(`${edge} is declared, but the mesh denies it: ${meshDecision.reason}`);
    else if (!meshDecision.mtls) problems.push(`${edge} is declared, but the mesh does not require mTLS on it: ${meshDecision.reason}`);
  } else if (meshDecision.allowed) {
    problems.push(`${edge} is not declared, but the mesh allows it: ${meshDecision.reason}`);
  }

  return {
    client: client.name,
    clientKind: client.kind,
    service: target.name,
    port: port.port,
    declared: isDeclared,
    networkPolicy: { allowed: np.allowed, policies: [...(np.allowed ? [...np.egress.policies, ...np.ingress.policies] : np.egress.allowed ? np.ingress.policies : np.egress.policies)] },
    mesh: meshDecision,
    stoppedBy: stoppedBy(np.allowed, meshDecision.allowed),
    problems,
  };
}

function describeDenial(decision: ReturnType<ReturnType<typeof createNetworkPolicyEvaluator>['decide']>): string {
  if (!decision.egress.allowed) return `egress: no rule of ${decision.egress.policies.join(', ')} allows it`;
  return `ingress: no rule of ${decision.ingress.policies.join(', ')} allows it`;
}

/** Checks that every application pod reaches cluster DNS on port 53 over UDP and TCP, and that the rule opens nothing else. */
function checkDns(topology: Topology, pods: Map<string, PodModel>, networkPolicy: ReturnType<typeof createNetworkPolicyEvaluator>): Check[] {
  const dns: PodModel = { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }] };
  const other: PodModel = { name: 'unrelated', namespace: 'kube-system', labels: { app: 'unrelated' } };
  const checks: Check[] = [];
  const failures: string[] = [];
  const openings: string[] = [];

  const externalCallers = new Set(topology.externalEdges.map((edge) => edge.from));
  for (const service of topology.services) {
    const pod = pods.get(service.name)!;
    for (const protocol of ['UDP', 'TCP'] as const) {
      if (!networkPolicy.decide({ from: pod, to: dns, port: 53, protocol }).allowed) failures.push(`${service.name} cannot reach kube-dns on ${protocol} 53`);
    }
    if (networkPolicy.decide({ from: pod, to: dns, port: 8080 }).allowed) openings.push(`${service.name} reaches kube-dns on TCP 8080`);
    if (networkPolicy.decide({ from: pod, to: other, port: 53, protocol: 'UDP' }).allowed) openings.push(`${service.name} reaches other kube-system pods on UDP 53`);
    // A caller of an external dependency reaches public addresses on its port; the external pairs judge those.
    if (!externalCallers.has(service.name) && networkPolicy.decide({ from: pod, to: { ip: '203.0.113.10' }, port: 443 }).allowed) openings.push(`${service.name} reaches addresses outside the cluster (203.0.113.10:443)`);
  }

  checks.push({ name: 'DNS', ok: failures.length === 0, detail: failures.length === 0 ? 'every service reaches kube-dns on UDP and TCP 53' : `${failures.join('; ')}: add an egress rule to pods k8s-app=kube-dns in kube-system on UDP and TCP 53` });
  checks.push({ name: 'default deny egress', ok: openings.length === 0, detail: openings.length === 0 ? 'no service reaches anything beyond its edges, DNS and the mesh' : openings.join('; ') });
  return checks;
}

function readNamespaces(objects: KubeObject[], topology: Topology): NamespaceModel[] {
  const declared = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  const names = new Set([...topology.namespaces, 'kube-system', OUTSIDE_NAMESPACE, ...declared.keys()]);
  return [...names].map((name) => ({ name, labels: { ...(declared.get(name) ?? {}), 'kubernetes.io/metadata.name': name } }));
}

function podOf(objects: KubeObject[], service: Service): PodModel {
  const template = podTemplateOf(objects, service);
  const containers = (template?.spec.containers ?? []) as { ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[] }[];
  return {
    name: service.name,
    namespace: service.namespace,
    labels: template?.metadata.labels ?? {},
    ports: containers.flatMap((container) => container.ports ?? []),
  };
}
