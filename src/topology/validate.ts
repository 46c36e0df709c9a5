import { InputError } from '../errors.js';
import { parseCidr, parseIpAddress, type CidrBlock } from '../netpol/cidr.js';
import { rangesOf, type AddressRange } from '../verify/address-ranges.js';
import { EXTERNAL_PROTOCOLS, PROTOCOLS, STATEFUL_PROTOCOLS, type EnvVar, type ExternalProtocol, type ExternalService, type Protocol, type Service, type ServicePort } from './types.js';

export const TOPOLOGY_API_VERSION = 'create-zero-trust-app/v1alpha1';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Registry host and port, path components, then an optional tag and digest: the reference grammar of the
// distribution project (reference/regexp.go), without uppercase letters in the path.
const IMAGE_REFERENCE =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

/** A call as written, before it is resolved into edges. */
export interface CallReference {
  service: string;
  port?: number;
  path: string;
}

/** A service as validated, with its calls still unresolved. */
export interface ValidatedService extends Service {
  calls: CallReference[];
  path: string;
}

/** An external dependency as validated. */
export interface ValidatedExternal extends ExternalService {
  path: string;
}

export interface ValidatedTopology {
  name: string;
  namespace: string;
  services: ValidatedService[];
  externals: ValidatedExternal[];
}

/** The protocols a gateway routes by host name: Gateway API's HTTPRoute and GRPCRoute carry them. */
export const EXPOSABLE_PROTOCOLS: ReadonlySet<Protocol> = new Set(['http', 'http2', 'grpc']);

/** Walks an untyped document and turns every problem into an InputError naming the file and field path. */
class Checker {
  constructor(private readonly file: string) {}

  fail(path: string, problem: string, fix: string): never {
    const where = path ? `${this.file}: ${path}` : this.file;
    throw new InputError(`${where}: ${problem}. ${fix}`);
  }

  /** Checks that a value is a mapping, with any keys. */
  mapping(value: unknown, path: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `must be a mapping, got ${describe(value)}`, `Write ${path || 'the document'} as key: value pairs`);
    }
    return value as Record<string, unknown>;
  }

  object(value: unknown, path: string, allowed: readonly string[], required: readonly string[]): Record<string, unknown> {
    const record = this.mapping(value, path);
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) {
        const suggestion = closest(key, allowed);
        const hint = suggestion ? `did you mean "${suggestion}"?` : `allowed fields: ${allowed.join(', ')}`;
        this.fail(join(path, key), 'unknown field', `Remove it or fix its name (${hint})`);
      }
    }
    for (const key of required) {
      if (record[key] === undefined || record[key] === null) {
        this.fail(join(path, key), 'required field is missing', `Add ${key} to ${path || 'the document'}`);
      }
    }
    return record;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, `must be a string, got ${describe(value)}`, 'Write a string value');
    return value;
  }

  label(value: unknown, path: string): string {
    const text = this.string(value, path);
    if (text.length === 0) this.fail(path, 'must not be empty', 'Give it a name such as "web"');
    if (text.length > 63) this.fail(path, `"${printable(text)}" is longer than 63 characters`, 'Use a shorter name');
    if (!DNS_LABEL.test(text)) {
      this.fail(
        path,
        `"${printable(text)}" is not a valid DNS-1123 label`,
        `Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "${suggestLabel(text)}"`,
      );
    }
    return text;
  }

  port(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      this.fail(path, `${describe(value)} is not a port number`, 'Use a whole number from 1 to 65535');
    }
    return value;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(path, `must be a list, got ${describe(value)}`, 'Write it as a YAML list ("- item")');
    return value;
  }
}

