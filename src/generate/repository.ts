
import type { GenerateContext, IngressGateway, MeshGeneration, MeshPlugin } from '../plugin/api.js';
import type { Service, Topology } from '../topology/types.js';
import { stringifyTopology } from '../topology/serialise.js';
import { hostnameOf } from '../topology/parse.js';
import type { KubeObject } from '../k8s/object.js';
import { buildCorePolicies, groupEdges } from '../k8s/network-policy.js';
import { buildNamespace, buildPodTemplate, buildService, buildServiceAccount, buildWorkload } from '../k8s/workloads.js';
import { render } from '../render/handlebars.js';
import { GENERATOR_NAME, GENERATOR_VERSION } from '../version.js';
import { InputError } from '../errors.js';
import { CORE_VERSIONS } from '../versions.js';
import { buildClientObjects, listClients } from './clients.js';
import { sortTree, type FileTree } from './files.js';
import { headerText, regenerateCommand } from './header.js';
import { runtimeProfileOf } from './images.js';
import { sortObjects, toYamlStream } from './yaml.js';
import readmeTemplate from '../../templates/README.md.hbs';
import makefileTemplate from '../../templates/Makefile.hbs';
import checkToolsTemplate from '../../templates/scripts/check-tools.sh.hbs';
import createSecretsTemplate from '../../templates/scripts/create-secrets.sh.hbs';
import waitReadyTemplate from '../../templates/scripts/wait-ready.sh.hbs';
import installCniTemplate from '../../templates/scripts/install-cni.sh.hbs';
import verifyTemplate from '../../templates/verify/verify.sh.hbs';
import probeTemplate from '../../templates/verify/probe.sh.hbs';
import ciTemplate from '../../templates/ci/verify.yaml.hbs';

/** The name of the file that records how a repository was generated. */
export const GENERATION_RECORD = 'generation.yaml';

/** The schema of topology files, as published with the package, for editors. */
export const TOPOLOGY_SCHEMA_URL = `https://unpkg.com/${GENERATOR_NAME}@${GENERATOR_VERSION}/schema/topology.schema.json`;

export interface GenerateRequest {
  topology: Topology;
  plugin: MeshPlugin;
  /** Values of the plugin's options, defaults filled in. */
  options: Record<string, string>;
}

