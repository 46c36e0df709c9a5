import type { LabelSelector } from '../../src/k8s/object.js';

/**
 * A pod as Cilium's policy engine models it: the labels of its security identity, with their source prefix,
 * and its container ports for named ports.
 */
export interface Endpoint {
  namespace: string;
  /** Identity labels keyed `k8s:<key>`, as Cilium derives them from the pod, its namespace and its ServiceAccount. */
  labels: Record<string, string>;
  ports: { name?: string; containerPort: number; protocol?: string }[];
}

const NAMESPACE_KEY = 'io.kubernetes.pod.namespace';

/**
 * Derives a pod's identity labels the way the Cilium agent does (pkg/k8s/apis/cilium.io/utils and
 * pkg/labels at 1.19): every pod label with the `k8s:` source, plus its namespace, ServiceAccount, cluster
 * and namespace labels. NOTE: Cilium leaves some labels out of identities (such as `pod-template-hash`);
 * the repository's policies select none of them, so the model keeps every label.
 */
export function endpointOf(
  namespace: string,
  podLabels: Record<string, string>,
  serviceAccount: string,
  namespaceLabels: Record<string, string>,
  ports: Endpoint['ports'] = [],
): Endpoint {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(podLabels)) labels[`k8s:${key}`] = value;
  for (const [key, value] of Object.entries(namespaceLabels)) labels[`k8s:io.cilium.k8s.namespace.labels.${key}`] = value;
  labels[`k8s:${NAMESPACE_KEY}`] = namespace;
  labels['k8s:io.cilium.k8s.policy.serviceaccount'] = serviceAccount;
  labels['k8s:io.cilium.k8s.policy.cluster'] = 'default';
  return { namespace, labels, ports };
}

/**
 * Builds the endpoint of a reserved identity, such as `reserved:ingress` for the traffic of Cilium's Envoy. It
 * has only that label and no namespace, so no namespaced policy selects it, and only entities and `reserved:`
 * selectors match it.
 */
export function reservedEndpoint(label: string): Endpoint {
  return { namespace: '', labels: { [label]: '' }, ports: [] };
}

/**
 * Looks up a selector key on an endpoint. A key without a source, or with `any:` or `k8s:`, matches the `k8s:`
 * label of that name, and a `reserved:` key the reserved label of that name. Other sources (`cidr:`, ...)
 * never match.
 */
function lookup(labels: Record<string, string>, key: string): string | undefined {
  const label = identityLabelKey(key);
  return label === undefined ? undefined : labels[label];
}

/**
 * Returns the endpoint label that a selector key looks up: `k8s:<name>` for a key without a source or with
 * `any:` or `k8s:`, `reserved:<name>` for a `reserved:` key, and `undefined` for other sources, which no
 * endpoint label matches.
 */
export function identityLabelKey(key: string): string | undefined {
  // A `k8s:` key, as the generated policies use, is already the label.
  if (key.startsWith('k8s:')) return key;
  const colon = key.indexOf(':');
  const source = colon < 0 ? 'any' : key.slice(0, colon);
  const name = colon < 0 ? key : key.slice(colon + 1);
  if (source === 'reserved') return `reserved:${name}`;
  if (source !== 'any' && source !== 'k8s') return undefined;
  return `k8s:${name}`;
}

/** Returns whether a Cilium endpoint selector matches an endpoint's identity labels. */
export function selectorMatches(selector: LabelSelector, endpoint: Endpoint): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (lookup(endpoint.labels, key) !== String(value)) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const value = lookup(endpoint.labels, expression.key);
    const values = (expression.values ?? []).map(String);
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Returns whether a selector names the pod namespace itself, with or without a source prefix. */
function constrainsNamespace(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).some(isNamespaceKey) || (selector.matchExpressions ?? []).some((expression) => isNamespaceKey(expression.key));
}

/** The selector keys that name the pod namespace: without a source, or with `k8s:` or `any:`. */
const NAMESPACE_KEYS: ReadonlySet<string> = new Set([NAMESPACE_KEY, `k8s:${NAMESPACE_KEY}`, `any:${NAMESPACE_KEY}`]);

function isNamespaceKey(key: string): boolean {
  return NAMESPACE_KEYS.has(key);
}

/** Returns whether a selector uses the `reserved:` source, which Cilium leaves without a namespace constraint. */
function isReserved(selector: LabelSelector): boolean {
  const keys = [...Object.keys(selector.matchLabels ?? {}), ...(selector.matchExpressions ?? []).map((expression) => expression.key)];
  return keys.some((key) => key.startsWith('reserved:'));
}

/** The namespaces a peer selector of a rule is confined to, beside its own terms. */
export type PeerScope = { namespace: string } | 'any-namespace' | 'unscoped';

/**
 * Returns the scope Cilium adds to a peer selector of a rule (pkg/k8s/apis/cilium.io/utils, getEndpointSelector):
 * without a namespace label, a namespaced policy's peer stays in the policy's namespace, and a clusterwide
 * policy's peer must have some namespace. A selector that names the namespace or uses the `reserved:` source
 * gets no scope, and neither does a namespaced policy's selector on namespace labels
 * (`io.cilium.k8s.namespace.labels.*`), which can match pods of every namespace.
 */
export function peerScope(selector: LabelSelector, policyNamespace: string | undefined): PeerScope {
  if (constrainsNamespace(selector) || isReserved(selector)) return 'unscoped';
  if (policyNamespace === undefined) return 'any-namespace';
  return selectsNamespaceLabels(selector) ? 'unscoped' : { namespace: policyNamespace };
}

const NAMESPACE_LABELS_PREFIX = 'k8s:io.cilium.k8s.namespace.labels.';

/** Returns whether a selector has a key on namespace labels, with no source or with `k8s:` or `any:`. */
function selectsNamespaceLabels(selector: LabelSelector): boolean {
  const keys = [...Object.keys(selector.matchLabels ?? {}), ...(selector.matchExpressions ?? []).map((expression) => expression.key)];
  return keys.some((key) => identityLabelKey(key)?.startsWith(NAMESPACE_LABELS_PREFIX) === true);
}

/** Matches a peer selector of a rule within the scope {@link peerScope} gives it. */
export function peerSelectorMatches(selector: LabelSelector, policyNamespace: string | undefined, endpoint: Endpoint): boolean {
  if (!selectorMatches(selector, endpoint)) return false;
  const scope = peerScope(selector, policyNamespace);
  if (scope === 'unscoped') return true;
  if (scope === 'any-namespace') return endpoint.namespace !== '';
  return endpoint.namespace === scope.namespace;
}
