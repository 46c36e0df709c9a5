// Writes the scale benchmark's topology: 2,000 services in 20 namespaces with 10,000 edges, the same every run.
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

const PROTOCOLS = ['http', 'grpc', 'tcp', 'postgres'];

/**
 * Builds a topology of `services` services spread evenly over `namespaces` namespaces, each with one port and
 * `callsPerService` calls to other services, chosen by a fixed linear congruential generator so every run
 * gets the same topology. Edges: services x callsPerService. The calls form no cycle, which Network Service Mesh
 * rejects: the services get a random rank, and each calls only services of a higher rank. The services ranked
 * last have too few of those, and the first ranked ones make up their missing calls.
 */
export function buildScaleTopology({ services = 2_000, namespaces = 20, callsPerService = 5 } = {}) {
  let seed = 20_250_101;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  const name = (index) => `svc-${String(index).padStart(4, '0')}`;

  // The high bits: the low bits of this generator repeat with short periods, which sent every edge to a few
  // hundred services.
  const below = (limit) => Math.floor((next() / 2_147_483_648) * limit);
  // order[rank] is the service at that rank, a Fisher-Yates shuffle.
  const order = Array.from({ length: services }, (_, index) => index);
  for (let last = services - 1; last > 0; last--) {
    const pick = below(last + 1);
    [order[last], order[pick]] = [order[pick], order[last]];
  }
  const calls = order.map((_, rank) => Math.min(callsPerService, services - 1 - rank));
  let missing = services * Math.min(callsPerService, services - 1) - calls.reduce((sum, count) => sum + count, 0);
  for (let rank = 0; missing > 0 && rank < services; rank++, missing--) calls[rank] = Math.min(calls[rank] + 1, services - 1 - rank);
  const calleesOf = new Map();
  order.forEach((index, rank) => {
    const callees = new Set();
    while (callees.size < calls[rank]) callees.add(order[rank + 1 + below(services - 1 - rank)]);
    calleesOf.set(index, callees);
  });

  const list = [];
  for (let index = 0; index < services; index++) {
    const callees = calleesOf.get(index);
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
