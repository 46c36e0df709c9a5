import type { EvaluateContext, Finding, MeshDecision, MeshEvaluator, PodTemplate, Source } from '../../src/plugin/api.js';
import type { KubeObject, LabelSelector } from '../../src/k8s/object.js';
import { matchesSelector, podTemplateOf, workloadOf } from '../../src/verify/objects.js';
import type { ExternalService, Service, ServicePort } from '../../src/topology/types.js';
import { APP_PATH_OPTION, CLIENT_ANNOTATION, ENDPOINT_POLICY_DIR, ROUTES_DIR, ROUTES_FILE, SPIFFE_LABEL, TRUST_DOMAIN } from './versions.js';
import { ExternalEgressEvaluator } from './external.js';
import { evaluateGateway } from './gateway.js';

/** An endpoint container found in a service's pod template. */
interface Endpoint {
  service: string;
  networkServices: string[];
  /** SPIFFE IDs the caller policy allows, or `null` when the endpoint has no caller policy of its own. */
  allowedCallers: Set<string> | null;
  policySource: string;
}

interface SpiffeRegistration {
  id: string;
  template: string;
  podSelector: LabelSelector;
  namespaceSelector: LabelSelector;
}

/** The NetworkService spec fields NSM v1.18.0 defines (api/pkg/api/registry NetworkService: payload, matches). */
const NETWORK_SERVICE_FIELDS = new Set(['payload', 'matches']);
const PAYLOADS = new Set(['IP', 'ETHERNET']);

/**
 * Evaluates NSM the way a connection is made: the client pod must request a network service by annotation,
 * an endpoint of the callee must serve that network service, the NetworkService must exist, and the endpoint's
 * caller policy must allow the client's SPIFFE ID. A connection is counted as mTLS when its NetworkService
 * has `payload: IP`, which the forwarders carry between nodes over WireGuard.
 * NOTE: NSM connects at layer 3, so a decision holds for every port of the callee.
 * NOTE: the link also carries traffic the other way. point2pointipam (sdk v1.18.0) adds the client's address to
 * DstRoutes, so the callee's pods have a route to the caller's NSM address and can open connections to the
 * caller's ports over a link the caller opened. `decide` does not count that reverse path.
 */
/** The limit verify prints with its result when the application reaches its callees over NSM. */
const NSM_PATH_LIMIT =
  "the mesh's mTLS here means NSM links: SPIFFE-authenticated at connection time and encrypted with WireGuard between nodes, but not between two pods on one node, and the applications themselves do not use mutual TLS. " +
  "A pod with a caller's labels but no NSM annotation reaches the callee over the cluster network, where only NetworkPolicy applies, though the mesh column counts it as refused.";

/** The limit verify prints with its result under the cluster-network app path: the mesh column describes links the application does not use. */
const CLUSTER_PATH_LIMIT =
  'the mesh decisions and the MTLS column describe the NSM links (SPIFFE-authenticated, WireGuard between nodes), but the application connects to its callees over the cluster network, where only NetworkPolicy applies and its traffic is neither mutual TLS nor encrypted.';

