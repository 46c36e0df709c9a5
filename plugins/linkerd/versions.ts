/**
 * Linkerd edge-26.8.3 (August 2026), the newest tag in the linkerd/linkerd2 repository that was read.
 * Open-source Linkerd ships edge releases only; 2.20 is edge-26.6.3.
 */
export const LINKERD_VERSION = 'edge-26.8.3';

/**
 * The Helm chart version of linkerd-crds, linkerd-control-plane and linkerd2-cni for that tag.
 * `bin/compute-edge-version` in linkerd/linkerd2 sets every chart to `YYYY.M.X` for tag `edge-YY.M.X`.
 */
export const LINKERD_CHART_VERSION = '2026.8.3';

/** Helm repository of the edge channel (linkerd/website `2-edge/tasks/install-helm.md`). */
export const LINKERD_HELM_REPOSITORY = 'https://helm.linkerd.io/edge';

/**
 * Gateway API CRDs that Linkerd's policy resources need. Linkerd 2.20 supports 1.2.1 to 1.5.1
 * (linkerd/website `2-edge/features/gateway-api.md`), and edge-26.8.3's integration tests use v1.5.1.
 */
export const GATEWAY_API_VERSION = 'v1.5.1';

/** The control plane's namespace and the trust domain: the chart defaults. */
export const CONTROL_PLANE_NAMESPACE = 'linkerd';
export const CNI_NAMESPACE = 'linkerd-cni';
export const TRUST_DOMAIN = 'cluster.local';

/**
 * Ports of the Linkerd proxy (`proxy.ports` in charts/linkerd-control-plane/values.yaml at edge-26.8.3).
 * A topology port equal to one of them would collide with the injected proxy.
 */
export const PROXY_PORTS = { inbound: 4143, outbound: 4140, control: 4190, admin: 4191 } as const;

/** The proxy's user ID, whose connections linkerd-init does not redirect (chart value `proxy.uid`, default 2102). */
export const PROXY_UID = 2102;

/** The proxy's ports and user, which the application's containers must not use. */
export const PROXY_RESERVATIONS = { proxy: 'Linkerd proxy', ports: Object.values(PROXY_PORTS), uid: PROXY_UID };

/**
 * Control plane ports the proxies connect to (the Services and containers in
 * charts/linkerd-control-plane/templates/{identity,destination}.yaml at edge-26.8.3): identity on the
 * identity pods, destination and policy on the destination pods.
 */
export const IDENTITY_PORT = 8080;
export const DESTINATION_PORT = 8086;
export const POLICY_PORT = 8090;

/** The label the control plane pods carry, with `identity` or `destination` as its value. */
export const CONTROL_PLANE_COMPONENT_LABEL = 'linkerd.io/control-plane-component';

/** Returns the identity Linkerd gives a ServiceAccount: `<sa>.<ns>.serviceaccount.identity.<control plane ns>.<trust domain>`. */
export function identityOf(namespace: string, serviceAccount: string): string {
  return `${serviceAccount}.${namespace}.serviceaccount.identity.${CONTROL_PLANE_NAMESPACE}.${TRUST_DOMAIN}`;
}
