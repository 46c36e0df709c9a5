import type { Finding, GatewayPods, GatewayRoute } from '../plugin/api.js';
import type { Exposure, Topology } from '../topology/types.js';
import { buildNetworkPolicy, podsInNamespace, tcp, type NetworkPolicyRule } from './network-policy.js';
import { restrictedSecurityContext, selectorOf, type KubeObject } from './object.js';

/**
 * A plain HTTP reverse proxy at the edge of the cluster, for meshes that ship no ingress of their own (Linkerd, NSM).
 * It is built as data: the mesh plugin adds its own pod annotations, labels and egress rules to mesh it.
 */

/** The namespace the edge gateway runs in. The topology validation reserves it. */
export const EDGE_GATEWAY_NAMESPACE = 'ingress-gateway';
/** The name of the gateway's Deployment, ServiceAccount, ConfigMap and Service. */
export const EDGE_GATEWAY_NAME = 'edge-gateway';
/**
 * nginx stable 1.30.5 in the unprivileged image, which runs as user and group 101 and needs no root.
 * Source: nginx/docker-nginx-unprivileged pull request 424 (merged 2026-09-15, stable 1.30.5) and stable/alpine/Dockerfile
 * (ARG UID=101, GID=101; tags named `<version>-alpine`).
 */
export const EDGE_GATEWAY_IMAGE = 'docker.io/nginxinc/nginx-unprivileged:1.30.5-alpine';
/** The user and group of the image (stable/alpine/Dockerfile of nginx/docker-nginx-unprivileged). */
const NGINX_UID = 101;
/** The port nginx listens on inside the pod. It is above 1024, so nginx needs no capability. */
export const EDGE_GATEWAY_LISTEN_PORT = 8080;
/** The port of the gateway's Service, the one `make verify` forwards to. */
export const EDGE_GATEWAY_SERVICE_PORT = 80;
/** The ConfigMap key that contains the nginx configuration. */
export const EDGE_GATEWAY_CONFIG_KEY = 'nginx.conf';
const CONFIG_DIR = '/etc/nginx/gateway';
const TEMP_DIR = '/tmp';

export interface EdgeGatewayOptions {
  /** Annotations for the gateway's pods, such as Linkerd's `linkerd.io/inject: enabled`. */
  podAnnotations?: Record<string, string>;
  /** Labels for the gateway's pods, beyond the ones the builder sets. */
  podLabels?: Record<string, string>;
  /** Labels and annotations for the gateway's namespace, beyond the Pod Security labels. */
  namespaceLabels?: Record<string, string>;
  namespaceAnnotations?: Record<string, string>;
  /** Egress rules the mesh's own plumbing needs, such as the sidecar's connections to its control plane. */
  extraEgress?: NetworkPolicyRule[];
  /**
   * Resolves each Service name while nginx runs instead of once at start. Needed for a headless Service, whose
   * name gives pod addresses that change when a pod is replaced.
   */
  resolveWhileRunning?: boolean;
}

/**
 * The name server the gateway queries when it resolves Service names while running: cluster DNS, by the name of its
 * Service, which nginx resolves once at start. `valid` caps how long nginx keeps a resolved address (10 s here).
 */
export const EDGE_GATEWAY_RESOLVER = 'kube-dns.kube-system.svc.cluster.local';

/** The gateway as data, with what `MeshGeneration.ingress` needs. */
export interface EdgeGateway {
  objects: KubeObject[];
  pods: GatewayPods;
  entry: { portForward: { namespace: string; service: string; port: number } };
}

/** Returns the labels that select the gateway's pods, for its Service and NetworkPolicies. */
export function edgeGatewayPodSelector(): Record<string, string> {
  return { 'app.kubernetes.io/name': EDGE_GATEWAY_NAME, 'app.kubernetes.io/component': 'gateway' };
}