/** Generates a whole repository in memory. Pure: the same request always gives the same bytes. */
export function generateRepository(request: GenerateRequest): FileTree {
  const { topology, plugin, options } = request;
  const context: GenerateContext = { topology, options, render };
  const mesh = plugin.generate(context);
  checkSupport(topology, plugin, mesh);
  const header = headerText(plugin.id, options);
  const files: FileTree = new Map();
  const addText = (path: string, content: string, executable = false) => files.set(path, { content, executable });
  const named = new Map<string, string>();
  const addYaml = (path: string, objects: readonly unknown[]) => {
    // The verification clients share the cluster with the application, so their names must not meet either.
    if (path.startsWith('manifests/') || path === 'verify/clients.yaml') checkUniqueNames(named, path, objects as KubeObject[]);
    addText(path, toYamlStream(objects, `# ${header}`));
  };

  // 1. Namespaces, identities and workloads.
  addYaml('manifests/namespaces.yaml', topology.namespaces.map((namespace) => buildNamespace(namespace, topology, mesh.podSecurity, mesh.namespaceLabels, mesh.namespaceAnnotations)));
  addYaml('manifests/identities.yaml', topology.services.map((service) => buildServiceAccount(service, topology)));
  for (const service of topology.services) {
    const template = buildPodTemplate(service, topology);
    const meshTemplate = mesh.podTemplate ? mesh.podTemplate(service, template) : template;
    const workload = buildWorkload(service, topology, meshTemplate);
    const coreService = buildService(service, topology, (index) => mesh.appProtocol(service.ports[index]!, service));
    const serviceObject = mesh.service ? mesh.service(service, coreService) : coreService;
    const { kind, metadata } = serviceObject;
    if (kind !== 'Service' || metadata.name !== service.name || metadata.namespace !== service.namespace) {
      throw new Error(`plugin ${plugin.id}: service() returned ${kind} ${metadata.namespace}/${metadata.name} for Service ${service.namespace}/${service.name}; it must keep the kind, name and namespace`);
    }
    addYaml(`manifests/workloads/${service.name}.yaml`, [workload, serviceObject]);
  }

  // 2. NetworkPolicies, one file per namespace, with the mesh's own after the core's.
  const policies = [...buildCorePolicies(topology, mesh.ingress?.pods ?? null), ...sortObjects(mesh.networkPolicies)];
  for (const namespace of topology.namespaces) {
    addYaml(`manifests/network-policies/${namespace}.yaml`, policies.filter((policy) => policy.metadata.namespace === namespace));
  }

  // 3. The mesh's resources.
  for (const file of mesh.manifests) addYaml(`manifests/mesh/${file.name}`, file.documents);
  addYaml('manifests/kustomization.yaml', [buildKustomization(files)]);

  // 4. Cluster, scripts, verification, CI and the record of this run.
  const view = buildView(topology, plugin, options, mesh, header);
  addYaml('kind.yaml', [buildKindConfig(clusterName(topology, plugin), mesh)]);
  if (mesh.cni === 'calico') addYaml('cni/calico-installation.yaml', buildCalicoInstallation());
  addText('topology.yaml', `# ${header}\n# yaml-language-server: $schema=${TOPOLOGY_SCHEMA_URL}\n${stringifyTopology(topology)}`);
  addText('README.md', render(readmeTemplate, view));
  addText('Makefile', render(makefileTemplate, view));
  addText('.gitignore', `# ${header}\n.bin/\nverify/report.json\n${(mesh.gitignore ?? []).map((line) => `${line}\n`).join('')}`);
  addText('.github/workflows/verify.yaml', render(ciTemplate, view));
  addText('scripts/check-tools.sh', render(checkToolsTemplate, view), true);
  addText('scripts/create-secrets.sh', render(createSecretsTemplate, view), true);
  addText('scripts/wait-ready.sh', render(waitReadyTemplate, view), true);
  if (mesh.cni === 'calico') addText('scripts/install-cni.sh', render(installCniTemplate, view), true);
  addText('scripts/install-mesh.sh', withHeader(mesh.installScript, header), true);

  const clients = listClients(topology, mesh.verify);
  addYaml('verify/clients.yaml', buildClientObjects(topology, clients, mesh.verify));
  addText('verify/verify.sh', render(verifyTemplate, { ...view, clients: clients.map((client) => ({ line: `${client.pod} ${client.namespace} ${client.identity} ${client.kind} ${probeMode(client.kind, mesh)}` })), clientNamespaces: [...new Set(clients.map((client) => client.namespace))].sort() }), true);
  addText('verify/probe.sh', render(probeTemplate, view), true);
  addText('verify/mesh-evidence.sh', withHeader(mesh.verify.evidenceScript, header), true);

  for (const file of mesh.files ?? []) addText(file.path, file.content, file.executable ?? false);

  // Last, so that the record lists every file, and a later run can name the files it no longer writes.
  const paths = [...files.keys(), GENERATION_RECORD].sort();
  addYaml(GENERATION_RECORD, [buildGenerationRecord(plugin, options, paths)]);
  return sortTree(files);
}

/**
 * Rejects two objects of one kind with one namespace and name: kubectl would apply the second over the first.
 * Names built from service, port and namespace names can meet, such as `web` with port `api-http` and `web-api`
 * with port `http`.
 */
