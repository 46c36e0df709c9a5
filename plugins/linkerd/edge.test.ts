import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { checkExactEdges, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { SchemaValidator } from '../../src/conformance/schemas.js';
import { runCommand, shellcheckTree, withTreeOnDisk } from '../../src/conformance/tools.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { linkerdPlugin } from './index.js';

/**
 * Schemas of test/crds plus the two this plugin needs beyond them: TLSRoute and TCPRoute at v1alpha2, from the
 * experimental channel of Gateway API v1.5.1 (plugins/linkerd/crds/SOURCES.json).
 */
const crdSchemas = mkdtempSync(join(tmpdir(), 'linkerd-crds-'));
cpSync(fileURLToPath(new URL('../../test/crds', import.meta.url)), crdSchemas, { recursive: true });
cpSync(fileURLToPath(new URL('./crds', import.meta.url)), crdSchemas, { recursive: true });
afterAll(() => rmSync(crdSchemas, { recursive: true, force: true }));

const image = 'docker.io/library/nginx:1.29';

/**
 * Every caller of an external is alone in its namespace, so Linkerd's per-namespace egress rules name exactly the
 * declared callers. The stranger runs in `web`, whose services call nothing outside.
 */
const separated = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'web',
    services: [
      { name: 'frontend', image, ports: [{ port: 8080, protocol: 'http' }], expose: true, calls: ['api'] },
      {
        name: 'api',
        namespace: 'backend',
        image,
        ports: [
          { port: 9090, protocol: 'grpc' },
          { port: 9091, protocol: 'http' },
        ],
        expose: [9090],
        calls: ['ledger'],
      },
      { name: 'ledger', namespace: 'payments', image, ports: [{ port: 8081, protocol: 'http' }], calls: ['bank', 'rates', 'warehouse', 'cache'] },
      { name: 'bank', external: { host: 'api.bank.example', port: 443, protocol: 'tls' } },
      { name: 'rates', external: { host: 'rates.example', port: 80, protocol: 'http' } },
      { name: 'warehouse', external: { host: 'db.warehouse.example', port: 5432, protocol: 'postgres', addresses: ['203.0.113.0/24'] } },
      { name: 'cache', external: { host: 'cache.example', port: 6379, protocol: 'redis' } },
    ],
  },
};

/** A caller and a non-caller of an external in one namespace: the case Linkerd cannot tell apart. */
const shared = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'desk' },
  spec: {
    namespace: 'apps',
    services: [
      { name: 'web', image, ports: [{ port: 8080, protocol: 'http' }], expose: true, calls: ['payments'] },
      { name: 'payments', image, ports: [{ port: 8081, protocol: 'http' }], calls: ['psp'] },
      { name: 'psp', external: { host: 'api.psp.example', port: 443, protocol: 'tls' } },
    ],
  },
};

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject & { spec: Record<string, unknown> } {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object as KubeObject & { spec: Record<string, unknown> };
}