/** Returns the cluster DNS name of a Service, which the gateway proxies to. */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/** Builds the edge gateway of a topology: Namespace, ServiceAccount, ConfigMap, Deployment, Service, NetworkPolicies. */
export function buildEdgeGateway(topology: Topology, options: EdgeGatewayOptions = {}): EdgeGateway {
  const namespace = EDGE_GATEWAY_NAMESPACE;
  const partOf = { 'app.kubernetes.io/part-of': topology.name };
  const labels = { ...edgeGatewayPodSelector(), ...partOf };
  const config = renderNginxConfig(topology.exposures, options.resolveWhileRunning ?? false);
  // Loaded here, not imported: node:crypto costs every run of the CLI a few milliseconds, and only exposures need it.
  const { createHash } = process.getBuiltinModule('node:crypto');
  const configHash = createHash('sha256').update(config).digest('hex');

  const namespaceObject: KubeObject = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      ...(options.namespaceAnnotations && Object.keys(options.namespaceAnnotations).length > 0 && { annotations: { ...options.namespaceAnnotations } }),
      labels: {
        ...partOf,
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
        ...options.namespaceLabels,
      },
    },
  };

  const serviceAccount: KubeObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: EDGE_GATEWAY_NAME, namespace, labels },
    automountServiceAccountToken: false,
  };

  const configMap: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: EDGE_GATEWAY_NAME, namespace, labels },
    data: { [EDGE_GATEWAY_CONFIG_KEY]: config },
  };

  const deployment: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: EDGE_GATEWAY_NAME, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: edgeGatewayPodSelector() },
      template: {
        metadata: {
          labels: { ...options.podLabels, ...labels },
          // A new configuration changes the template, so the pods restart with it.
          annotations: { ...options.podAnnotations, 'create-zero-trust-app/config-sha256': configHash },
        },
        spec: {
          serviceAccountName: EDGE_GATEWAY_NAME,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, fsGroup: NGINX_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'nginx',
              image: EDGE_GATEWAY_IMAGE,
              // Runs nginx itself rather than the image's entrypoint, whose scripts try to rewrite files under /etc/nginx.
              command: ['nginx', '-c', `${CONFIG_DIR}/${EDGE_GATEWAY_CONFIG_KEY}`],
              ports: [{ name: 'http', containerPort: EDGE_GATEWAY_LISTEN_PORT, protocol: 'TCP' }],
              securityContext: restrictedSecurityContext({ user: NGINX_UID, group: NGINX_UID }),
              volumeMounts: [
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'tmp', mountPath: TEMP_DIR },
                // The compiled-in cache path. The configuration moves every temporary path to /tmp, so this mount is a fallback.
                { name: 'cache', mountPath: '/var/cache/nginx' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: EDGE_GATEWAY_NAME } },
            { name: 'tmp', emptyDir: {} },
            { name: 'cache', emptyDir: {} },
          ],
        },
      },
    },
  };

  const service: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: EDGE_GATEWAY_NAME, namespace, labels },
    spec: {
      type: 'ClusterIP',
      selector: edgeGatewayPodSelector(),
      ports: [{ name: 'http', port: EDGE_GATEWAY_SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };

  return {
    objects: [namespaceObject, serviceAccount, configMap, deployment, service, ...buildEdgeGatewayPolicies(topology, options.extraEgress ?? [])],
    pods: { namespace, labels: edgeGatewayPodSelector() },
    entry: { portForward: { namespace, service: EDGE_GATEWAY_NAME, port: EDGE_GATEWAY_SERVICE_PORT } },
  };
}

/**
 * Builds the gateway namespace's NetworkPolicies: default deny, DNS, the listener open to every source (the gateway is
 * reached from outside the cluster), and egress only to the exposed services' pods on their exposed target ports.
 */
function buildEdgeGatewayPolicies(topology: Topology, extraEgress: NetworkPolicyRule[]): KubeObject[] {
  const namespace = EDGE_GATEWAY_NAMESPACE;
  const labels = { 'app.kubernetes.io/part-of': topology.name };
  const gateway = { matchLabels: edgeGatewayPodSelector() };

  const byService = new Map<string, { namespace: string; ports: number[] }>();
  for (const exposure of topology.exposures) {
    const entry = byService.get(exposure.service) ?? { namespace: exposure.namespace, ports: [] };
    if (!entry.ports.includes(exposure.port.targetPort)) entry.ports.push(exposure.port.targetPort);
    byService.set(exposure.service, entry);
  }
  const toServices: NetworkPolicyRule[] = [...byService].map(([service, { namespace: serviceNamespace, ports }]) => ({
    peers: [podsInNamespace(serviceNamespace, selectorOf(service))],
    ports: ports.map(tcp),
  }));

  const policies = [
    buildNetworkPolicy({ name: 'default-deny', namespace, podSelector: {}, ingress: [], egress: [], labels }),
    buildNetworkPolicy({
      name: 'allow-dns',
      namespace,
      podSelector: {},
      egress: [{ peers: [podsInNamespace('kube-system', { 'k8s-app': 'kube-dns' })], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] }],
      labels,
    }),
    // No peers: any source, inside the cluster or out, may open the listener.
    buildNetworkPolicy({ name: `${EDGE_GATEWAY_NAME}-ingress`, namespace, podSelector: gateway, ingress: [{ peers: [], ports: [tcp(EDGE_GATEWAY_LISTEN_PORT)] }], labels }),
    buildNetworkPolicy({ name: `${EDGE_GATEWAY_NAME}-egress`, namespace, podSelector: gateway, egress: toServices, labels }),
  ];
  if (extraEgress.length > 0) {
    policies.push(buildNetworkPolicy({ name: `${EDGE_GATEWAY_NAME}-mesh-egress`, namespace, podSelector: gateway, egress: extraEgress, labels }));
  }
  return policies;
}

