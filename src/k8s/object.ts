/** Metadata of a Kubernetes object, as far as the generator writes it. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any Kubernetes object: core kinds and custom resources alike, built as data and serialised with `yaml`. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** A label selector as Kubernetes defines it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Returns the labels every object of a service carries. */
export function serviceLabels(service: string, topologyName: string): Record<string, string> {
  return { 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': topologyName };
}

/** Returns the labels a policy selects a service's pods by: its name, so that verification clients with its identity match too. */
export function selectorOf(service: string): Record<string, string> {
  return { 'app.kubernetes.io/name': service };
}

/**
 * The component label of the application's own pods. Services select on it as well, so that the
 * verification clients, which carry a service's name label but another component, never become endpoints.
 */
export const SERVER_COMPONENT = { 'app.kubernetes.io/component': 'server' } as const;

/**
 * Returns a container security context that Pod Security `restricted` admits: no privilege escalation, no
 * capabilities, RuntimeDefault seccomp, a non-root user (`user` and `group` when given) and, unless
 * `writableRoot`, a read-only root filesystem. A new object each call, so callers may change it.
 */
export function restrictedSecurityContext(options: { user?: number; group?: number; writableRoot?: boolean } = {}): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: !options.writableRoot,
    runAsNonRoot: true,
    ...(options.user !== undefined && { runAsUser: options.user }),
    ...(options.group !== undefined && { runAsGroup: options.group }),
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