function checkUniqueNames(named: Map<string, string>, path: string, objects: KubeObject[]): void {
  for (const object of objects) {
    // The kustomization has no metadata: it is read by kustomize, not applied.
    if (!object.metadata) continue;
    const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
    const key = `${object.kind}.${group} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const first = named.get(key);
    const where = object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
    if (first) {
      throw new InputError(`two generated objects are named ${object.kind} ${where} (in ${first === path ? path : `${first} and ${path}`}), because names of services, ports or namespaces combine into the same name. Rename one of the services or ports involved`);
    }
    named.set(key, path);
  }
}

/** Returns how the probe judges a client's connections: through a local proxy that replies for the server, or direct. */
function probeMode(kind: string, mesh: MeshGeneration): 'proxy' | 'direct' {
  return kind !== 'unmeshed' && mesh.verify.meshedClientsUseProxy !== false ? 'proxy' : 'direct';
}

/** Puts the generated-file header after a script's shebang line. */
function withHeader(script: string, header: string): string {
  if (!script.startsWith('#!')) return `# ${header}\n${script}`;
  const end = script.indexOf('\n');
  return `${script.slice(0, end + 1)}# ${header}\n${script.slice(end + 1)}`;
}

function buildKustomization(files: FileTree): Record<string, unknown> {
  const resources = [...files.keys()]
    .filter((path) => path.startsWith('manifests/') && path !== 'manifests/kustomization.yaml')
    .map((path) => path.slice('manifests/'.length))
    .sort();
  return { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources };
}

/**
 * Names the kind cluster after the topology and the mesh, so repositories of one topology on two meshes never
 * share a cluster. Kind names its node containers `<cluster>-control-plane`, which must stay a valid host name.
 */
export function clusterName(topology: Topology, plugin: MeshPlugin): string {
  return `${topology.name}-${plugin.id}`.slice(0, 40).replace(/-+$/, '');
}

/** The port on the host's loopback address where `make verify` and the README reach the ingress gateway. */
export const GATEWAY_LOCAL_PORT = 18080;

/** Rejects a topology that needs a gateway or egress control the plugin does not provide. */
function checkSupport(topology: Topology, plugin: MeshPlugin, mesh: MeshGeneration): void {
  const first = topology.exposures[0];
  if (first && !mesh.ingress) {
    throw new InputError(`service "${first.service}", field expose: the ${plugin.displayName} plugin (${plugin.id} ${plugin.version}) provides no ingress gateway. Remove expose from "${first.service}", or choose another mesh (create-zero-trust-app plugins lists them)`);
  }
  const external = topology.externals[0];
  if (external && !mesh.egress) {
    throw new InputError(`service "${external.name}", field external: the ${plugin.displayName} plugin (${plugin.id} ${plugin.version}) cannot limit egress to dependencies outside the cluster. Remove "${external.name}" and the calls to it, or choose another mesh (create-zero-trust-app plugins lists them)`);
  }
}

function buildKindConfig(name: string, mesh: MeshGeneration): Record<string, unknown> {
  const entry = mesh.ingress?.entry;
  // A gateway on the nodes' own ports (Cilium's Envoy) is published on the host's loopback address only.
  const portMappings = entry && 'nodePort' in entry ? { extraPortMappings: [{ containerPort: entry.nodePort, hostPort: GATEWAY_LOCAL_PORT, listenAddress: '127.0.0.1', protocol: 'TCP' }] } : {};
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name,
    // The CNI (Calico, or the mesh's own) replaces kindnet, whose NetworkPolicy filtering fails open.
    networking: { disableDefaultCNI: true, podSubnet: '192.168.0.0/16', ...(mesh.kubeProxy === false && { kubeProxyMode: 'none' }) },
    nodes: [
      { role: 'control-plane', image: CORE_VERSIONS.kindNodeImage, ...portMappings },
      { role: 'worker', image: CORE_VERSIONS.kindNodeImage },
    ],
  };
}

function buildCalicoInstallation(): KubeObject[] {
  return [
    {
      apiVersion: 'operator.tigera.io/v1',
      kind: 'Installation',
      metadata: { name: 'default' },
      spec: {
        calicoNetwork: {
          ipPools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16', encapsulation: 'VXLANCrossSubnet', natOutgoing: 'Enabled', nodeSelector: 'all()' }],
        },
      },
    },
  ];
}

function buildGenerationRecord(plugin: MeshPlugin, options: Record<string, string>, files: string[]): Record<string, unknown> {
  return {
    generator: { name: GENERATOR_NAME, version: GENERATOR_VERSION },
    plugin: { id: plugin.id, version: plugin.version, apiVersion: plugin.apiVersion, options },
    meshVersions: plugin.meshVersions,
    coreVersions: { ...CORE_VERSIONS },
    regenerate: regenerateCommand(plugin.id, options),
    files,
  };
}

