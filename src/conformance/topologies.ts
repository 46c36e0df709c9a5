import { PRESETS, TOPOLOGY_API_VERSION } from '../index.js';

/** A topology document the conformance kit runs every plugin over, with what it exercises. */
export interface ConformanceTopology {
  name: string;
  description: string;
  document: Record<string, unknown>;
}

const image = 'docker.io/library/nginx:1.29';
const topology = (name: string, spec: Record<string, unknown>) => ({ apiVersion: TOPOLOGY_API_VERSION, kind: 'Topology', metadata: { name }, spec });
const http = (port: number, extra: Record<string, unknown> = {}) => ({ port, protocol: 'http', ...extra });

/** The shapes every plugin must handle: each one is a way a generator can get the edges subtly wrong. */
export const CONFORMANCE_TOPOLOGIES: readonly ConformanceTopology[] = [
  ...PRESETS.map((preset) => ({ name: `preset-${preset.name}`, description: preset.description, document: preset.document })),
  {
    name: 'chain',
    description: 'a calls b calls c: a must not reach c',
    document: topology('chain', {
      namespace: 'apps',
      services: [
        { name: 'a', image, ports: [http(8080)], calls: ['b'] },
        { name: 'b', image, ports: [http(8080)], calls: ['c'] },
        { name: 'c', image, ports: [http(8080)] },
      ],
    }),
  },
  {
    name: 'fan-in',
    description: 'three callers share one database, and do not reach each other',
    document: topology('fan-in', {
      namespace: 'apps',
      services: [
        { name: 'web', image, ports: [http(8080)], calls: ['db'] },
        { name: 'worker', image, ports: [http(8081)], calls: ['db'] },
        { name: 'report', image, ports: [http(8082)], calls: ['db'] },
        { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      ],
    }),
  },
  {
    name: 'cycle',
    description: 'a calls b calls c calls a',
    document: topology('cycle', {
      namespace: 'ring',
      services: [
        { name: 'a', image, ports: [http(8080)], calls: ['b'] },
        { name: 'b', image, ports: [http(8080)], calls: ['c'] },
        { name: 'c', image, ports: [http(8080)], calls: ['a'] },
      ],
    }),
  },
  {
    name: 'cross-namespace',
    description: 'callers and callees in four namespaces, with same-named ports',
    document: topology('cross-namespace', {
      namespace: 'frontend',
      services: [
        { name: 'ui', image, ports: [http(8080)], calls: ['api'] },
        { name: 'api', namespace: 'backend', image, ports: [{ port: 9090, protocol: 'grpc' }], calls: ['cache', 'store'] },
        { name: 'cache', namespace: 'cache', image: 'docker.io/library/redis:8', ports: [{ port: 6379, protocol: 'redis' }] },
        { name: 'store', namespace: 'data', image: 'docker.io/library/mysql:8.4', ports: [{ port: 3306, protocol: 'mysql' }] },
      ],
    }),
  },
  {
    name: 'isolated-service',
    description: 'a service with no edges at all must be unreachable and reach nothing',
    document: topology('isolated', {
      namespace: 'apps',
      services: [
        { name: 'web', image, ports: [http(8080)], calls: ['api'] },
        { name: 'api', image, ports: [http(8080)] },
        { name: 'loner', image, ports: [http(8080)] },
      ],
    }),
  },
  {
    name: 'narrowed-edge',
    description: 'an edge narrowed to one of the callee\'s ports: the other ports stay closed to the caller',
    document: topology('narrowed', {
      namespace: 'apps',
      services: [
        { name: 'client', image, ports: [http(8080)], calls: [{ service: 'server', port: 8443 }] },
        { name: 'server', image, ports: [http(8080, { name: 'public' }), { port: 8443, name: 'admin', protocol: 'http2' }, { port: 9000, protocol: 'tcp' }] },
      ],
    }),
  },
  {
    name: 'several-ports',
    description: 'a service with several ports, all allowed to one caller',
    document: topology('ports', {
      namespace: 'apps',
      services: [
        { name: 'client', image, ports: [http(8080)], calls: ['server'] },
        { name: 'server', image, ports: [http(80, { targetPort: 8080 }), { port: 9090, protocol: 'grpc' }, { port: 27017, protocol: 'mongodb' }] },
      ],
    }),
  },
  {
    name: 'replicas-call-each-other',
    description: 'a replicated database whose members reach each other, and a client',
    document: topology('replicas', {
      namespace: 'data',
      services: [
        { name: 'app', image, ports: [http(8080)], calls: ['cluster'] },
        { name: 'cluster', image: 'docker.io/library/postgres:17', replicas: 3, ports: [{ port: 5432, protocol: 'postgres' }], calls: ['cluster'] },
      ],
    }),
  },
  {
    name: 'exposed',
    description: 'a web front exposed on one of its two ports and a gRPC API exposed on its only port; the database and the admin port stay unreachable from the gateway',
    document: topology('exposed', {
      namespace: 'shop',
      services: [
        { name: 'web', image, ports: [http(8080), http(9090, { name: 'admin' })], expose: [8080], calls: ['api'] },
        { name: 'api', namespace: 'backend', image, ports: [{ port: 9000, protocol: 'grpc' }], expose: true, calls: ['db'] },
        { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      ],
    }),
  },
  {
    name: 'external',
    description: 'two callers of a partner API over TLS, one caller of a managed database at known addresses, and one of another API on the same port, which only host names tell apart',
    document: topology('external', {
      namespace: 'apps',
      services: [
        { name: 'checkout', image, ports: [http(8080)], calls: ['payments', 'ledger'] },
        { name: 'refunds', image, ports: [http(8081)], calls: ['payments'] },
        { name: 'catalog', image, ports: [http(8082)], calls: ['search'] },
        { name: 'audit', image, ports: [http(8083)] },
        { name: 'search', external: { host: 'search.partner.example', port: 443, protocol: 'tls' } },
        { name: 'payments', external: { host: 'api.payments.example', port: 443, protocol: 'tls' } },
        { name: 'ledger', external: { host: 'ledger.db.example', port: 5432, protocol: 'postgres', addresses: ['198.51.100.0/24'] } },
      ],
    }),
  },
  {
    name: 'port-differs-from-container-port',
    description: 'Service port 80 forwards to container port 8080: policies must use the container port',
    document: topology('target-port', {
      namespace: 'apps',
      services: [
        { name: 'front', image, ports: [http(8080)], calls: ['back'] },
        { name: 'back', image, ports: [http(80, { targetPort: 8080 })] },
      ],
    }),
  },
];