/**
 * Every word written into the configuration is one of these: host names, paths, numbers, `key=value` parameters
 * and the gateway's own `$upstream` variable. Nothing needs quoting.
 */
const PLAIN_WORD = /^(?:[A-Za-z0-9._:/=-]+|(?:[a-z]+:\/\/)?\$upstream)$/;

function word(value: string | number): string {
  const text = String(value);
  if (!PLAIN_WORD.test(text)) throw new Error(`edge gateway: "${text}" cannot be written into nginx.conf unquoted`);
  return text;
}

/** Writes one directive. Every argument is checked, so no value can open a block or end the directive. */
function directive(indent: string, name: string, ...args: (string | number)[]): string {
  return `${indent}${[name, ...args.map(word)].join(' ')};`;
}

/** True for exposures nginx forwards as HTTP/2 without TLS (h2c): gRPC and plain HTTP/2. */
function usesH2c(exposure: Exposure): boolean {
  return exposure.port.protocol === 'grpc' || exposure.port.protocol === 'http2';
}

/**
 * Renders nginx.conf: a default server that returns 404 for any host it has no server for, and one server per exposure
 * that matches its host name and forwards to the Service's cluster DNS name and port. The Host header (the
 * `:authority` of HTTP/2) is the Service's name, so a sidecar that routes by it sends the request to that Service.
 */
