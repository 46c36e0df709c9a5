import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeConformance } from '../../src/conformance/index.js';
import { generateCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { SchemaValidator } from '../../src/conformance/schemas.js';
import { findPreset } from '../../src/topology/presets.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { verifyRepository, type VerifyResult } from '../../src/verify/offline.js';
import { ciliumSpiffePlugin } from './index.js';
import { NAMESPACE_POLICY } from './resources.js';

const crdSchemas = fileURLToPath(new URL('../../test/crds', import.meta.url));

describeConformance(ciliumSpiffePlugin, { crdSchemas, allChoices: true });

const multiNamespace = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'front',
    services: [
      { name: 'web', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }], calls: ['api', { service: 'cache', port: 6379 }] },
      { name: 'api', namespace: 'back', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'grpc' }], calls: ['db'] },
      { name: 'cache', namespace: 'back', image: 'docker.io/library/redis:7', ports: [{ port: 6379, protocol: 'redis' }, { port: 16379, protocol: 'tcp' }] },
      { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
    ],
  },
};

const topologies = [
  { name: 'workshop', document: findPreset('workshop')!.document },
  { name: 'bookinfo', document: findPreset('bookinfo')!.document },
  { name: 'multi-namespace', document: multiNamespace },
];

function verifyAllPairs(generated: GeneratedCase): VerifyResult {
  return verifyRepository({ topology: generated.topology, plugin: ciliumSpiffePlugin, options: {}, objects: generated.objects, includeAllPairs: true });
}

/** Lists what the mesh layer allows, as "client (kind) -> service:port mtls". */
function meshAllowed(result: VerifyResult): string[] {
  return result
    .pairs!.filter((pair) => pair.mesh.allowed)
    .map((pair) => `${pair.client} (${pair.clientKind}) -> ${pair.service}:${pair.port}${pair.mesh.mtls ? ' mtls' : ''}`)
    .sort();
}

function declaredWithMtls(generated: GeneratedCase): string[] {
  return generated.topology.edges.map((edge) => `${edge.from} (service) -> ${edge.to}:${edge.port.port} mtls`).sort();
}

describe('cilium-spiffe evaluator on generated output', () => {
  for (const { name, document } of topologies) {
    it(`allows exactly the declared edges of ${name}, with mTLS`, () => {
      const generated = generateCase(ciliumSpiffePlugin, document);
      const result = verifyAllPairs(generated);
      expect(meshAllowed(result)).toEqual(declaredWithMtls(generated));
      expect(result.mismatches).toEqual([]);
      expect(result.checks.filter((check) => !check.ok)).toEqual([]);
      expect(result.ok).toBe(true);
    });
  }

  it('lists the multi-namespace edges port by port', () => {
    const result = verifyAllPairs(generateCase(ciliumSpiffePlugin, multiNamespace));
    expect(meshAllowed(result)).toEqual([
      'api (service) -> db:5432 mtls',
      'web (service) -> api:8080 mtls',
      'web (service) -> api:9090 mtls',
      'web (service) -> cache:6379 mtls',
    ]);
  });

  it('refuses a caller that cannot authenticate', () => {
    const result = verifyAllPairs(generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document));
    const unmeshed = result.pairs!.find((pair) => pair.clientKind === 'unmeshed' && pair.service === 'lil-deebee')!;
    expect(unmeshed.networkPolicy.allowed).toBe(true);
    expect(unmeshed.mesh.allowed).toBe(false);
    expect(unmeshed.mesh.reason).toBe('CiliumNetworkPolicy data/lil-deebee ingress[0] requires mutual authentication, and a client that Cilium does not manage has no SPIFFE identity');
  });

  it('validates every cilium.io resource against its schema', () => {
    const schemas = new SchemaValidator(crdSchemas);
    for (const { document } of topologies) {
      const generated = generateCase(ciliumSpiffePlugin, document);
      const resources = generated.objects.filter((object) => object.apiVersion.startsWith('cilium.io/'));
      expect(resources.length).toBeGreaterThan(0);
      for (const resource of resources) expect(schemas.validate(resource)).toEqual([]);
    }
  });

  it('keeps authentication off the DNS rule', () => {
    const generated = generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document);
    const dns = generated.objects.filter((object) => object.kind === 'CiliumNetworkPolicy' && object.metadata.name === NAMESPACE_POLICY);
    expect(dns).toHaveLength(2);
    for (const policy of dns) expect(JSON.stringify(policy)).not.toContain('authentication');
  });

  it('offers no unmeshed client and says why', () => {
    const generated = generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document);
    const clients = generated.documents.get('verify/clients.yaml') as { metadata: { name: string } }[];
    expect(clients.map((client) => client.metadata.name).filter((name) => name.startsWith('verify-unmeshed'))).toEqual([]);
    expect(generated.files.get('README.md')!.content).toContain('no client outside the mesh: Cilium derives identity from labels');
  });
});