export function evaluateNsm(context: EvaluateContext): MeshEvaluator {
  const findings: Finding[] = [];
  const networkServices = readNetworkServices(context.objects, findings);
  const registrations = context.objects.filter(isKind('spire.spiffe.io', 'ClusterSPIFFEID')).map(readRegistration);
  const configMaps = new Map(context.objects.filter((object) => object.kind === 'ConfigMap').map((object) => [`${object.metadata.namespace}/${object.metadata.name}`, object]));
  const namespaceLabels = new Map(context.objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));

  const requests = new Map<string, string[]>();
  const endpoints = new Map<string, Endpoint>();
  for (const service of context.topology.services) {
    const template = podTemplateOf(context.objects, service);
    if (!template) continue;
    requests.set(service.name, parseClientAnnotation(template.metadata.annotations?.[CLIENT_ANNOTATION], `${service.namespace}/${service.name}`, findings));
    const endpoint = readEndpoint(service, template.spec, configMaps, findings);
    if (endpoint) endpoints.set(service.name, endpoint);
  }

  // The callees of each network service name, so that mayReach finds a client's callees from its own requests.
  const servedBy = new Map<string, string[]>();
  for (const endpoint of endpoints.values()) {
    for (const name of new Set(endpoint.networkServices)) servedBy.set(name, [...(servedBy.get(name) ?? []), endpoint.service]);
  }
  const serviceNames = new Set(context.topology.services.map((service) => service.name));

  checkRequests(context, requests, endpoints, findings);
  const appOverNsm = (context.options[APP_PATH_OPTION] ?? 'nsm') === 'nsm';
  if (appOverNsm) checkAppPath(context, endpoints, findings);
  else checkClusterPath(context, endpoints, findings);
  checkRegistrations(context, registrations, namespaceLabels, findings);
  const gateway = evaluateGateway(context.objects, context.topology);
  if (gateway) findings.push(...gateway.findings);

  // A source requests network services by the annotation of its service's pod template, so a source whose
  // service name is not in the topology (the stranger, the outside client) requests none.
  const requestsOf = (source: Source): string[] => (serviceNames.has(source.service) ? (requests.get(source.service) ?? []) : []);
  // The admission webhook labels every client pod for SPIRE, so the registrations see that label on the source.
  const identityFor = (source: Source): string | undefined =>
    identityOf(registrations, source.namespace, source.serviceAccount, { ...source.labels, [SPIFFE_LABEL]: 'true' }, namespaceLabels.get(source.namespace) ?? {});

  const decide = (source: Source, target: Service, port: ServicePort): MeshDecision => {
    const gatewayDecision = gateway?.decide(source, target, port);
    if (gatewayDecision) return gatewayDecision;
    const endpoint = endpoints.get(target.name);
    if (!endpoint) return deny(`${target.namespace}/${target.name} runs no NSM endpoint, so no client reaches it over NSM`);
    if (!source.meshed) return deny(`the client requests no network service, so it has no NSM interface to ${target.name}`);

    const requested = requestsOf(source);
    const shared = endpoint.networkServices.filter((name) => requested.includes(name));
    if (shared.length === 0) return deny(`${source.namespace}/${source.service} does not request ${endpoint.networkServices.join(', ')} in its ${CLIENT_ANNOTATION} annotation`);
    const networkService = shared.map((name) => networkServices.get(name)).find((candidate) => candidate !== undefined);
    if (!networkService) return deny(`NetworkService ${shared.join(', ')} does not exist, so NSM finds no endpoint for it`);

    const identity = identityFor(source);
    if (!identity) return deny(`no ClusterSPIFFEID gives ${source.namespace}/${source.serviceAccount} a SPIFFE ID by ServiceAccount, so it cannot be told apart from other clients`);
    if (endpoint.allowedCallers && !endpoint.allowedCallers.has(identity)) return deny(`${endpoint.policySource} does not allow ${identity}`);

    const mtls = networkService.payload === 'IP';
    const by = endpoint.allowedCallers ? `${endpoint.policySource} allows ${identity}` : `${target.name}'s endpoint has no caller policy, so it accepts any client`;
    const transport = mtls ? 'WireGuard between nodes' : `payload ${networkService.payload ?? 'unset'}, not encrypted between nodes`;
    return { allowed: true, mtls, reason: `${by} on ${networkService.id} (${transport}, every port of ${target.name} including ${port.port})` };
  };

  // Follows decide step by step, so the list is exact. The gateway reaches what its routes forward to. Any other
  // source reaches the endpoints that serve a network service it requests, when that NetworkService exists and the
  // endpoint's caller policy, if it has one, allows the source's SPIFFE ID. The cost grows with the requested
  // network services and their endpoints, not with the number of services in the topology.
  const mayReach = (source: Source): string[] => {
    const routed = gateway?.routedServices(source);
    if (routed) return routed;
    if (!source.meshed) return [];
    const requested = requestsOf(source);
    if (requested.length === 0) return [];
    const identity = identityFor(source);
    if (!identity) return [];

    const reached = new Set<string>();
    for (const name of requested) {
      if (!networkServices.has(name)) continue;
      for (const service of servedBy.get(name) ?? []) {
        const allowedCallers = endpoints.get(service)!.allowedCallers;
        if (!allowedCallers || allowedCallers.has(identity)) reached.add(service);
      }
    }
    return [...reached];
  };

  // NSM has no egress control of its own, so a connection to an external dependency is decided by the
  // NetworkPolicies that Calico enforces, read from the manifests like everything else here.
  // Built on first use, so that topologies without externals do not compile their policies twice.
  let externalEgress: ExternalEgressEvaluator | undefined;
  const decideExternal = (source: Source, external: ExternalService): MeshDecision => {
    externalEgress ??= new ExternalEgressEvaluator(context.objects, context.topology);
    return externalEgress.decide(source, external);
  };

  // Nothing under NSM reads host names, so NetworkPolicy distinguishes dependencies by address and port only.
  return { decide, mayReach, findings, decideExternal, externalMatch: 'address' as const, limit: appOverNsm ? NSM_PATH_LIMIT : CLUSTER_PATH_LIMIT, ...(gateway && { gateway: gateway.model }) };
}

