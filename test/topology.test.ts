import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { normaliseTopology, parseTopology } from '../src/topology/parse.js';
import { PRESETS, findPreset } from '../src/topology/presets.js';
import { stringifyTopology } from '../src/topology/serialise.js';
import { CONFORMANCE_TOPOLOGIES } from '../src/conformance/topologies.js';
import { buildPodTemplate } from '../src/k8s/workloads.js';

const schema = JSON.parse(readFileSync(new URL('../schema/topology.schema.json', import.meta.url), 'utf8'));
const validateSchema = new Ajv({ allErrors: true }).compile(schema);

const minimal = `apiVersion: create-zero-trust-app/v1alpha1
kind: Topology
metadata:
  name: shop
spec:
  namespace: web
  services:
    - name: front
      image: docker.io/library/nginx:1.29
      ports:
        - port: 80
          targetPort: 8080
          protocol: http
      calls:
        - back
        - {service: db, port: 5432}
    - name: back
      namespace: api
      image: docker.io/library/nginx:1.29
      ports:
        - {port: 9090, protocol: grpc}
        - {port: 9091, protocol: tcp, name: metrics}
    - name: db
      namespace: data
      image: docker.io/library/postgres:17
      replicas: 2
      env:
        POSTGRES_PASSWORD: {secret: db-password}
        A_FIRST: "1"
      ports:
        - {port: 5432, protocol: postgres}
        - {port: 5433, protocol: tcp}
`;

describe('topology normalisation', () => {
  const topology = parseTopology(minimal, 'topology.yaml');

  it('fills namespaces from the default', () => {
    expect(topology.services.map((service) => `${service.namespace}/${service.name}`)).toEqual(['api/back', 'data/db', 'web/front']);
    expect(topology.namespaces).toEqual(['api', 'data', 'web']);
  });

  it('resolves a call to every port of the callee', () => {
    const toBack = topology.edges.filter((edge) => edge.from === 'front' && edge.to === 'back');
    expect(toBack.map((edge) => edge.port.port)).toEqual([9090, 9091]);
  });

  it('narrows a call with a port to that port', () => {
    const toDb = topology.edges.filter((edge) => edge.from === 'front' && edge.to === 'db');
    expect(toDb.map((edge) => edge.port.port)).toEqual([5432]);
  });

  it('defaults targetPort to port and names ports', () => {
    const front = topology.services.find((service) => service.name === 'front')!;
    const back = topology.services.find((service) => service.name === 'back')!;
    expect(front.ports[0]).toEqual({ name: 'http-80', port: 80, targetPort: 8080, protocol: 'http' });
    expect(back.ports[1]).toEqual({ name: 'metrics', port: 9091, targetPort: 9091, protocol: 'tcp' });
  });

  it('sorts environment variables and keeps secret references', () => {
    const db = topology.services.find((service) => service.name === 'db')!;
    expect(db.env).toEqual([
      { name: 'A_FIRST', value: '1' },
      { name: 'POSTGRES_PASSWORD', secret: 'db-password' },
    ]);
  });

  it('marks database services as stateful', () => {
    expect(topology.services.map((service) => service.stateful)).toEqual([false, true, false]);
  });

  it('defaults replicas to one', () => {
    expect(topology.services.map((service) => service.replicas)).toEqual([1, 2, 1]);
  });

  it('round-trips through its own serialisation', () => {
    const again = parseTopology(stringifyTopology(topology), 'topology.yaml');
    expect(again).toEqual(topology);
  });

  it('removes duplicate edges from repeated calls', () => {
    const document = structuredClone(findPreset('workshop')!.document) as { spec: { services: { calls?: unknown[] }[] } };
    document.spec.services[0]!.calls = ['lil-deebee', 'lil-deebee', { service: 'lil-deebee', port: 5432 }];
    expect(normaliseTopology(document, 'x').edges).toHaveLength(1);
  });
});