export function renderNginxConfig(exposures: readonly Exposure[], resolveWhileRunning = false): string {
  const lines = [
    '# nginx configuration of the edge gateway, generated by create-zero-trust-app from the topology.',
    '# One server per exposed port; any other host name gets 404 from the default server.',
    directive('', 'worker_processes', 1),
    directive('', 'pid', `${TEMP_DIR}/nginx.pid`),
    directive('', 'error_log', '/dev/stderr', 'notice'),
    directive('', 'daemon', 'off'),
    '',
    'events {',
    directive('  ', 'worker_connections', 1024),
    '}',
    '',
    'http {',
    // The root filesystem is read-only: every temporary file goes to the emptyDir at /tmp.
    directive('  ', 'client_body_temp_path', `${TEMP_DIR}/client_temp`),
    directive('  ', 'proxy_temp_path', `${TEMP_DIR}/proxy_temp`),
    directive('  ', 'fastcgi_temp_path', `${TEMP_DIR}/fastcgi_temp`),
    directive('  ', 'uwsgi_temp_path', `${TEMP_DIR}/uwsgi_temp`),
    directive('  ', 'scgi_temp_path', `${TEMP_DIR}/scgi_temp`),
    directive('  ', 'access_log', '/dev/stdout'),
    directive('  ', 'server_tokens', 'off'),
    directive('  ', 'server_names_hash_bucket_size', 128),
    // Since nginx 1.25.1 `http2 on` serves HTTP/1.1 and HTTP/2 with prior knowledge on one plain port.
    directive('  ', 'http2', 'on'),
    // A forward to a variable makes nginx resolve the name while it runs, through this resolver.
    ...(resolveWhileRunning ? [directive('  ', 'resolver', EDGE_GATEWAY_RESOLVER, 'valid=10s')] : []),
    '',
    '  server {',
    directive('    ', 'listen', EDGE_GATEWAY_LISTEN_PORT, 'default_server'),
    directive('    ', 'server_name', '_'),
    directive('    ', 'return', 404),
    '  }',
  ];

  for (const exposure of exposures) {
    const upstream = `${serviceHost(exposure.service, exposure.namespace)}:${exposure.port.port}`;
    lines.push('', '  server {', directive('    ', 'listen', EDGE_GATEWAY_LISTEN_PORT), directive('    ', 'server_name', exposure.hostname), '    location / {');
    if (resolveWhileRunning) lines.push(directive('      ', 'set', '$upstream', upstream));
    const target = resolveWhileRunning ? '$upstream' : upstream;
    if (usesH2c(exposure)) {
      lines.push(directive('      ', 'grpc_pass', `grpc://${target}`), directive('      ', 'grpc_set_header', 'Host', upstream));
    } else {
      lines.push(
        directive('      ', 'proxy_pass', `http://${target}`),
        directive('      ', 'proxy_http_version', '1.1'),
        directive('      ', 'proxy_set_header', 'Host', upstream),
        `      proxy_set_header Connection "";`,
      );
    }
    // Marks responses the gateway forwarded, so make verify can distinguish a service's own 404 from the gateway's "no route".
    lines.push(directive('      ', 'add_header', EDGE_GATEWAY_FORWARDED_HEADER, 'routed', 'always'));
    lines.push('    }', '  }');
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** The response header the gateway adds to every response it forwarded from a service. */
export const EDGE_GATEWAY_FORWARDED_HEADER = 'x-gateway-upstream';

/** A directive of an nginx configuration: its name, its arguments, and its block when it has one. */
export interface NginxDirective {
  name: string;
  args: string[];
  block?: NginxDirective[];
}

/** Splits nginx configuration text into words and the punctuation `{`, `}` and `;`, dropping comments. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (/\s/.test(char)) {
      index += 1;
    } else if (char === '#') {
      while (index < text.length && text[index] !== '\n') index += 1;
    } else if (char === '{' || char === '}' || char === ';') {
      tokens.push(char);
      index += 1;
    } else if (char === '"' || char === "'") {
      let end = index + 1;
      let value = '';
      while (end < text.length && text[end] !== char) {
        if (text[end] === '\\' && end + 1 < text.length) end += 1;
        value += text[end];
        end += 1;
      }
      if (end >= text.length) throw new Error('nginx.conf: a quoted string is not closed');
      tokens.push(value);
      index = end + 1;
    } else {
      let end = index;
      while (end < text.length && !/[\s{};#"']/.test(text[end]!)) end += 1;
      tokens.push(text.slice(index, end));
      index = end;
    }
  }
  return tokens;
}

/** Parses nginx configuration text into its directives. Throws on unbalanced braces or a missing `;`. */
export function parseNginxConfig(text: string): NginxDirective[] {
  const tokens = tokenize(text);
  let position = 0;
  const parseBlock = (nested: boolean): NginxDirective[] => {
    const directives: NginxDirective[] = [];
    while (position < tokens.length) {
      const token = tokens[position]!;
      if (token === '}') {
        if (!nested) throw new Error('nginx.conf: "}" without a block to close');
        position += 1;
        return directives;
      }
      if (token === '{' || token === ';') throw new Error(`nginx.conf: unexpected "${token}"`);
      const name = token;
      const args: string[] = [];
      position += 1;
      while (position < tokens.length && tokens[position] !== '{' && tokens[position] !== ';' && tokens[position] !== '}') {
        args.push(tokens[position]!);
        position += 1;
      }
      const end = tokens[position];
      if (end === ';') {
        position += 1;
        directives.push({ name, args });
      } else if (end === '{') {
        position += 1;
        directives.push({ name, args, block: parseBlock(true) });
      } else {
        throw new Error(`nginx.conf: directive "${name}" does not end with ";"`);
      }
    }
    if (nested) throw new Error('nginx.conf: a block is not closed');
    return directives;
  };
  return parseBlock(false);
}

/** The routes of the edge gateway's ConfigMap, read back from the objects, and the problems found on the way. */
export interface EdgeGatewayRoutes {
  routes: GatewayRoute[];
  /** Problems with the configuration itself: no ConfigMap, no 404 default server, a destination that is not a Service. */
  findings: Finding[];
}

const SERVICE_UPSTREAM = /^(?:https?|grpcs?):\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)\/?$/;
const FORWARDERS = new Set(['proxy_pass', 'grpc_pass']);

/** A proxy_pass or grpc_pass, with the variables that `set` gives in its block and the blocks around it. */
interface Forward {
  directive: NginxDirective;
  variables: Map<string, string>;
}

/**
 * Collects every proxy_pass or grpc_pass under a directive, at any depth, each with the values of `set $name value`
 * in its own block and the blocks around it: a location's own `set` wins over its server's.
 */
function forwardsOf(directives: NginxDirective[], outer: Map<string, string> = new Map()): Forward[] {
  const variables = new Map(outer);
  for (const item of directives) {
    if (item.name === 'set' && item.args.length === 2 && item.args[0]!.startsWith('$')) variables.set(item.args[0]!.slice(1), item.args[1]!);
  }
  return directives.flatMap((item) => [...(FORWARDERS.has(item.name) ? [{ directive: item, variables }] : []), ...forwardsOf(item.block ?? [], variables)]);
}

/** Replaces each `$name` or `${name}` in `text` by its value, or returns undefined when one is not set. */
function expandVariables(text: string, values: Map<string, string>): string | undefined {
  let missing = false;
  const expanded = text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced: string | undefined, plain: string | undefined) => {
    const value = values.get((braced ?? plain)!);
    if (value === undefined) missing = true;
    return value ?? '';
  });
  return missing ? undefined : expanded;
}

