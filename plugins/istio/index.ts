import { PLUGIN_API_VERSION, type MeshPlugin, type MeshGeneration, type GenerateContext } from '../../src/plugin/api.js';
import type { ServicePort } from '../../src/topology/types.js';
import { groupEdges, indexServices } from '../../src/k8s/network-policy.js';
import { rejectProxyConflicts } from '../../src/k8s/proxy-reservations.js';
import { evaluateIstio } from './evaluate.js';
import { buildAuthorizationPolicies, buildPeerAuthentications, buildPlumbingPolicies } from './resources.js';
import { buildGatewayAuthorizationPolicies, buildIngressManifests, INGRESS } from './ingress.js';
import { buildEgressManifests, EGRESS } from './egress.js';
import {
  GATEWAY_API_CRDS_URL,
  GATEWAY_API_VERSION,
  INGRESS_DEPLOYMENT_NAME,
  INGRESS_GATEWAY_NAME,
  INGRESS_LISTENER_PORT,
  INGRESS_NAMESPACE,
  ISTIO_HELM_REPOSITORY,
  ISTIO_VERSION,
  ISTIOD_XDS_PORT,
  TRUST_DOMAIN,
  PROXY_RESERVATIONS,
} from './versions.js';
import installTemplate from './templates/install-mesh.sh.hbs';
import evidenceTemplate from './templates/mesh-evidence.sh.hbs';
import readmeTemplate from './templates/README.md.hbs';

/** Istio's protocol for a port: HTTP variants by name, everything else plain TCP so detection never stalls. */
function appProtocolOf(port: ServicePort): string {
  switch (port.protocol) {
    case 'http':
      return 'http';
    case 'http2':
      return 'http2';
    case 'grpc':
      return 'grpc';
    default:
      return 'tcp';
  }
}

function generateIstio(context: GenerateContext): MeshGeneration {
  const { topology, render } = context;
  rejectProxyConflicts(topology, PROXY_RESERVATIONS);
  const services = indexServices(topology);
  const pairs = [...groupEdges(topology.edges, (edge) => `${edge.from}\0${edge.to}`).values()].map((edges) => {
    const caller = services.get(edges[0]!.from)!;
    const callee = services.get(edges[0]!.to)!;
    return { line: `${caller.namespace} ${caller.name} ${callee.namespace} ${callee.name}` };
  });
  // The gateway's hop to each exposed service is an edge too: its ServiceAccount is the caller.
  const exposed = [...new Set(topology.exposures.map((exposure) => `${exposure.namespace} ${exposure.service}`))];
  pairs.push(...exposed.map((callee) => ({ line: `${INGRESS_NAMESPACE} ${INGRESS_DEPLOYMENT_NAME} ${callee}` })));
  const ingressManifests = buildIngressManifests(topology);
  const egressManifests = buildEgressManifests(topology);
  const gateway = ingressManifests.length > 0 ? { namespace: INGRESS_NAMESPACE, name: INGRESS_GATEWAY_NAME, deployment: INGRESS_DEPLOYMENT_NAME, port: INGRESS_LISTENER_PORT } : undefined;

  return {
    cni: 'calico',
    namespaceLabels: { 'istio-injection': 'enabled' },
    podSecurity: 'restricted',
    appProtocol: appProtocolOf,
    networkPolicies: buildPlumbingPolicies(topology),
    manifests: [
      { name: 'peer-authentication.yaml', documents: buildPeerAuthentications(topology) },
      { name: 'authorization.yaml', documents: [...buildAuthorizationPolicies(topology), ...buildGatewayAuthorizationPolicies(topology)] },
      ...(ingressManifests.length > 0 ? [{ name: 'ingress-gateway.yaml', documents: ingressManifests }] : []),
      ...(egressManifests.length > 0 ? [{ name: 'egress.yaml', documents: egressManifests }] : []),
    ],
    installScript: render(installTemplate, {
      version: ISTIO_VERSION,
      repository: ISTIO_HELM_REPOSITORY,
      gatewayApi: gateway && { version: GATEWAY_API_VERSION, url: GATEWAY_API_CRDS_URL },
    }),
    tools: [
      {
        name: 'istioctl',
        version: ISTIO_VERSION,
        versionCommand: 'istioctl version --remote=false',
        // Istio names its macOS archives "osx" rather than "darwin".
        install: `os=$OS; [ "$os" = darwin ] && os=osx; curl -fsSL "https://github.com/istio/istio/releases/download/${ISTIO_VERSION}/istio-${ISTIO_VERSION}-$os-$ARCH.tar.gz" | tar -xzf - -C "$BIN_DIR" --strip-components=2 "istio-${ISTIO_VERSION}/bin/istioctl"`,
      },
    ],
    verify: {
      meshedClient: { annotations: {}, labels: {} },
      unmeshedClient: { annotations: {}, labels: { 'sidecar.istio.io/inject': 'false' } },
      evidenceScript: render(evidenceTemplate, { pairs, trustDomain: TRUST_DOMAIN }),
    },
    readme: render(readmeTemplate, { version: ISTIO_VERSION, xdsPort: ISTIOD_XDS_PORT, gateway, externals: topology.externals.length > 0 }),
    ...(topology.exposures.length > 0 && { ingress: INGRESS }),
    ...(topology.externals.length > 0 && { egress: EGRESS }),
  };
}

/**
 * The Istio plugin: sidecar mode with the Istio CNI, STRICT mTLS, one ALLOW policy per edge, a Gateway API
 * ingress gateway, and ServiceEntries with Sidecars for external dependencies.
 */
export const istioPlugin: MeshPlugin = {
  apiVersion: PLUGIN_API_VERSION,
  id: 'istio',
  displayName: 'Istio',
  version: '0.1.0',
  description: 'Istio sidecar mode with the Istio CNI: STRICT mTLS and one AuthorizationPolicy per edge',
  meshVersions: { istio: ISTIO_VERSION },
  generate: generateIstio,
  evaluate: evaluateIstio,
};

export default istioPlugin;
