import { PLUGIN_API_VERSION, type GenerateContext, type MeshGeneration, type MeshPlugin } from '../../src/plugin/api.js';
import { STRANGER, strangerNamespace } from '../../src/generate/clients.js';
import { NON_PUBLIC_IPV4 } from '../../src/k8s/network-policy.js';
import { CORE_VERSIONS } from '../../src/versions.js';
import { EDGE_GATEWAY_NAMESPACE } from '../../src/k8s/edge-gateway.js';
import { evaluateNsm } from './evaluate.js';
import { buildGateway } from './gateway.js';
import {
  applyToPodTemplate,
  applyToService,
  buildCallerPolicies,
  buildNetworkServices,
  buildSpiffeIds,
  clientAnnotationOf,
  interfaceVariableOf,
  planNetworkServices,
} from './resources.js';
import {
  APP_PATH_OPTION,
  APP_PATHS,
  CLIENT_ANNOTATION,
  DEPLOYMENTS_RAW,
  DEPLOYMENTS_REPOSITORY,
  NSM_NAMESPACE,
  NSM_VERSION,
  SPIFFE_LABEL,
  TRUST_DOMAIN,
  type AppPath,
} from './versions.js';
import installTemplate from './templates/install-mesh.sh.hbs';
import evidenceTemplate from './templates/mesh-evidence.sh.hbs';
import readmeTemplate from './templates/README.md.hbs';

/** Returns the verification client pod of a service, named as src/generate/clients.ts names it. */
function clientPodOf(service: string): string {
  return `verify-${service}`.slice(0, 63).replace(/-+$/, '');
}

function generateNsm(context: GenerateContext): MeshGeneration {
  const { topology, render } = context;
  const plan = planNetworkServices(topology, appPathOf(context.options));
  const callees = [...plan.callees.values()];
  const gateway = buildGateway(topology);

  const networkServices = callees.map((callee) => ({ line: `${callee.networkService} ${callee.service.namespace} ${callee.service.name}` }));
  const edges = [...plan.calleesOf].flatMap(([caller, targets]) => {
    const namespace = topology.services.find((service) => service.name === caller)!.namespace;
    return targets.map((callee) => ({
      line: `${clientPodOf(caller)} ${namespace} ${callee.service.name} ${callee.service.namespace} ${callee.interfaceName} ${callee.service.ports.map((port) => `${port.targetPort}/${port.protocol}`).join(',')}`,
    }));
  });

  return {
    cni: 'calico',
    namespaceLabels: {},
    podSecurity: 'restricted',
    podTemplate: (service, template) => applyToPodTemplate(plan, service, template),
    service: (service, object) => applyToService(plan, service, object),
    // NSM carries IP packets; it never reads the application protocol.
    appProtocol: () => undefined,
    networkPolicies: [],
    manifests: [
      { name: 'network-services.yaml', documents: buildNetworkServices(topology, plan) },
      { name: 'spiffe-ids.yaml', documents: buildSpiffeIds(topology) },
      { name: 'caller-policies.yaml', documents: buildCallerPolicies(topology, plan) },
      ...(gateway ? [{ name: 'ingress-gateway.yaml', documents: gateway.objects }] : []),
    ],
    installScript: render(installTemplate, { version: NSM_VERSION, repository: DEPLOYMENTS_REPOSITORY, raw: DEPLOYMENTS_RAW, nsmNamespace: NSM_NAMESPACE }),
    tools: [],
    verify: {
      meshedClient: { annotations: {}, labels: {} },
      meshedClientFor: (service): { annotations: Record<string, string>; labels: Record<string, string> } => {
        const targets = plan.calleesOf.get(service.name) ?? [];
        if (targets.length === 0) return { annotations: {}, labels: {} };
        return { annotations: { [CLIENT_ANNOTATION]: clientAnnotationOf(targets) }, labels: { [SPIFFE_LABEL]: 'true' } };
      },
      unmeshedClient: null,
      // No proxy in the client: a completed TCP handshake is the server's acceptance.
      meshedClientsUseProxy: false,
      unmeshedReason:
        'NSM adds no proxy on the cluster network: a pod with a caller\'s labels and no NSM annotation reaches the callee\'s Service there as NetworkPolicy allows. verify/mesh-evidence.sh shows that a pod without the annotation has no NSM interface and cannot reach the callee over NSM.',
      evidenceScript: render(evidenceTemplate, {
        networkServices,
        edges,
        appOverNsm: plan.appOverNsm,
        strangerPod: STRANGER,
        strangerNamespace: strangerNamespace(topology),
        impostorPod: `${STRANGER}-nsm`,
        probeImage: CORE_VERSIONS.probeImage,
      }),
    },
    readmeSummary: plan.appOverNsm
      ? 'Each declared caller reaches its callee over a layer 3 link of its own: Network Service Mesh authenticates both ends by SPIFFE ID, admits only the declared callers, and encrypts the link with WireGuard between nodes (not between two pods on one node). The traffic is not mutual TLS between the applications. NetworkPolicy limits the cluster network to the declared callers, by label and port: see "How Network Service Mesh enforces it" below.'
      : 'NetworkPolicy limits each connection to the declared callers, by label and port. Network Service Mesh adds, per edge, an authenticated (SPIFFE) and encrypted (WireGuard between nodes) layer 3 link, but the application still connects over the cluster network, where its traffic is neither mutual TLS nor encrypted: see "How Network Service Mesh enforces it" below.',
    ...(gateway && { ingress: { pods: gateway.pods, entry: gateway.entry } }),
    ...(topology.externals.length > 0 && { egress: { summary: EGRESS_SUMMARY } }),
    readme: render(readmeTemplate, {
      version: NSM_VERSION,
      appOverNsm: plan.appOverNsm,
      appPathOption: APP_PATH_OPTION,
      calledServices: callees.map((callee) => `\`${callee.service.namespace}/${callee.service.name}\``),
      trustDomain: TRUST_DOMAIN,
      podSecurity: 'restricted',
      interfaces: callees.map((callee) => `\`${interfaceVariableOf(callee)}=${callee.interfaceName}\``),
      calicoVersion: CORE_VERSIONS.calico,
      gatewayNamespace: EDGE_GATEWAY_NAMESPACE,
      exposures: topology.exposures.map((exposure) => ({ hostname: exposure.hostname, service: exposure.service, namespace: exposure.namespace, port: exposure.port.port })),
      nonPublic: NON_PUBLIC_IPV4,
      externals: topology.externals.map((external) => ({
        ...external,
        callers: topology.externalEdges.filter((edge) => edge.to.name === external.name).map((edge) => edge.from),
      })),
    }),
  };
}

