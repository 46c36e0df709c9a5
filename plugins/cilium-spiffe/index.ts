import { PLUGIN_API_VERSION, type GenerateContext, type MeshGeneration, type MeshPlugin } from '../../src/plugin/api.js';
import { groupEdges, indexServices } from '../../src/k8s/network-policy.js';
import { listClients } from '../../src/generate/clients.js';
import { evaluateCilium } from './evaluate.js';
import { buildGatewayResources } from './gateway.js';
import { buildCiliumPolicies } from './resources.js';
import { buildHelmValues, buildHelmValuesConfigMap } from './values.js';
import {
  CILIUM_CLI_VERSION,
  CILIUM_DEPRECATING_VERSION,
  CILIUM_HELM_REPOSITORY,
  CILIUM_VERSION,
  GATEWAY_API_CRDS_URL,
  GATEWAY_API_VERSION,
  GATEWAY_CLASS,
  GATEWAY_NAME,
  GATEWAY_NAMESPACE,
  GATEWAY_PORT,
  HELM_VALUES_CONFIG_MAP,
  HELM_VALUES_FILE,
  SPIRE_NAMESPACE,
  SPIRE_TRUST_DOMAIN,
} from './versions.js';
import installTemplate from './templates/install-mesh.sh.hbs';
import evidenceTemplate from './templates/mesh-evidence.sh.hbs';
import readmeTemplate from './templates/README.md.hbs';

const UNMESHED_REASON =
  'Cilium derives identity from labels, so a pod with a caller\'s labels in its namespace gets the caller\'s identity and SPIFFE ID; it cannot be outside the mesh. Pods without those labels get another identity, which no rule allows, and the "How Cilium enforces it" section explains the rest.';

// Cilium allows the union of all rules that select an endpoint, NetworkPolicies included, which it imports as
// rules of its own (Documentation/security/policy/intro.rst, "Rule Basics").
const EGRESS_SUMMARY =
  'A CiliumNetworkPolicy gives each declared caller a toFQDNs rule for the host on its port, and Cilium\'s DNS proxy allows only the addresses that caller looked up for that name. Cilium enforces the union of its policies and the Kubernetes NetworkPolicies, so the NetworkPolicy rule, which allows `addresses` (or every public IPv4 address without them) on that port, decides by address: the host name narrows nothing beyond it, and only undeclared callers are refused at both layers.';

