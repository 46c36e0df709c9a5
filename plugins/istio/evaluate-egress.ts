import type { KubeObject } from '../../src/k8s/object.js';
import { cidrContains, parseCidr, parseIpAddress } from '../../src/netpol/cidr.js';
import type { ExternalService, Finding, MeshDecision, Source } from '../../src/plugin/api.js';
import { ROOT_NAMESPACE } from './versions.js';

interface ServiceEntry {
  id: string;
  namespace: string;
  hosts: string[];
  addresses: string[];
  ports: { number: number; protocol: string }[];
  resolution: string;
  exportTo: string[];
}

interface Sidecar {
  id: string;
  namespace: string;
  selector?: Record<string, string>;
  /** Each egress listener's hosts and port; undefined when the Sidecar lists no egress and so imports everything. */
  egress?: { hosts: string[]; port?: number }[];
  mode?: string;
}

/** Istio protocols that a sidecar routes by host name: the Host header, or the SNI of TLS. */
const ROUTED_BY_NAME = new Set(['HTTP', 'HTTP2', 'HTTPS', 'GRPC', 'TLS']);

/**
 * Builds the decision on calls to external dependencies, the way a sidecar handles them. The Sidecar that selects
 * the pod (one with a matching workloadSelector, else the namespace's default, else the root namespace's) lists
 * which exported ServiceEntries the proxy imports. With REGISTRY_ONLY, a call is allowed only when an imported
 * ServiceEntry names the dependency's host and port, or its address ranges for opaque TCP.
 * NOTE: without a Sidecar that sets outboundTrafficPolicy, the mesh-wide mode applies, which lives in istiod's
 * Helm values and not in the manifests. The evaluator then assumes REGISTRY_ONLY, which scripts/install-mesh.sh sets.
 */
export function createExternalDecider(objects: KubeObject[], findings: Finding[], isMeshed: (source: Source) => boolean): (source: Source, external: ExternalService) => MeshDecision {
  const entries = objects.filter((object) => object.kind === 'ServiceEntry' && object.apiVersion.startsWith('networking.istio.io/')).map(readServiceEntry);
  const sidecars = objects.filter((object) => object.kind === 'Sidecar' && object.apiVersion.startsWith('networking.istio.io/')).map(readSidecar);
  reportAmbiguousSidecars(sidecars, findings);

  return (source, external) => {
    if (!isMeshed(source)) return { allowed: true, mtls: false, reason: `${source.namespace}/${source.service} has no sidecar, so Istio does not limit its egress` };

    const sidecar = sidecarFor(sidecars, source);
    const mode = sidecar?.mode ?? 'REGISTRY_ONLY';
    const by = sidecar ? sidecar.id : 'no Sidecar (the mesh-wide REGISTRY_ONLY of scripts/install-mesh.sh applies)';
    if (mode === 'ALLOW_ANY') return { allowed: true, mtls: false, reason: `${by} sets outboundTrafficPolicy ALLOW_ANY, so the proxy passes calls to any host` };

    const entry = entries.find((candidate) => exportedTo(candidate, source.namespace) && imports(sidecar, candidate, external.port) && reaches(candidate, external));
    if (entry) return { allowed: true, mtls: false, reason: `${entry.id} names ${external.host}:${external.port}, and ${by} imports it` };
    return { allowed: false, mtls: false, reason: `${by} imports no ServiceEntry for ${external.host}:${external.port}, and REGISTRY_ONLY refuses other hosts` };
  };
}

function readServiceEntry(object: KubeObject): ServiceEntry {
  const spec = (object.spec ?? {}) as { hosts?: string[]; addresses?: string[]; ports?: { number: number; protocol?: string }[]; resolution?: string; exportTo?: string[] };
  return {
    id: `ServiceEntry ${object.metadata.namespace}/${object.metadata.name}`,
    namespace: object.metadata.namespace ?? 'default',
    hosts: spec.hosts ?? [],
    addresses: spec.addresses ?? [],
    ports: (spec.ports ?? []).map((port) => ({ number: port.number, protocol: (port.protocol ?? 'TCP').toUpperCase() })),
    resolution: spec.resolution ?? 'NONE',
    // Without exportTo, Istio exports a ServiceEntry to every namespace unless the mesh config narrows the default.
    exportTo: spec.exportTo ?? ['*'],
  };
}

