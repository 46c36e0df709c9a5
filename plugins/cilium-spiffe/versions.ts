/**
 * Cilium 1.19.6, the newest 1.19 patch found (July 2026). SPIRE mutual authentication, a beta feature, works
 * in 1.19 without a deprecation. Cilium 1.20 deprecates it and plans its removal, most likely in 1.21
 * (https://github.com/cilium/cilium/issues/47132, July 2026), so the pin stays on 1.19.
 * NOTE: whether Cilium 1.19 is e2e-tested on Kubernetes 1.36, the kind node's version, was not confirmed.
 */
export const CILIUM_VERSION = '1.19.6';

/** The newest minor line that still ships SPIRE mutual authentication, deprecated there. */
export const CILIUM_DEPRECATING_VERSION = '1.20';

/** Cilium's Helm repository, which serves the `cilium/cilium` chart. */
export const CILIUM_HELM_REPOSITORY = 'https://helm.cilium.io/';

/** cilium-cli v0.19.7, the newest tag and the content of stable.txt in cilium/cilium-cli (August 2026). */
export const CILIUM_CLI_VERSION = 'v0.19.7';

/** The namespace of the chart's bundled SPIRE server and agents (mutual-authentication-example.rst). */
export const SPIRE_NAMESPACE = 'cilium-spire';

/**
 * The chart's default SPIRE trust domain: workloads get `spiffe://spiffe.cilium/identity/<Cilium identity>`
 * (cilium/cilium Documentation/network/servicemesh/mutual-authentication/mutual-authentication-example.rst).
 */
export const SPIRE_TRUST_DOMAIN = 'spiffe.cilium';

/** The ConfigMap that contains the Helm values: the install script passes them to Helm, and `verify` reads them. */
export const HELM_VALUES_CONFIG_MAP = { name: 'cilium-helm-values', namespace: 'kube-system', key: 'values.yaml' } as const;

/** The manifest file of that ConfigMap, under manifests/mesh/. */
export const HELM_VALUES_FILE = 'cilium-helm-values.yaml';

/**
 * Gateway API v1.4.1, standard channel: the CRDs Cilium's Gateway API controller needs (GatewayClass, Gateway,
 * HTTPRoute, GRPCRoute at v1, ReferenceGrant at v1beta1). Not v1.5: its standard channel ships the TLSRoute CRD
 * with v1alpha2 present but not served, and the Cilium 1.19 operator then fails to start its Gateway API
 * controller with "no matches for kind TLSRoute in version v1alpha2". Users reported it for 1.19.1 to 1.19.3
 * in the cilium and kubespray issue trackers, fixed in Cilium 1.20 only. Without any TLSRoute CRD, as in v1.4.1's
 * standard channel, the operator treats TLSRoute as optional (operator/pkg/gateway-api/cell.go, `optionalGVKs`).
 */
export const GATEWAY_API_VERSION = 'v1.4.1';

/** The pinned release asset with every standard-channel CRD of {@link GATEWAY_API_VERSION}. */
export const GATEWAY_API_CRDS_URL = `https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml`;

/** The GatewayClass the chart creates for Cilium's Gateway API controller. */
export const GATEWAY_CLASS = 'cilium';

/** The namespace of the Gateway, kept apart from the application namespaces. */
export const GATEWAY_NAMESPACE = 'ingress-gateway';

/** The Gateway's name; Cilium names the Service it creates for it `cilium-gateway-<name>`. */
export const GATEWAY_NAME = 'public';

/** The Gateway's only listener, plain HTTP. */
export const GATEWAY_LISTENER = 'http';

/**
 * The listener port. In host network mode Cilium's Envoy listens on this port of each node, so it stays above
 * 1023 (binding lower needs NET_BIND_SERVICE) and below the NodePort range 30000-32767.
 */
export const GATEWAY_PORT = 18080;
