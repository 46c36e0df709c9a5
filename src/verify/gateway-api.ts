// Gateway API rules that evaluators share when they read routes back from the manifests: which listener admits
// a route, and whether a ReferenceGrant lets a route reach a Service in another namespace.
import type { KubeObject, LabelSelector } from '../k8s/object.js';
import { matchesSelector } from './objects.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** A listener of a Gateway, with the fields route admission reads. */
export interface GatewayListener {
  name: string;
  protocol?: string;
  port?: number;
  hostname?: string;
  allowedRoutes?: { namespaces?: { from?: string; selector?: LabelSelector }; kinds?: { group?: string; kind: string }[] };
}

/**
 * Returns whether an HTTP or HTTPS listener of a Gateway in `gatewayNamespace` admits a route of `kind` from
 * `namespace`. Without allowedRoutes a listener admits routes of its own namespace only, and an empty kinds list
 * leaves the kinds to the listener's protocol, which admits both HTTPRoute and GRPCRoute.
 */
export function admitsRoute(listener: GatewayListener, kind: string, namespace: string, gatewayNamespace: string, namespaceLabels: (namespace: string) => Record<string, string>): boolean {
  if (listener.protocol !== undefined && listener.protocol !== 'HTTP' && listener.protocol !== 'HTTPS') return false;
  const kinds = listener.allowedRoutes?.kinds;
  if (kinds && kinds.length > 0 && !kinds.some((entry) => entry.kind === kind && (entry.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP)) return false;
  const from = listener.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return namespace === gatewayNamespace;
  if (from === 'Selector') return matchesSelector(listener.allowedRoutes?.namespaces?.selector ?? {}, namespaceLabels(namespace));
  return false;
}

/** Returns whether a ReferenceGrant in the Service's namespace lets routes of `routeKind` from `routeNamespace` reach it. */
export function referenceGranted(objects: readonly KubeObject[], routeKind: string, routeNamespace: string, serviceNamespace: string, service: string): boolean {
  return objects.some((object) => {
    if (object.kind !== 'ReferenceGrant' || !object.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`) || object.metadata.namespace !== serviceNamespace) return false;
    const spec = (object.spec ?? {}) as { from?: { group?: string; kind?: string; namespace?: string }[]; to?: { group?: string; kind?: string; name?: string }[] };
    const fromMatches = (spec.from ?? []).some((entry) => entry.group === GATEWAY_API_GROUP && entry.kind === routeKind && entry.namespace === routeNamespace);
    const toMatches = (spec.to ?? []).some((entry) => (entry.group ?? '') === '' && entry.kind === 'Service' && (entry.name === undefined || entry.name === service));
    return fromMatches && toMatches;
  });
}
