import { InputError } from '../../src/errors.js';
import type { PodTemplate } from '../../src/plugin/api.js';
import { groupEdges, indexServices } from '../../src/k8s/network-policy.js';
import { restrictedSecurityContext, serviceLabels, type KubeObject } from '../../src/k8s/object.js';
import type { Service, Topology } from '../../src/topology/types.js';
import {
  CLIENT_ANNOTATION,
  ENDPOINT_IMAGE,
  ENDPOINT_POLICY_DIR,
  ENDPOINT_WORKING_DIR,
  NSM_CSI_DRIVER,
  NSM_NAMESPACE,
  NSM_PREFIX_BASE,
  NSM_PREFIX_COUNT,
  ROUTES_DIR,
  ROUTES_FILE,
  SPIFFE_CSI_DRIVER,
  SPIFFE_LABEL,
  TRUST_DOMAIN,
  type AppPath,
} from './versions.js';
import { CORE_VERSIONS } from '../../src/versions.js';

/** The file name of an endpoint's caller policy, in its ConfigMap and under {@link ENDPOINT_POLICY_DIR}. */
export const POLICY_FILE = 'allowed-callers.rego';

/** The name of the endpoint container added to each called service's pods. */
export const ENDPOINT_CONTAINER = 'nse';

/** A called service as NSM serves it: its network service, the address range of its endpoint and its callers. */
export interface Callee {
  service: Service;
  /** The NetworkService name, which is also the first part of the client annotation. */
  networkService: string;
  /** The kernel interface each caller gets for this service: at most 15 characters, as Linux allows. */
  interfaceName: string;
  /** The endpoint's NSM_CIDR_PREFIX. */
  prefix: string;
  /** The services that declare an edge to this one, sorted by name. */
  callers: Service[];
}

/** The NSM plan of a topology: every called service, and the called services of every caller. */
export interface NsmPlan {
  callees: Map<string, Callee>;
  calleesOf: Map<string, Callee[]>;
  /** Whether the application reaches its callees over NSM (the `nsm` app path) rather than the cluster network. */
  appOverNsm: boolean;
}

/**
 * The volumes of the endpoint's SPIRE and NSM sockets, named apart from the ones the admission webhook adds to a
 * client pod (WEBHOOK_VOLUME_NAMES in versions.ts). A callee that also calls gets both, and the API server rejects
 * a pod with two volumes of one name.
 */
export const ENDPOINT_SPIRE_VOLUME = 'nse-spire-agent-socket';
export const ENDPOINT_NSM_VOLUME = 'nse-nsm-socket';

/**
 * The user and group of the endpoint and route containers, for Pod Security `restricted`: both images (alpine and
 * busybox) run as root by default. 10001 is the user of examples/pss/use-cases/nginx at v1.18.0.
 */
const NSM_CONTAINER_USER = { user: 10001, group: 10001 };

/** The name of the init container that writes an endpoint's policy route, and of the volume it writes it to. */
export const ROUTES_CONTAINER = 'nsm-routes';

/**
 * Plans one network service per called service.
 *
 * @throws InputError for an edge narrowed to some of the callee's ports. NSM connects a client to an endpoint
 * at layer 3 and has no port filter on that link in this plugin, so a connected caller reaches every port of
 * the callee. The topology is rejected rather than generated with a port limit nothing enforces.
 * @throws InputError for calls that form a cycle, a service calling itself included (see {@link rejectCycles}).
 */