/** Gathers the values the templates render. */
function buildView(topology: Topology, plugin: MeshPlugin, options: Record<string, string>, mesh: MeshGeneration, header: string) {
  const outgoing = groupEdges(topology.edges, (edge) => edge.from);
  const services = topology.services.map((service) =>
    describeService(service, [
      ...(outgoing.get(service.name) ?? []).map((edge) => `${edge.to}:${edge.port.port}`),
      ...topology.externalEdges.filter((edge) => edge.from === service.name).map((edge) => `${edge.to.name}:${edge.to.port} (external)`),
    ]),
  );
  const secrets = collectSecrets(topology);
  const calico = mesh.cni === 'calico' ? { version: CORE_VERSIONS.calico, manifestBase: `https://raw.githubusercontent.com/projectcalico/calico/${CORE_VERSIONS.calico}/manifests` } : null;
  const coreTools = [
    { name: 'kind', version: CORE_VERSIONS.kind, versionCommand: 'kind version', install: `curl -fsSLo "$BIN_DIR/kind" "https://github.com/kubernetes-sigs/kind/releases/download/${CORE_VERSIONS.kind}/kind-$OS-$ARCH" && chmod +x "$BIN_DIR/kind"` },
    { name: 'kubectl', version: CORE_VERSIONS.kubectl, versionCommand: 'kubectl version --client', install: `curl -fsSLo "$BIN_DIR/kubectl" "https://dl.k8s.io/release/${CORE_VERSIONS.kubectl}/bin/$OS/$ARCH/kubectl" && chmod +x "$BIN_DIR/kubectl"` },
    { name: 'helm', version: CORE_VERSIONS.helm, versionCommand: 'helm version --short', install: `curl -fsSL "https://get.helm.sh/helm-${CORE_VERSIONS.helm}-$OS-$ARCH.tar.gz" | tar -xzf - -C "$BIN_DIR" --strip-components=1 "$OS-$ARCH/helm"` },
  ];
  const firstEdge = topology.edges[0];

  return {
    header,
    topology,
    clusterName: clusterName(topology, plugin),
    generatorVersion: GENERATOR_VERSION,
    plugin: { id: plugin.id, displayName: plugin.displayName, version: plugin.version },
    meshId: plugin.id,
    meshName: plugin.displayName,
    meshVersions: Object.entries(plugin.meshVersions).map(([name, version]) => ({ name, version })),
    versions: CORE_VERSIONS,
    calico,
    services,
    edges: topology.edges,
    targets: [
      ...topology.services.flatMap((service) =>
        service.ports.map((port) => ({ line: `${service.name} ${service.namespace} ${port.port} ${port.protocol} ${service.name}.${service.namespace}.svc.cluster.local` })),
      ),
      // An external dependency has no namespace, so its line has "-" in that column.
      ...topology.externals.map((external) => ({ line: `${external.name} - ${external.port} ${external.protocol} ${external.host}` })),
    ],
    externalEdges: topology.externalEdges,
    externals: topology.externals.map((external) => ({
      ...external,
      callers: topology.externalEdges.filter((edge) => edge.to.name === external.name).map((edge) => edge.from).join(', ') || '(nobody)',
      addressesText: external.addresses.length > 0 ? external.addresses.join(', ') : 'any public IPv4 address',
    })),
    exposures: topology.exposures,
    gateway: mesh.ingress ? buildGatewayView(topology, mesh.ingress) : null,
    egressSummary: mesh.egress?.summary.trim() ?? '',
    secrets,
    tools: [...coreTools, ...mesh.tools],
    pluginTools: mesh.tools,
    podSecurity: mesh.podSecurity,
    podSecurityReason: mesh.podSecurityReason ?? '',
    meshReadme: mesh.readme.trim(),
    readmeSummary: mesh.readmeSummary?.trim() ?? 'Each allowed connection between services is mutual TLS, so it is authenticated by workload identity and encrypted.',
    // A mesh with its own summary does not give mTLS on the application's path, so the README promises none.
    applicationMtls: mesh.readmeSummary === undefined,
    unmeshed: mesh.verify.unmeshedClient !== null,
    // A mesh that joins pods per service (NSM's annotation names the callees) gives the stranger nothing to join with.
    strangerOutsideMesh:
      mesh.verify.meshedClientFor !== undefined && Object.keys(mesh.verify.meshedClient.annotations).length + Object.keys(mesh.verify.meshedClient.labels).length === 0,
    unmeshedReason: mesh.verify.unmeshedReason ?? '',
    mermaid: buildMermaid(topology),
    exampleLine: firstEdge
      ? `${`${firstEdge.from} (meshed)`.padEnd(34)} ${`${firstEdge.to}:${firstEdge.port.port}`.padEnd(34)} ${'open'.padEnd(9)} ${'open'.padEnd(9)} ok`
      : `${'verify-stranger (stranger)'.padEnd(34)} ${'...'.padEnd(34)} ${'closed'.padEnd(9)} ${'closed'.padEnd(9)} ok`,
    regenerate: regenerateCommand(plugin.id, options),
  };
}

