/**
 * Kuma 2.14.3, the newest 2.14 patch: kumahq/kuma `versions.yml` marks it `latest` (tag v2.14.3, 2026-08-07).
 * The Helm chart `kuma/kuma` is published with the same version as Kuma itself.
 */
export const KUMA_VERSION = '2.14.3';
export const KUMA_HELM_REPOSITORY = 'https://kumahq.github.io/charts';

/** The namespace and Helm release of the control plane; its pods carry `app: kuma-control-plane` (chart `_helpers.tpl`, kuma.cpLabels). */
export const SYSTEM_NAMESPACE = 'kuma-system';
export const CONTROL_PLANE_LABELS = { app: 'kuma-control-plane' } as const;

/** The control plane's dp-server port: data plane bootstrap, xDS and certificates (chart `cp-service.yaml`, port `dp-server`, v2.14.3). */
export const DP_SERVER_PORT = 5678;

/**
 * The sidecar's Envoy admin port. The control plane connects to it for `kumactl inspect dataplane --type=stats`,
 * which the evidence script uses (kuma-cp.defaults.yaml `adminPort: 9901`, pkg/envoy/admin/client.go, v2.14.3).
 */
export const ENVOY_ADMIN_PORT = 9901;
/** The control plane's HTTP API, which kumactl reads through a port-forward (chart `cp-service.yaml`, port `http-api-server`). */
export const API_SERVER_PORT = 5681;
/** The admission webhook's container port (chart value `controlPlane.admissionServerPort`, v2.14.3). */
export const ADMISSION_SERVER_PORT = 5443;
/** The sidecar's application probe proxy, which serves kubelet probes in plaintext (`pkg/config/plugins/runtime/k8s/config.go`, v2.14.3). */
export const PROBE_PROXY_PORT = 9001;

/** The name of the builtin certificate authority backend of the Mesh. */
export const BUILTIN_BACKEND = 'ca-1';

/** The volume with a projected ServiceAccount token that the sidecar uses to authenticate to the control plane. */
export const TOKEN_VOLUME = 'kuma-sidecar-token';

/** The plugin option that picks how workloads get their mTLS identity. */
export const IDENTITY_OPTION = 'kuma-identity';
export type IdentityMode = 'mesh-mtls' | 'meshidentity';
export const IDENTITY_MODES: readonly IdentityMode[] = ['mesh-mtls', 'meshidentity'];

/** Returns the SPIFFE trust domain of a mesh in `meshidentity` mode, set explicitly so that permissions can name exact IDs. */
export function trustDomainOf(mesh: string): string {
  return `${mesh}.mesh.local`;
}

/**
 * Returns the SPIFFE ID a MeshIdentity gives a pod: Kuma's default Kubernetes path `/ns/<namespace>/sa/<service account>`
 * (`pkg/core/resources/apis/meshidentity/api/v1alpha1/helpers.go`, v2.14.3).
 */
export function spiffeIdOf(mesh: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomainOf(mesh)}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * The namespace of the builtin gateway; the topology validation reserves it. Kuma reads the mesh of a
 * MeshGatewayInstance from its `kuma.io/mesh` label, else from its namespace's (gateway_instance_controller.go, v2.14.3).
 */
export const GATEWAY_NAMESPACE = 'ingress-gateway';
/** The MeshGatewayInstance, and so the Deployment and Service Kuma creates for it, named after it (v2.14.3). */
export const GATEWAY_NAME = 'edge-gateway';
/** The gateway's own ServiceAccount, set through `spec.podTemplate.spec.serviceAccountName`. */
export const GATEWAY_SERVICE_ACCOUNT = 'edge-gateway';
/**
 * The HTTP listener port of the MeshGateway. Kuma names the Service port after the listener port and targets the
 * same port on the pods (createOrUpdateService in gateway_instance_controller.go, v2.14.3).
 */
export const GATEWAY_LISTENER_PORT = 8080;
/** Labels this plugin adds to the gateway pods through `spec.podTemplate.metadata.labels`, for NetworkPolicy. */
export const GATEWAY_POD_LABELS = { 'app.kubernetes.io/name': GATEWAY_NAME, 'app.kubernetes.io/component': 'gateway' } as const;

/**
 * Returns the `kuma.io/service` tag Kuma gives a MeshGatewayInstance's data planes: `<name>_<namespace>_svc`. Kuma
 * rejects a user-set value since 2.9 (UPGRADE.md, v2.14.3). The gateway's certificate carries this tag and no pod labels,
 * because a builtin gateway's Dataplane has gateway tags only (Dataplane.TagSet, api/mesh/v1alpha1/dataplane_helpers.go).
 */
export function gatewayServiceTag(name: string, namespace: string): string {
  return `${name}_${namespace}_svc`;
}

/** Returns the `kuma.io/service` value of a Service port while MeshServices are off: `<service>_<namespace>_svc_<port>`. */
export function kumaServiceOf(service: string, namespace: string, port: number): string {
  return `${service}_${namespace}_svc_${port}`;
}

/**
 * The sidecar's ports in the application's pod (inbound and outbound redirection, DNS, Envoy admin and the probe
 * proxy) and its user ID, whose connections the transparent proxy does not redirect (`kumaDPUser: "5678"` in the
 * transparent proxy's default configuration, v2.14.3).
 */
export const PROXY_RESERVATIONS = {
  proxy: 'Kuma data plane proxy',
  ports: [15001, 15006, 15053, ENVOY_ADMIN_PORT, PROBE_PROXY_PORT],
  uid: 5678,
} as const;