describe('container settings in the topology', () => {
  const custom = minimal.replace(
    '      replicas: 2\n',
    '      replicas: 2\n      command: [postgres]\n      args: ["-c", "max_connections=50"]\n      runAsUser: 70\n      writablePaths: [/var/lib/extra/, /srv/cache]\n',
  );
  const db = () => parseTopology(custom, 'topology.yaml').services.find((service) => service.name === 'db')!;

  it('keeps command, args, user and writable paths', () => {
    expect(db().command).toEqual(['postgres']);
    expect(db().args).toEqual(['-c', 'max_connections=50']);
    expect(db().runAsUser).toBe(70);
    expect(db().runAsGroup).toBeUndefined();
    expect(db().writablePaths).toEqual(['/srv/cache', '/var/lib/extra']);
  });

  it('applies them to the container', () => {
    const topology = parseTopology(custom, 'topology.yaml');
    const template = buildPodTemplate(topology.services.find((service) => service.name === 'db')!, topology);
    const container = template.spec.containers[0]! as { command: string[]; args: string[]; securityContext: { runAsUser: number; runAsGroup: number }; volumeMounts: { mountPath: string }[] };
    expect(container.command).toEqual(['postgres']);
    expect(container.args).toEqual(['-c', 'max_connections=50']);
    expect(container.securityContext.runAsUser).toBe(70);
    expect(container.securityContext.runAsGroup).toBe(70);
    expect(container.volumeMounts.map((mount) => mount.mountPath)).toEqual(['/var/run/postgresql', '/tmp', '/srv/cache', '/var/lib/extra', '/var/lib/postgresql/data']);
  });

  it('round-trips them through topology.yaml', () => {
    const topology = parseTopology(custom, 'topology.yaml');
    expect(parseTopology(stringifyTopology(topology), 'topology.yaml')).toEqual(topology);
    expect(validateSchema(parse(stringifyTopology(topology))), JSON.stringify(validateSchema.errors)).toBe(true);
  });

  const invalid: [string, string, string, string][] = [
    ['root as the user', 'runAsUser: 70', 'runAsUser: 0', 'topology.yaml: spec.services[2].runAsUser: number 0 is not a valid non-root ID. Use a whole number from 1 to 2147483647; Pod Security "restricted" forbids root (0)'],
    ['a relative writable path', '/srv/cache]', 'srv/cache]', 'topology.yaml: spec.services[2].writablePaths[1]: "srv/cache" is not an absolute path below /. Write an absolute path of letters, digits, ".", "_", "-" and "/", such as /var/cache/app'],
    ['a writable path that climbs', '/srv/cache]', '/srv/../etc]', 'topology.yaml: spec.services[2].writablePaths[1]: "/srv/../etc" is not an absolute path below /. Write an absolute path of letters, digits, ".", "_", "-" and "/", such as /var/cache/app'],
    ['a number in args', '"max_connections=50"]', '50]', 'topology.yaml: spec.services[2].args[1]: must be a string, got number 50. Quote it'],
  ];
  for (const [name, from, to, message] of invalid) {
    it(`rejects ${name}`, () => {
      expect(() => parseTopology(custom.replace(from, to), 'topology.yaml')).toThrow(message);
    });
  }
});

describe('topology validation', () => {
  const cases: [string, string, string][] = [
    ['an uppercase name', minimal.replace('name: front', 'name: Front'), 'topology.yaml: spec.services[0].name: "Front" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "front"'],
    ['a call to an unknown service', minimal.replace('- back', '- bak'), 'topology.yaml: spec.services[0].calls[0]: calls unknown service "bak". Declare it under spec.services or fix the name (did you mean "back"?)'],
    ['a call to an unknown port', minimal.replace('port: 5432}', 'port: 5434}'), 'topology.yaml: spec.services[0].calls[1].port: "db" has no port 5434. Use one of its Service ports: 5432, 5433'],
    ['an unknown field', minimal.replace('replicas: 2', 'replica: 2'), 'topology.yaml: spec.services[2].replica: unknown field. Remove it or fix its name (did you mean "replicas"?)'],
    ['an unknown protocol', minimal.replace('protocol: grpc', 'protocol: quic'), 'topology.yaml: spec.services[1].ports[0].protocol: "quic" is not a known protocol. Use one of: http, http2, grpc, tcp, postgres, mysql, redis, mongodb'],
    ['a system namespace', minimal.replace('namespace: api', 'namespace: kube-system'), 'topology.yaml: spec.services[1].namespace: "kube-system" belongs to the cluster or to a component this repository installs. Use a namespace of your own, such as "apps"'],
    ["a mesh's namespace as the default", minimal.replace('namespace: web', 'namespace: istio-system'), 'topology.yaml: spec.namespace: "istio-system" belongs to the cluster or to a component this repository installs. Use a namespace of your own, such as "apps"'],
    ['an image without a tag', minimal.replace('image: docker.io/library/postgres:17', 'image: redis'), 'topology.yaml: spec.services[2].image: "redis" has no tag or digest, so every pull may bring another version. Pin a version, for example "redis:1.2.3"'],
    ['an image tagged latest', minimal.replace('image: docker.io/library/postgres:17', 'image: localhost:5000/team/db:latest'), 'topology.yaml: spec.services[2].image: "localhost:5000/team/db:latest" uses the tag latest, so every pull may bring another version. Pin a version tag or a digest instead'],
    ['a port out of range', minimal.replace('port: 9090', 'port: 90900'), 'topology.yaml: spec.services[1].ports[0].port: number 90900 is not a port number. Use a whole number from 1 to 65535'],
  ];

  for (const [name, text, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => parseTopology(text, 'topology.yaml')).toThrow(message);
    });
  }
});

describe('topology JSON Schema', () => {
  it('accepts every preset and conformance topology', () => {
    for (const document of [...PRESETS.map((preset) => preset.document), ...CONFORMANCE_TOPOLOGIES.map((topology) => topology.document)]) {
      expect(validateSchema(document), JSON.stringify(validateSchema.errors)).toBe(true);
    }
  });

  it('accepts the normalised form the generator writes', () => {
    const written = parseTopology(minimal, 'topology.yaml');
    expect(validateSchema(parse(stringifyTopology(written)))).toBe(true);
  });

  it('rejects what validation rejects', () => {
    for (const broken of [
      { ...findPreset('workshop')!.document, extra: true },
      { ...findPreset('workshop')!.document, metadata: { name: 'Hero' } },
      { ...findPreset('workshop')!.document, spec: { services: [] } },
    ]) {
      expect(validateSchema(broken)).toBe(false);
      expect(() => normaliseTopology(broken, 'x')).toThrow();
    }
  });
});