function evaluatorOf(generated: GeneratedCase) {
  return linkerdPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

function withConfig(generated: GeneratedCase, change: (config: string) => string): void {
  const configMap = find(generated, 'ConfigMap', 'ingress-gateway', 'edge-gateway') as unknown as { data: Record<string, string> };
  configMap.data['nginx.conf'] = change(configMap.data['nginx.conf']!);
}

describe('linkerd edge: generated output', () => {
  it('passes verify with the gateway and the externals', () => {
    const generated = generateCase(linkerdPlugin, separated);
    expect(checkExactEdges(verifyCase(linkerdPlugin, generated))).toEqual([]);
  });

  it('reads gateway routes equal to the exposures', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const gateway = evaluatorOf(generated).gateway!;
    expect(gateway.routes.map(({ hostname, service, namespace, port }) => `${hostname}>${namespace}/${service}:${port}`)).toEqual([
      'api.shop.localhost>backend/api:9090',
      'frontend.shop.localhost>web/frontend:8080',
    ]);
    expect(gateway.source).toMatchObject({ namespace: 'ingress-gateway', serviceAccount: 'edge-gateway', meshed: true });
    expect(gateway.pods).toEqual({ namespace: 'ingress-gateway', labels: { 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } });
  });

  it('lets the gateway reach exactly the exposed ports over mTLS', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const evaluator = evaluatorOf(generated);
    const allowed: string[] = [];
    for (const service of generated.topology.services) {
      for (const port of service.ports) {
        const decision = evaluator.decide(evaluator.gateway!.source, service, port);
        if (!decision.allowed) continue;
        allowed.push(`${service.name}:${port.port}`);
        expect(decision.mtls, decision.reason).toBe(true);
      }
    }
    expect(allowed).toEqual(['api:9090', 'frontend:8080']);
  });

  it('allows each external exactly for its declared caller', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const evaluator = evaluatorOf(generated);
    const clients = [
      ...generated.topology.services.map((service) => ({ service: service.name, namespace: service.namespace, serviceAccount: service.name, labels: {}, meshed: true })),
      { service: 'verify-stranger', namespace: 'web', serviceAccount: 'verify-stranger', labels: {}, meshed: true },
    ];
    const allowed = clients.flatMap((client) => generated.topology.externals.filter((external) => evaluator.decideExternal!(client, external).allowed).map((external) => `${client.service}>${external.name}`));
    expect(allowed.sort()).toEqual(['ledger>bank', 'ledger>cache', 'ledger>rates', 'ledger>warehouse']);
    const bank = generated.topology.externals.find((external) => external.name === 'bank')!;
    expect(evaluator.decideExternal!(clients.find((client) => client.service === 'ledger')!, bank).reason).toBe(
      'TLSRoute payments/external-bank allows host api.bank.example on port 443 through EgressNetwork payments/outside-cluster, for every client in namespace payments',
    );
  });

  it('emits routes by protocol, and a network of its own for addresses', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const egress = generated.objects.filter((object) => ['EgressNetwork', 'HTTPRoute', 'TLSRoute', 'TCPRoute'].includes(object.kind));
    expect(egress.map((object) => `${object.apiVersion} ${object.kind} ${object.metadata.namespace}/${object.metadata.name}`)).toEqual([
      'policy.linkerd.io/v1alpha1 EgressNetwork backend/outside-cluster',
      'policy.linkerd.io/v1alpha1 EgressNetwork payments/outside-cluster',
      'policy.linkerd.io/v1alpha1 EgressNetwork payments/addresses-203-0-113-0-24',
      'gateway.networking.k8s.io/v1alpha2 TLSRoute payments/external-bank',
      'gateway.networking.k8s.io/v1alpha2 TCPRoute payments/external-cache',
      'gateway.networking.k8s.io/v1 HTTPRoute payments/external-rates',
      'gateway.networking.k8s.io/v1alpha2 TCPRoute payments/external-warehouse-addresses-203-0-113-0-24',
      'policy.linkerd.io/v1alpha1 EgressNetwork web/outside-cluster',
    ]);
    expect(find(generated, 'EgressNetwork', 'payments', 'addresses-203-0-113-0-24').spec).toEqual({ networks: [{ cidr: '203.0.113.0/24' }], trafficPolicy: 'Deny' });
    expect(find(generated, 'TLSRoute', 'payments', 'external-bank').spec.hostnames).toEqual(['api.bank.example']);
    expect(find(generated, 'HTTPRoute', 'payments', 'external-rates').spec.hostnames).toEqual(['rates.example']);
  });

  it('validates every custom resource against its schema', () => {
    const schemas = new SchemaValidator(crdSchemas);
    const generated = generateCase(linkerdPlugin, separated);
    const custom = generated.objects.filter((object) => object.apiVersion.includes('.'));
    expect(custom.flatMap((object) => schemas.validate(object))).toEqual([]);
    expect(generated.objects.filter((object) => object.metadata.namespace === 'ingress-gateway').flatMap((object) => schemas.validate(object))).toEqual([]);
  });

  it('authorizes the gateway identity only on exposed Servers', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const policies = generated.objects.filter((object) => object.kind === 'AuthorizationPolicy' && object.metadata.name.endsWith('-via-edge-gateway'));
    expect(policies.map((object) => `${object.metadata.namespace}/${(object.spec as { targetRef: { name: string } }).targetRef.name}`)).toEqual(['backend/api-grpc-9090', 'web/frontend-http-8080']);
    expect(find(generated, 'MeshTLSAuthentication', 'backend', 'api-grpc-9090-via-edge-gateway').spec.identityRefs).toEqual([{ kind: 'ServiceAccount', name: 'edge-gateway', namespace: 'ingress-gateway' }]);
  });

  it('installs the experimental Gateway API only for TLS and TCP routes', () => {
    const experimental = generateCase(linkerdPlugin, separated).files.get('scripts/install-mesh.sh')!.content;
    expect(experimental).toContain('releases/download/v1.5.1/experimental-install.yaml');
    const onlyHttp = structuredClone(separated);
    onlyHttp.spec.services[2]!.calls = ['rates'];
    onlyHttp.spec.services = onlyHttp.spec.services.filter((service) => !['bank', 'warehouse', 'cache'].includes(service.name));
    expect(generateCase(linkerdPlugin, onlyHttp).files.get('scripts/install-mesh.sh')!.content).toContain('releases/download/v1.5.1/standard-install.yaml');
  });

  it('rejects http and tls on one port', () => {
    const clash = structuredClone(separated);
    clash.spec.services.push({ name: 'feed', external: { host: 'feed.example', port: 443, protocol: 'http' } });
    clash.spec.services[2]!.calls = ['bank', 'feed'];
    expect(() => generateCase(linkerdPlugin, clash)).toThrow(InputError);
    expect(() => generateCase(linkerdPlugin, clash)).toThrow(
      'topology: externals "bank" (tls) and "feed" (http) share port 443, and both are called from namespace payments. Linkerd serves one protocol per port of an EgressNetwork, so one of them would be denied. Use another port for one of them, or move the callers of one to another namespace',
    );
  });

  it('rejects tls and tcp on one port', () => {
    const clash = structuredClone(separated);
    clash.spec.services.push({ name: 'mail', external: { host: 'mail.example', port: 443, protocol: 'tcp' } });
    clash.spec.services[2]!.calls = ['bank', 'mail'];
    expect(() => generateCase(linkerdPlugin, clash)).toThrow(InputError);
    expect(() => generateCase(linkerdPlugin, clash)).toThrow(
      'topology: externals "bank" (tls) and "mail" (tcp) share port 443, and both are called from namespace payments. Linkerd serves one protocol per port of an EgressNetwork, so one of them would be denied. Give "mail" its addresses so it gets an EgressNetwork of its own, use another port for one of them, or move the callers of one to another namespace',
    );
  });

  it('rejects tls and tcp whose addresses overlap on one port', () => {
    const clash = structuredClone(separated);
    clash.spec.services.push(
      { name: 'mail', external: { host: 'mail.example', port: 443, protocol: 'tcp', addresses: ['198.51.100.0/24'] } },
      { name: 'vault', external: { host: 'vault.example', port: 443, protocol: 'tls', addresses: ['198.51.100.128/25'] } },
    );
    clash.spec.services[2]!.calls = ['mail', 'vault'];
    expect(() => generateCase(linkerdPlugin, clash)).toThrow(
      'topology: externals "mail" (tcp) and "vault" (tls) share port 443 and the addresses 198.51.100.0/24, and both are called from namespace payments. Linkerd serves one protocol per port of an EgressNetwork, so one of them would be denied. Give them addresses that do not overlap, use another port for one of them, or move the callers of one to another namespace',
    );
  });

  it('rejects an external at a cluster network address', () => {
    // The core's own check already rejects 192.168.0.0/16 and kind's service range 10.96.0.0/12.
    for (const cidr of ['10.20.0.0/16', '172.16.5.0/24', '100.64.0.0/10', '100.127.255.255/32', 'fd00:1::/64']) {
      const private_ = structuredClone(separated);
      private_.spec.services[5]!.external!.addresses = ['203.0.113.0/24', cidr];
      expect(() => generateCase(linkerdPlugin, private_), cidr).toThrow(InputError);
      expect(() => generateCase(linkerdPlugin, private_), cidr).toThrow(
        `topology: service "warehouse", field external.addresses: ${cidr} overlaps Linkerd's default clusterNetworks (10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.168.0.0/16, fd00::/8). The policy controller does not accept an EgressNetwork there, so Linkerd cannot limit egress to it. Use the dependency's public addresses, or choose another mesh`,
      );
    }
  });

  it('passes shellcheck and make -n', () => {
    const { files } = generateCase(linkerdPlugin, separated);
    withTreeOnDisk(files, (directory) => {
      expect(shellcheckTree(files, directory).output).toBe('');
      const make = runCommand('make', ['-n', 'up', 'verify'], directory);
      expect(make.ok, make.output).toBe(true);
    });
  });

  it('states the namespace scope in the README', () => {
    const readme = generateCase(linkerdPlugin, separated).files.get('README.md')!.content;
    expect(readme).toContain('Linkerd has no egress authorization by client identity');
    expect(readme).toContain('edge-gateway.ingress-gateway.serviceaccount.identity.linkerd.cluster.local');
  });
});

