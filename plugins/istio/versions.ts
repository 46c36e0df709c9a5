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