export function planNetworkServices(topology: Topology, appPath: AppPath = 'nsm'): NsmPlan {
  const services = indexServices(topology);
  const appOverNsm = appPath === 'nsm';
  rejectCycles(topology);
  const pairs = groupEdges(topology.edges, (edge) => `${edge.from}\0${edge.to}`);
  for (const edges of pairs.values()) {
    const caller = edges[0]!.from;
    const callee = services.get(edges[0]!.to)!;
    if (edges.length < callee.ports.length) {
      const declared = edges.map((edge) => edge.port.port).join(', ');
      const all = callee.ports.map((port) => port.port).join(', ');
      throw new InputError(
        `${caller} calls ${callee.name} on port ${declared} only, but NSM connects a caller to every port of ${callee.name} (${all}), ` +
          `so the other ports would be open to ${caller} over NSM: in the calls of ${caller}, call ${callee.name} without a port, ` +
          'or move the other ports into a service of their own',
      );
    }
  }

  const calledNames = [...new Set(topology.edges.map((edge) => edge.to))].sort();
  if (appOverNsm) for (const name of calledNames) checkReachableOverNsm(services.get(name)!);
  if (calledNames.length > NSM_PREFIX_COUNT) {
    throw new InputError(`the topology has ${calledNames.length} called services, but the NSM address plan has room for ${NSM_PREFIX_COUNT}: split the topology`);
  }
  const incoming = groupEdges(topology.edges, (edge) => edge.to);
  const callees = new Map<string, Callee>();
  calledNames.forEach((name, index) => {
    const callerNames = [...new Set((incoming.get(name) ?? []).map((edge) => edge.from))].sort();
    callees.set(name, {
      service: services.get(name)!,
      networkService: `${topology.name}-${name}`,
      interfaceName: `nsm-${index}`,
      prefix: `${NSM_PREFIX_BASE[0]}.${NSM_PREFIX_BASE[1] + Math.floor(index / 256)}.${index % 256}.0/24`,
      callers: callerNames.map((caller) => services.get(caller)!),
    });
  });

  const calleesOf = new Map<string, Callee[]>();
  for (const [caller, edges] of groupEdges(topology.edges, (edge) => edge.from)) {
    const names = [...new Set(edges.map((edge) => edge.to))].sort();
    calleesOf.set(caller, names.map((name) => callees.get(name)!));
  }
  return { callees, calleesOf, appOverNsm };
}

/**
 * Rejects calls that form a cycle. The admission webhook gives each client pod an init container (cmd-nsc-init
 * v1.18.0) that retries until its connections are up, and an endpoint runs in an ordinary container of its
 * callee's pod, which starts only after that pod's init containers. So in a cycle each pod waits for the next one
 * to start, and none does. A service that calls itself waits for its own endpoint.
 */
function rejectCycles(topology: Topology): void {
  const callees = new Map<string, string[]>();
  for (const edge of topology.edges) callees.set(edge.from, [...new Set([...(callees.get(edge.from) ?? []), edge.to])].sort());
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    path.push(name);
    for (const next of callees.get(name) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = [...path.slice(path.indexOf(next)), next];
        throw new InputError(
          `service "${cycle[0]}", field calls: the calls ${cycle.join(' -> ')} form a cycle, and on NSM each pod of a cycle waits in its NSM init container for the next one's endpoint, which starts only after that pod's own init containers, so none starts: ` +
            'remove one of those calls, or choose another mesh for this topology',
        );
      }
      if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(name, 'done');
  };
  for (const service of [...callees.keys()].sort()) if (!state.has(service)) visit(service);
}

/**
 * Checks that the callers of `callee` can reach it over NSM at its pod's own address.
 *
 * @throws InputError for more than one replica: NSM connects each caller pod to one endpoint pod, so the other
 * replicas, which the headless Service's name also gives, would be reached over the cluster network.
 * @throws InputError for a port whose targetPort differs: a headless Service does not translate ports.
 */
function checkReachableOverNsm(callee: Service): void {
  const otherPath = 'or choose the cluster network as the app\'s path with --nsm-app-path cluster-network';
  if (callee.replicas > 1) {
    throw new InputError(
      `service "${callee.name}", field replicas: ${callee.replicas} replicas, but NSM connects each caller pod to one endpoint pod, so the app would reach the other replicas outside NSM: ` +
        `set replicas of ${callee.name} to 1, ${otherPath}`,
    );
  }
  const translated = callee.ports.find((port) => port.port !== port.targetPort);
  if (translated) {
    throw new InputError(
      `service "${callee.name}", field ports: port ${translated.port} forwards to container port ${translated.targetPort}, but over NSM its callers reach its pod's own address through a headless Service, which does not translate ports: ` +
        `give the port ${translated.targetPort} as its port and drop targetPort, ${otherPath}`,
    );
  }
}

