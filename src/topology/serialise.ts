import { stringifyDocument } from '../yaml/emit.js';
import type { EnvVar, Topology } from './types.js';
import { TOPOLOGY_API_VERSION } from './validate.js';
import { groupEdges } from '../k8s/network-policy.js';

/** Builds the normalised topology document, in the input format, that the generated repository keeps as its source of truth. */
export function toTopologyDocument(topology: Topology): Record<string, unknown> {
  // A call to every port of a service is written as its name alone, as users write it, so that a port added to
  // the callee later is called too. A call to some ports lists each of them.
  const portCounts = new Map(topology.services.map((service) => [service.name, service.ports.length]));
  const callsByCaller = new Map<string, (string | { service: string; port: number })[]>();
  for (const edges of groupEdges(topology.edges, (edge) => `${edge.from}\0${edge.to}`).values()) {
    const { from, to } = edges[0]!;
    const calls = callsByCaller.get(from) ?? [];
    if (edges.length === portCounts.get(to)) calls.push(to);
    else calls.push(...edges.map((edge) => ({ service: to, port: edge.port.port })));
    callsByCaller.set(from, calls);
  }
  for (const edge of topology.externalEdges) {
    const calls = callsByCaller.get(edge.from) ?? [];
    calls.push(edge.to.name);
    callsByCaller.set(edge.from, calls);
  }

  const services = topology.services.map((service) => {
    const calls = callsByCaller.get(service.name) ?? [];
    return {
      name: service.name,
      namespace: service.namespace,
      image: service.image,
      replicas: service.replicas,
      ...(service.command && { command: service.command }),
      ...(service.args && { args: service.args }),
      ...(service.runAsUser !== undefined && { runAsUser: service.runAsUser }),
      ...(service.runAsGroup !== undefined && { runAsGroup: service.runAsGroup }),
      ...(service.writablePaths.length > 0 && { writablePaths: service.writablePaths }),
      ports: service.ports.map((port) => ({ name: port.name, port: port.port, targetPort: port.targetPort, protocol: port.protocol })),
      ...(service.env.length > 0 && { env: toEnvMapping(service.env) }),
      ...(service.exposedPorts.length > 0 && { expose: service.exposedPorts.length === service.ports.length ? true : service.exposedPorts }),
      ...(calls.length > 0 && { calls: calls.sort(compareCalls) }),
    };
  });
  const externals = topology.externals.map((external) => ({
    name: external.name,
    external: { host: external.host, port: external.port, protocol: external.protocol, ...(external.addresses.length > 0 && { addresses: external.addresses }) },
  }));

  return {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'Topology',
    metadata: { name: topology.name },
    spec: { namespace: topology.namespace, services: [...services, ...externals] },
  };
}

// The document shares no objects, so yaml would write no anchors, and stringifyDocument writes the same bytes.
export function stringifyTopology(topology: Topology): string {
  return stringifyDocument(toTopologyDocument(topology));
}

// A Map, not an object, so that a variable named __proto__ is kept as a key instead of setting the prototype.
function toEnvMapping(env: EnvVar[]): Map<string, string | { secret: string }> {
  return new Map(env.map((variable) => [variable.name, 'secret' in variable ? { secret: variable.secret } : variable.value]));
}

/** Orders calls by callee, then port, with a call to every port first. */
function compareCalls(a: string | { service: string; port: number }, b: string | { service: string; port: number }): number {
  const [nameA, portA] = typeof a === 'string' ? [a, 0] : [a.service, a.port];
  const [nameB, portB] = typeof b === 'string' ? [b, 0] : [b.service, b.port];
  if (nameA !== nameB) return nameA < nameB ? -1 : 1;
  return portA - portB;
}