/** Two tcp-like externals at one address range, each called from the same namespace. */
const sharedRange = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'data' },
  spec: {
    namespace: 'apps',
    services: [
      { name: 'a', image, ports: [{ port: 8080, protocol: 'http' }], calls: ['db'] },
      { name: 'b', image, ports: [{ port: 8081, protocol: 'http' }], calls: ['cache'] },
      { name: 'db', external: { host: 'db.example', port: 5432, protocol: 'postgres', addresses: ['198.51.100.0/24'] } },
      { name: 'cache', external: { host: 'cache.example', port: 6379, protocol: 'redis', addresses: ['198.51.100.0/24', '192.0.2.0/25'] } },
      { name: 'queue', external: { host: 'queue.example', port: 5672, protocol: 'tcp', addresses: ['198.51.100.64/26'] } },
      { name: 'search', external: { host: 'search.example', port: 443, protocol: 'tls', addresses: ['198.51.100.0/24'] } },
    ],
  },
};

describe('linkerd edge: tcp externals at shared addresses', () => {
  it('passes verify for two tcp externals at one range', () => {
    const generated = generateCase(linkerdPlugin, sharedRange);
    expect(checkExactEdges(verifyCase(linkerdPlugin, generated))).toEqual([]);
  });

  it('passes verify with nested ranges and a tls external', () => {
    const nested = structuredClone(sharedRange);
    nested.spec.services[0]!.calls = ['db', 'queue', 'search'];
    const generated = generateCase(linkerdPlugin, nested);
    expect(checkExactEdges(verifyCase(linkerdPlugin, generated))).toEqual([]);
    const evaluator = evaluatorOf(generated);
    const a = { service: 'a', namespace: 'apps', serviceAccount: 'a', labels: {}, meshed: true };
    for (const external of generated.topology.externals) {
      expect(evaluator.decideExternal!(a, external).allowed, external.name).toBe(true);
    }
  });

  it('emits one network per range with every route that reaches it', () => {
    const nested = structuredClone(sharedRange);
    nested.spec.services[0]!.calls = ['db', 'queue', 'search'];
    const generated = generateCase(linkerdPlugin, nested);
    const networks = generated.objects.filter((object) => object.kind === 'EgressNetwork');
    expect(networks.map((object) => `${object.metadata.name} ${JSON.stringify((object.spec as { networks?: unknown }).networks ?? 'outside')}`)).toEqual([
      'outside-cluster "outside"',
      'addresses-192-0-2-0-25 [{"cidr":"192.0.2.0/25"}]',
      'addresses-198-51-100-0-24 [{"cidr":"198.51.100.0/24"}]',
      'addresses-198-51-100-64-26 [{"cidr":"198.51.100.64/26"}]',
    ]);
    const parentsOf = (kind: string) =>
      generated.objects
        .filter((object) => object.kind === kind)
        .map((object) => `${object.metadata.name}>${((object.spec as { parentRefs: { name: string; port: number }[] }).parentRefs.map((parent) => `${parent.name}:${parent.port}`)).join(',')}`);
    expect(parentsOf('TCPRoute')).toEqual([
      'external-cache-addresses-192-0-2-0-25>addresses-192-0-2-0-25:6379',
      'external-cache-addresses-198-51-100-0-24>addresses-198-51-100-0-24:6379',
      'external-cache-addresses-198-51-100-64-26>addresses-198-51-100-64-26:6379',
      'external-db-addresses-198-51-100-0-24>addresses-198-51-100-0-24:5432',
      'external-db-addresses-198-51-100-64-26>addresses-198-51-100-64-26:5432',
      'external-queue-addresses-198-51-100-64-26>addresses-198-51-100-64-26:5672',
    ]);
    expect(parentsOf('TLSRoute')).toEqual([
      'external-search>outside-cluster:443',
      'external-search-addresses-198-51-100-0-24>addresses-198-51-100-0-24:443',
      'external-search-addresses-198-51-100-64-26>addresses-198-51-100-64-26:443',
    ]);
  });

  it('denies a tcp external whose network lacks its route', () => {
    const generated = generateCase(linkerdPlugin, sharedRange);
    generated.objects = generated.objects.filter((object) => object.metadata.name !== 'external-db-addresses-198-51-100-0-24');
    generated.objects.push({
      apiVersion: 'policy.linkerd.io/v1alpha1',
      kind: 'EgressNetwork',
      metadata: { name: 'external-db', namespace: 'apps' },
      spec: { networks: [{ cidr: '198.51.100.0/24' }], trafficPolicy: 'Deny' },
    });
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems).toContainEqual(expect.stringMatching(/^a -> db \(db\.example:5432\) is declared, but the mesh denies it: EgressNetwork apps\/addresses-198-51-100-0-24 denies db\.example:5432 at 198\.51\.100\.0/));
  });
});