/**
 * Reads the routes of the edge gateway from its ConfigMap among `objects`: one route per host name of each server
 * block and each proxy_pass or grpc_pass inside it. A default server that forwards shows as a route for host `*`, so
 * verify reports it as a route to a port that is not exposed.
 */
export function readEdgeGatewayRoutes(objects: readonly KubeObject[]): EdgeGatewayRoutes {
  const subject = `ConfigMap ${EDGE_GATEWAY_NAMESPACE}/${EDGE_GATEWAY_NAME}`;
  const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === EDGE_GATEWAY_NAME && object.metadata.namespace === EDGE_GATEWAY_NAMESPACE);
  const data = configMap?.data as Record<string, unknown> | undefined;
  const text = data?.[EDGE_GATEWAY_CONFIG_KEY];
  if (typeof text !== 'string') {
    return { routes: [], findings: [{ subject, message: `the gateway's ${EDGE_GATEWAY_CONFIG_KEY} is missing, so it routes nothing` }] };
  }

  let directives: NginxDirective[];
  try {
    directives = parseNginxConfig(text);
  } catch (error) {
    return { routes: [], findings: [{ subject, message: (error as Error).message }] };
  }

  const routes: GatewayRoute[] = [];
  const findings: Finding[] = [];
  const servers = directives.filter((item) => item.name === 'http').flatMap((http) => (http.block ?? []).filter((item) => item.name === 'server'));
  let hasDefault404 = false;
  for (const server of servers) {
    const body = server.block ?? [];
    const isDefault = body.some((item) => item.name === 'listen' && item.args.includes('default_server'));
    const names = body.filter((item) => item.name === 'server_name').flatMap((item) => item.args);
    const forwards = forwardsOf(body);
    if (isDefault && forwards.length === 0 && body.some((item) => item.name === 'return' && item.args[0] === '404')) hasDefault404 = true;
    const hostnames = isDefault ? ['*'] : names;
    for (const { directive: forward, variables } of forwards) {
      const match = SERVICE_UPSTREAM.exec(expandVariables(forward.args[0] ?? '', variables) ?? '');
      if (!match) {
        findings.push({ subject, message: `server ${hostnames.join(' ')} forwards to "${forward.args.join(' ')}", which is not a Service's cluster DNS name and port` });
        continue;
      }
      for (const hostname of hostnames) {
        routes.push({ hostname, service: match[1]!, namespace: match[2]!, port: Number(match[3]), resource: `${subject} (${EDGE_GATEWAY_CONFIG_KEY}, server ${hostname})` });
      }
    }
  }
  if (!hasDefault404) findings.push({ subject, message: 'no default server returns 404, so a host name that is not exposed may reach a service' });
  return { routes, findings };
}
