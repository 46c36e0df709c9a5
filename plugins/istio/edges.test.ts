import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkExactEdges, generateCase, SchemaValidator, shellcheckTree, verifyCase, withTreeOnDisk, type GeneratedCase } from '../../src/conformance/index.js';
import { InputError } from '../../src/errors.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { istioPlugin } from './index.js';

const crdDirectory = fileURLToPath(new URL('../../test/crds', import.meta.url));

/**
 * Web is exposed on two of its three ports, api on its only port, worker and db not at all. Api and worker share
 * the namespace backend, and only api calls the tls and postgres dependencies, so worker is the undeclared
 * caller next to a declared one. No service calls the http dependency.
 */
const shop = {
  apiVersion: 'create-zero-trust-app/v1alpha1',
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'production',
    services: [
      {
        name: 'web',
        image: 'docker.io/library/nginx:1.27',
        ports: [
          { port: 8080, protocol: 'http' },
          { port: 9090, protocol: 'grpc' },
          { port: 9100, protocol: 'http' },
        ],
        expose: [8080, 9090],
        calls: ['api', 'partner'],
      },
      { name: 'api', namespace: 'backend', image: 'docker.io/library/nginx:1.27', ports: [{ port: 8080, protocol: 'http2' }], expose: true, calls: ['db', 'partner', 'billing'] },
      { name: 'worker', namespace: 'backend', image: 'docker.io/library/nginx:1.27', ports: [{ port: 8080, protocol: 'http' }], calls: ['db'] },
      { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      { name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls' } },
      { name: 'billing', external: { host: 'db.billing.example', port: 5432, protocol: 'postgres', addresses: ['203.0.113.0/24'] } },
      { name: 'legacy', external: { host: 'legacy.example', port: 80, protocol: 'http' } },
    ],
  },
};

type ServiceDocument = Record<string, unknown>;

function withServices(services: ServiceDocument[]): typeof shop {
  return { ...shop, spec: { ...shop.spec, services: services as typeof shop.spec.services } };
}

function generateShop(): GeneratedCase {
  return generateCase(istioPlugin, shop);
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return istioPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

function sourceOf(generated: GeneratedCase, name: string): Source {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  return { service: name, namespace: service.namespace, serviceAccount: name, labels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'verify-client' }, meshed: true };
}

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject {
  const object = generated.objects.find((candidate) => candidate.kind === kind && (candidate.metadata.namespace ?? '') === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object;
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(istioPlugin, generated));
}

describe('istio ingress gateway', () => {
  it('routes exactly the exposed ports by host name', () => {
    const generated = generateShop();
    const routes = evaluatorOf(generated).gateway!.routes.map((route) => `${route.hostname} ${route.namespace}/${route.service}:${route.port}`).sort();
    const exposures = generated.topology.exposures.map((exposure) => `${exposure.hostname} ${exposure.namespace}/${exposure.service}:${exposure.port.port}`).sort();
    expect(exposures).toHaveLength(3);
    expect(routes).toEqual(exposures);
  });

  it('uses GRPCRoute for gRPC and HTTPRoute otherwise', () => {
    const generated = generateShop();
    expect(find(generated, 'GRPCRoute', 'production', 'web-grpc-9090').spec).toMatchObject({ rules: [{ backendRefs: [{ name: 'web', port: 9090 }] }] });
    expect(find(generated, 'HTTPRoute', 'production', 'web-http-8080').spec).toMatchObject({ hostnames: ['web.shop.localhost'] });
    expect(find(generated, 'HTTPRoute', 'backend', 'api-http2-8080').spec).toMatchObject({ hostnames: ['api.shop.localhost'] });
  });

  it('lets the gateway reach exactly the exposed ports over mTLS', () => {
    const generated = generateShop();
    const evaluator = evaluatorOf(generated);
    const gateway = evaluator.gateway!;
    expect(gateway.source).toMatchObject({ namespace: 'istio-ingress', serviceAccount: 'ingress-istio', meshed: true });
    for (const target of generated.topology.services) {
      for (const port of target.ports) {
        const decision = evaluator.decide(gateway.source, target, port);
        const exposed = target.exposedPorts.includes(port.port);
        expect({ target: `${target.name}:${port.port}`, allowed: decision.allowed }).toEqual({ target: `${target.name}:${port.port}`, allowed: exposed });
        if (exposed) expect(decision.mtls).toBe(true);
      }
    }
  });

  it('gives the core the gateway pods and its Service', () => {
    const mesh = istioPlugin.generate({ topology: generateShop().topology, options: {}, render: () => '' });
    expect(mesh.ingress).toEqual({
      pods: { namespace: 'istio-ingress', labels: { 'gateway.networking.k8s.io/gateway-name': 'ingress' } },
      entry: { portForward: { namespace: 'istio-ingress', service: 'ingress-istio', port: 80 } },
    });
    expect(evaluatorOf(generateShop()).gateway!.pods).toEqual(mesh.ingress!.pods);
  });

  it('admits routes only from application namespaces', () => {
    const gateway = find(generateShop(), 'Gateway', 'istio-ingress', 'ingress') as KubeObject & { spec: { listeners: { allowedRoutes: unknown }[] } };
    expect(gateway.spec.listeners).toHaveLength(1);
    expect(gateway.spec.listeners[0]!.allowedRoutes).toMatchObject({ namespaces: { from: 'Selector', selector: { matchLabels: { 'app.kubernetes.io/part-of': 'shop' } } } });
    expect(find(generateShop(), 'Namespace', '', 'istio-ingress').metadata.labels?.['app.kubernetes.io/part-of']).toBeUndefined();
  });

  it('installs Gateway API v1.5.1 before istiod', () => {
    const script = generateShop().files.get('scripts/install-mesh.sh')!.content;
    const crds = script.indexOf('https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.5.1/standard-install.yaml');
    expect(crds).toBeGreaterThan(0);
    expect(crds).toBeLessThan(script.indexOf('helm upgrade --install istiod'));
    expect(script).toContain('--set gateways.seccompProfile.type=RuntimeDefault');
  });

  it('emits no gateway when nothing is exposed', () => {
    const services = shop.spec.services.map(({ expose: _expose, ...service }) => service as ServiceDocument);
    const generated = generateCase(istioPlugin, withServices(services));
    expect(generated.objects.some((object) => object.kind === 'Gateway' || object.kind === 'HTTPRoute')).toBe(false);
    expect(generated.files.get('scripts/install-mesh.sh')!.content).not.toContain('gateway-api');
    expect(evaluatorOf(generated).gateway).toBeUndefined();
  });
});

describe('istio egress to external dependencies', () => {
  it('allows each dependency exactly for its declared callers', () => {
    const generated = generateShop();
    const evaluator = evaluatorOf(generated);
    const declared = new Set(generated.topology.externalEdges.map((edge) => `${edge.from} -> ${edge.to.name}`));
    const stranger: Source = { service: 'verify-stranger', namespace: 'production', serviceAccount: 'verify-stranger', labels: { 'app.kubernetes.io/name': 'verify-stranger' }, meshed: true };
    const sources = [...generated.topology.services.map((service) => sourceOf(generated, service.name)), stranger];
    const allowed: string[] = [];
    for (const source of sources) {
      for (const external of generated.topology.externals) {
        if (evaluator.decideExternal!(source, external).allowed) allowed.push(`${source.service} -> ${external.name}`);
      }
    }
    expect(allowed.sort()).toEqual([...declared].sort());
  });

  it('matches TLS by SNI and opaque TCP with addresses by range', () => {
    const generated = generateShop();
    expect(find(generated, 'ServiceEntry', 'backend', 'partner').spec).toEqual({
      hosts: ['api.partner.example'],
      ports: [{ number: 443, name: 'tls-443', protocol: 'TLS' }],
      location: 'MESH_EXTERNAL',
      resolution: 'DNS',
      exportTo: ['.'],
    });
    // The ServiceEntry CRD accepts CIDR addresses only with resolution NONE or STATIC.
    expect(find(generated, 'ServiceEntry', 'backend', 'billing').spec).toMatchObject({ addresses: ['203.0.113.0/24'], resolution: 'NONE', ports: [{ protocol: 'TCP' }] });
    expect(generated.objects.some((object) => object.kind === 'ServiceEntry' && object.metadata.name === 'legacy')).toBe(false);
  });

  it('sets REGISTRY_ONLY on every Sidecar', () => {
    const sidecars = generateShop().objects.filter((object) => object.kind === 'Sidecar');
    expect(sidecars.map((sidecar) => `${sidecar.metadata.namespace}/${sidecar.metadata.name}`).sort()).toEqual(['backend/api-egress', 'backend/default', 'data/default', 'production/default', 'production/web-egress']);
    for (const sidecar of sidecars) expect(sidecar.spec).toMatchObject({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  });

  it('gives the README a summary of what is checked by host name', () => {
    const mesh = istioPlugin.generate({ topology: generateShop().topology, options: {}, render: () => '' });
    expect(mesh.egress?.summary).toMatch(/SNI/);
    expect(mesh.egress?.summary).toMatch(/only the port and the address ranges/);
  });

  it('leaves a host under svc.cluster.local to the core', () => {
    // The topology check rejects it before any plugin runs, for every mesh.
    const services = shop.spec.services.map((service) => (service.name === 'partner' ? { name: 'partner', external: { host: 'api.backend.svc.cluster.local', port: 443, protocol: 'tls' } } : service));
    expect(() => generateCase(istioPlugin, withServices(services))).toThrow(InputError);
    expect(() => generateCase(istioPlugin, withServices(services))).toThrow(/external.host: "api.backend.svc.cluster.local" names something inside the cluster/);
  });

  it('rejects two dependencies on one host', () => {
    const services = [...shop.spec.services, { name: 'partner-http', external: { host: 'api.partner.example', port: 80, protocol: 'http' } }];
    expect(() => generateCase(istioPlugin, withServices(services))).toThrow(/"api.partner.example" is also the host of "partner"/);
  });

  it('rejects two tcp dependencies on one port without addresses', () => {
    const services = [
      ...shop.spec.services.map((service) => (service.name === 'worker' ? { ...service, calls: ['db', 'one', 'two'] } : service)),
      { name: 'one', external: { host: 'one.example', port: 6379, protocol: 'redis' } },
      { name: 'two', external: { host: 'two.example', port: 6379, protocol: 'redis' } },
    ];
    expect(() => generateCase(istioPlugin, withServices(services))).toThrow(/service "worker", field calls: "one" and "two" share port 6379/);
  });
});

describe('istio gateway and egress output', () => {
  it('passes verify as generated', () => {
    expect(problemsOf(generateShop())).toEqual([]);
  });

  it('emits custom resources valid against their schemas', () => {
    const validator = new SchemaValidator(crdDirectory);
    const generated = generateShop();
    const kinds = new Set(generated.objects.map((object) => object.kind));
    for (const kind of ['Gateway', 'HTTPRoute', 'GRPCRoute', 'ServiceEntry', 'Sidecar', 'AuthorizationPolicy']) expect(kinds).toContain(kind);
    expect(generated.objects.flatMap((object) => validator.validate(object))).toEqual([]);
  });

  it('passes shellcheck', () => {
    const generated = generateShop();
    const result = withTreeOnDisk(generated.files, (directory) => shellcheckTree(generated.files, directory));
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });
});

describe('istio verify on hand-broken gateway and egress', () => {
  it('names a route to a service that is not exposed', () => {
    const generated = generateShop();
    const route = structuredClone(find(generated, 'HTTPRoute', 'backend', 'api-http2-8080')) as KubeObject & { spec: { hostnames: string[]; rules: { backendRefs: { name: string }[] }[] } };
    route.metadata.name = 'worker-http-8080';
    route.spec.hostnames = ['worker.shop.localhost'];
    route.spec.rules[0]!.backendRefs[0]!.name = 'worker';
    generated.objects.push(route);

    const routes = evaluatorOf(generated).gateway!.routes;
    expect(routes).toContainEqual({ hostname: 'worker.shop.localhost', service: 'worker', namespace: 'backend', port: 8080, resource: 'HTTPRoute backend/worker-http-8080' });
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.includes('HTTPRoute backend/worker-http-8080 routes worker.shop.localhost to backend/worker:8080'))).toBe(true);
  });

  it('names an egress allow-list entry for an undeclared caller', () => {
    const generated = generateShop();
    const sidecar = structuredClone(find(generated, 'Sidecar', 'backend', 'api-egress')) as KubeObject & { spec: { workloadSelector: { labels: Record<string, string> }; egress: { hosts: string[] }[] } };
    sidecar.metadata.name = 'worker-egress';
    sidecar.spec.workloadSelector.labels = { 'app.kubernetes.io/name': 'worker' };
    generated.objects.push(sidecar);

    const partner = generated.topology.externals.find((external) => external.name === 'partner')!;
    expect(evaluatorOf(generated).decideExternal!(sourceOf(generated, 'worker'), partner)).toMatchObject({ allowed: true, reason: expect.stringContaining('Sidecar backend/worker-egress') });
    const problems = problemsOf(generated);
    expect(problems.some((problem) => /^worker -> partner \(api\.partner\.example:443\) is not declared, but the mesh allows it/.test(problem))).toBe(true);
  });

  it('names a namespace default that imports a dependency', () => {
    const generated = generateShop();
    const sidecar = find(generated, 'Sidecar', 'backend', 'default') as KubeObject & { spec: { egress: { hosts: string[] }[] } };
    sidecar.spec.egress[0]!.hosts.push('./db.billing.example');
    const billing = generated.topology.externals.find((external) => external.name === 'billing')!;
    expect(evaluatorOf(generated).decideExternal!(sourceOf(generated, 'worker'), billing).allowed).toBe(true);
    expect(evaluatorOf(generated).decideExternal!(sourceOf(generated, 'db'), billing).allowed).toBe(false);
  });

  it('names ALLOW_ANY on a namespace default', () => {
    const generated = generateShop();
    const sidecar = find(generated, 'Sidecar', 'production', 'default') as KubeObject & { spec: { outboundTrafficPolicy: { mode: string } } };
    sidecar.spec.outboundTrafficPolicy.mode = 'ALLOW_ANY';
    const problems = problemsOf(generated);
    expect(problems.some((problem) => /^verify-stranger \(stranger\) -> legacy \(legacy\.example:80\) is not declared, but the mesh allows it: Sidecar production\/default sets outboundTrafficPolicy ALLOW_ANY/.test(problem))).toBe(true);
  });

  it('names a ServiceEntry exported to every namespace once a Sidecar is gone', () => {
    const generated = generateShop();
    const entry = find(generated, 'ServiceEntry', 'backend', 'partner') as KubeObject & { spec: { exportTo: string[] } };
    entry.spec.exportTo = ['*'];
    generated.objects = generated.objects.filter((object) => !(object.kind === 'Sidecar' && object.metadata.namespace === 'data'));
    const partner = generated.topology.externals.find((external) => external.name === 'partner')!;
    expect(evaluatorOf(generated).decideExternal!(sourceOf(generated, 'db'), partner)).toMatchObject({ allowed: true, reason: expect.stringContaining('ServiceEntry backend/partner') });
    expect(evaluatorOf(generated).decideExternal!(sourceOf(generated, 'worker'), partner).allowed).toBe(false);
  });

  it('names a gateway policy that opens a port that is not exposed', () => {
    const generated = generateShop();
    const policy = find(generated, 'AuthorizationPolicy', 'production', 'web-from-istio-ingress') as KubeObject & { spec: { rules: { to: { operation: { ports: string[] } }[] }[] } };
    policy.spec.rules[0]!.to[0]!.operation.ports.push('9100');
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('gateway -> web:9100 is not exposed, but the mesh allows the gateway: allowed by AuthorizationPolicy production/web-from-istio-ingress'))).toBe(true);
  });

  it('names an exposed port the gateway may not reach', () => {
    const generated = generateShop();
    generated.objects = generated.objects.filter((object) => !(object.kind === 'AuthorizationPolicy' && object.metadata.name === 'api-from-istio-ingress'));
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('gateway -> api:8080 is exposed, but the mesh denies it'))).toBe(true);
  });

  it('drops routes from a namespace the listener does not admit', () => {
    const generated = generateShop();
    const namespace = find(generated, 'Namespace', '', 'backend');
    delete namespace.metadata.labels!['app.kubernetes.io/part-of'];
    const routes = evaluatorOf(generated).gateway!.routes;
    expect(routes.map((route) => route.service).sort()).toEqual(['web', 'web']);
  });

  it('names a second Istio gateway', () => {
    const generated = generateShop();
    const gateway = structuredClone(find(generated, 'Gateway', 'istio-ingress', 'ingress'));
    gateway.metadata.name = 'side-door';
    generated.objects.push(gateway);
    expect(evaluatorOf(generated).findings).toContainEqual({ subject: 'Gateway istio-ingress/side-door', message: expect.stringContaining('is a second Istio gateway') });
  });
});