/**
 * Makes the Service of a called service headless when the app's path is NSM, so that its DNS name gives the
 * callee pod's own address, which each caller routes over its NSM interface.
 */
export function applyToService(plan: NsmPlan, service: Service, object: KubeObject): KubeObject {
  if (!plan.appOverNsm || !plan.callees.has(service.name)) return object;
  return { ...object, spec: { ...(object.spec as Record<string, unknown>), clusterIP: 'None' } };
}

/** The SPIFFE ID SPIRE gives a pod of an application namespace, by the ClusterSPIFFEID from {@link buildSpiffeIds}. */
export function spiffeIdOf(namespace: string, serviceAccount: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The value of the client annotation that requests exactly the network services of `callees`. */
export function clientAnnotationOf(callees: Callee[]): string {
  return callees.map((callee) => `kernel://${callee.networkService}/${callee.interfaceName}`).join(',');
}

/**
 * Names the environment variable that hands a caller the NSM interface of one callee, such as
 * `NSM_LIL_DEEBEE_INTERFACE`. The interface name is the only part of the NSM link that is fixed when the
 * repository is generated: the callee's address on it is the peer route of that interface, which differs
 * per connection (see the endpoint's NSM_CIDR_PREFIX).
 */
export function interfaceVariableOf(callee: Callee): string {
  return `NSM_${callee.service.name.toUpperCase().replace(/-/g, '_')}_INTERFACE`;
}

/** The ConfigMap that contains an endpoint's caller policy. */
export function policyConfigMapName(callee: Callee): string {
  return `${callee.service.name}-nsm-callers`;
}

/**
 * Builds one NetworkService per called service. `payload: IP` makes the forwarders connect nodes with WireGuard,
 * the default IP remote mechanism of the basic setup (examples/ipsec_mechanism/README.md at v1.18.0). An
 * ETHERNET payload would travel in plain VXLAN instead.
 */
export function buildNetworkServices(topology: Topology, plan: NsmPlan): KubeObject[] {
  return [...plan.callees.values()].map((callee) => ({
    apiVersion: 'networkservicemesh.io/v1',
    kind: 'NetworkService',
    metadata: { name: callee.networkService, namespace: callee.service.namespace, labels: serviceLabels(callee.service.name, topology.name) },
    spec: { payload: 'IP' },
  }));
}

/**
 * Builds the SPIRE registrations. Upstream's `nsm-workloads` names pods, so every replica and every stranger
 * would carry an identity of its own. Here it is kept for nsm-system only, and pods of the application
 * namespaces get an ID from their ServiceAccount, which the endpoints' caller policies match.
 */
export function buildSpiffeIds(topology: Topology): KubeObject[] {
  const spiffeSelector = { matchLabels: { [SPIFFE_LABEL]: 'true' } };
  return [
    {
      apiVersion: 'spire.spiffe.io/v1alpha1',
      kind: 'ClusterSPIFFEID',
      // The same name as examples/spire/single_cluster/clusterspiffeid-template.yaml at v1.18.0, so that applying
      // either one replaces the other instead of giving application pods two identities.
      metadata: { name: 'nsm-workloads' },
      spec: {
        spiffeIDTemplate: 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/pod/{{ .PodMeta.Name }}',
        autoPopulateDNSNames: true,
        podSelector: spiffeSelector,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NSM_NAMESPACE } },
      },
    },
    {
      apiVersion: 'spire.spiffe.io/v1alpha1',
      kind: 'ClusterSPIFFEID',
      metadata: { name: `${topology.name}-workloads`, labels: { 'app.kubernetes.io/part-of': topology.name } },
      spec: {
        spiffeIDTemplate: 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}',
        podSelector: spiffeSelector,
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...topology.namespaces] }] },
      },
    },
  ];
}