/** Checks a parsed topology document; every problem is an InputError naming `file` and the field path. */
export function validateTopology(document: unknown, file: string): ValidatedTopology {
  const check = new Checker(file);
  const root = check.object(document, '', ['apiVersion', 'kind', 'metadata', 'spec'], ['apiVersion', 'kind', 'metadata', 'spec']);

  if (root.apiVersion !== TOPOLOGY_API_VERSION) {
    check.fail('apiVersion', `${describe(root.apiVersion)} is not supported`, `Use apiVersion: ${TOPOLOGY_API_VERSION}`);
  }
  if (root.kind !== 'Topology') check.fail('kind', `${describe(root.kind)} is not supported`, 'Use kind: Topology');

  const metadata = check.object(root.metadata, 'metadata', ['name'], ['name']);
  const name = check.label(metadata.name, 'metadata.name');

  const spec = check.object(root.spec, 'spec', ['namespace', 'services'], ['services']);
  const namespace = spec.namespace === undefined ? 'default' : checkNamespace(check, spec.namespace, 'spec.namespace');
  const rawServices = check.array(spec.services, 'spec.services');
  if (rawServices.length === 0) check.fail('spec.services', 'the list is empty', 'Declare at least one service');

  const services: ValidatedService[] = [];
  const externals: ValidatedExternal[] = [];
  rawServices.forEach((raw, index) => {
    const path = `spec.services[${index}]`;
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'external' in raw) {
      externals.push(validateExternal(check, raw, path));
    } else {
      services.push(validateService(check, raw, path, namespace));
    }
  });
  if (services.length === 0) check.fail('spec.services', 'every service is external', 'Declare at least one service with an image');
  checkUniqueServices(check, [...services, ...externals].sort((a, b) => indexOfPath(a.path) - indexOfPath(b.path)));
  checkCalls(check, services, externals);
  checkExternalsDistinct(check, services, externals);
  return { name, namespace, services, externals };
}

function indexOfPath(path: string): number {
  return Number(/\[(\d+)\]$/.exec(path)?.[1] ?? 0);
}

/** Checks a dependency outside the cluster: a name and `external: {host, port, protocol, addresses}`, nothing else. */
function validateExternal(check: Checker, raw: unknown, path: string): ValidatedExternal {
  const record = raw as Record<string, unknown>;
  const at = `${path}.external`;
  if (record.external === null || typeof record.external !== 'object' || Array.isArray(record.external)) {
    check.fail(at, `must be a mapping of host, port and protocol, got ${describe(record.external)}`, 'Write external: {host: NAME, port: PORT, protocol: PROTOCOL} for a dependency outside the cluster, or remove external for a service with an image');
  }
  for (const key of Object.keys(record)) {
    if (key !== 'name' && key !== 'external') {
      check.fail(join(path, key), 'an external service takes only name and external', `Remove ${key}: the service runs outside the cluster, so the cluster deploys nothing for it`);
    }
  }
  const name = check.label(record.name, `${path}.name`);
  const external = check.object(record.external, at, ['host', 'port', 'protocol', 'addresses'], ['host', 'port', 'protocol']);
  const host = check.string(external.host, `${at}.host`);
  if (host.length > 253 || !DNS_SUBDOMAIN.test(host) || !host.includes('.') || /\.[0-9]+$/.test(host) || host.split('.').some((label) => label.length > 63)) {
    check.fail(`${at}.host`, `"${printable(host)}" is not a fully qualified DNS name`, 'Use the lowercase host name the callers connect to, such as api.partner.example, with at most 63 characters between dots; list its addresses under addresses');
  }
  // Two labels read as <service>.<namespace> in a pod's DNS search path, such as kubernetes.default.
  const [, second, ...rest] = host.split('.');
  const clusterShortName = rest.length === 0 && second !== undefined && ['default', 'kube-system', 'kube-public'].includes(second);
  if (/(^|\.)(svc|cluster\.local|localhost)$/.test(host) || clusterShortName) {
    check.fail(`${at}.host`, `"${host}" names something inside the cluster or this machine, not a dependency outside it`, 'Declare a service in the cluster as a service with an image, and call it by name');
  }
  const port = check.port(external.port, `${at}.port`);
  const protocolText = check.string(external.protocol, `${at}.protocol`);
  if (!(EXTERNAL_PROTOCOLS as readonly string[]).includes(protocolText)) {
    check.fail(`${at}.protocol`, `"${printable(protocolText)}" is not a protocol of external services`, `Use one of: ${EXTERNAL_PROTOCOLS.join(', ')} (tls for HTTPS and any other protocol inside TLS)`);
  }
  const rawAddresses = external.addresses === undefined ? [] : check.array(external.addresses, `${at}.addresses`);
  if (external.addresses !== undefined && rawAddresses.length === 0) {
    check.fail(`${at}.addresses`, 'the list is empty', 'List the ranges the host resolves into, or remove addresses to allow every public IPv4 address');
  }
  const addresses = rawAddresses.map((item, index) => validateCidr(check, item, `${at}.addresses[${index}]`));
  return { name, host, port, protocol: protocolText as ExternalProtocol, addresses: [...new Set(addresses)].sort(compare), path };
}