function generateCilium(context: GenerateContext): MeshGeneration {
  const { topology, render } = context;
  const services = indexServices(topology);
  const verification = {
    meshedClient: { annotations: {}, labels: {} },
    unmeshedClient: null,
    // No proxy in the client: a completed TCP handshake is the server's acceptance.
    meshedClientsUseProxy: false,
    unmeshedReason: UNMESHED_REASON,
  };

  // The evidence checks the authentication the verification client of each caller made with the callee.
  const clientPods = new Map(listClients(topology, { ...verification, evidenceScript: '' }).filter((client) => client.kind === 'meshed').map((client) => [client.identity, client.pod]));
  const pairs = [...groupEdges(topology.edges, (edge) => `${edge.from}\0${edge.to}`).values()].map((edges) => {
    const caller = services.get(edges[0]!.from)!;
    const callee = services.get(edges[0]!.to)!;
    return { line: `${caller.namespace} ${caller.name} ${clientPods.get(caller.name)!} ${callee.namespace} ${callee.name}` };
  });
  const valuesPath = `manifests/mesh/${HELM_VALUES_FILE}`;
  const exposes = topology.exposures.length > 0;
  const gatewayResources = buildGatewayResources(topology);

  return {
    cni: 'plugin',
    namespaceLabels: {},
    podSecurity: 'restricted',
    // Cilium's L3/L4 policies need no protocol hint. The Gateway's Envoy speaks HTTP/2 without TLS (h2c) to
    // an exposed HTTP/2 or gRPC port only when the Service's appProtocol is kubernetes.io/h2c (GEP-1911,
    // gatewayAPI.enableAppProtocol).
    appProtocol: (port, service) => (service.exposedPorts.includes(port.port) && (port.protocol === 'http2' || port.protocol === 'grpc') ? 'kubernetes.io/h2c' : undefined),
    // Cilium's agents and SPIRE run in the host network or outside the application namespaces: nothing to open.
    networkPolicies: [],
    manifests: [
      { name: 'cilium-network-policies.yaml', documents: buildCiliumPolicies(topology) },
      { name: HELM_VALUES_FILE, documents: [buildHelmValuesConfigMap(buildHelmValues(exposes), { 'app.kubernetes.io/part-of': topology.name })] },
      ...(gatewayResources.length > 0 ? [{ name: 'gateway.yaml', documents: gatewayResources }] : []),
    ],
    // Envoy runs in the host network of every node, where NetworkPolicy cannot select it: the services'
    // CiliumNetworkPolicies admit its `ingress` identity instead. kind maps the host's 127.0.0.1 to the
    // listener port of the control-plane node.
    ...(exposes && { kubeProxy: false, ingress: { pods: null, entry: { nodePort: GATEWAY_PORT } } }),
    ...(topology.externals.length > 0 && { egress: { summary: EGRESS_SUMMARY } }),
    installScript: render(installTemplate, {
      version: CILIUM_VERSION,
      repository: CILIUM_HELM_REPOSITORY,
      spireNamespace: SPIRE_NAMESPACE,
      valuesFile: valuesPath,
      valuesNamespace: HELM_VALUES_CONFIG_MAP.namespace,
      valuesName: HELM_VALUES_CONFIG_MAP.name,
      valuesPath: `{.data.${HELM_VALUES_CONFIG_MAP.key.replace(/\./g, '\\.')}}`,
      gatewayApi: exposes ? { version: GATEWAY_API_VERSION, crds: GATEWAY_API_CRDS_URL, class: GATEWAY_CLASS } : null,
    }),
    tools: [
      {
        name: 'cilium',
        version: CILIUM_CLI_VERSION,
        versionCommand: 'cilium version --client',
        install: `curl -fsSL "https://github.com/cilium/cilium-cli/releases/download/${CILIUM_CLI_VERSION}/cilium-$OS-$ARCH.tar.gz" | tar -xzf - -C "$BIN_DIR" cilium`,
      },
    ],
    verify: { ...verification, evidenceScript: render(evidenceTemplate, { pairs, spireNamespace: SPIRE_NAMESPACE, trustDomain: SPIRE_TRUST_DOMAIN }) },
    readme: render(readmeTemplate, {
      version: CILIUM_VERSION,
      deprecatingVersion: CILIUM_DEPRECATING_VERSION,
      repository: CILIUM_HELM_REPOSITORY,
      spireNamespace: SPIRE_NAMESPACE,
      trustDomain: SPIRE_TRUST_DOMAIN,
      valuesFile: HELM_VALUES_FILE,
      gateway: exposes ? { namespace: GATEWAY_NAMESPACE, name: GATEWAY_NAME, port: GATEWAY_PORT, gatewayApiVersion: GATEWAY_API_VERSION } : null,
      externals: topology.externals.length > 0,
    }),
  };
}

/** The Cilium plugin: Cilium as CNI, CiliumNetworkPolicies that require SPIRE mutual authentication, WireGuard. */
export const ciliumSpiffePlugin: MeshPlugin = {
  apiVersion: PLUGIN_API_VERSION,
  id: 'cilium-spiffe',
  displayName: 'Cilium with SPIFFE',
  version: '0.1.0',
  description: 'Cilium as the CNI: CiliumNetworkPolicies per service with SPIRE mutual authentication, and WireGuard encryption',
  meshVersions: { cilium: CILIUM_VERSION, 'cilium-cli': CILIUM_CLI_VERSION },
  generate: generateCilium,
  evaluate: evaluateCilium,
};

export default ciliumSpiffePlugin;