describe('linkerd edge: limits', () => {
  it('lets a non-caller in the caller namespace through Linkerd', () => {
    const generated = generateCase(linkerdPlugin, shared);
    const evaluator = evaluatorOf(generated);
    const psp = generated.topology.externals[0]!;
    const web = { service: 'web', namespace: 'apps', serviceAccount: 'web', labels: {}, meshed: true };
    expect(evaluator.decideExternal!(web, psp)).toMatchObject({ allowed: true, reason: expect.stringContaining('for every client in namespace apps') });
    // The evaluator declares its egress scope as the namespace, so verify accepts that while NetworkPolicy stops the non-caller.
    expect(evaluator.externalScope).toBe('namespace');
    expect(checkExactEdges(verifyCase(linkerdPlugin, generated))).toEqual([]);
  });
});

describe('linkerd edge: hand-broken output', () => {
  it('names a gateway route to a port that is not exposed', () => {
    const generated = generateCase(linkerdPlugin, separated);
    withConfig(generated, (config) =>
      config.replace(/\n}\n$/, '\n  server {\n    listen 8080;\n    server_name admin.shop.localhost;\n    location / { proxy_pass http://api.backend.svc.cluster.local:9091; }\n  }\n}\n'),
    );
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems.join('\n')).toMatch(/admin\.shop\.localhost/);
    expect(problems.join('\n')).toMatch(/9091/);
  });

  it('names an egress route added for an undeclared caller', () => {
    const generated = generateCase(linkerdPlugin, separated);
    const route = structuredClone(find(generated, 'TLSRoute', 'payments', 'external-bank'));
    route.metadata.namespace = 'web';
    (route.spec.parentRefs as { namespace: string }[])[0]!.namespace = 'web';
    generated.objects.push(route);
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems).toContainEqual(expect.stringMatching(/^frontend -> bank \(api\.bank\.example:443\) is not declared, but the mesh allows it: TLSRoute web\/external-bank/));
    expect(problems).toContainEqual(expect.stringMatching(/^verify-stranger \(stranger\) -> bank .* is not declared, but the mesh allows it/));
  });

  it('names a gateway authorization on an unexposed port', () => {
    const generated = generateCase(linkerdPlugin, separated);
    find(generated, 'AuthorizationPolicy', 'backend', 'api-grpc-9090-via-edge-gateway').spec.targetRef = { group: 'policy.linkerd.io', kind: 'Server', name: 'api-http-9091' };
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems).toContainEqual(expect.stringMatching(/^gateway -> api:9091 is not exposed, but the mesh allows the gateway/));
    expect(problems).toContainEqual(expect.stringMatching(/^gateway -> api:9090 is exposed, but/));
  });

  it('names an EgressNetwork inside the cluster networks', () => {
    const generated = generateCase(linkerdPlugin, separated);
    find(generated, 'EgressNetwork', 'payments', 'addresses-203-0-113-0-24').spec.networks = [{ cidr: '10.20.0.0/16' }];
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems).toContain(
      "EgressNetwork payments/addresses-203-0-113-0-24: network 10.20.0.0/16 overlaps Linkerd's default clusterNetworks, so the policy controller does not accept the EgressNetwork and ignores its routes",
    );
  });

  it('ignores routes of a network inside the cluster networks', () => {
    const generated = generateCase(linkerdPlugin, sharedRange);
    for (const object of generated.objects) {
      if (object.kind === 'EgressNetwork' && object.metadata.name === 'addresses-198-51-100-0-24') (object.spec as Record<string, unknown>).networks = [{ cidr: '192.168.0.0/16' }];
    }
    const privateDb = structuredClone(generated.topology.externals.find((external) => external.name === 'db')!);
    privateDb.addresses = ['192.168.7.0/24'];
    const decision = evaluatorOf(generated).decideExternal!({ service: 'a', namespace: 'apps', serviceAccount: 'a', labels: {}, meshed: true }, privateDb);
    expect(decision).toMatchObject({ allowed: false, reason: expect.stringContaining('is not accepted') });
  });

  it('names an EgressNetwork that allows every host', () => {
    const generated = generateCase(linkerdPlugin, separated);
    find(generated, 'EgressNetwork', 'web', 'outside-cluster').spec.trafficPolicy = 'Allow';
    const problems = checkExactEdges(verifyCase(linkerdPlugin, generated));
    expect(problems).toContain('EgressNetwork web/outside-cluster: trafficPolicy "Allow" lets every host through: set it to Deny and allow hosts with routes');
  });
});
