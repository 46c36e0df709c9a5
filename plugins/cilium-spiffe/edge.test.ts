import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkExactEdges, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import { SchemaValidator } from '../../src/conformance/schemas.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import { TOPOLOGY_API_VERSION } from '../../src/topology/validate.js';
import { GATEWAY_SOURCE } from './evaluate.js';
import { ciliumSpiffePlugin } from './index.js';
import { fqdnMatches } from './policies.js';
import { GATEWAY_API_CRDS_URL, GATEWAY_PORT } from './versions.js';

const crdSchemas = fileURLToPath(new URL('../../test/crds', import.meta.url));
const image = 'docker.io/library/nginx:1.29';

/** Exposed ports in two namespaces (one gRPC, one of two HTTP ports), and two external dependencies. */
const edgeTopology = {
  apiVersion: TOPOLOGY_API_VERSION,
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'front',
    services: [
      { name: 'web', image, ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'http', name: 'admin' }], expose: [8080], calls: ['api', 'payments'] },
      { name: 'api', namespace: 'back', image, ports: [{ port: 9000, protocol: 'grpc' }], expose: true, calls: ['db', 'ledger'] },
      { name: 'db', namespace: 'data', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      { name: 'payments', external: { host: 'api.payments.example', port: 443, protocol: 'tls' } },
      { name: 'ledger', external: { host: 'ledger.db.example', port: 5432, protocol: 'postgres', addresses: ['198.51.100.0/24'] } },
    ],
  },
};

type Rule = Record<string, unknown> & { toPorts?: { ports: { port: string; protocol: string }[]; rules?: unknown }[] };
type CiliumPolicy = KubeObject & { spec: { ingress?: Rule[]; egress?: Rule[] } };

function generate(): GeneratedCase {
  return generateCase(ciliumSpiffePlugin, edgeTopology);
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return ciliumSpiffePlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
}

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object;
}

function policy(generated: GeneratedCase, namespace: string, name: string): CiliumPolicy {
  return find(generated, 'CiliumNetworkPolicy', namespace, name) as CiliumPolicy;
}

/** Builds a meshed source with a service's identity, as verify does. */
function serviceSource(generated: GeneratedCase, name: string): Source {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  return { service: name, namespace: service.namespace, serviceAccount: name, labels: { 'app.kubernetes.io/name': name }, meshed: true };
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(ciliumSpiffePlugin, generated));
}