/** Returns the app path chosen with {@link APP_PATH_OPTION}; the core has checked the value against the choices. */
function appPathOf(options: Record<string, string>): AppPath {
  return (options[APP_PATH_OPTION] as AppPath | undefined) ?? 'nsm';
}

/**
 * The README summary of egress to external dependencies. Calico open source v3.32 has no rule by domain name (its
 * EntityRule and NetworkSet take CIDRs only: tigera/docs calico_versioned_docs/version-3.32/reference/resources),
 * and NSM v1.18.0 has no egress resource, so the core's address rules are all there is.
 */
const EGRESS_SUMMARY =
  'Nothing is enforced by host name: neither Network Service Mesh nor Calico open source can name a host in a rule. ' +
  "NetworkPolicy lets only each external dependency's declared callers open TCP connections to its port, at its `addresses`, or at any public address when the topology lists none.";

/** The NSM plugin: one network service per called service, an endpoint beside each callee, callers by annotation. */
export const nsmPlugin: MeshPlugin = {
  apiVersion: PLUGIN_API_VERSION,
  id: 'nsm',
  displayName: 'Network Service Mesh',
  // 0.2.0 routes the app's traffic over NSM by default (the nsm-app-path option).
  version: '0.2.0',
  description: 'Network Service Mesh with SPIRE: a network service per callee, callers by annotation, SPIFFE caller policies and WireGuard',
  meshVersions: { nsm: NSM_VERSION, 'deployments-k8s': NSM_VERSION },
  options: [
    {
      name: APP_PATH_OPTION,
      description:
        "the application's path to its callees: nsm (each called Service is headless and each caller routes the callee pod's address over its NSM interface; a called service needs one replica and ports equal to its container ports) or cluster-network (the Service's cluster address, outside NSM, limited by NetworkPolicy only)",
      choices: [...APP_PATHS],
      default: 'nsm',
    },
  ],
  generate: generateNsm,
  evaluate: evaluateNsm,
};

export default nsmPlugin;
