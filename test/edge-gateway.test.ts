import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SchemaValidator } from '../src/conformance/schemas.js';
import {
  buildEdgeGateway,
  EDGE_GATEWAY_IMAGE,
  parseNginxConfig,
  readEdgeGatewayRoutes,
  renderNginxConfig,
  type NginxDirective,
} from '../src/k8s/edge-gateway.js';
import type { KubeObject } from '../src/k8s/object.js';
import { normaliseTopology } from '../src/topology/parse.js';
import { TOPOLOGY_API_VERSION } from '../src/topology/validate.js';

/** Two exposed services in two namespaces (one HTTP port, one gRPC and one HTTP/2 port) and a service that is not exposed. */
const topology = normaliseTopology(
  {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'Topology',
    metadata: { name: 'shop' },
    spec: {
      namespace: 'web',
      services: [
        { name: 'frontend', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, targetPort: 8081, protocol: 'http' }], expose: true, calls: ['api'] },
        {
          name: 'api',
          namespace: 'backend',
          image: 'docker.io/library/nginx:1.29',
          ports: [
            { port: 9090, protocol: 'grpc' },
            { port: 9091, protocol: 'http2' },
            { port: 9092, protocol: 'http' },
          ],
          expose: [9090, 9091],
          calls: ['cache'],
        },
        { name: 'cache', namespace: 'data', image: 'docker.io/library/redis:8.2', ports: [{ port: 6379, protocol: 'redis' }] },
      ],
    },
  },
  'edge-gateway test',
);