/**
 * Ranges no external dependency may claim: the kind cluster's pod and Service networks, the Docker network kind
 * puts its nodes on by default, "this network", multicast, IPv4 written as IPv6, loopback and
 * link-local (where cloud metadata endpoints listen). NetworkPolicy would open the port to them too, and
 * Calico applies ipBlock rules to pod addresses.
 */
const CLUSTER_RANGES = ['192.168.0.0/16', '10.96.0.0/12', '172.18.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8', '224.0.0.0/4', '::1/128', 'fe80::/10', '::ffff:0:0/96', '::/96'];

/** Checks an IPv4 or IPv6 address range in CIDR notation, such as 203.0.113.0/24, as NetworkPolicy reads it. */
function validateCidr(check: Checker, raw: unknown, path: string): string {
  const text = check.string(raw, path);
  const block = parseCidr(text);
  if (typeof block === 'string') {
    const network = /^[^/]+\/\d+$/.test(text) ? networkOf(text) : undefined;
    const example = network ? `, as ${network}` : ', such as 203.0.113.0/24 or 2001:db8::/32';
    check.fail(path, `"${printable(text)}" is not a valid CIDR range: ${block}`, `Write the range's network address and prefix length${example}`);
  }
  for (const reserved of CLUSTER_RANGES) {
    const other = parseCidr(reserved) as CidrBlock;
    if (overlaps(block, other)) {
      check.fail(path, `${text} overlaps ${reserved}, which belongs to the cluster or the node`, 'List only the addresses of the dependency itself; NetworkPolicy would open its port to the cluster\'s own addresses too');
    }
  }
  return text;
}

/** Returns the range with its host bits cleared, for a CIDR whose address has bits beyond its prefix. */
function networkOf(text: string): string | undefined {
  const [address, bits] = text.split('/');
  const parsed = parseIpAddress(address!);
  const prefix = Number(bits);
  if (!parsed || !Number.isInteger(prefix) || prefix > (parsed.family === 4 ? 32 : 128)) return undefined;
  const hostBits = BigInt((parsed.family === 4 ? 32 : 128) - prefix);
  const block = parseCidr(`${formatIp(parsed.family, (parsed.value >> hostBits) << hostBits)}/${prefix}`);
  return typeof block === 'string' ? undefined : `${formatIp(parsed.family, (parsed.value >> hostBits) << hostBits)}/${prefix}`;
}

function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

/** Returns whether two ranges of one family share an address: the shorter prefix contains the other's start. */
function overlaps(a: CidrBlock, b: CidrBlock): boolean {
  if (a.family !== b.family) return false;
  const [wide, narrow] = a.hostBits >= b.hostBits ? [a, b] : [b, a];
  return (narrow.networkPart << narrow.hostBits) >> wide.hostBits === wide.networkPart;
}