function deny(reason: string): MeshDecision {
  return { allowed: false, mtls: false, reason };
}

/** Splits the client annotation, such as `kernel://a/nsm-0,kernel://b/nsm-1`, into network service names. */
function parseClientAnnotation(value: string | undefined, owner: string, findings: Finding[]): string[] {
  if (!value) return [];
  const names: string[] = [];
  const interfaces = new Set<string>();
  for (const request of value.split(',')) {
    const match = /^(?:[a-z]+:\/\/)?([^/@?]+)(?:@[^/?]+)?(?:\/([^?]*))?/.exec(request.trim());
    if (!match) {
      findings.push({ subject: `pod template ${owner}`, message: `cannot read the network service request "${request}" in its ${CLIENT_ANNOTATION} annotation` });
      continue;
    }
    names.push(match[1]!);
    const interfaceName = match[2] ?? '';
    if (interfaceName.length > 15) findings.push({ subject: `pod template ${owner}`, message: `interface name "${interfaceName}" is longer than the 15 characters Linux allows` });
    if (interfaceName && interfaces.has(interfaceName)) findings.push({ subject: `pod template ${owner}`, message: `interface name "${interfaceName}" is requested twice` });
    interfaces.add(interfaceName);
  }
  return names;
}

function readNetworkServices(objects: KubeObject[], findings: Finding[]): Map<string, { id: string; payload?: string }> {
  const result = new Map<string, { id: string; payload?: string }>();
  for (const object of objects.filter(isKind('networkservicemesh.io', 'NetworkService'))) {
    const id = `NetworkService ${object.metadata.namespace}/${object.metadata.name}`;
    const spec = (object.spec ?? {}) as Record<string, unknown>;
    // The CRD keeps the spec open (x-kubernetes-preserve-unknown-fields), so a misspelled field would pass the API server.
    for (const field of Object.keys(spec)) {
      if (!NETWORK_SERVICE_FIELDS.has(field)) findings.push({ subject: id, message: `has the unknown spec field "${field}": NSM reads only payload and matches` });
    }
    const payload = typeof spec.payload === 'string' ? spec.payload : undefined;
    if (payload === undefined || !PAYLOADS.has(payload)) {
      findings.push({ subject: id, message: `spec.payload is ${JSON.stringify(spec.payload)}: set it to IP` });
    } else if (payload !== 'IP') {
      findings.push({ subject: id, message: `spec.payload is ${payload}, which the forwarders carry between nodes in plain VXLAN: set it to IP for WireGuard` });
    }
    if (spec.matches !== undefined) findings.push({ subject: id, message: 'has matches, which can route clients to other endpoints: verify does not evaluate them' });
    if (result.has(object.metadata.name)) findings.push({ subject: id, message: 'has the same name as another NetworkService; NSM network service names must be unique' });
    result.set(object.metadata.name, { id, payload });
  }
  return result;
}

