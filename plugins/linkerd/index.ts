import { PLUGIN_API_VERSION, type GenerateContext, type MeshGeneration, type MeshPlugin } from '../../src/plugin/api.js';
import { rejectProxyConflicts } from '../../src/k8s/proxy-reservations.js';
import { indexServices } from '../../src/k8s/network-policy.js';
import { buildEgress, buildGatewayAuthorizations, buildGatewayProxyPolicies, buildLinkerdGateway } from './edge.js';
import { evaluateLinkerd } from './evaluate.js';
import {
  INJECT_ANNOTATION,
  NAMESPACE_ANNOTATIONS,
  appProtocolOf,
  authorizationNameOf,
  buildAuthorizations,
  buildPlumbingPolicies,
  buildServers,
  serverNameOf,
} from './resources.js';
import {
  CNI_NAMESPACE,
  CONTROL_PLANE_NAMESPACE,
  DESTINATION_PORT,
  GATEWAY_API_VERSION,
  IDENTITY_PORT,
  LINKERD_CHART_VERSION,
  LINKERD_HELM_REPOSITORY,
  LINKERD_VERSION,
  POLICY_PORT,
  PROXY_PORTS,
  PROXY_RESERVATIONS,
  identityOf,
} from './versions.js';
import installTemplate from './templates/install-mesh.sh.hbs';
import evidenceTemplate from './templates/mesh-evidence.sh.hbs';
import readmeTemplate from './templates/README.md.hbs';

/** The README summary of egress enforcement: by host name per namespace in Linkerd, per caller only by NetworkPolicy. */
const EGRESS_SUMMARY =
  'Linkerd allows each external host by name (HTTP Host header, TLS SNI) or, for other TCP protocols, by port and address, ' +
  'but only per namespace: its EgressNetwork and routes cannot name a client workload. Which caller may connect is enforced ' +
  'only by NetworkPolicy, by address and port.';

/** The folder of the generated trust anchor and issuer, relative to the repository root. */
const CERTS_DIRECTORY = 'certs';

function generateLinkerd(context: GenerateContext): MeshGeneration {
  const { topology, render } = context;
  rejectProxyConflicts(topology, PROXY_RESERVATIONS);

  const services = indexServices(topology);
  const edges = topology.edges.map((edge) => {
    const caller = services.get(edge.from)!;
    const callee = services.get(edge.to)!;
    const workload = `${callee.stateful ? 'statefulset' : 'deployment'}/${callee.name}`;
    const fields = [callee.namespace, workload, serverNameOf(callee, edge.port), authorizationNameOf(callee, edge.port, caller), identityOf(caller.namespace, caller.name)];
    return { line: [...fields, `${caller.name}>${callee.name}:${edge.port.port}`].join(' ') };
  });
  const gateway = topology.exposures.length > 0 ? buildLinkerdGateway(topology) : undefined;
  const egress = buildEgress(topology);
  // TLSRoute and TCPRoute at v1alpha2 are served only by the experimental channel of Gateway API v1.5.1.
  const experimental = egress.some((object) => object.kind === 'TLSRoute' || object.kind === 'TCPRoute');
  const gatewayApiChannel = experimental ? 'experimental' : 'standard';
  const ports = { inboundPort: PROXY_PORTS.inbound, adminPort: PROXY_PORTS.admin, identityPort: IDENTITY_PORT, destinationPort: DESTINATION_PORT, policyPort: POLICY_PORT };

  return {
    cni: 'calico',
    namespaceLabels: {},
    namespaceAnnotations: { ...NAMESPACE_ANNOTATIONS },
    podSecurity: 'restricted',
    appProtocol: appProtocolOf,
    networkPolicies: [...buildPlumbingPolicies(topology), ...buildGatewayProxyPolicies(topology)],
    manifests: [
      { name: 'servers.yaml', documents: buildServers(topology) },
      { name: 'authorization.yaml', documents: [...buildAuthorizations(topology), ...buildGatewayAuthorizations(topology)] },
      ...(gateway ? [{ name: 'ingress-gateway.yaml', documents: gateway.objects }] : []),
      ...(egress.length > 0 ? [{ name: 'egress.yaml', documents: egress }] : []),
    ],
    installScript: render(installTemplate, {
      version: LINKERD_VERSION,
      chartVersion: LINKERD_CHART_VERSION,
      repository: LINKERD_HELM_REPOSITORY,
      gatewayApiUrl: `https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/${gatewayApiChannel}-install.yaml`,
      experimental,
      namespace: CONTROL_PLANE_NAMESPACE,
      cniNamespace: CNI_NAMESPACE,
      certsDirectory: CERTS_DIRECTORY,
    }),
    tools: [
      {
        name: 'linkerd',
        version: LINKERD_VERSION,
        versionCommand: 'linkerd version --client --short',
        // Release asset name from run.linkerd.io/public/install-edge (linkerd/website).
        // Linkerd names its Intel macOS binary "-darwin", without an architecture (bin/_os.sh at edge-26.8.3).
        install: `suffix=$OS-$ARCH; [ "$suffix" = darwin-amd64 ] && suffix=darwin; curl -fsSLo "$BIN_DIR/linkerd" "https://github.com/linkerd/linkerd2/releases/download/${LINKERD_VERSION}/linkerd2-cli-${LINKERD_VERSION}-$suffix" && chmod +x "$BIN_DIR/linkerd"`,
      },
    ],
    verify: {
      // The namespace annotation injects the meshed clients; this pod annotation keeps the unmeshed ones out.
      meshedClient: { annotations: {}, labels: {} },
      unmeshedClient: { annotations: { [INJECT_ANNOTATION]: 'disabled' }, labels: {} },
      evidenceScript: render(evidenceTemplate, { namespaces: topology.namespaces, edges }),
    },
    readme: render(readmeTemplate, {
      version: LINKERD_VERSION,
      chartVersion: LINKERD_CHART_VERSION,
      certsDirectory: CERTS_DIRECTORY,
      ...ports,
      exposures: topology.exposures.length > 0,
      externals: topology.externals.length > 0,
      experimental,
    }),
    ...(gateway && { ingress: { pods: gateway.pods, entry: gateway.entry } }),
    ...(topology.externals.length > 0 && { egress: { summary: EGRESS_SUMMARY } }),
    gitignore: [`${CERTS_DIRECTORY}/`],
  };
}

/** The Linkerd plugin: edge channel with the Linkerd CNI, a default-deny inbound policy, and one Server per port. */
export const linkerdPlugin: MeshPlugin = {
  apiVersion: PLUGIN_API_VERSION,
  id: 'linkerd',
  displayName: 'Linkerd',
  version: '0.1.0',
  description: 'Linkerd (edge) with the Linkerd CNI: mTLS between proxies, a Server per port and an AuthorizationPolicy per edge',
  meshVersions: { linkerd: LINKERD_VERSION, 'linkerd-charts': LINKERD_CHART_VERSION, 'gateway-api': GATEWAY_API_VERSION },
  generate: generateLinkerd,
  evaluate: evaluateLinkerd,
};

export default linkerdPlugin;