function validateService(check: Checker, raw: unknown, path: string, defaultNamespace: string): ValidatedService {
  const fields = ['name', 'namespace', 'image', 'replicas', 'ports', 'env', 'calls', 'command', 'args', 'runAsUser', 'runAsGroup', 'writablePaths', 'expose', 'external'];
  const record = check.object(raw, path, fields, ['name', 'image', 'ports']);
  const name = check.label(record.name, `${path}.name`);
  const namespace = record.namespace === undefined ? defaultNamespace : checkNamespace(check, record.namespace, `${path}.namespace`);

  const image = check.string(record.image, `${path}.image`);
  if (image.length > 1024 || !IMAGE_REFERENCE.test(image)) {
    check.fail(`${path}.image`, `"${printable(image)}" is not a valid image reference`, 'Use a reference such as docker.io/library/postgres:17');
  }
  const lastSegment = image.split('@')[0]!.split('/').pop()!;
  if (!image.includes('@') && !lastSegment.includes(':')) {
    check.fail(`${path}.image`, `"${printable(image)}" has no tag or digest, so every pull may bring another version`, `Pin a version, for example "${printable(image)}:1.2.3"`);
  }
  if (!image.includes('@') && lastSegment.endsWith(':latest')) {
    check.fail(`${path}.image`, `"${printable(image)}" uses the tag latest, so every pull may bring another version`, 'Pin a version tag or a digest instead');
  }

  let replicas = 1;
  if (record.replicas !== undefined) {
    if (typeof record.replicas !== 'number' || !Number.isInteger(record.replicas) || record.replicas < 1 || record.replicas > 1000) {
      check.fail(`${path}.replicas`, `${describe(record.replicas)} is not a valid replica count`, 'Use a whole number from 1 to 1000');
    }
    replicas = record.replicas;
  }

  const rawPorts = check.array(record.ports, `${path}.ports`);
  if (rawPorts.length === 0) check.fail(`${path}.ports`, 'the list is empty', 'Declare at least one port');
  const ports = rawPorts.map((rawPort, index) => validatePort(check, rawPort, `${path}.ports[${index}]`));
  checkUniquePorts(check, ports, `${path}.ports`);

  const env = validateEnv(check, record.env, `${path}.env`);
  const calls = record.calls === undefined ? [] : check.array(record.calls, `${path}.calls`).map((call, index) => validateCall(check, call, `${path}.calls[${index}]`));
  const stateful = ports.some((port) => STATEFUL_PROTOCOLS.has(port.protocol));

  const command = record.command === undefined ? undefined : validateStrings(check, record.command, `${path}.command`);
  const args = record.args === undefined ? undefined : validateStrings(check, record.args, `${path}.args`);
  const runAsUser = record.runAsUser === undefined ? undefined : validateId(check, record.runAsUser, `${path}.runAsUser`);
  const runAsGroup = record.runAsGroup === undefined ? undefined : validateId(check, record.runAsGroup, `${path}.runAsGroup`);
  const writablePaths = record.writablePaths === undefined ? [] : validatePaths(check, record.writablePaths, `${path}.writablePaths`);
  const exposedPorts = validateExpose(check, record.expose, `${path}.expose`, ports);

  return {
    name, namespace, image, replicas, ports, env, calls, stateful, path, writablePaths, exposedPorts,
    ...(command && { command }),
    ...(args && { args }),
    ...(runAsUser !== undefined && { runAsUser }),
    ...(runAsGroup !== undefined && { runAsGroup }),
  };
}

/** Checks `expose`: true for every port, false for none, or a list of Service ports; each must speak HTTP, HTTP/2 or gRPC. */
function validateExpose(check: Checker, raw: unknown, path: string, ports: ServicePort[]): number[] {
  if (raw === undefined || raw === false) return [];
  let numbers: number[];
  if (raw === true) {
    numbers = ports.map((port) => port.port);
  } else if (Array.isArray(raw)) {
    if (raw.length === 0) check.fail(path, 'the list is empty', 'List the Service ports to expose, or remove expose');
    numbers = raw.map((item, index) => {
      const port = check.port(item, `${path}[${index}]`);
      if (!ports.some((candidate) => candidate.port === port)) check.fail(`${path}[${index}]`, `the service has no port ${port}`, `Use one of its Service ports: ${ports.map((candidate) => candidate.port).join(', ')}`);
      if (raw.indexOf(item) !== index) check.fail(`${path}[${index}]`, `port ${port} is listed twice`, 'List each port once');
      return port;
    });
  } else {
    check.fail(path, `must be true, false or a list of ports, got ${describe(raw)}`, 'Write expose: true to expose every port, or a list such as expose: [8080]');
  }
  for (const number of numbers) {
    const port = ports.find((candidate) => candidate.port === number)!;
    if (!EXPOSABLE_PROTOCOLS.has(port.protocol)) {
      const others = ports.filter((candidate) => EXPOSABLE_PROTOCOLS.has(candidate.protocol)).map((candidate) => candidate.port);
      const fix = others.length > 0 ? `Expose only those ports, as in expose: [${others.join(', ')}]` : 'Remove expose from this service';
      check.fail(path, `port ${number} speaks ${port.protocol}, and a gateway routes only HTTP, HTTP/2 and gRPC by host name`, fix);
    }
  }
  return numbers.sort((a, b) => a - b);
}

function validateStrings(check: Checker, raw: unknown, path: string): string[] {
  return check.array(raw, path).map((item, index) => {
    if (typeof item !== 'string') check.fail(`${path}[${index}]`, `must be a string, got ${describe(item)}`, 'Quote it');
    if (item.includes('\0')) check.fail(`${path}[${index}]`, 'contains a NUL character', 'Remove it');
    if (/[\uD800-\uDFFF]/u.test(item)) check.fail(`${path}[${index}]`, 'contains an unpaired UTF-16 surrogate, which is not valid Unicode', 'Remove the lone \\uD800-\\uDFFF escape');
    checkReadableByKubectl(check, item, `${path}[${index}]`);
    return item;
  });
}

