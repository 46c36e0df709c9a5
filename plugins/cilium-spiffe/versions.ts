/**
 * Cilium 1.19.6, the newest 1.19 patch found (image quay.io/cilium/cilium:v1.19.6 in cilium/cilium-cli#3276,
 * July 2026). SPIRE mutual authentication is supported in 1.19. Cilium 1.20 deprecates it and the removal is
 * planned for a later release (cilium/cilium#47132, July 2026), so the pin stays on 1.19.
 * NOTE: the Kubernetes versions Cilium 1.19 is e2e-tested on were not confirmed to include the kind node's 1.36.
 */
export const CILIUM_VERSION = '1.19.6';

/** The newest minor line that still ships SPIRE mutual authentication, deprecated there. */
export const CILIUM_DEPRECATING_VERSION = '1.20';

/** Cilium's Helm repository (Documentation/installation/k8s-install-helm.rst). */
export const CILIUM_HELM_REPOSITORY = 'https://helm.cilium.io/';

/** cilium-cli v0.19.7, the newest tag and the content of stable.txt in cilium/cilium-cli (August 2026). */
export const CILIUM_CLI_VERSION = 'v0.19.7';

/** The namespace the Cilium chart installs its bundled SPIRE server and agents into (cilium/cilium-cli#1738). */
export const SPIRE_NAMESPACE = 'cilium-spire';

/**
 * The chart's default SPIRE trust domain: workloads get `spiffe://spiffe.cilium/identity/<Cilium identity>`
 * (Documentation/network/servicemesh/mutual-authentication/mutual-authentication-example.rst).
 */
export const SPIRE_TRUST_DOMAIN = 'spiffe.cilium';

/** Where the Helm values live: a ConfigMap that the install script feeds to Helm and that `verify` reads. */
export const HELM_VALUES_CONFIG_MAP = { name: 'cilium-helm-values', namespace: 'kube-system', key: 'values.yaml' } as const;

/** The manifest file of that ConfigMap, under manifests/mesh/. */
export const HELM_VALUES_FILE = 'cilium-helm-values.yaml';