/**
 * Renders an endpoint's caller policy in Rego, in the form of the sdk's own policies (package `nsm`, rule `valid`).
 * The first path segment is the client; its token's `sub` is the client's SPIFFE ID. nsmgr has already checked
 * that token against the client's certificate (server/prev_token_signed.rego) and the endpoint checks the chain
 * (common/tokens_chained.rego), so the ID cannot be forged by a hop in between.
 */
export function renderCallerPolicy(callee: Callee): string {
  const lines = [
    `# Callers allowed to connect to the network service ${callee.networkService}: the declared callers of ${callee.service.name}.`,
    'package nsm',
    '',
    'default valid = false',
  ];
  for (const caller of callee.callers) {
    lines.push('', 'valid {', '\t[_, payload, _] := io.jwt.decode(input.path_segments[0].token)', `\tpayload.sub == "${spiffeIdOf(caller.namespace, caller.name)}"`, '}');
  }
  return `${lines.join('\n')}\n`;
}

/** Builds the ConfigMap of each endpoint's caller policy, in the callee's namespace. */
export function buildCallerPolicies(topology: Topology, plan: NsmPlan): KubeObject[] {
  return [...plan.callees.values()].map((callee) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: policyConfigMapName(callee), namespace: callee.service.namespace, labels: serviceLabels(callee.service.name, topology.name) },
    data: { [POLICY_FILE]: renderCallerPolicy(callee) },
  }));
}

/**
 * Builds the endpoint container of a called service, after apps/nse-kernel and examples/pss/use-cases/nginx at
 * v1.18.0. The container registers the pod as an endpoint of the service's network service. It hands out
 * addresses from the service's range and checks each client against the caller policy.
 */
