import { InputError } from '../../src/errors.js';
import { selectorOf, type KubeObject } from '../../src/k8s/object.js';
import type { ExternalEgress } from '../../src/plugin/api.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { SERVICE_DOMAIN_SUFFIX } from './versions.js';

/**
 * The Sidecar egress host that imports every Kubernetes Service in every namespace and no ServiceEntry of an
 * external host. Istio matches `*.<suffix>` against any host name that ends with `.<suffix>`
 * (`host.Name.Matches` in pkg/config/host/name.go, Istio 1.30.3).
 */
export const CLUSTER_SERVICES_HOST = `*/*.${SERVICE_DOMAIN_SUFFIX}`;

/** The README's summary of egress to external dependencies. */
export const EGRESS: ExternalEgress = {
  summary:
    'Istio sidecars check the host name of external calls: the SNI of a tls dependency and the Host header of an http one, and only a declared caller imports that host. ' +
    'For tcp and database protocols, Istio and NetworkPolicy can check only the port and the address ranges, not the host name.',
};

/** Maps a dependency's protocol to its ServiceEntry port's protocol. Database protocols become opaque TCP, so Istio never sniffs them. */
function istioProtocolOf(external: ExternalService): 'TLS' | 'HTTP' | 'TCP' {
  if (external.protocol === 'tls') return 'TLS';
  if (external.protocol === 'http') return 'HTTP';
  return 'TCP';
}

/** Returns whether Istio can tell this dependency's connections apart only by port: opaque TCP without address ranges. */
function matchedByPortOnly(external: ExternalService): boolean {
  return istioProtocolOf(external) === 'TCP' && external.addresses.length === 0;
}

/**
 * Builds the egress control for external dependencies: a ServiceEntry per dependency in each namespace of its
 * callers, visible only in that namespace, and Sidecars that import it only into the declared callers' proxies.
 * Every Sidecar sets REGISTRY_ONLY, so a proxy refuses any host it has not imported.
 * Sidecars apply to outbound traffic; AuthorizationPolicy applies only to inbound traffic of a sidecar, so it
 * cannot limit these calls.
 */
export function buildEgressManifests(topology: Topology): KubeObject[] {
  if (topology.externals.length === 0) return [];
  checkExternals(topology);

  const calls = new Map<string, ExternalService[]>();
  for (const edge of topology.externalEdges) calls.set(edge.from, [...(calls.get(edge.from) ?? []), edge.to]);
  const services = new Map(topology.services.map((service) => [service.name, service]));

  const entries: KubeObject[] = [];
  for (const external of topology.externals) {
    const namespaces = [...new Set(topology.externalEdges.filter((edge) => edge.to.name === external.name).map((edge) => services.get(edge.from)!.namespace))].sort();
    for (const namespace of namespaces) entries.push(buildServiceEntry(external, namespace));
  }

  const defaults = topology.namespaces.map((namespace) => buildSidecar(namespace, undefined, [CLUSTER_SERVICES_HOST]));
  const callers = [...calls].map(([caller, externals]) => {
    const service = services.get(caller)!;
    return buildSidecar(service.namespace, caller, [CLUSTER_SERVICES_HOST, ...externals.map((external) => `./${external.host}`)]);
  });
  return [...entries, ...defaults, ...callers];
}

/**
 * Builds the ServiceEntry of one dependency in one namespace. TLS is routed by SNI and HTTP by Host, so neither
 * needs addresses. Opaque TCP with address ranges matches those ranges, with resolution NONE because the
 * ServiceEntry CRD's validation rule allows CIDR addresses only with NONE or STATIC. Opaque TCP without
 * ranges matches every connection on the port and sends it to the host (Istio's analyzer IST0134).
 */
function buildServiceEntry(external: ExternalService, namespace: string): KubeObject {
  const protocol = istioProtocolOf(external);
  const byAddress = protocol === 'TCP' && external.addresses.length > 0;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: external.name, namespace },
    spec: {
      hosts: [external.host],
      ...(byAddress && { addresses: external.addresses }),
      ports: [{ number: external.port, name: `${protocol.toLowerCase()}-${external.port}`, protocol }],
      location: 'MESH_EXTERNAL',
      resolution: byAddress ? 'NONE' : 'DNS',
      // Only proxies in this namespace can import it, and the Sidecars below narrow that to the declared callers.
      exportTo: ['.'],
    },
  };
}

/** Builds a Sidecar: the namespace's default without `caller`, else the one that selects the caller's pods. */
function buildSidecar(namespace: string, caller: string | undefined, hosts: string[]): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: { name: caller ? `${caller}-egress` : 'default', namespace },
    spec: {
      ...(caller && { workloadSelector: { labels: selectorOf(caller) } }),
      egress: [{ hosts }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    },
  };
}

/**
 * Rejects the dependencies that the Sidecars above could not keep apart.
 * NOTE: a caller's dependency that shares a port with an in-cluster HTTP Service of another protocol is not
 * checked here; Istio then has two protocols on one outbound port of that caller's proxy.
 */
function checkExternals(topology: Topology): void {
  const hosts = new Map<string, string>();
  for (const external of topology.externals) {
    if (external.host === SERVICE_DOMAIN_SUFFIX || external.host.endsWith(`.${SERVICE_DOMAIN_SUFFIX}`)) {
      throw new InputError(
        `topology: service "${external.name}", field external.host: "${external.host}" is a Kubernetes Service name, which the Istio plugin lets every workload reach. Declare the in-cluster service with an image, or use the dependency's own host name`,
      );
    }
    const first = hosts.get(external.host);
    if (first) {
      throw new InputError(
        `topology: service "${external.name}", field external.host: "${external.host}" is also the host of "${first}". Istio imports a host with all its ports, so a caller of one could reach the other's port. Declare one external service per host`,
      );
    }
    hosts.set(external.host, external.name);
  }

  const byCaller = new Map<string, ExternalService[]>();
  for (const edge of topology.externalEdges) byCaller.set(edge.from, [...(byCaller.get(edge.from) ?? []), edge.to]);
  for (const [caller, externals] of byCaller) {
    for (const external of externals) {
      const clash = externals.find((other) => other !== external && other.port === external.port && (matchedByPortOnly(external) || istioProtocolOf(other) !== istioProtocolOf(external)));
      if (clash) {
        throw new InputError(
          `topology: service "${caller}", field calls: "${external.name}" and "${clash.name}" share port ${external.port}, and Istio cannot tell their connections apart (${external.protocol} and ${clash.protocol}). Add addresses to the tcp-like one, or use a different port`,
        );
      }
    }
  }
}