/**
 * Characters that yaml writes into a manifest as they are, but that kubectl's YAML reader (go-yaml) does not read
 * back. It rejects DEL, the C1 controls, U+FFFE and U+FFFF, reads U+0085, U+2028 and U+2029 as line breaks, and a
 * byte order mark has no place inside a value.
 */
const UNREADABLE_BY_KUBECTL = /[\u007F-\u009F\u2028\u2029\uFEFF\uFFFE\uFFFF]/u;

/** Fails on a string that `kubectl apply` could not read back from the manifest unchanged. */
function checkReadableByKubectl(check: Checker, text: string, path: string): void {
  const found = UNREADABLE_BY_KUBECTL.exec(text)?.[0];
  if (found !== undefined) {
    const code = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    check.fail(path, `contains the character ${code}, which kubectl cannot read back from a manifest unchanged`, 'Remove it');
  }
}

/** Checks a user or group ID for Pod Security `restricted`: a whole number other than 0 (root). */
function validateId(check: Checker, raw: unknown, path: string): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 2147483647) {
    check.fail(path, `${describe(raw)} is not a valid non-root ID`, 'Use a whole number from 1 to 2147483647; Pod Security "restricted" forbids root (0)');
  }
  return raw;
}

function validatePaths(check: Checker, raw: unknown, path: string): string[] {
  const paths = check.array(raw, path).map((item, index) => {
    const at = `${path}[${index}]`;
    if (typeof item !== 'string') check.fail(at, `must be a string, got ${describe(item)}`, 'Write an absolute path such as /var/cache/app');
    if (!/^\/[A-Za-z0-9._\-/]*$/.test(item) || item.split('/').some((part) => part === '..' || part === '.') || item === '/') {
      check.fail(at, `"${printable(item)}" is not an absolute path below /`, 'Write an absolute path of letters, digits, ".", "_", "-" and "/", such as /var/cache/app');
    }
    return item.replace(/\/+$/, '');
  });
  const seen = new Set<string>();
  paths.forEach((item, index) => {
    if (seen.has(item)) check.fail(`${path}[${index}]`, `"${item}" is listed twice`, 'List each path once');
    seen.add(item);
  });
  return paths.sort(compare);
}

/**
 * Namespaces of the cluster itself and of the meshes, CNIs and tools a generated repository installs. Default deny
 * and Pod Security labels there would cut off the cluster's own components.
 */
const RESERVED_NAMESPACES = new Set([
  'kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage',
  'calico-system', 'calico-apiserver', 'tigera-operator',
  'istio-system', 'istio-ingress', 'linkerd', 'linkerd-cni', 'linkerd-viz', 'kuma-system',
  'cilium-spire', 'spire', 'nsm-system', 'verify-outside', 'ingress-gateway',
]);

function checkNamespace(check: Checker, value: unknown, path: string): string {
  const namespace = check.label(value, path);
  if (RESERVED_NAMESPACES.has(namespace)) {
    check.fail(path, `"${namespace}" belongs to the cluster or to a component this repository installs`, 'Use a namespace of your own, such as "apps"');
  }
  return namespace;
}

function validatePort(check: Checker, raw: unknown, path: string): ServicePort {
  const record = check.object(raw, path, ['port', 'targetPort', 'protocol', 'name'], ['port', 'protocol']);
  const port = check.port(record.port, `${path}.port`);
  const targetPort = record.targetPort === undefined ? port : check.port(record.targetPort, `${path}.targetPort`);
  const protocolText = check.string(record.protocol, `${path}.protocol`);
  if (!(PROTOCOLS as readonly string[]).includes(protocolText)) {
    check.fail(`${path}.protocol`, `"${printable(protocolText)}" is not a known protocol`, `Use one of: ${PROTOCOLS.join(', ')}`);
  }
  const protocol = protocolText as Protocol;

  let name = `${protocol}-${port}`;
  if (record.name !== undefined) {
    name = check.string(record.name, `${path}.name`);
    // Container port names follow IANA service names: at most 15 characters and at least one letter.
    if (!PORT_NAME.test(name) || name.length > 15 || !/[a-z]/.test(name) || name.includes('--')) {
      check.fail(`${path}.name`, `"${printable(name)}" is not a valid port name`, 'Use at most 15 lowercase letters, digits and single dashes, with at least one letter, for example "http"');
    }
  }
  return { name, port, targetPort, protocol };
}