function readSidecar(object: KubeObject): Sidecar {
  const spec = (object.spec ?? {}) as {
    workloadSelector?: { labels?: Record<string, string> };
    egress?: { hosts?: string[]; port?: { number?: number } }[];
    outboundTrafficPolicy?: { mode?: string };
  };
  return {
    id: `Sidecar ${object.metadata.namespace}/${object.metadata.name}`,
    namespace: object.metadata.namespace ?? 'default',
    selector: spec.workloadSelector?.labels,
    egress: spec.egress?.map((listener) => ({ hosts: listener.hosts ?? [], port: listener.port?.number })),
    mode: spec.outboundTrafficPolicy?.mode,
  };
}

/** Istio leaves undefined which Sidecar applies when two could: verify refuses to guess. */
function reportAmbiguousSidecars(sidecars: Sidecar[], findings: Finding[]): void {
  const defaults = new Map<string, Sidecar[]>();
  for (const sidecar of sidecars.filter((candidate) => !candidate.selector)) defaults.set(sidecar.namespace, [...(defaults.get(sidecar.namespace) ?? []), sidecar]);
  for (const [namespace, list] of defaults) {
    if (list.length > 1) findings.push({ subject: list.map((sidecar) => sidecar.id).join(', '), message: `are all defaults of namespace ${namespace}, and Istio applies one of them at random: keep one Sidecar without workloadSelector` });
  }
  const selecting = sidecars.filter((candidate) => candidate.selector);
  for (const sidecar of selecting) {
    const overlap = selecting.find((other) => other !== sidecar && other.namespace === sidecar.namespace && other.id > sidecar.id && couldOverlap(sidecar.selector!, other.selector!));
    if (overlap) findings.push({ subject: `${sidecar.id}, ${overlap.id}`, message: 'can select the same pods, and Istio then applies one of them at random: give each workload one Sidecar' });
  }
}

/** Two label maps can select one pod unless they set one key to different values. */
function couldOverlap(a: Record<string, string>, b: Record<string, string>): boolean {
  return Object.entries(a).every(([key, value]) => b[key] === undefined || b[key] === value);
}

function sidecarFor(sidecars: Sidecar[], source: Source): Sidecar | undefined {
  const selected = sidecars.find((sidecar) => sidecar.namespace === source.namespace && sidecar.selector && Object.entries(sidecar.selector).every(([key, value]) => source.labels[key] === value));
  return selected ?? sidecars.find((sidecar) => sidecar.namespace === source.namespace && !sidecar.selector) ?? sidecars.find((sidecar) => sidecar.namespace === ROOT_NAMESPACE && !sidecar.selector);
}

function exportedTo(entry: ServiceEntry, namespace: string): boolean {
  return entry.exportTo.some((target) => target === '*' || target === namespace || (target === '.' && entry.namespace === namespace));
}

/** Returns whether the Sidecar's egress imports the entry for this port; a proxy without a Sidecar egress imports everything exported to it. */
function imports(sidecar: Sidecar | undefined, entry: ServiceEntry, port: number): boolean {
  if (!sidecar?.egress) return true;
  return sidecar.egress.some(
    (listener) =>
      (listener.port === undefined || listener.port === port) &&
      listener.hosts.some((pattern) => {
        const [namespace, dnsName] = pattern.includes('/') ? (pattern.split('/', 2) as [string, string]) : ['*', pattern];
        const namespaceOk = namespace === '*' || namespace === entry.namespace || (namespace === '.' && entry.namespace === sidecar.namespace);
        return namespaceOk && entry.hosts.some((host) => hostMatches(dnsName, host));
      }),
  );
}

/**
 * Returns whether a call to the dependency goes through this entry. The entry must list the port and name the
 * host, which Envoy matches by Host or SNI or resolves by DNS. Opaque TCP with resolution NONE instead needs
 * address ranges that contain the dependency's addresses.
 */
function reaches(entry: ServiceEntry, external: ExternalService): boolean {
  const port = entry.ports.find((candidate) => candidate.number === external.port);
  if (!port) return false;
  const named = entry.hosts.some((host) => hostMatches(host, external.host));
  if (ROUTED_BY_NAME.has(port.protocol) || entry.resolution !== 'NONE') return named;
  // Opaque TCP passed through to the original address: the entry's ranges decide, and its host is only a label.
  if (entry.addresses.length === 0) return true;
  return external.addresses.length > 0 && external.addresses.every((range) => entry.addresses.some((block) => rangeHolds(block, range)));
}

function rangeHolds(block: string, range: string): boolean {
  const outer = parseCidr(block);
  const address = parseIpAddress(range.split('/')[0]!);
  return typeof outer !== 'string' && address !== undefined && cidrContains(outer, address);
}

/** Matches an Istio host pattern: `*`, `*.suffix` (any name ending in `.suffix`), or an exact name. */
function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}
