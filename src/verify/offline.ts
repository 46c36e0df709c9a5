import type { MeshDecision, MeshEvaluator, MeshPlugin, Source } from '../plugin/api.js';
import type { KubeObject } from '../k8s/object.js';
import { createNetworkPolicyEvaluator, type NamespaceModel, type NetworkPolicyObject, type PodModel } from '../netpol/evaluate.js';
import type { Service, ServicePort, Topology } from '../topology/types.js';
import { STRANGER, strangerNamespace } from '../generate/clients.js';
import { podTemplateOf } from './objects.js';

/** The kinds of client `verify` tries every service port from. */
export type ClientKind = 'service' | 'stranger' | 'outside' | 'unmeshed';

/** The outcome for one client and one service port. */
export interface PairResult {
  client: string;
  clientKind: ClientKind;
  service: string;
  port: number;
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
  counts: { pairs: number; declared: number; networkPolicyAllowed: number; meshAllowed: number; mismatches: number };
  checks: Check[];
  mismatches: PairResult[];
  /** Every pair, filled only when asked for, since large topologies have millions. */
  pairs?: PairResult[];
}

export interface VerifyRequest {
  topology: Topology;
  plugin: MeshPlugin;
  options: Record<string, string>;
  objects: KubeObject[];
  /** Keep every pair in the result, not only mismatches. */
  includeAllPairs?: boolean;
}

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

  const result: VerifyResult = {
    topology: topology.name,
    mesh: plugin.id,
    ok: true,
    counts: { pairs: 0, declared: topology.edges.length, networkPolicyAllowed: 0, meshAllowed: 0, mismatches: 0 },
    checks: [],
    mismatches: [],
    ...(request.includeAllPairs && { pairs: [] }),
  };

  // Millions of pairs on a large topology: a pair's result, with its messages, is built only when it is kept.
  const targetPods = topology.services.map((service) => pods.get(service.name)!);
  for (const client of clients) {
    const callees = declared.get(client.name);
    topology.services.forEach((target, index) => {
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
    });
  }

  result.checks = [...checkDns(topology, pods, networkPolicy), ...mesh.findings.map((finding) => ({ name: finding.subject, ok: false, detail: finding.message }))];
  result.ok = result.mismatches.length === 0 && result.checks.every((check) => check.ok);
  return result;
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

type NetworkPolicyDecision = ReturnType<ReturnType<typeof createNetworkPolicyEvaluator>['decide']>;

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

  let stoppedBy: PairResult['stoppedBy'] = 'both';
  if (np.allowed && meshDecision.allowed) stoppedBy = 'none';
  else if (np.allowed) stoppedBy = 'mesh';
  else if (meshDecision.allowed) stoppedBy = 'network-policy';
  return {
    client: client.name,
    clientKind: client.kind,
    service: target.name,
    port: port.port,
    declared: isDeclared,
    networkPolicy: { allowed: np.allowed, policies: [...(np.allowed ? [...np.egress.policies, ...np.ingress.policies] : np.egress.allowed ? np.ingress.policies : np.egress.policies)] },
    mesh: meshDecision,
    stoppedBy,
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

  for (const service of topology.services) {
    const pod = pods.get(service.name)!;
    for (const protocol of ['UDP', 'TCP'] as const) {
      if (!networkPolicy.decide({ from: pod, to: dns, port: 53, protocol }).allowed) failures.push(`${service.name} cannot reach kube-dns on ${protocol} 53`);
    }
    if (networkPolicy.decide({ from: pod, to: dns, port: 8080 }).allowed) openings.push(`${service.name} reaches kube-dns on TCP 8080`);
    if (networkPolicy.decide({ from: pod, to: other, port: 53, protocol: 'UDP' }).allowed) openings.push(`${service.name} reaches other kube-system pods on UDP 53`);
    if (networkPolicy.decide({ from: pod, to: { ip: '203.0.113.10' }, port: 443 }).allowed) openings.push(`${service.name} reaches addresses outside the cluster (203.0.113.10:443)`);
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