function objectOf(objects: KubeObject[], kind: string, name: string): KubeObject & { spec: Record<string, unknown> } {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} missing`);
  return found as KubeObject & { spec: Record<string, unknown> };
}

function serversOf(config: string): NginxDirective[] {
  const http = parseNginxConfig(config).find((item) => item.name === 'http')!;
  return http.block!.filter((item) => item.name === 'server');
}

function args(block: NginxDirective[] | undefined, name: string): string[][] {
  const found: string[][] = [];
  for (const item of block ?? []) {
    if (item.name === name) found.push(item.args);
    found.push(...args(item.block, name));
  }
  return found;
}

function withConfig(objects: KubeObject[], change: (config: string) => string): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== 'ConfigMap') return object;
    const data = object.data as Record<string, string>;
    return { ...object, data: { ...data, 'nginx.conf': change(data['nginx.conf']!) } };
  });
}

describe('edge gateway nginx configuration', () => {
  it('has the exposures the core computed, with host names per exposed port', () => {
    expect(topology.exposures.map((exposure) => `${exposure.hostname}>${exposure.service}:${exposure.port.port}`)).toEqual([
      'api.shop.localhost>api:9090',
      'http2-9091.api.shop.localhost>api:9091',
      'frontend.shop.localhost>frontend:8080',
    ]);
  });

  it('forwards each exposure to its Service', () => {
    const servers = serversOf(renderNginxConfig(topology.exposures));
    const routed = servers.filter((server) => !args(server.block, 'listen')[0]!.includes('default_server'));
    expect(routed.map((server) => ({ names: args(server.block, 'server_name'), proxy: args(server.block, 'proxy_pass'), grpc: args(server.block, 'grpc_pass') }))).toEqual([
      { names: [['api.shop.localhost']], proxy: [], grpc: [['grpc://api.backend.svc.cluster.local:9090']] },
      { names: [['http2-9091.api.shop.localhost']], proxy: [], grpc: [['grpc://api.backend.svc.cluster.local:9091']] },
      { names: [['frontend.shop.localhost']], proxy: [['http://frontend.web.svc.cluster.local:8080']], grpc: [] },
    ]);
    expect(args(routed[0]!.block, 'grpc_set_header')).toEqual([['Host', 'api.backend.svc.cluster.local:9090']]);
    expect(args(routed[2]!.block, 'proxy_set_header')).toContainEqual(['Host', 'frontend.web.svc.cluster.local:8080']);
    for (const server of routed) expect(args(server.block, 'listen')).toEqual([['8080']]);
  });

  it('answers 404 from a default server to any other host name', () => {
    const config = renderNginxConfig(topology.exposures);
    const defaults = serversOf(config).filter((server) => args(server.block, 'listen')[0]!.includes('default_server'));
    expect(defaults).toHaveLength(1);
    expect(args(defaults[0]!.block, 'return')).toEqual([['404']]);
    expect(args(defaults[0]!.block, 'proxy_pass')).toEqual([]);
    expect(args(defaults[0]!.block, 'grpc_pass')).toEqual([]);
    const http = parseNginxConfig(config).find((item) => item.name === 'http')!;
    expect(args(http.block, 'http2')).toEqual([['on']]);
  });

  it('keeps every temporary path on the /tmp emptyDir', () => {
    const config = parseNginxConfig(renderNginxConfig(topology.exposures));
    expect(args(config, 'pid')).toEqual([['/tmp/nginx.pid']]);
    for (const name of ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path']) {
      expect(args(config, name)[0]![0]).toMatch(/^\/tmp\//);
    }
  });

  it('refuses a value that would break out of a directive', () => {
    const exposure = { ...topology.exposures[0]!, hostname: 'evil.localhost; return 200' };
    expect(() => renderNginxConfig([exposure])).toThrow(/cannot be written into nginx.conf/);
  });

  it('parses quoted strings, comments and nested blocks, and rejects unbalanced ones', () => {
    expect(parseNginxConfig('# note\na "b c" {\n d e; # x\n}\n')).toEqual([{ name: 'a', args: ['b c'], block: [{ name: 'd', args: ['e'] }] }]);
    expect(() => parseNginxConfig('http { server { listen 1; }')).toThrow(/not closed/);
    expect(() => parseNginxConfig('listen 1')).toThrow(/does not end/);
    expect(() => parseNginxConfig('}')).toThrow(/without a block/);
  });
});

describe('edge gateway resolving names while running', () => {
  const resolving = buildEdgeGateway(topology, { resolveWhileRunning: true });

  it('forwards to a variable through cluster DNS', () => {
    const config = renderNginxConfig(topology.exposures, true);
    const http = parseNginxConfig(config).find((item) => item.name === 'http')!;
    expect(args(http.block, 'resolver')).toEqual([['kube-dns.kube-system.svc.cluster.local', 'valid=10s']]);
    const frontend = serversOf(config).find((server) => args(server.block, 'server_name')[0]?.[0] === 'frontend.shop.localhost')!;
    expect(args(frontend.block, 'set')).toEqual([['$upstream', 'frontend.web.svc.cluster.local:8080']]);
    expect(args(frontend.block, 'proxy_pass')).toEqual([['http://$upstream']]);
    expect(args(frontend.block, 'proxy_set_header')).toContainEqual(['Host', 'frontend.web.svc.cluster.local:8080']);
  });

  it('reads the same routes as without', () => {
    const { routes, findings } = readEdgeGatewayRoutes(resolving.objects);
    expect(findings).toEqual([]);
    expect(routes).toEqual(readEdgeGatewayRoutes(buildEdgeGateway(topology).objects).routes);
  });

  it('reads each location with its own variable', () => {
    // A location added by hand before `location /`, with its own $upstream: verify must see its destination.
    const broken = withConfig(resolving.objects, (config) =>
      config.replace('server_name frontend.shop.localhost;\n', 'server_name frontend.shop.localhost;\n    location /admin {\n      set $upstream db.data.svc.cluster.local:5432;\n      proxy_pass http://$upstream;\n    }\n'),
    );
    const routes = readEdgeGatewayRoutes(broken).routes.filter((route) => route.hostname === 'frontend.shop.localhost');
    expect(routes.map((route) => `${route.service}.${route.namespace}:${route.port}`)).toEqual(['db.data:5432', 'frontend.web:8080']);
  });

  it('reports a forward to an unset variable', () => {
    const broken = withConfig(resolving.objects, (config) => config.replace('grpc_pass grpc://$upstream;', 'grpc_pass grpc://$backend;'));
    expect(readEdgeGatewayRoutes(broken).findings.map((finding) => finding.message)).toContainEqual(
      'server api.shop.localhost forwards to "grpc://$backend", which is not a Service\'s cluster DNS name and port',
    );
  });
});

describe('edge gateway routes read back from the ConfigMap', () => {
  const gateway = buildEdgeGateway(topology);

  it('equal the exposures, with no findings', () => {
    const { routes, findings } = readEdgeGatewayRoutes(gateway.objects);
    expect(findings).toEqual([]);
    expect(routes.map(({ hostname, service, namespace, port }) => ({ hostname, service, namespace, port }))).toEqual(
      topology.exposures.map((exposure) => ({ hostname: exposure.hostname, service: exposure.service, namespace: exposure.namespace, port: exposure.port.port })),
    );
    expect(routes[0]!.resource).toBe('ConfigMap ingress-gateway/edge-gateway (nginx.conf, server api.shop.localhost)');
  });

  it('show a server added by hand for a port that is not exposed', () => {
    const broken = withConfig(gateway.objects, (config) =>
      config.replace(/\n}\n$/, '\n  server {\n    listen 8080;\n    server_name cache.shop.localhost;\n    location / { proxy_pass http://cache.data.svc.cluster.local:6379; }\n  }\n}\n'),
    );
    const { routes } = readEdgeGatewayRoutes(broken);
    expect(routes.map((route) => `${route.hostname}>${route.service}.${route.namespace}:${route.port}`)).toContain('cache.shop.localhost>cache.data:6379');
  });

  it('show a forwarding default server', () => {
    const broken = withConfig(gateway.objects, (config) => config.replace('return 404;', 'location / { proxy_pass http://api.backend.svc.cluster.local:9092; }'));
    const { routes, findings } = readEdgeGatewayRoutes(broken);
    expect(routes).toContainEqual(expect.objectContaining({ hostname: '*', service: 'api', namespace: 'backend', port: 9092 }));
    expect(findings.map((finding) => finding.message)).toEqual([expect.stringMatching(/no default server returns 404/)]);
  });

  it('report invalid configurations', () => {
    const outside = withConfig(gateway.objects, (config) => config.replace('http://frontend.web.svc.cluster.local:8080', 'http://203.0.113.7:80'));
    expect(readEdgeGatewayRoutes(outside).findings.map((finding) => finding.message)).toEqual([expect.stringMatching(/203\.0\.113\.7:80.*not a Service/)]);
    const unbalanced = withConfig(gateway.objects, (config) => config.replace(/}\n$/, ''));
    expect(readEdgeGatewayRoutes(unbalanced)).toEqual({ routes: [], findings: [{ subject: 'ConfigMap ingress-gateway/edge-gateway', message: 'nginx.conf: a block is not closed' }] });
    expect(readEdgeGatewayRoutes(gateway.objects.filter((object) => object.kind !== 'ConfigMap')).findings).toHaveLength(1);
  });
});

describe('edge gateway objects', () => {
  const extraEgress = [{ peers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'linkerd' } } }], ports: [{ protocol: 'TCP' as const, port: 8086 }] }];
  const gateway = buildEdgeGateway(topology, { podAnnotations: { 'linkerd.io/inject': 'enabled' }, podLabels: { 'mesh.example/member': 'true' }, extraEgress });

  it('lists the objects in order and returns the pods and entry for MeshGeneration.ingress', () => {
    expect(gateway.objects.map((object) => `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`)).toEqual([
      'Namespace /ingress-gateway',
      'ServiceAccount ingress-gateway/edge-gateway',
      'ConfigMap ingress-gateway/edge-gateway',
      'Deployment ingress-gateway/edge-gateway',
      'Service ingress-gateway/edge-gateway',
      'NetworkPolicy ingress-gateway/default-deny',
      'NetworkPolicy ingress-gateway/allow-dns',
      'NetworkPolicy ingress-gateway/edge-gateway-ingress',
      'NetworkPolicy ingress-gateway/edge-gateway-egress',
      'NetworkPolicy ingress-gateway/edge-gateway-mesh-egress',
    ]);
    expect(gateway.pods).toEqual({ namespace: 'ingress-gateway', labels: { 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } });
    expect(gateway.entry).toEqual({ portForward: { namespace: 'ingress-gateway', service: 'edge-gateway', port: 80 } });
    const service = objectOf(gateway.objects, 'Service', 'edge-gateway');
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector: gateway.pods.labels,
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  it('validates against the Kubernetes schemas', () => {
    const validator = new SchemaValidator(fileURLToPath(new URL('./crds', import.meta.url)));
    expect(gateway.objects.flatMap((object) => validator.validate(object))).toEqual([]);
  });

  it('enforces Pod Security restricted on the namespace and meets it in the pod', () => {
    const namespace = objectOf(gateway.objects, 'Namespace', 'ingress-gateway');
    expect(namespace.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    const template = (objectOf(gateway.objects, 'Deployment', 'edge-gateway').spec as { template: { metadata: Record<string, Record<string, string>>; spec: Record<string, unknown> } }).template;
    const container = (template.spec.containers as Record<string, unknown>[])[0]!;
    expect(container.image).toBe(EDGE_GATEWAY_IMAGE);
    expect(EDGE_GATEWAY_IMAGE).toMatch(/^docker\.io\/nginxinc\/nginx-unprivileged:\d+\.\d+\.\d+-alpine$/);
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 101,
      runAsGroup: 101,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(template.spec.volumes).toContainEqual({ name: 'tmp', emptyDir: {} });
    expect(template.spec.serviceAccountName).toBe('edge-gateway');
    expect(template.metadata.annotations).toMatchObject({ 'linkerd.io/inject': 'enabled' });
    expect(template.metadata.annotations!['create-zero-trust-app/config-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(template.metadata.labels).toMatchObject({ 'mesh.example/member': 'true', ...gateway.pods.labels });
  });

  it('has exactly the four policies', () => {
    const spec = (name: string) => objectOf(gateway.objects, 'NetworkPolicy', name).spec;
    const gatewayPods = { matchLabels: gateway.pods.labels };
    expect(spec('default-deny')).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
    expect(spec('allow-dns')).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        },
      ],
    });
    expect(spec('edge-gateway-ingress')).toEqual({ podSelector: gatewayPods, policyTypes: ['Ingress'], ingress: [{ from: [], ports: [{ protocol: 'TCP', port: 8080 }] }] });
    expect(spec('edge-gateway-egress')).toEqual({
      podSelector: gatewayPods,
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'backend' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api' } } }],
          ports: [{ protocol: 'TCP', port: 9090 }, { protocol: 'TCP', port: 9091 }],
        },
        {
          // The target port, not the Service port, because NetworkPolicy matches the pod's port.
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'web' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'frontend' } } }],
          ports: [{ protocol: 'TCP', port: 8081 }],
        },
      ],
    });
    expect(spec('edge-gateway-mesh-egress')).toEqual({ podSelector: gatewayPods, policyTypes: ['Egress'], egress: extraEgress.map((rule) => ({ to: rule.peers, ports: rule.ports })) });
  });

  it('adds no mesh egress policy and no annotations beyond the checksum without options', () => {
    const plain = buildEdgeGateway(topology);
    expect(plain.objects.filter((object) => object.metadata.name === 'edge-gateway-mesh-egress')).toEqual([]);
    const template = (objectOf(plain.objects, 'Deployment', 'edge-gateway').spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
    expect(Object.keys(template.metadata.annotations)).toEqual(['create-zero-trust-app/config-sha256']);
  });
});