/** The live verification's view of the gateway: how to reach it, and which host names must and must not be routed. */
function buildGatewayView(topology: Topology, ingress: IngressGateway) {
  const requests: { line: string }[] = topology.exposures.map((exposure) => ({ line: `${exposure.hostname} open ${exposure.service}:${exposure.port.port} ${exposure.port.protocol}` }));
  for (const service of topology.services) {
    for (const port of service.ports) {
      if (service.exposedPorts.includes(port.port)) continue;
      // Neither the name the port would have if it were exposed, nor the service's cluster DNS name, may be routed.
      const wouldBe = hostnameOf(service, port, topology.name);
      requests.push({ line: `${wouldBe} closed ${service.name}:${port.port} http` });
      requests.push({ line: `${service.name}.${service.namespace}.svc.cluster.local closed ${service.name}:${port.port} http` });
    }
  }
  const entry = ingress.entry;
  const selector = ingress.pods ? Object.entries(ingress.pods.labels).map(([key, value]) => `${key}=${value}`).join(',') : '';
  return {
    hint: ingress.pods ? `kubectl -n ${ingress.pods.namespace} get pods -l ${selector}` : 'kubectl get gateways -A',
    localPort: GATEWAY_LOCAL_PORT,
    portForward: 'portForward' in entry ? { ...entry.portForward, target: `svc/${entry.portForward.service}` } : null,
    nodePort: 'nodePort' in entry ? entry.nodePort : null,
    requests: [...new Map(requests.map((request) => [request.line.split(' ')[0], request])).values()],
  };
}

function describeService(service: Service, calls: string[]) {
  const profile = runtimeProfileOf(service);
  const writable = [...profile.scratchPaths, ...(service.stateful && profile.dataPath ? [profile.dataPath] : [])];
  return {
    ...service,
    workloadKind: service.stateful ? 'statefulset' : 'deployment',
    portsText: service.ports.map((port) => `${port.port}/${port.protocol}`).join(', '),
    callsText: calls.join(', ') || '(nothing)',
    profile,
    writablePaths: writable.map((path) => `\`${path}\``).join(', '),
  };
}

function collectSecrets(topology: Topology): { name: string; namespaces: string[] }[] {
  const namespacesBySecret = new Map<string, Set<string>>();
  for (const service of topology.services) {
    for (const variable of service.env) {
      if (!('secret' in variable)) continue;
      const namespaces = namespacesBySecret.get(variable.secret) ?? new Set<string>();
      namespaces.add(service.namespace);
      namespacesBySecret.set(variable.secret, namespaces);
    }
  }
  return [...namespacesBySecret].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, namespaces]) => ({ name, namespaces: [...namespaces].sort() }));
}

/** Draws the topology as a Mermaid flowchart: one subgraph per namespace, one arrow per caller and callee. */
function buildMermaid(topology: Topology): string {
  const lines: string[] = [];
  for (const namespace of topology.namespaces) {
    lines.push(`  subgraph ns_${mermaidId(namespace)}["namespace ${namespace}"]`);
    for (const service of topology.services.filter((candidate) => candidate.namespace === namespace)) {
      lines.push(`    ${mermaidId(service.name)}["${service.name}"]`);
    }
    lines.push('  end');
  }
  const pairs = groupEdges(topology.edges, (edge) => `${edge.from}\0${edge.to}`);
  for (const edges of pairs.values()) {
    const ports = edges.map((edge) => `${edge.port.port}/${edge.port.protocol}`).join(', ');
    lines.push(`  ${mermaidId(edges[0]!.from)} -->|"${ports}"| ${mermaidId(edges[0]!.to)}`);
  }
  if (topology.exposures.length > 0) {
    lines.push('  gateway(["ingress gateway"])');
    for (const exposure of topology.exposures) lines.push(`  gateway -->|"${exposure.port.port}/${exposure.port.protocol}"| ${mermaidId(exposure.service)}`);
  }
  for (const external of topology.externals) lines.push(`  x_${mermaidId(external.name)}[("${external.host}:${external.port}")]`);
  for (const edge of topology.externalEdges) lines.push(`  ${mermaidId(edge.from)} -->|"${edge.to.protocol}"| x_${mermaidId(edge.to.name)}`);
  return lines.join('\n');
}

function mermaidId(name: string): string {
  return `s_${name.replace(/-/g, '_')}`;
}

