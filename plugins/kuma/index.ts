import { PLUGIN_API_VERSION, type GenerateContext, type MeshGeneration, type MeshPlugin } from '../../src/plugin/api.js';
import type { ServicePort } from '../../src/topology/types.js';
import { indexServices } from '../../src/k8s/network-policy.js';
import { rejectProxyConflicts } from '../../src/k8s/proxy-reservations.js';
import { evaluateKuma } from './evaluate.js';
import { EGRESS_SUMMARY, buildGatewayObjects, buildGatewayPermissions, buildPassthroughs } from './edge.js';
import { addTokenVolume, buildIdentityResources, buildMesh, buildPlumbingPolicies, buildTokenVolume, buildTrafficPermissions } from './resources.js';
import {
  ADMISSION_SERVER_PORT,
  API_SERVER_PORT,
  DP_SERVER_PORT,
  GATEWAY_LISTENER_PORT,
  GATEWAY_NAME,
  GATEWAY_NAMESPACE,
  GATEWAY_POD_LABELS,
  IDENTITY_MODES,
  IDENTITY_OPTION,
  KUMA_HELM_REPOSITORY,
  KUMA_VERSION,
  PROBE_PROXY_PORT,
  SYSTEM_NAMESPACE,
  spiffeIdOf,
  type IdentityMode,
  PROXY_RESERVATIONS,
} from './versions.js';
import installTemplate from './templates/install-mesh.sh.hbs';
import evidenceTemplate from './templates/mesh-evidence.sh.hbs';
import readmeTemplate from './templates/README.md.hbs';

/**
 * Kuma's protocol for a port. Kuma reads a Service port's `appProtocol` only when it names one of its own
 * protocols, such as `tcp`, `http`, `http2` or `grpc` (`pkg/core/metadata/protocol.go`, v2.14.3). Databases are plain TCP.
 */
function appProtocolOf(port: ServicePort): string {
  switch (port.protocol) {
    case 'http':
    case 'http2':
    case 'grpc':
      return port.protocol;
    default:
      return 'tcp';
  }
}

function identityModeOf(options: Record<string, string>): IdentityMode {
  const value = options[IDENTITY_OPTION] ?? 'mesh-mtls';
  if (!(IDENTITY_MODES as readonly string[]).includes(value)) {
    throw new Error(`invalid --${IDENTITY_OPTION} "${value}": use ${IDENTITY_MODES.join(' or ')}`);
  }
  return value as IdentityMode;
}

function generateKuma(context: GenerateContext): MeshGeneration {
  const { topology, render } = context;
  rejectProxyConflicts(topology, PROXY_RESERVATIONS);
  const mode = identityModeOf(context.options);
  // One Mesh per topology, named after it, so that two generated apps in one cluster never share policies.
  const mesh = topology.name;
  const services = indexServices(topology);
  const edges = topology.edges.map((edge) => {
    const caller = services.get(edge.from)!;
    const callee = services.get(edge.to)!;
    return { line: `${caller.namespace} ${caller.name} ${callee.namespace} ${callee.name} ${edge.port.targetPort}` };
  });

  return {
    cni: 'calico',
    namespaceLabels: { 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': mesh },
    podSecurity: 'restricted',
    podTemplate: (_service, template) => addTokenVolume(template),
    appProtocol: appProtocolOf,
    networkPolicies: buildPlumbingPolicies(topology),
    manifests: [
      { name: 'mesh.yaml', documents: [buildMesh(mesh, mode), ...(mode === 'meshidentity' ? buildIdentityResources(mesh) : [])] },
      { name: 'traffic-permissions.yaml', documents: [...buildTrafficPermissions(topology, mesh, mode), ...buildGatewayPermissions(topology, mesh, mode)] },
      ...(topology.exposures.length > 0 ? [{ name: 'ingress-gateway.yaml', documents: buildGatewayObjects(topology, mesh, mode) }] : []),
      ...(topology.externalEdges.length > 0 ? [{ name: 'external-passthrough.yaml', documents: buildPassthroughs(topology, mesh) }] : []),
    ],
    ...(topology.exposures.length > 0 && {
      ingress: {
        pods: { namespace: GATEWAY_NAMESPACE, labels: { ...GATEWAY_POD_LABELS } },
        // Kuma names the gateway's Service after the MeshGatewayInstance, with one port per listener.
        entry: { portForward: { namespace: GATEWAY_NAMESPACE, service: GATEWAY_NAME, port: GATEWAY_LISTENER_PORT } },
      },
    }),
    ...(topology.externals.length > 0 && { egress: { summary: EGRESS_SUMMARY } }),
    installScript: render(installTemplate, { version: KUMA_VERSION, repository: KUMA_HELM_REPOSITORY, namespace: SYSTEM_NAMESPACE }),
    tools: [
      {
        name: 'kumactl',
        version: KUMA_VERSION,
        versionCommand: 'kumactl version 2>/dev/null | head -n 1',
        // URL layout from Kuma's installer.sh for 2.2 and later; the archive contains kuma-<version>/bin/kumactl.
        install: `curl -fsSL "https://packages.konghq.com/public/kuma-binaries-release/raw/names/kuma-$OS-$ARCH/versions/${KUMA_VERSION}/kuma-${KUMA_VERSION}-$OS-$ARCH.tar.gz" | tar -xzf - -C "$BIN_DIR" --strip-components=2 "kuma-${KUMA_VERSION}/bin/kumactl"`,
      },
    ],
    verify: {
      meshedClient: { annotations: { 'kuma.io/service-account-token-volume': buildTokenVolume().name as string }, labels: {}, volumes: [buildTokenVolume()] },
      unmeshedClient: { annotations: {}, labels: { 'kuma.io/sidecar-injection': 'disabled' } },
      evidenceScript: render(evidenceTemplate, { mesh, edges, namespace: SYSTEM_NAMESPACE, apiPort: API_SERVER_PORT }),
    },
    readme: render(readmeTemplate, {
      version: KUMA_VERSION,
      mesh,
      identity: mode === 'meshidentity',
      exampleSpiffeId: spiffeIdOf(mesh, topology.namespace, 'SERVICE'),
      edgeCount: topology.edges.length,
      dpServerPort: DP_SERVER_PORT,
      admissionPort: ADMISSION_SERVER_PORT,
      probePort: PROBE_PROXY_PORT,
      apiPort: API_SERVER_PORT,
      exposed: topology.exposures.length > 0,
      external: topology.externals.length > 0,
      gatewayNamespace: GATEWAY_NAMESPACE,
      gatewayName: GATEWAY_NAME,
      gatewayPort: GATEWAY_LISTENER_PORT,
    }),
  };
}

/** The Kuma plugin: sidecars set up by the Kuma CNI, STRICT mTLS from a builtin CA, one MeshTrafficPermission per edge. */
export const kumaPlugin: MeshPlugin = {
  apiVersion: PLUGIN_API_VERSION,
  id: 'kuma',
  displayName: 'Kuma',
  version: '0.1.0',
  description: 'Kuma sidecars with the Kuma CNI: STRICT mTLS and one MeshTrafficPermission per edge and port',
  meshVersions: { kuma: KUMA_VERSION },
  options: [
    {
      name: IDENTITY_OPTION,
      description:
        'where workload certificates come from: mesh-mtls (the Mesh builtin CA, permissions by caller labels) or meshidentity (experimental MeshIdentity, permissions by SPIFFE ID, the form Kuma 3.0 keeps)',
      choices: [...IDENTITY_MODES],
      default: 'mesh-mtls',
    },
  ],
  generate: generateKuma,
  evaluate: evaluateKuma,
};

export default kumaPlugin;