describe('cilium-spiffe gateway on generated output', () => {
  it('routes exactly the exposures', () => {
    const generated = generate();
    const gateway = evaluatorOf(generated).gateway!;
    const routes = gateway.routes.map((route) => `${route.hostname} ${route.namespace}/${route.service}:${route.port} ${route.resource}`).sort();
    expect(routes).toEqual(['api.shop.localhost back/api:9000 GRPCRoute back/api-grpc-9000', 'web.shop.localhost front/web:8080 HTTPRoute front/web-http-8080'].sort());
    expect(generated.topology.exposures.map((exposure) => exposure.hostname).sort()).toEqual(['api.shop.localhost', 'web.shop.localhost']);
  });

  it('describes the gateway as the reserved ingress identity', () => {
    const generated = generate();
    const gateway = evaluatorOf(generated).gateway!;
    expect(gateway.pods).toBeNull();
    expect(gateway.source).toEqual(GATEWAY_SOURCE);
    expect(gateway.source.meshed).toBe(false);
    const mesh = ciliumSpiffePlugin.generate({ topology: generated.topology, options: {}, render: () => '' });
    expect(mesh.ingress).toEqual({ pods: null, entry: { nodePort: GATEWAY_PORT } });
  });

  it('lets the gateway reach exactly the exposed ports', () => {
    const generated = generate();
    const evaluator = evaluatorOf(generated);
    const allowed: string[] = [];
    for (const service of generated.topology.services) {
      for (const port of service.ports) {
        const decision = evaluator.decide(GATEWAY_SOURCE, service, port);
        if (decision.allowed) allowed.push(`${service.name}:${port.port}`);
        expect(decision.mtls).toBe(false);
      }
    }
    expect(allowed.sort()).toEqual(['api:9000', 'web:8080']);
  });

  it('names the rule that admits the gateway', () => {
    const generated = generate();
    const web = generated.topology.services.find((service) => service.name === 'web')!;
    const decision = evaluatorOf(generated).decide(GATEWAY_SOURCE, web, web.ports[0]!);
    expect(decision.reason).toBe('CiliumNetworkPolicy front/web ingress[0] allows it without authentication');
  });

  it('passes verify apart from the gateway hop mTLS', () => {
    const result = verifyCase(ciliumSpiffePlugin, generate());
    expect(checkExactEdges(result)).toEqual([]);
    expect(result.checks.find((check) => check.name === 'gateway routes')).toMatchObject({ ok: true });
  });

  it('declares the gateway hop without mTLS', () => {
    const generated = generate();
    expect(ciliumSpiffePlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects }).gateway!.mtls).toBe(false);
    expect(problemsOf(generated)).toEqual([]);
  });

  it('turns on Gateway API only when services are exposed', () => {
    const values = (generated: GeneratedCase) => parse((find(generated, 'ConfigMap', 'kube-system', 'cilium-helm-values').data as Record<string, string>)['values.yaml']!) as Record<string, any>;
    const exposed = values(generate());
    expect(exposed.gatewayAPI).toMatchObject({ enabled: true, hostNetwork: { enabled: true }, enableAppProtocol: true });
    expect(exposed.kubeProxyReplacement).toBe(true);
    const workshop = values(generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document));
    expect(workshop.gatewayAPI).toBeUndefined();
    const kindOf = (generated: GeneratedCase) => parse(generated.files.get('kind.yaml')!.content) as { networking: Record<string, unknown>; nodes: Record<string, unknown>[] };
    expect(kindOf(generate()).networking.kubeProxyMode).toBe('none');
    expect(kindOf(generate()).nodes[0]!.extraPortMappings).toEqual([{ containerPort: 18080, hostPort: 18080, listenAddress: '127.0.0.1', protocol: 'TCP' }]);
    const workshopKind = kindOf(generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document));
    expect(workshopKind.networking.kubeProxyMode).toBeUndefined();
    expect(workshopKind.nodes[0]!.extraPortMappings).toBeUndefined();
    expect(workshop.kubeProxyReplacement).toBeUndefined();
  });

  it('installs the Gateway API CRDs before Cilium', () => {
    const script = generate().files.get('scripts/install-mesh.sh')!.content;
    const crds = script.indexOf(`kubectl apply --server-side -f ${GATEWAY_API_CRDS_URL}`);
    expect(crds).toBeGreaterThan(0);
    expect(crds).toBeLessThan(script.indexOf('helm upgrade --install cilium'));
    const workshop = generateCase(ciliumSpiffePlugin, findPreset('workshop')!.document).files.get('scripts/install-mesh.sh')!.content;
    expect(workshop).not.toContain('gateway-api');
  });

  it('marks exposed gRPC ports as h2c', () => {
    const service = find(generate(), 'Service', 'back', 'api') as KubeObject & { spec: { ports: { appProtocol?: string }[] } };
    expect(service.spec.ports.map((port) => port.appProtocol)).toEqual(['kubernetes.io/h2c']);
  });

  it('validates the gateway resources against their schemas', () => {
    const schemas = new SchemaValidator(crdSchemas);
    const resources = generate().objects.filter((object) => object.apiVersion.startsWith('gateway.networking.k8s.io/') || object.apiVersion.startsWith('cilium.io/'));
    expect(resources.map((resource) => resource.kind).filter((kind) => kind !== 'CiliumNetworkPolicy').sort()).toEqual(['GRPCRoute', 'Gateway', 'HTTPRoute']);
    for (const resource of resources) expect(schemas.validate(resource)).toEqual([]);
  });
});

describe('cilium-spiffe egress to external dependencies', () => {
  it('allows each external exactly for its declared callers', () => {
    const generated = generate();
    const evaluator = evaluatorOf(generated);
    const stranger: Source = { service: 'verify-stranger', namespace: 'front', serviceAccount: 'verify-stranger', labels: { 'app.kubernetes.io/name': 'verify-stranger' }, meshed: true };
    const sources = [...generated.topology.services.map((service) => serviceSource(generated, service.name)), stranger];
    const allowed = sources.flatMap((source) => generated.topology.externals.filter((external) => evaluator.decideExternal!(source, external).allowed).map((external) => `${source.service} -> ${external.name}`));
    expect(allowed.sort()).toEqual(['api -> ledger', 'web -> payments']);
  });

  it('allows a declared caller by host name', () => {
    const generated = generate();
    const payments = generated.topology.externals.find((external) => external.name === 'payments')!;
    expect(evaluatorOf(generated).decideExternal!(serviceSource(generated, 'web'), payments)).toEqual({
      allowed: true,
      mtls: false,
      reason: 'CiliumNetworkPolicy front/web egress[1] allows payments (api.payments.example:443) by host name, learnt through CiliumNetworkPolicy front/web egress[2]',
    });
  });

  it('sends DNS through the proxy only for declared callers', () => {
    const generated = generate();
    const hasDnsProxy = (namespace: string, name: string) => JSON.stringify(policy(generated, namespace, name).spec.egress ?? []).includes('"dns"');
    expect(hasDnsProxy('front', 'web')).toBe(true);
    expect(hasDnsProxy('back', 'api')).toBe(true);
    expect(generated.objects.some((object) => object.kind === 'CiliumNetworkPolicy' && object.metadata.namespace === 'data' && JSON.stringify(object).includes('"dns"'))).toBe(false);
  });

  it('says what is enforced by host name', () => {
    const generated = generate();
    const mesh = ciliumSpiffePlugin.generate({ topology: generated.topology, options: {}, render: () => '' });
    expect(mesh.egress!.summary).toContain('toFQDNs');
    expect(mesh.egress!.summary).toContain('decides by address');
    expect(generated.files.get('README.md')!.content).toContain('**Enforced only by address and port.**');
  });

  it('matches host names as Cilium documents', () => {
    expect(fqdnMatches({ matchName: 'API.payments.example.' }, 'api.payments.example')).toBe(true);
    expect(fqdnMatches({ matchName: 'payments.example' }, 'api.payments.example')).toBe(false);
    expect(fqdnMatches({ matchPattern: '*' }, 'api.payments.example')).toBe(true);
    expect(fqdnMatches({ matchPattern: '*.payments.example' }, 'api.payments.example')).toBe(true);
    expect(fqdnMatches({ matchPattern: '*.example' }, 'api.payments.example')).toBe(false);
    expect(fqdnMatches({ matchPattern: 'sub*.payments.example' }, 'api.payments.example')).toBe(false);
  });
});