function validateEnv(check: Checker, raw: unknown, path: string): EnvVar[] {
  if (raw === undefined) return [];
  // Any name is a field here, so only the mapping itself is checked (listing every name as allowed would make the
  // check quadratic in the number of variables).
  const record = check.mapping(raw, path);
  const env: EnvVar[] = [];
  for (const [name, value] of Object.entries(record)) {
    const fieldPath = join(path, name);
    if (!ENV_NAME.test(name)) {
      check.fail(fieldPath, `"${printable(name)}" is not a valid environment variable name`, 'Use letters, digits and "_", not starting with a digit');
    }
    if (typeof value === 'string') {
      // A lone UTF-16 surrogate has no UTF-8 encoding, so it could not reach the manifest unchanged.
      if (/[\uD800-\uDFFF]/u.test(value)) check.fail(fieldPath, 'contains an unpaired UTF-16 surrogate, which is not valid Unicode', 'Remove the lone \\uD800-\\uDFFF escape from the value');
      // A process environment is a list of NUL-terminated strings, so a container could not be given this value.
      if (value.includes('\0')) check.fail(fieldPath, 'contains a NUL character, which no process environment can hold', 'Remove it');
      checkReadableByKubectl(check, value, fieldPath);
      env.push({ name, value });
    } else if (typeof value === 'boolean') {
      check.fail(fieldPath, `must be a string, got ${describe(value)}`, `Quote it: ${name}: "${String(value)}"`);
    } else if (typeof value === 'number') {
      // The number may not be the text: YAML reads 1.10 as 1.1 and 0x10 as 16, so the fix names no digits.
      check.fail(fieldPath, `must be a string, got ${describe(value)}`, `Quote the value as written in the file (${name}: "..."): unquoted, YAML reads it as a number and may change its digits`);
    } else if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      check.fail(fieldPath, `must be a string or {secret: NAME}, got ${describe(value)}`, 'Write a string, or {secret: NAME} to take the value from a Secret');
    } else {
      const secretRef = check.object(value, fieldPath, ['secret'], ['secret']);
      const secret = check.string(secretRef.secret, `${fieldPath}.secret`);
      if (secret.length > 253 || !DNS_SUBDOMAIN.test(secret)) {
        check.fail(`${fieldPath}.secret`, `"${printable(secret)}" is not a valid Secret name`, 'Use lowercase letters, digits, "-" and ".", for example "db-password"');
      }
      env.push({ name, secret });
    }
  }
  return env.sort((a, b) => compare(a.name, b.name));
}

function validateCall(check: Checker, raw: unknown, path: string): CallReference {
  if (typeof raw === 'string') return { service: check.label(raw, path), path };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    check.fail(path, `must be a service name or {service: NAME, port: PORT}, got ${describe(raw)}`, 'Write the name of a declared service');
  }
  const record = check.object(raw, path, ['service', 'port'], ['service']);
  const service = check.label(record.service, `${path}.service`);
  if (record.port === undefined) return { service, path };
  return { service, port: check.port(record.port, `${path}.port`), path };
}

function checkUniqueServices(check: Checker, services: { name: string; path: string }[]): void {
  const seen = new Map<string, string>();
  for (const service of services) {
    const first = seen.get(service.name);
    if (first) check.fail(`${service.path}.name`, `"${service.name}" is already declared at ${first}`, 'Give each service a unique name');
    seen.set(service.name, service.path);
  }
}

function checkUniquePorts(check: Checker, ports: ServicePort[], path: string): void {
  const numbers = new Map<number, number>();
  const targets = new Map<number, number>();
  const names = new Map<string, number>();
  ports.forEach((port, index) => {
    const at = `${path}[${index}]`;
    const samePort = numbers.get(port.port);
    if (samePort !== undefined) check.fail(`${at}.port`, `port ${port.port} is already declared at ${path}[${samePort}]`, 'Declare each port once');
    const sameTarget = targets.get(port.targetPort);
    if (sameTarget !== undefined) check.fail(`${at}.targetPort`, `container port ${port.targetPort} is already used at ${path}[${sameTarget}]`, 'Give each port its own targetPort');
    const sameName = names.get(port.name);
    if (sameName !== undefined) check.fail(`${at}.name`, `port name "${port.name}" is already used at ${path}[${sameName}]`, 'Give each port a unique name');
    numbers.set(port.port, index);
    targets.set(port.targetPort, index);
    names.set(port.name, index);
  });
}