function readEndpoint(service: Service, spec: Record<string, unknown>, configMaps: Map<string, KubeObject>, findings: Finding[]): Endpoint | undefined {
  const containers = (spec.containers ?? []) as { name?: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string; subPath?: string }[] }[];
  const endpoint = containers.find((container) => container.env?.some((variable) => variable.name === 'NSM_SERVICE_NAMES'));
  if (!endpoint) return undefined;

  const networkServices = (endpoint.env!.find((variable) => variable.name === 'NSM_SERVICE_NAMES')!.value ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  const subject = `endpoint ${service.namespace}/${service.name}`;
  const policyMounts = (endpoint.volumeMounts ?? []).filter((mount) => mount.mountPath === ENDPOINT_POLICY_DIR || mount.mountPath.startsWith(`${ENDPOINT_POLICY_DIR}/`));
  if (policyMounts.length === 0) {
    findings.push({ subject, message: `mounts no caller policy under ${ENDPOINT_POLICY_DIR}, so any pod that requests ${networkServices.join(', ')} is connected` });
    return { service: service.name, networkServices, allowedCallers: null, policySource: subject };
  }

  const volumes = (spec.volumes ?? []) as { name: string; configMap?: { name: string } }[];
  const allowed = new Set<string>();
  const sources: string[] = [];
  for (const mount of policyMounts) {
    const configMapName = volumes.find((volume) => volume.name === mount.name)?.configMap?.name;
    const configMap = configMapName ? configMaps.get(`${service.namespace}/${configMapName}`) : undefined;
    if (!configMap) {
      findings.push({ subject, message: `mounts volume "${mount.name}" as its caller policy, but no ConfigMap ${service.namespace}/${configMapName ?? '(none)'} is in the manifests` });
      continue;
    }
    sources.push(`ConfigMap ${service.namespace}/${configMap.metadata.name}`);
    for (const [key, text] of Object.entries((configMap.data ?? {}) as Record<string, string>)) {
      if (mount.subPath !== undefined && mount.subPath !== key) continue;
      for (const id of readAllowedCallers(text, `ConfigMap ${service.namespace}/${configMap.metadata.name}`, findings)) allowed.add(id);
    }
  }
  return { service: service.name, networkServices, allowedCallers: allowed, policySource: sources.join(', ') || subject };
}

/**
 * Reads the SPIFFE IDs of a caller policy in the form that renderCallerPolicy writes. Any other Rego is reported,
 * because verify cannot decide what it allows.
 */