describe('cilium-spiffe verify on hand-broken gateway and egress', () => {
  it('names a route to a service that is not exposed', () => {
    const generated = generate();
    const route = structuredClone(find(generated, 'HTTPRoute', 'front', 'web-http-8080')) as KubeObject & { spec: { hostnames: string[]; rules: { backendRefs: { port: number }[] }[] } };
    route.metadata.name = 'web-admin';
    route.spec.hostnames = ['admin.web.shop.localhost'];
    route.spec.rules[0]!.backendRefs[0]!.port = 9090;
    generated.objects.push(route);
    expect(problemsOf(generated)).toEqual([
      'gateway routes: HTTPRoute front/web-admin routes admin.web.shop.localhost to front/web:9090, which the topology does not expose',
    ]);
  });

  it('names a route into a namespace without exposures', () => {
    const generated = generate();
    const gateway = find(generated, 'Gateway', 'ingress-gateway', 'public') as KubeObject & { spec: { listeners: { allowedRoutes: { namespaces: unknown } }[] } };
    gateway.spec.listeners[0]!.allowedRoutes.namespaces = { from: 'All' };
    generated.objects.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'db', namespace: 'data' },
      spec: { parentRefs: [{ name: 'public', namespace: 'ingress-gateway' }], hostnames: ['db.shop.localhost'], rules: [{ backendRefs: [{ name: 'db', port: 5432 }] }] },
    });
    expect(problemsOf(generated)).toEqual(['gateway routes: HTTPRoute data/db routes db.shop.localhost to data/db:5432, which the topology does not expose']);
  });

  it('ignores a route that the listener does not admit', () => {
    const generated = generate();
    generated.objects.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'db', namespace: 'data' },
      spec: { parentRefs: [{ name: 'public', namespace: 'ingress-gateway' }], hostnames: ['db.shop.localhost'], rules: [{ backendRefs: [{ name: 'db', port: 5432 }] }] },
    });
    expect(problemsOf(generated)).toEqual([]);
  });

  it('names a route without host names', () => {
    const generated = generate();
    delete (find(generated, 'HTTPRoute', 'front', 'web-http-8080').spec as { hostnames?: string[] }).hostnames;
    expect(problemsOf(generated)).toEqual([
      'gateway routes: HTTPRoute front/web-http-8080 routes * to front/web:8080, which is exposed under another host name; front/web:8080 is exposed, but no gateway route sends web.shop.localhost to it',
    ]);
  });

  it('names a request mirror to a service that is not exposed', () => {
    const generated = generate();
    const route = find(generated, 'HTTPRoute', 'front', 'web-http-8080').spec as { rules: { filters?: unknown[] }[] };
    route.rules[0]!.filters = [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web', port: 9090 } } }];
    expect(problemsOf(generated)).toEqual([
      'gateway routes: HTTPRoute front/web-http-8080 routes web.shop.localhost to front/web:9090, which the topology does not expose',
    ]);
  });

  it('names a Gateway of another class', () => {
    const generated = generate();
    (find(generated, 'Gateway', 'ingress-gateway', 'public').spec as { gatewayClassName: string }).gatewayClassName = 'istio';
    const problems = problemsOf(generated);
    expect(problems).toContain('Gateway ingress-gateway/public: has gatewayClassName "istio", so Cilium\'s controller does not program it: set it to "cilium"');
    expect(problems).toContain(
      'gateway routes: back/api:9000 is exposed, but no gateway route sends api.shop.localhost to it; front/web:8080 is exposed, but no gateway route sends web.shop.localhost to it',
    );
  });

  it('names a port the gateway may reach without being exposed', () => {
    const generated = generate();
    policy(generated, 'front', 'web').spec.ingress![0]!.toPorts![0]!.ports.push({ port: '9090', protocol: 'TCP' });
    expect(problemsOf(generated)).toEqual([
      'gateway -> web:9090 is not exposed, but the mesh allows the gateway: CiliumNetworkPolicy front/web ingress[0] allows it without authentication',
    ]);
  });

  it('names authentication required from the gateway', () => {
    const generated = generate();
    policy(generated, 'front', 'web').spec.ingress![0]!.authentication = { mode: 'required' };
    expect(problemsOf(generated)).toEqual([
      'gateway -> web:8080 is exposed, but the mesh denies it: CiliumNetworkPolicy front/web ingress[0] requires mutual authentication, and the reserved identity reserved:ingress has no SPIFFE identity',
    ]);
  });

  it('names Gateway API turned off in the Helm values', () => {
    const generated = generate();
    const configMap = find(generated, 'ConfigMap', 'kube-system', 'cilium-helm-values') as KubeObject & { data: Record<string, string> };
    const values = parse(configMap.data['values.yaml']!) as Record<string, any>;
    values.gatewayAPI.enabled = false;
    delete values.kubeProxyReplacement;
    configMap.data['values.yaml'] = stringify(values);
    expect(problemsOf(generated)).toEqual([
      'ConfigMap kube-system/cilium-helm-values: does not turn on Gateway API, so nothing serves the exposed services: set gatewayAPI.enabled to true',
      "ConfigMap kube-system/cilium-helm-values: does not turn on the kube-proxy replacement, without which Cilium's operator leaves Gateway API off: set kubeProxyReplacement to true",
    ]);
  });

  it('names egress to an external host from an undeclared caller', () => {
    const generated = generate();
    const web = policy(generated, 'front', 'web').spec.egress!;
    // The caller db gets the same host-name and DNS rules as the declared caller web.
    const db = policy(generated, 'data', 'db').spec as { egress?: Rule[] };
    db.egress = [web[1]!, web[2]!];
    const problems = problemsOf(generated);
    expect(problems).toEqual([
      'db -> payments (api.payments.example:443) is not declared, but the mesh allows it: CiliumNetworkPolicy data/db egress[0] allows payments (api.payments.example:443) by host name, learnt through CiliumNetworkPolicy data/db egress[1]',
      'external dependencies: see the mismatches of the external dependencies',
      'CiliumNetworkPolicy data/db egress[0] (data/db): allows egress to matchName api.payments.example, which db does not declare as an external dependency',
    ]);
  });

  it('names a host-name rule for a host nobody declares', () => {
    const generated = generate();
    const rule = policy(generated, 'front', 'web').spec.egress![1]! as { toFQDNs: unknown[] };
    rule.toFQDNs.push({ matchName: 'exfiltrate.example' });
    expect(problemsOf(generated)).toEqual([
      'CiliumNetworkPolicy front/web egress[1] (front/web): allows egress to matchName exfiltrate.example, which web does not declare as an external dependency',
    ]);
  });

  it('names a wildcard host-name rule', () => {
    const generated = generate();
    (policy(generated, 'front', 'web').spec.egress![1]! as { toFQDNs: unknown[] }).toFQDNs = [{ matchPattern: '*.example' }];
    expect(problemsOf(generated)).toContain(
      'CiliumNetworkPolicy front/web egress[1] (front/web): allows egress to every name that matchPattern *.example matches, more than the declared hosts: use matchName',
    );
  });

  it('names a host-name rule on more ports', () => {
    const generated = generate();
    policy(generated, 'front', 'web').spec.egress![1]!.toPorts![0]!.ports.push({ port: '80', protocol: 'TCP' });
    expect(problemsOf(generated)).toEqual([
      'CiliumNetworkPolicy front/web egress[1] (front/web): allows egress to matchName api.payments.example on more than the declared port 443/TCP',
    ]);
  });

  it('names a declared caller without the DNS proxy rule', () => {
    const generated = generate();
    policy(generated, 'front', 'web').spec.egress!.splice(2, 1);
    expect(problemsOf(generated)).toEqual([
      "web -> payments (api.payments.example:443) is declared, but the mesh denies it: CiliumNetworkPolicy front/web egress[1] names api.payments.example, but no DNS rule sends its lookups through Cilium's DNS proxy, so no address is ever allowed",
      'external dependencies: see the mismatches of the external dependencies',
    ]);
  });
});