function checkCalls(check: Checker, services: ValidatedService[], externals: ValidatedExternal[]): void {
  const byName = new Map(services.map((service) => [service.name, service]));
  const externalsByName = new Map(externals.map((external) => [external.name, external]));
  for (const service of services) {
    for (const call of service.calls) {
      const external = externalsByName.get(call.service);
      if (external) {
        if (call.port !== undefined && call.port !== external.port) check.fail(`${call.path}.port`, `"${external.name}" listens on port ${external.port}, not ${call.port}`, `Use port ${external.port} or remove port`);
        continue;
      }
      const callee = byName.get(call.service);
      if (!callee) {
        const suggestion = closest(call.service, [...byName.keys(), ...externalsByName.keys()]);
        const hint = suggestion ? `did you mean "${suggestion}"?` : `declared services: ${[...byName.keys(), ...externalsByName.keys()].join(', ')}`;
        check.fail(call.path, `calls unknown service "${call.service}"`, `Declare it under spec.services or fix the name (${hint})`);
      }
      if (call.port !== undefined && !callee.ports.some((port) => port.port === call.port)) {
        const known = callee.ports.map((port) => port.port).join(', ');
        check.fail(`${call.path}.port`, `"${callee.name}" has no port ${call.port}`, `Use one of its Service ports: ${known}`);
      }
    }
  }
}

/**
 * Rejects external dependencies that nothing in the cluster could distinguish. Two may not share a host and
 * port. A caller's dependency may not share addresses and port with another one when either speaks a protocol
 * without a host name on the wire (anything but tls and http), because the caller could then reach both.
 */
function checkExternalsDistinct(check: Checker, services: ValidatedService[], externals: ValidatedExternal[]): void {
  const seen = new Map<string, ValidatedExternal>();
  for (const external of externals) {
    const key = `${external.host}:${external.port}`;
    const first = seen.get(key);
    if (first) check.fail(`${external.path}.external.host`, `"${first.name}" at ${first.path} is already ${key}`, `Declare the dependency once and call it "${first.name}" everywhere`);
    seen.set(key, external);
  }
  const byName = new Map(externals.map((external) => [external.name, external]));
  const named = (protocol: string) => protocol === 'tls' || protocol === 'http';
  for (const service of services) {
    const own = service.calls.map((call) => ({ call, external: byName.get(call.service) })).filter((entry) => entry.external !== undefined);
    for (const { call, external } of own) {
      for (const other of externals) {
        if (other === external || other.port !== external!.port || own.some((entry) => entry.external === other)) continue;
        if (named(external!.protocol) && named(other.protocol)) continue;
        // A dependency without addresses may be anywhere, but a caller limited to its own dependency's listed
        // addresses reaches it only if the two really share servers, which the topology cannot know.
        if (other.addresses.length === 0 && external!.addresses.length > 0) continue;
        if (!rangesOverlap(rangesOf(external!), rangesOf(other))) continue;
        check.fail(
          call.path,
          `"${service.name}" calls "${external!.name}" (${external!.protocol} on port ${external!.port}), which shares addresses and port with "${other.name}" (${other.protocol}), and a ${named(external!.protocol) ? other.protocol : external!.protocol} connection names no host, so nothing could keep "${service.name}" from "${other.name}"`,
          `Give both dependencies addresses that do not overlap, or move one to another port`,
        );
      }
    }
  }
}

function rangesOverlap(a: AddressRange[], b: AddressRange[]): boolean {
  return a.some((x) => b.some((y) => x.family === y.family && x.first <= y.last && y.first <= x.last));
}

export function compare(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Appends a key to a field path; a key that is not a plain word is quoted, so the path stays on one line. */
function join(path: string, key: string): string {
  const segment = /^[\w$-]+$/.test(key) ? key : `"${printable(key)}"`;
  return path ? `${path}.${segment}` : segment;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${printable(value)}"`;
  return `${typeof value} ${String(value)}`;
}

/** Shortens a value for an error message and shows control characters as escapes, so the message stays on one line. */
export function printable(text: string): string {
  const escaped = JSON.stringify(text).slice(1, -1);
  return escaped.length > 80 ? `${escaped.slice(0, 77)}...` : escaped;
}

function suggestLabel(text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return label || 'web';
}

/** Returns the candidate within edit distance 2 of `word`, for "did you mean" hints. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