function readAllowedCallers(text: string, subject: string, findings: Finding[]): string[] {
  const ids: string[] = [];
  const body = text.replace(/#.*$/gm, '');
  const rules = body.split(/\n(?=valid\s*\{)/).slice(1);
  for (const rule of rules) {
    const match = /^valid\s*\{\s*\[_, payload, _\] := io\.jwt\.decode\(input\.path_segments\[0\]\.token\)\s*payload\.sub == "([^"]+)"\s*\}\s*$/.exec(rule.trim());
    if (match) ids.push(match[1]!);
    else findings.push({ subject, message: `has a rule verify cannot evaluate: ${rule.trim().split('\n')[0]}` });
  }
  if (!/^package nsm$/m.test(body) || !/^default valid = false$/m.test(body)) {
    findings.push({ subject, message: 'must be package nsm with "default valid = false", as the endpoint evaluates the rule valid' });
  }
  return ids;
}

/** Reports annotations that request a network service that is not a declared edge, or that no endpoint serves. */
function checkRequests(context: EvaluateContext, requests: Map<string, string[]>, endpoints: Map<string, Endpoint>, findings: Finding[]): void {
  const servedBy = new Map<string, string>();
  for (const endpoint of endpoints.values()) for (const name of endpoint.networkServices) servedBy.set(name, endpoint.service);
  const declared = new Set(context.topology.edges.map((edge) => `${edge.from}\0${edge.to}`));

  for (const service of context.topology.services) {
    for (const name of requests.get(service.name) ?? []) {
      const callee = servedBy.get(name);
      const subject = `pod template ${service.namespace}/${service.name}`;
      if (callee === undefined) findings.push({ subject, message: `requests network service ${name}, which no endpoint in the topology serves` });
      else if (!declared.has(`${service.name}\0${callee}`)) findings.push({ subject, message: `requests network service ${name} of ${callee}, but ${service.name} -> ${callee} is not a declared edge` });
    }
  }
}

/** A called service that runs an NSM endpoint, with its Service object and pod template as the manifests have them. */
interface CalledEndpoint {
  service: Service;
  id: string;
  serviceObject: KubeObject | undefined;
  headless: boolean;
  template: PodTemplate | undefined;
}

/** Lists the called services that run an NSM endpoint, each with its Service object and pod template. */
function calledEndpoints(context: EvaluateContext, endpoints: Map<string, Endpoint>): CalledEndpoint[] {
  const called = new Set(context.topology.edges.map((edge) => edge.to));
  const serviceObjects = new Map(context.objects.filter((object) => object.kind === 'Service').map((object) => [`${object.metadata.namespace}/${object.metadata.name}`, object]));
  return context.topology.services
    .filter((service) => called.has(service.name) && endpoints.has(service.name))
    .map((service) => {
      const id = `${service.namespace}/${service.name}`;
      const serviceObject = serviceObjects.get(id);
      const headless = (serviceObject?.spec as { clusterIP?: unknown } | undefined)?.clusterIP === 'None';
      return { service, id, serviceObject, headless, template: podTemplateOf(context.objects, service) };
    });
}

/**
 * Reports, for the nsm app path, each called service whose callers would reach it outside NSM. One cause is a
 * Service with a cluster address, which kube-proxy forwards on the cluster network. The other is an endpoint
 * without a policy route to its pod's address, which an init container writes for the endpoint to send.
 */
function checkAppPath(context: EvaluateContext, endpoints: Map<string, Endpoint>, findings: Finding[]): void {
  for (const { service, id, serviceObject, headless, template } of calledEndpoints(context, endpoints)) {
    if (serviceObject && !headless) {
      findings.push({ subject: `Service ${id}`, message: `has a cluster address, so its callers reach it over the cluster network, outside NSM: set spec.clusterIP to None, as ${APP_PATH_OPTION} nsm needs` });
    }
    if (serviceObject && headless) checkHeadlessPorts(service, serviceObject, findings);
    if (template && !writesPolicyRoute(template.spec)) {
      findings.push({
        subject: `endpoint ${id}`,
        message: `sends its callers no policy route to its pod's address (an init container that writes $POD_IP/32 into the file NSM_PBR_CONFIG_PATH names, on a volume the endpoint mounts), so they reach ${service.name} over the cluster network, outside NSM`,
      });
    }
    const workload = workloadOf(context.objects, service);
    const replicas = (workload?.spec as { replicas?: unknown } | undefined)?.replicas ?? 1;
    if (typeof replicas !== 'number' || replicas > 1) {
      findings.push({
        subject: `${workload!.kind} ${id}`,
        message: `runs ${String(replicas)} replicas, but NSM connects each caller pod to one endpoint pod, so callers reach the other replicas outside NSM: run one replica`,
      });
    }
  }
}

/**
 * Reports, for the cluster-network app path, called services whose manifests follow the nsm path instead: a
 * headless Service and a policy route. The generation record then names the wrong path, and verify would judge
 * the manifests by it.
 */
function checkClusterPath(context: EvaluateContext, endpoints: Map<string, Endpoint>, findings: Finding[]): void {
  for (const { id, headless, template } of calledEndpoints(context, endpoints)) {
    if (headless && template && writesPolicyRoute(template.spec)) {
      findings.push({
        subject: `Service ${id}`,
        message: `is headless and its endpoint sends a policy route, as ${APP_PATH_OPTION} nsm generates, but generation.yaml records cluster-network: set plugin.options.${APP_PATH_OPTION} to nsm in generation.yaml, or regenerate`,
      });
    }
  }
}

/** Reports ports of a headless Service that differ from the container port: a headless Service does not translate them. */
function checkHeadlessPorts(service: Service, object: KubeObject, findings: Finding[]): void {
  const ports = ((object.spec as { ports?: { port?: unknown; targetPort?: unknown }[] }).ports ?? []);
  for (const port of ports) {
    let target: unknown = port.port;
    if (typeof port.targetPort === 'number') target = port.targetPort;
    if (typeof port.targetPort === 'string') target = service.ports.find((candidate) => candidate.name === port.targetPort)?.targetPort;
    if (target !== undefined && target !== port.port) {
      findings.push({
        subject: `Service ${service.namespace}/${service.name}`,
        message: `is headless, but port ${String(port.port)} forwards to container port ${String(target)}: callers connect to the pod's port ${String(port.port)} directly, so give the port the container's number`,
      });
    }
  }
}

/**
 * Returns whether an endpoint reads its policy routes from a volume that an init container of the pod writes the
 * pod's address into. That init container gets POD_IP from status.podIP, and its command writes `$POD_IP/32` to
 * the file, at the path where the endpoint mounts that volume.
 */
function writesPolicyRoute(spec: Record<string, unknown>): boolean {
  type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath?: string } } };
  type Container = { env?: EnvVar[]; command?: unknown[]; args?: unknown[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] };
  const containers = (spec.containers ?? []) as Container[];
  const endpoint = containers.find((container) => container.env?.some((variable) => variable.name === 'NSM_SERVICE_NAMES'));
  if (!endpoint) return false;
  // cmd-nse-icmp-responder v1.18.0 reads this path when NSM_PBR_CONFIG_PATH is not set (main.go).
  const path = endpoint.env?.find((variable) => variable.name === 'NSM_PBR_CONFIG_PATH')?.value ?? `${ROUTES_DIR}/${ROUTES_FILE}`;
  const mount = (endpoint.volumeMounts ?? []).find((candidate) => path.startsWith(`${candidate.mountPath.replace(/\/+$/, '')}/`));
  if (!mount) return false;
  const initContainers = (spec.initContainers ?? []) as Container[];
  return initContainers.some((container) => {
    const writable = (container.volumeMounts ?? []).find((candidate) => candidate.name === mount.name && candidate.readOnly !== true);
    if (!writable) return false;
    const localPath = `${writable.mountPath.replace(/\/+$/, '')}${path.slice(mount.mountPath.replace(/\/+$/, '').length)}`;
    const script = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    const podIp = container.env?.some((variable) => variable.name === 'POD_IP' && variable.valueFrom?.fieldRef?.fieldPath === 'status.podIP');
    return podIp === true && script.includes('"$POD_IP"') && script.includes('%s/32') && script.includes(`> ${localPath}`);
  });
}

