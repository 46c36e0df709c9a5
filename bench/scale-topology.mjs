// Writes the scale benchmark's topology: 2,000 services in 20 namespaces with 10,000 edges, the same every run.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const PROTOCOLS = ['http', 'grpc', 'tcp', 'postgres'];

/**
 * Builds a topology of `services` services spread evenly over `namespaces` namespaces, each with one port and
 * `callsPerService` calls to other services, chosen by a fixed linear congruential generator so every run
 * gets the same topology. Edges: services x callsPerService.
 */
export function buildScaleTopology({ services = 2_000, namespaces = 20, callsPerService = 5 } = {}) {
  let seed = 20_250_101;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  const name = (index) => `svc-${String(index).padStart(4, '0')}`;

  const list = [];
  for (let index = 0; index < services; index++) {
    const callees = new Set();
    while (callees.size < Math.min(callsPerService, services - 1)) {
      // The high bits: the low bits of this generator repeat with short periods, which sent every edge to a few
      // hundred services.
      const callee = Math.floor((next() / 2_147_483_648) * services);
      if (callee !== index) callees.add(callee);
    }
    list.push({
      name: name(index),
      namespace: `ns-${String(index % namespaces).padStart(2, '0')}`,
      image: 'docker.io/library/nginx:1.27',
      ports: [{ port: 8080 + (index % 3), protocol: PROTOCOLS[index % PROTOCOLS.length] }],
      calls: [...callees].sort((a, b) => a - b).map(name),
    });
  }
  return {
    apiVersion: 'create-zero-trust-app/v1alpha1',
    kind: 'Topology',
    metadata: { name: 'scale' },
    spec: { namespace: 'ns-00', services: list },
  };
}

/** Writes the topology in YAML's block layout, as a platform team would keep it in git. */
export function writeScaleTopology(path, options) {
  writeFileSync(path, stringify(buildScaleTopology(options), { lineWidth: 0 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeScaleTopology(process.argv[2] ?? 'scale-topology.yaml');
}
