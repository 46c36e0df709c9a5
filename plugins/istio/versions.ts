/**
 * Istio 1.30.5, the newest 1.30 patch on https://istio.io/latest/news/releases/1.30.x/ (checked December 2026).
 * The Helm charts base, cni and istiod come from the same release.
 */
export const ISTIO_VERSION = '1.30.5';
export const ISTIO_HELM_REPOSITORY = 'https://istio-release.storage.googleapis.com/charts';

/** istiod's port for xDS and certificate signing over TLS (manifests/charts/istio-control/istio-discovery at 1.30.3). */
export const ISTIOD_XDS_PORT = 15012;

/** The trust domain Istio uses unless the mesh config sets another. */
export const TRUST_DOMAIN = 'cluster.local';

/** Istio's root namespace: policies there apply to the whole mesh. */
export const ROOT_NAMESPACE = 'istio-system';

/**
 * Gateway API v1.5.1, standard channel: Istio 1.30.3 is built against sigs.k8s.io/gateway-api v1.5.1 (its go.mod),
 * and v1.5.1 is the newest 1.5 patch (kubernetes-sigs/gateway-api tags).
 */
export const GATEWAY_API_VERSION = 'v1.5.1';
export const GATEWAY_API_CRDS_URL = `https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml`;

/** The namespace of the ingress gateway; topologies cannot use it, because the core reserves it. */
export const INGRESS_NAMESPACE = 'istio-ingress';

/** The name of the Gateway object. */
export const INGRESS_GATEWAY_NAME = 'ingress';

/** The GatewayClass that istiod creates and serves with its own Envoy deployment. */
export const GATEWAY_CLASS = 'istio';

/**
 * The name istiod gives the Deployment, Service and ServiceAccount of a Gateway it deploys: `<gateway>-<class>`
 * (GetDefaultName in pilot/pkg/config/kube/gatewaycommon/gateway_utils.go, Istio 1.30.3).
 */
export const INGRESS_DEPLOYMENT_NAME = `${INGRESS_GATEWAY_NAME}-${GATEWAY_CLASS}`;

/**
 * The label istiod puts on the gateway's pods and uses as its Service selector
 * (manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml, Istio 1.30.3).
 */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** The port of the gateway's one HTTP listener; istiod gives the gateway's Service the same port. */
export const INGRESS_LISTENER_PORT = 80;

/** The DNS suffix of every Kubernetes Service, kind's default cluster domain. */
export const SERVICE_DOMAIN_SUFFIX = 'svc.cluster.local';

/**
 * The sidecar's ports in the application's pod and its user and group ID, whose connections istio-iptables does
 * not redirect (istio.io "Application Requirements": UID 1337 and "Ports used by Istio").
 */
export const PROXY_RESERVATIONS = {
  proxy: 'Istio proxy',
  ports: [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090],
  uid: 1337,
  gid: 1337,
} as const;