/** Reports application namespaces whose pods would get a per-pod SPIFFE ID, which no caller policy can name. */
function checkRegistrations(context: EvaluateContext, registrations: SpiffeRegistration[], namespaceLabels: Map<string, Record<string, string>>, findings: Finding[]): void {
  for (const namespace of context.topology.namespaces) {
    const labels = { ...(namespaceLabels.get(namespace) ?? {}), 'kubernetes.io/metadata.name': namespace };
    const matching = registrations.filter((registration) => matchesSelector(registration.namespaceSelector, labels) && matchesSelector(registration.podSelector, { [SPIFFE_LABEL]: 'true' }));
    if (matching.length > 1) findings.push({ subject: `namespace ${namespace}`, message: `pods get SPIFFE IDs from ${matching.map((registration) => registration.id).join(' and ')}; keep one, so each pod has one identity` });
    for (const registration of matching) {
      if (!registration.template.includes('.PodSpec.ServiceAccountName')) {
        findings.push({ subject: registration.id, message: `gives pods in ${namespace} an ID that does not name their ServiceAccount (${registration.template})` });
      }
    }
  }
}

function identityOf(registrations: SpiffeRegistration[], namespace: string, serviceAccount: string, labels: Record<string, string>, namespaceLabels: Record<string, string>): string | undefined {
  const matching = registrations.filter(
    (registration) => matchesSelector(registration.namespaceSelector, { ...namespaceLabels, 'kubernetes.io/metadata.name': namespace }) && matchesSelector(registration.podSelector, labels),
  );
  if (matching.length !== 1 || !matching[0]!.template.includes('.PodSpec.ServiceAccountName')) return undefined;
  return matching[0]!.template
    .replace(/\{\{\s*\.TrustDomain\s*\}\}/g, TRUST_DOMAIN)
    .replace(/\{\{\s*\.PodMeta\.Namespace\s*\}\}/g, namespace)
    .replace(/\{\{\s*\.PodSpec\.ServiceAccountName\s*\}\}/g, serviceAccount);
}

function readRegistration(object: KubeObject): SpiffeRegistration {
  const spec = (object.spec ?? {}) as { spiffeIDTemplate?: string; podSelector?: LabelSelector; namespaceSelector?: LabelSelector };
  return { id: `ClusterSPIFFEID ${object.metadata.name}`, template: spec.spiffeIDTemplate ?? '', podSelector: spec.podSelector ?? {}, namespaceSelector: spec.namespaceSelector ?? {} };
}

function isKind(group: string, kind: string): (object: KubeObject) => boolean {
  return (object) => object.kind === kind && object.apiVersion.startsWith(`${group}/`);
}