function buildEndpointContainer(callee: Callee, appOverNsm: boolean): Record<string, unknown> {
  return {
    name: ENDPOINT_CONTAINER,
    image: ENDPOINT_IMAGE,
    workingDir: ENDPOINT_WORKING_DIR,
    env: [
      { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///run/spire/sockets/agent.sock' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NSM_NAME', value: '$(POD_NAME)' },
      { name: 'NSM_LOG_LEVEL', value: 'INFO' },
      { name: 'NSM_CONNECT_TO', value: 'unix:///var/lib/networkservicemesh/nsm.io.sock' },
      { name: 'NSM_SERVICE_NAMES', value: callee.networkService },
      // The NetworkService comes from manifests/mesh, with payload IP, so the endpoint must not register its own.
      { name: 'NSM_REGISTER_SERVICE', value: 'false' },
      // NOTE: this range gives the endpoint side no fixed address. cmd-nse-icmp-responder v1.18.0 (main.go) hands
      // each connection to groupipam, whose default is point2pointipam (sdk v1.18.0); it calls
      // ippool.PullP2PAddrs, which takes the two lowest free addresses. Only the first connection gets the
      // range's first address for the endpoint side; later ones get .2, .4 and so on, and an address returns
      // to the pool when its connection closes. Upstream examples that reach a fixed address (features/webhook,
      // features/dns, pss/use-cases/nginx) use a /31, which holds exactly one connection.
      { name: 'NSM_CIDR_PREFIX', value: callee.prefix },
      ...(appOverNsm ? [{ name: 'NSM_PBR_CONFIG_PATH', value: `${ROUTES_DIR}/${ROUTES_FILE}` }] : []),
    ],
    securityContext: restrictedSecurityContext(NSM_CONTAINER_USER),
    volumeMounts: [
      { name: ENDPOINT_SPIRE_VOLUME, mountPath: '/run/spire/sockets', readOnly: true },
      { name: ENDPOINT_NSM_VOLUME, mountPath: '/var/lib/networkservicemesh', readOnly: true },
      { name: 'nsm-callers', mountPath: `${ENDPOINT_POLICY_DIR}/${POLICY_FILE}`, subPath: POLICY_FILE, readOnly: true },
      // The endpoint creates its listening socket in a temporary directory.
      { name: 'nse-tmp', mountPath: '/tmp' },
      ...(appOverNsm ? [{ name: ROUTES_CONTAINER, mountPath: ROUTES_DIR, readOnly: true }] : []),
    ],
    resources: { requests: { cpu: '100m', memory: '40Mi' }, limits: { cpu: '200m', memory: '80Mi' } },
  };
}

/**
 * The shell script of the init container that writes the endpoint's policy route: the pod's own IPv4 address
 * as a /32 over the NSM link, in the YAML the endpoint reads (a list of policies, each with `routes` of
 * `prefix`). A policy without `from`, protocol or port applies to all of the client's IPv4 traffic, and its
 * table holds only this route, so every other destination falls through to the client's main table.
 */
const ROUTES_SCRIPT = `set -eu
case "$POD_IP" in
  *.*.*.*) ;;
  *) echo "${ROUTES_CONTAINER}: the pod address '$POD_IP' is not IPv4, and the NSM policy route needs one" >&2; exit 1 ;;
esac
printf -- '- routes:\\n    - prefix: %s/32\\n' "$POD_IP" > ${ROUTES_DIR}/${ROUTES_FILE}
`;

/** Builds the init container that writes the endpoint's policy route into the volume the endpoint reads it from. */
function buildRoutesContainer(): Record<string, unknown> {
  return {
    name: ROUTES_CONTAINER,
    image: CORE_VERSIONS.probeImage,
    command: ['sh', '-c', ROUTES_SCRIPT],
    env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
    securityContext: restrictedSecurityContext(NSM_CONTAINER_USER),
    volumeMounts: [{ name: ROUTES_CONTAINER, mountPath: ROUTES_DIR }],
    resources: { requests: { cpu: '10m', memory: '8Mi' }, limits: { cpu: '50m', memory: '16Mi' } },
  };
}

/**
 * Changes a service's pod template for NSM: a called service runs an endpoint container beside the app, and a
 * caller requests the network service of each callee and learns each interface name from the environment.
 */
export function applyToPodTemplate(plan: NsmPlan, service: Service, template: PodTemplate): PodTemplate {
  const callee = plan.callees.get(service.name);
  const callees = plan.calleesOf.get(service.name) ?? [];
  if (!callee && callees.length === 0) return template;

  const labels = { ...template.metadata.labels, [SPIFFE_LABEL]: 'true' };
  const annotations = { ...template.metadata.annotations, ...(callees.length > 0 && { [CLIENT_ANNOTATION]: clientAnnotationOf(callees) }) };
  const containers = template.spec.containers.map((container, index) => (index === 0 && callees.length > 0 ? withInterfaceVariables(container, callees) : container));
  const volumes = [...((template.spec.volumes as Record<string, unknown>[] | undefined) ?? [])];

  if (callee) {
    containers.push(buildEndpointContainer(callee, plan.appOverNsm));
    volumes.push(
      { name: ENDPOINT_SPIRE_VOLUME, csi: { driver: SPIFFE_CSI_DRIVER, readOnly: true } },
      { name: ENDPOINT_NSM_VOLUME, csi: { driver: NSM_CSI_DRIVER, readOnly: true } },
      { name: 'nsm-callers', configMap: { name: policyConfigMapName(callee), items: [{ key: POLICY_FILE, path: POLICY_FILE }] } },
      { name: 'nse-tmp', emptyDir: {} },
    );
  }
  const initContainers = [...((template.spec.initContainers as Record<string, unknown>[] | undefined) ?? [])];
  if (callee && plan.appOverNsm) {
    initContainers.push(buildRoutesContainer());
    volumes.push({ name: ROUTES_CONTAINER, emptyDir: {} });
  }

  return {
    metadata: { ...template.metadata, labels, ...(Object.keys(annotations).length > 0 && { annotations }) },
    spec: { ...template.spec, ...(initContainers.length > 0 && { initContainers }), containers, volumes },
  };
}

function withInterfaceVariables(container: Record<string, unknown>, callees: Callee[]): Record<string, unknown> {
  const env = [...((container.env as { name: string }[] | undefined) ?? [])];
  for (const callee of callees) {
    const name = interfaceVariableOf(callee);
    if (!env.some((variable) => variable.name === name)) env.push({ name, value: callee.interfaceName } as { name: string });
  }
  env.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...container, env };
}
