import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { builtinPluginIds } from '../src/plugin/builtin.js';
import { CWD, failing, runCli } from './support/cli.js';

/** Builds a valid topology document. Each case below changes one thing in it. */
function validDocument() {
  return {
    apiVersion: 'create-zero-trust-app/v1alpha1',
    kind: 'Topology',
    metadata: { name: 'shop' },
    spec: {
      namespace: 'shop',
      services: [
        {
          name: 'web',
          image: 'docker.io/library/nginx:1.27',
          ports: [{ port: 8080, protocol: 'http' }],
          env: { DB_HOST: 'db.shop.svc.cluster.local', DB_PASS: { secret: 'db-password' } },
          calls: ['db'],
        },
        { name: 'db', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      ],
    },
  };
}

type Document = ReturnType<typeof validDocument>;
type Loose = Record<string, any>;

/** Returns the valid topology as YAML after `change` has edited it. */
function topology(change: (document: Document & Loose) => void): string {
  const document = validDocument();
  change(document);
  return stringify(document);
}

const web = (document: Document): Loose => document.spec.services[0]!;
const db = (document: Document): Loose => document.spec.services[1]!;
const VALID_YAML = stringify(validDocument());
const DEFAULT_ARGV = ['out', '--yes', '--topology', 'topology.yaml'];

interface InvalidCase {
  name: string;
  /** The content of topology.yaml; absent for cases that create no such file. */
  yaml?: string;
  /** Defaults to {@link DEFAULT_ARGV}. */
  argv?: string[];
  /** Extra files, relative to the working directory. */
  files?: Record<string, string>;
  /** Makes reading topology.yaml fail with this error code. */
  readError?: string;
  /** The whole line printed on stderr, without the program name and the newline. */
  error: string;
}

const CASES: InvalidCase[] = [
  // Malformed YAML.
  { name: 'unclosed flow mapping', yaml: 'apiVersion: create-zero-trust-app/v1alpha1\nspec: {services: [\n', error: 'topology.yaml:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]. Fix the syntax at that position' },
  { name: 'tab indentation', yaml: 'metadata:\n\tname: shop\n', error: 'topology.yaml:2:1: invalid YAML: Tabs are not allowed as indentation. Fix the syntax at that position' },
  { name: 'duplicate key', yaml: `${VALID_YAML}kind: Topology\n`, error: 'topology.yaml:24:1: invalid YAML: Map keys must be unique. Fix the syntax at that position' },
  { name: 'two documents', yaml: `${VALID_YAML}---\n${VALID_YAML}`, error: 'topology.yaml:24:1: contains more than one YAML document. Keep one topology per file and remove the "---" separators' },
  { name: 'alias without anchor', yaml: VALID_YAML.replace('name: shop', 'name: *shop'), error: 'topology.yaml: invalid YAML: Unresolved alias (the anchor must be set before the alias): shop. Define the anchor before the alias' },
  {
    name: 'alias bomb',
    yaml: 'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
    error: 'topology.yaml: invalid YAML: the aliases expand to too many values. Use fewer aliases',
  },
  { name: 'deeply nested lists', yaml: `spec: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, error: 'topology.yaml: invalid YAML: the document is nested too deeply. Flatten it' },
  { name: 'empty file', yaml: '', error: 'topology.yaml: the document must be a mapping with apiVersion, kind, metadata and spec. Write a Topology document; the topology.yaml of a generated repository is an example' },
  { name: 'null document', yaml: '~\n', error: 'topology.yaml: the document must be a mapping with apiVersion, kind, metadata and spec. Write a Topology document; the topology.yaml of a generated repository is an example' },
  { name: 'list document', yaml: '- web\n- db\n', error: 'topology.yaml: the document must be a mapping with apiVersion, kind, metadata and spec. Write a Topology document; the topology.yaml of a generated repository is an example' },
  { name: 'scalar document', yaml: 'shop\n', error: 'topology.yaml: the document must be a mapping with apiVersion, kind, metadata and spec. Write a Topology document; the topology.yaml of a generated repository is an example' },
  { name: 'key with a line break', yaml: VALID_YAML.replace('metadata:\n', 'metadata:\n  "na\\nme": shop\n'), error: 'topology.yaml: metadata."na\\nme": unknown field. Remove it or fix its name (did you mean "name"?)' },
  { name: 'collection as key', yaml: VALID_YAML.replace('metadata:\n', '? [a, b]\n: 1\nmetadata:\n'), error: 'topology.yaml: "[ a, b ]": unknown field. Remove it or fix its name (allowed fields: apiVersion, kind, metadata, spec)' },
  { name: 'merge key', yaml: VALID_YAML.replace('  name: shop', '  <<: {name: shop}'), error: 'topology.yaml: metadata."<<": unknown field. Remove it or fix its name (allowed fields: name)' },

  // Wrong types, missing and unknown fields.
  { name: 'apiVersion missing', yaml: topology((d) => delete (d as Loose).apiVersion), error: 'topology.yaml: apiVersion: required field is missing. Add apiVersion to the document' },
  { name: 'apiVersion unsupported', yaml: topology((d) => (d.apiVersion = 'create-zero-trust-app/v2')), error: 'topology.yaml: apiVersion: "create-zero-trust-app/v2" is not supported. Use apiVersion: create-zero-trust-app/v1alpha1' },
  { name: 'apiVersion a mapping', yaml: topology((d) => ((d as Loose).apiVersion = { version: 1 })), error: 'topology.yaml: apiVersion: a mapping is not supported. Use apiVersion: create-zero-trust-app/v1alpha1' },
  { name: 'kind unsupported', yaml: topology((d) => (d.kind = 'Deployment')), error: 'topology.yaml: kind: "Deployment" is not supported. Use kind: Topology' },
  { name: 'unknown top-level field', yaml: topology((d) => ((d as Loose).specs = {})), error: 'topology.yaml: specs: unknown field. Remove it or fix its name (did you mean "spec"?)' },
  { name: 'unknown metadata field', yaml: topology((d) => ((d.metadata as Loose).labels = {})), error: 'topology.yaml: metadata.labels: unknown field. Remove it or fix its name (allowed fields: name)' },
  { name: 'misspelt service field', yaml: topology((d) => (web(d).imagee = 'nginx')), error: 'topology.yaml: spec.services[0].imagee: unknown field. Remove it or fix its name (did you mean "image"?)' },
  { name: 'unknown port field', yaml: topology((d) => (web(d).ports[0].nodePort = 30000)), error: 'topology.yaml: spec.services[0].ports[0].nodePort: unknown field. Remove it or fix its name (allowed fields: port, targetPort, protocol, name)' },
  { name: 'metadata.name missing', yaml: topology((d) => ((d as Loose).metadata = {})), error: 'topology.yaml: metadata.name: required field is missing. Add name to metadata' },
  { name: 'metadata a list', yaml: topology((d) => ((d as Loose).metadata = ['shop'])), error: 'topology.yaml: metadata: must be a mapping, got a list. Write metadata as key: value pairs' },
  { name: 'spec.services missing', yaml: topology((d) => delete (d.spec as Loose).services), error: 'topology.yaml: spec.services: required field is missing. Add services to spec' },
  { name: 'spec.services a mapping', yaml: topology((d) => ((d.spec as Loose).services = { web: {} })), error: 'topology.yaml: spec.services: must be a list, got a mapping. Write it as a YAML list ("- item")' },
  { name: 'no services', yaml: topology((d) => (d.spec.services = [])), error: 'topology.yaml: spec.services: the list is empty. Declare at least one service' },
  { name: 'service a string', yaml: topology((d) => ((d.spec as Loose).services = ['web'])), error: 'topology.yaml: spec.services[0]: must be a mapping, got "web". Write spec.services[0] as key: value pairs' },
  { name: 'image missing', yaml: topology((d) => delete web(d).image), error: 'topology.yaml: spec.services[0].image: required field is missing. Add image to spec.services[0]' },
  { name: 'ports missing', yaml: topology((d) => delete web(d).ports), error: 'topology.yaml: spec.services[0].ports: required field is missing. Add ports to spec.services[0]' },
  { name: 'ports empty', yaml: topology((d) => (web(d).ports = [])), error: 'topology.yaml: spec.services[0].ports: the list is empty. Declare at least one port' },
  { name: 'replicas zero', yaml: topology((d) => (web(d).replicas = 0)), error: 'topology.yaml: spec.services[0].replicas: number 0 is not a valid replica count. Use a whole number from 1 to 1000' },
  { name: 'replicas a string', yaml: topology((d) => (web(d).replicas = '2')), error: 'topology.yaml: spec.services[0].replicas: "2" is not a valid replica count. Use a whole number from 1 to 1000' },

  // Invalid names.
  { name: 'service name uppercase', yaml: topology((d) => (web(d).name = 'Web')), error: 'topology.yaml: spec.services[0].name: "Web" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web"' },
  { name: 'service name too long', yaml: topology((d) => (web(d).name = 'w'.repeat(64))), error: 'topology.yaml: spec.services[0].name: "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww" is longer than 63 characters. Use a shorter name' },
  { name: 'service name leading dash', yaml: topology((d) => (web(d).name = '-web')), error: 'topology.yaml: spec.services[0].name: "-web" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web"' },
  { name: 'service name trailing dash', yaml: topology((d) => (web(d).name = 'web-')), error: 'topology.yaml: spec.services[0].name: "web-" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web"' },
  { name: 'service name with dots', yaml: topology((d) => (web(d).name = 'web.v1')), error: 'topology.yaml: spec.services[0].name: "web.v1" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web-v1"' },
  { name: 'service name with slash', yaml: topology((d) => (web(d).name = '../../etc')), error: 'topology.yaml: spec.services[0].name: "../../etc" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "etc"' },
  { name: 'service name with backslash', yaml: topology((d) => (web(d).name = 'web\\x')), error: 'topology.yaml: spec.services[0].name: "web\\\\x" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web-x"' },
  { name: 'service name empty', yaml: topology((d) => (web(d).name = '')), error: 'topology.yaml: spec.services[0].name: must not be empty. Give it a name such as "web"' },
  { name: 'service name a number', yaml: topology((d) => (web(d).name = 42)), error: 'topology.yaml: spec.services[0].name: must be a string, got number 42. Write a string value' },
  { name: 'service name with newline', yaml: topology((d) => (web(d).name = 'web\nkind: Secret')), error: 'topology.yaml: spec.services[0].name: "web\\nkind: Secret" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "web-kind-secret"' },
  { name: 'topology name with slash', yaml: topology((d) => (d.metadata.name = 'shop/../..')), error: 'topology.yaml: metadata.name: "shop/../.." is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "shop"' },
  { name: 'topology name too long', yaml: topology((d) => (d.metadata.name = 's'.repeat(70))), error: 'topology.yaml: metadata.name: "ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss" is longer than 63 characters. Use a shorter name' },
  { name: 'namespace uppercase', yaml: topology((d) => (d.spec.namespace = 'Shop')), error: 'topology.yaml: spec.namespace: "Shop" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "shop"' },
  { name: 'namespace with dots', yaml: topology((d) => (db(d).namespace = 'data.v1')), error: 'topology.yaml: spec.services[1].namespace: "data.v1" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "data-v1"' },
  { name: 'port name too long', yaml: topology((d) => (web(d).ports[0].name = 'http-port-number-one')), error: 'topology.yaml: spec.services[0].ports[0].name: "http-port-number-one" is not a valid port name. Use at most 15 lowercase letters, digits and single dashes, with at least one letter, for example "http"' },
  { name: 'port name without letter', yaml: topology((d) => (web(d).ports[0].name = '8080')), error: 'topology.yaml: spec.services[0].ports[0].name: "8080" is not a valid port name. Use at most 15 lowercase letters, digits and single dashes, with at least one letter, for example "http"' },

  // Duplicates.
  { name: 'duplicate service', yaml: topology((d) => (db(d).name = 'web')), error: 'topology.yaml: spec.services[1].name: "web" is already declared at spec.services[0]. Give each service a unique name' },
  { name: 'duplicate port', yaml: topology((d) => web(d).ports.push({ port: 8080, targetPort: 9090, protocol: 'http' })), error: 'topology.yaml: spec.services[0].ports[1].port: port 8080 is already declared at spec.services[0].ports[0]. Declare each port once' },
  { name: 'duplicate targetPort', yaml: topology((d) => web(d).ports.push({ port: 8081, targetPort: 8080, protocol: 'http' })), error: 'topology.yaml: spec.services[0].ports[1].targetPort: container port 8080 is already used at spec.services[0].ports[0]. Give each port its own targetPort' },
  { name: 'duplicate port name', yaml: topology((d) => (web(d).ports = [{ port: 80, name: 'web', protocol: 'http' }, { port: 81, name: 'web', protocol: 'http' }])), error: 'topology.yaml: spec.services[0].ports[1].name: port name "web" is already used at spec.services[0].ports[0]. Give each port a unique name' },

  // Calls.
  { name: 'call to unknown service, near name', yaml: topology((d) => (web(d).calls = ['dbb'])), error: 'topology.yaml: spec.services[0].calls[0]: calls unknown service "dbb". Declare it under spec.services or fix the name (did you mean "db"?)' },
  { name: 'call to unknown service', yaml: topology((d) => (web(d).calls = ['payments'])), error: 'topology.yaml: spec.services[0].calls[0]: calls unknown service "payments". Declare it under spec.services or fix the name (declared services: web, db)' },
  { name: 'call to unknown port', yaml: topology((d) => (web(d).calls = [{ service: 'db', port: 5433 }])), error: 'topology.yaml: spec.services[0].calls[0].port: "db" has no port 5433. Use one of its Service ports: 5432' },
  { name: 'call a number', yaml: topology((d) => (web(d).calls = [5432])), error: 'topology.yaml: spec.services[0].calls[0]: must be a service name or {service: NAME, port: PORT}, got number 5432. Write the name of a declared service' },
  { name: 'call with unknown field', yaml: topology((d) => (web(d).calls = [{ service: 'db', protocol: 'tcp' }])), error: 'topology.yaml: spec.services[0].calls[0].protocol: unknown field. Remove it or fix its name (allowed fields: service, port)' },
  { name: 'call to invalid name', yaml: topology((d) => (web(d).calls = ['DB'])), error: 'topology.yaml: spec.services[0].calls[0]: "DB" is not a valid DNS-1123 label. Use lowercase letters, digits and "-", starting and ending with a letter or digit, for example "db"' },
  { name: 'calls a mapping', yaml: topology((d) => (web(d).calls = { db: 5432 })), error: 'topology.yaml: spec.services[0].calls: must be a list, got a mapping. Write it as a YAML list ("- item")' },

  // Ports and protocols.
  { name: 'port zero', yaml: topology((d) => (web(d).ports[0].port = 0)), error: 'topology.yaml: spec.services[0].ports[0].port: number 0 is not a port number. Use a whole number from 1 to 65535' },
  { name: 'port above 65535', yaml: topology((d) => (web(d).ports[0].port = 65536)), error: 'topology.yaml: spec.services[0].ports[0].port: number 65536 is not a port number. Use a whole number from 1 to 65535' },
  { name: 'port negative', yaml: topology((d) => (web(d).ports[0].port = -80)), error: 'topology.yaml: spec.services[0].ports[0].port: number -80 is not a port number. Use a whole number from 1 to 65535' },
  { name: 'port fractional', yaml: topology((d) => (web(d).ports[0].port = 80.5)), error: 'topology.yaml: spec.services[0].ports[0].port: number 80.5 is not a port number. Use a whole number from 1 to 65535' },
  { name: 'port a string', yaml: topology((d) => (web(d).ports[0].port = '8080')), error: 'topology.yaml: spec.services[0].ports[0].port: "8080" is not a port number. Use a whole number from 1 to 65535' },
  { name: 'port huge number', yaml: VALID_YAML.replace('port: 8080', 'port: 1e400'), error: 'topology.yaml: spec.services[0].ports[0].port: number Infinity is not a port number. Use a whole number from 1 to 65535' },
  { name: 'targetPort out of range', yaml: topology((d) => (web(d).ports[0].targetPort = 70000)), error: 'topology.yaml: spec.services[0].ports[0].targetPort: number 70000 is not a port number. Use a whole number from 1 to 65535' },
  { name: 'unknown protocol', yaml: topology((d) => (web(d).ports[0].protocol = 'udp')), error: 'topology.yaml: spec.services[0].ports[0].protocol: "udp" is not a known protocol. Use one of: http, http2, grpc, tcp, postgres, mysql, redis, mongodb' },
  { name: 'protocol uppercase', yaml: topology((d) => (web(d).ports[0].protocol = 'HTTP')), error: 'topology.yaml: spec.services[0].ports[0].protocol: "HTTP" is not a known protocol. Use one of: http, http2, grpc, tcp, postgres, mysql, redis, mongodb' },
  { name: 'protocol missing', yaml: topology((d) => delete web(d).ports[0].protocol), error: 'topology.yaml: spec.services[0].ports[0].protocol: required field is missing. Add protocol to spec.services[0].ports[0]' },

  // Environment variables.
  { name: 'env a list', yaml: topology((d) => (web(d).env = ['DB_HOST=db'])), error: 'topology.yaml: spec.services[0].env: must be a mapping, got a list. Write spec.services[0].env as key: value pairs' },
  { name: 'env empty', yaml: topology((d) => (web(d).env = null)), error: 'topology.yaml: spec.services[0].env: must be a mapping, got nothing. Write spec.services[0].env as key: value pairs' },
  { name: 'env name starting with digit', yaml: topology((d) => (web(d).env = { '1DB': 'x' })), error: 'topology.yaml: spec.services[0].env.1DB: "1DB" is not a valid environment variable name. Use letters, digits and "_", not starting with a digit' },
  { name: 'env name with equals sign', yaml: topology((d) => (web(d).env = { 'DB=HOST': 'x' })), error: 'topology.yaml: spec.services[0].env."DB=HOST": "DB=HOST" is not a valid environment variable name. Use letters, digits and "_", not starting with a digit' },
  { name: 'env name with newline', yaml: topology((d) => (web(d).env = { 'DB\nHOST': 'x' })), error: 'topology.yaml: spec.services[0].env."DB\\nHOST": "DB\\nHOST" is not a valid environment variable name. Use letters, digits and "_", not starting with a digit' },
  { name: 'env value a number', yaml: topology((d) => (web(d).env = { DB_PORT: 5432 })), error: 'topology.yaml: spec.services[0].env.DB_PORT: must be a string, got number 5432. Quote the value as written in the file (DB_PORT: "..."): unquoted, YAML reads it as a number and may change its digits' },
  { name: 'env value a boolean', yaml: topology((d) => (web(d).env = { DEBUG: true })), error: 'topology.yaml: spec.services[0].env.DEBUG: must be a string, got boolean true. Quote it: DEBUG: "true"' },
  { name: 'env value with U+2028', yaml: topology((d) => (web(d).env = { NOTE: 'a\u2028b' })), error: 'topology.yaml: spec.services[0].env.NOTE: contains the character U+2028, which kubectl cannot read back from a manifest unchanged. Remove it' },
  { name: 'env value with DEL', yaml: topology((d) => (web(d).env = { NOTE: 'a\u007fb' })), error: 'topology.yaml: spec.services[0].env.NOTE: contains the character U+007F, which kubectl cannot read back from a manifest unchanged. Remove it' },
  { name: 'env value with U+FFFE', yaml: topology((d) => (web(d).env = { NOTE: 'a\ufffeb' })), error: 'topology.yaml: spec.services[0].env.NOTE: contains the character U+FFFE, which kubectl cannot read back from a manifest unchanged. Remove it' },
  { name: 'command with a lone surrogate', yaml: topology((d) => (web(d).command = ['x\ud800y'])), error: 'topology.yaml: spec.services[0].command[0]: contains an unpaired UTF-16 surrogate, which is not valid Unicode. Remove the lone \\uD800-\\uDFFF escape' },
  { name: 'arg with NEL', yaml: topology((d) => (web(d).args = ['a\u0085b'])), error: 'topology.yaml: spec.services[0].args[0]: contains the character U+0085, which kubectl cannot read back from a manifest unchanged. Remove it' },
  { name: 'env value a list', yaml: topology((d) => (web(d).env = { HOSTS: ['a', 'b'] })), error: 'topology.yaml: spec.services[0].env.HOSTS: must be a string or {secret: NAME}, got a list. Write a string, or {secret: NAME} to take the value from a Secret' },
  { name: 'env value lone surrogate', yaml: VALID_YAML.replace('DB_HOST: db.shop.svc.cluster.local', 'DB_HOST: "db\\uD800"'), error: 'topology.yaml: spec.services[0].env.DB_HOST: contains an unpaired UTF-16 surrogate, which is not valid Unicode. Remove the lone \\uD800-\\uDFFF escape from the value' },
  { name: 'secret name invalid', yaml: topology((d) => (web(d).env = { DB_PASS: { secret: 'DB_Password' } })), error: 'topology.yaml: spec.services[0].env.DB_PASS.secret: "DB_Password" is not a valid Secret name. Use lowercase letters, digits, "-" and ".", for example "db-password"' },
  { name: 'secret with unknown field', yaml: topology((d) => (web(d).env = { DB_PASS: { secret: 'db', key: 'password' } })), error: 'topology.yaml: spec.services[0].env.DB_PASS.key: unknown field. Remove it or fix its name (allowed fields: secret)' },

  // Image references.
  { name: 'image with uppercase path', yaml: topology((d) => (web(d).image = 'docker.io/Library/nginx')), error: 'topology.yaml: spec.services[0].image: "docker.io/Library/nginx" is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },
  { name: 'image with space', yaml: topology((d) => (web(d).image = 'nginx latest')), error: 'topology.yaml: spec.services[0].image: "nginx latest" is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },
  { name: 'image with newline', yaml: topology((d) => (web(d).image = 'nginx\ncommand: [sh]')), error: 'topology.yaml: spec.services[0].image: "nginx\\ncommand: [sh]" is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },
  { name: 'image with template braces', yaml: topology((d) => (web(d).image = 'nginx:{{tag}}')), error: 'topology.yaml: spec.services[0].image: "nginx:{{tag}}" is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },
  { name: 'image empty', yaml: topology((d) => (web(d).image = '')), error: 'topology.yaml: spec.services[0].image: "" is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },
  { name: 'image a number', yaml: topology((d) => (web(d).image = 17)), error: 'topology.yaml: spec.services[0].image: must be a string, got number 17. Write a string value' },
  { name: 'image too long', yaml: topology((d) => (web(d).image = `a/${'b'.repeat(1100)}`)), error: 'topology.yaml: spec.services[0].image: "a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb..." is not a valid image reference. Use a reference such as docker.io/library/postgres:17' },

  // The --topology file itself.
  { name: 'topology file missing', error: '--topology: topology.yaml not found. Check the path' },
  { name: 'topology path a folder', files: { 'topology.yaml/README': 'not a topology' }, error: '--topology: topology.yaml is a directory. Give the path of a topology YAML file' },
  { name: 'topology file unreadable', yaml: VALID_YAML, readError: 'EACCES', error: '--topology: topology.yaml cannot be read: permission denied. Check its permissions' },
  { name: 'topology path empty', argv: ['out', '--yes', '--topology', ''], error: '--topology: the path is empty. Give the path of a topology YAML file' },
  { name: 'topology path with NUL', argv: ['out', '--yes', '--topology', 'topo\0logy.yaml'], error: '--topology: the path contains a NUL character. Give the path of a topology YAML file' },

  // Exposed ports and external dependencies.
  { name: 'expose a database port', yaml: topology((d) => { db(d).expose = true; }), error: 'topology.yaml: spec.services[1].expose: port 5432 speaks postgres, and a gateway routes only HTTP, HTTP/2 and gRPC by host name. Remove expose from this service' },
  { name: 'expose a port the service lacks', yaml: topology((d) => { web(d).expose = [8443]; }), error: 'topology.yaml: spec.services[0].expose[0]: the service has no port 8443. Use one of its Service ports: 8080' },
  { name: 'expose a port twice', yaml: topology((d) => { web(d).expose = [8080, 8080]; }), error: 'topology.yaml: spec.services[0].expose[1]: port 8080 is listed twice. List each port once' },
  { name: 'expose as a string', yaml: topology((d) => { web(d).expose = 'yes'; }), error: 'topology.yaml: spec.services[0].expose: must be true, false or a list of ports, got "yes". Write expose: true to expose every port, or a list such as expose: [8080]' },
  { name: 'expose an empty list', yaml: topology((d) => { web(d).expose = []; }), error: 'topology.yaml: spec.services[0].expose: the list is empty. List the Service ports to expose, or remove expose' },
  { name: 'external with an image', yaml: topology((d) => { d.spec.services.push({ name: 'partner', image: 'docker.io/library/nginx:1.27', external: { host: 'api.partner.example', port: 443, protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[2].image: an external service takes only name and external. Remove image: the service runs outside the cluster, so the cluster deploys nothing for it' },
  { name: 'external host not qualified', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'partner', port: 443, protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[2].external.host: "partner" is not a fully qualified DNS name. Use the lowercase host name the callers connect to, such as api.partner.example, with at most 63 characters between dots; list its addresses under addresses' },
  { name: 'external host an address', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: '203.0.113.7', port: 443, protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[2].external.host: "203.0.113.7" is not a fully qualified DNS name. Use the lowercase host name the callers connect to, such as api.partner.example, with at most 63 characters between dots; list its addresses under addresses' },
  { name: 'external protocol unknown', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'https' } } as never); }), error: 'topology.yaml: spec.services[2].external.protocol: "https" is not a protocol of external services. Use one of: tls, http, tcp, postgres, mysql, redis, mongodb (tls for HTTPS and any other protocol inside TLS)' },
  { name: 'external address not a range', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: ['203.0.113.7'] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses[0]: "203.0.113.7" is not a valid CIDR range: missing the "/prefix" part. Write the range\'s network address and prefix length, such as 203.0.113.0/24 or 2001:db8::/32' },
  { name: 'external address out of range', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: ['203.0.113.0/33'] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses[0]: "203.0.113.0/33" is not a valid CIDR range: prefix length must be an integer from 0 to 32 for IPv4. Write the range\'s network address and prefix length, such as 203.0.113.0/24 or 2001:db8::/32' },
  { name: 'external address with host bits', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: ['203.0.113.7/24'] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses[0]: "203.0.113.7/24" is not a valid CIDR range: the address has bits set beyond the /24 prefix. Write the range\'s network address and prefix length, as 203.0.113.0/24' },
  { name: 'external address in the cluster', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: ['0.0.0.0/0'] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses[0]: 0.0.0.0/0 overlaps 192.168.0.0/16, which belongs to the cluster or the node. List only the addresses of the dependency itself; NetworkPolicy would open its port to the cluster\'s own addresses too' },
  { name: 'external addresses empty', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: [] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses: the list is empty. List the ranges the host resolves into, or remove addresses to allow every public IPv4 address' },
  { name: 'external host in the cluster', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'db.data.svc.cluster.local', port: 5432, protocol: 'postgres' } } as never); }), error: 'topology.yaml: spec.services[2].external.host: "db.data.svc.cluster.local" names something inside the cluster or this machine, not a dependency outside it. Declare a service in the cluster as a service with an image, and call it by name' },
  { name: 'external host label too long', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: `${'a'.repeat(64)}.example`, port: 443, protocol: 'tls' } } as never); }), error: `topology.yaml: spec.services[2].external.host: "${'a'.repeat(64)}.example" is not a fully qualified DNS name. Use the lowercase host name the callers connect to, such as api.partner.example, with at most 63 characters between dots; list its addresses under addresses` },
  { name: 'external port missing', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[2].external.port: required field is missing. Add port to spec.services[2].external' },
  { name: 'call to an external on another port', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls' } } as never); web(d).calls = [{ service: 'partner', port: 8443 }]; }), error: 'topology.yaml: spec.services[0].calls[0].port: "partner" listens on port 443, not 8443. Use port 443 or remove port' },
  { name: 'external named like a service', yaml: topology((d) => { d.spec.services.push({ name: 'db', external: { host: 'db.partner.example', port: 5432, protocol: 'postgres' } } as never); }), error: 'topology.yaml: spec.services[2].name: "db" is already declared at spec.services[1]. Give each service a unique name' },
  { name: 'only external services', yaml: topology((d) => { d.spec.services = [{ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls' } }] as never; }), error: 'topology.yaml: spec.services: every service is external. Declare at least one service with an image' },

  { name: 'generated names collide', yaml: topology((d) => { d.spec.services = [{ name: 'web', image: 'docker.io/library/nginx:1.27', ports: [{ port: 8080, protocol: 'http', name: 'api-http' }], expose: [8080] }, { name: 'web-api', image: 'docker.io/library/nginx:1.27', ports: [{ port: 8080, protocol: 'http', name: 'http' }], expose: true }] as never; }), error: 'topology.yaml: two generated objects are named HTTPRoute shop/web-api-http (in manifests/mesh/ingress-gateway.yaml), because names of services, ports or namespaces combine into the same name. Rename one of the services or ports involved' },
  { name: 'plugin rejects the topology', yaml: topology((d) => { db(d).ports.push({ port: 9187, protocol: 'http', name: 'metrics' }); web(d).calls = [{ service: 'db', port: 5432 }]; }), argv: [...DEFAULT_ARGV, '--mesh', 'nsm'], error: 'topology.yaml: web calls db on port 5432 only, but NSM connects a caller to every port of db (5432, 9187), so the other ports would be open to web over NSM: in the calls of web, call db without a port, or move the other ports into a service of their own' },

  { name: 'service named like the stranger', yaml: topology((d) => { web(d).name = 'stranger'; db(d).calls = []; d.spec.services[0]!.calls = ['db']; }), error: 'topology.yaml: two generated objects are named Pod shop/verify-stranger (in verify/clients.yaml), because names of services, ports or namespaces combine into the same name. Rename one of the services or ports involved' },
  { name: 'external null on a service', yaml: topology((d) => { web(d).external = null; }), error: 'topology.yaml: spec.services[0].external: must be a mapping of host, port and protocol, got nothing. Write external: {host: NAME, port: PORT, protocol: PROTOCOL} for a dependency outside the cluster, or remove external for a service with an image' },
  { name: 'external host a cluster short name', yaml: topology((d) => { d.spec.services.push({ name: 'api', external: { host: 'kubernetes.default', port: 443, protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[2].external.host: "kubernetes.default" names something inside the cluster or this machine, not a dependency outside it. Declare a service in the cluster as a service with an image, and call it by name' },
  { name: 'external address IPv4 as IPv6', yaml: topology((d) => { d.spec.services.push({ name: 'partner', external: { host: 'api.partner.example', port: 443, protocol: 'tls', addresses: ['::ffff:10.0.0.0/104'] } } as never); }), error: 'topology.yaml: spec.services[2].external.addresses[0]: ::ffff:10.0.0.0/104 overlaps ::ffff:0:0/96, which belongs to the cluster or the node. List only the addresses of the dependency itself; NetworkPolicy would open its port to the cluster\'s own addresses too' },
  { name: 'two externals at one host and port', yaml: topology((d) => { d.spec.services.push({ name: 'pay', external: { host: 'api.pay.example', port: 443, protocol: 'tls' } } as never, { name: 'pay2', external: { host: 'api.pay.example', port: 443, protocol: 'tls' } } as never); }), error: 'topology.yaml: spec.services[3].external.host: "pay" at spec.services[2] is already api.pay.example:443. Declare the dependency once and call it "pay" everywhere' },
  { name: 'externals no protocol tells apart', yaml: topology((d) => { d.spec.services.push({ name: 'a', external: { host: 'a.example.com', port: 5432, protocol: 'postgres', addresses: ['203.0.113.0/24'] } } as never, { name: 'b', external: { host: 'b.example.com', port: 5432, protocol: 'tcp', addresses: ['203.0.113.128/25'] } } as never); web(d).calls = ['db', 'a']; }), error: 'topology.yaml: spec.services[0].calls[1]: "web" calls "a" (postgres on port 5432), which shares addresses and port with "b" (tcp), and a postgres connection names no host, so nothing could keep "web" from "b". Give both dependencies addresses that do not overlap, or move one to another port' },

  { name: 'plugin names the topology', yaml: topology((d) => { d.spec.services.push({ name: 'one', external: { host: 'one.pay.example', port: 5432, protocol: 'tcp' } } as never, { name: 'two', external: { host: 'two.pay.example', port: 5432, protocol: 'tcp' } } as never); web(d).calls = ['db', 'one', 'two']; }), argv: [...DEFAULT_ARGV, '--mesh', 'istio'], error: 'topology.yaml: service "web", field calls: "one" and "two" share port 5432, and Istio cannot tell their connections apart (tcp and tcp). Add addresses to the tcp-like one, or use a different port' },

  // Conflicting and invalid flags.
  { name: 'topology and preset together', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--preset', 'workshop'], error: '--topology and --preset cannot be used together. Pass one of them' },
  { name: 'topology given twice', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--topology', 'other.yaml'], error: '--topology: given 2 times (topology.yaml, other.yaml). Give it once' },
  { name: 'mesh given twice', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'istio', '--mesh', 'istio'], error: '--mesh: given 2 times (istio, istio). Give it once' },
  // The list of meshes grows as plugins are registered, so it is built from the registry.
  { name: 'unknown mesh', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'consul'], error: `--mesh: unknown mesh "consul". Use one of: ${builtinPluginIds().join(', ')}, or load a plugin with --plugin` },
  { name: 'unknown preset', argv: ['out', '--yes', '--preset', 'petstore'], error: '--preset: unknown preset "petstore". Use one of: workshop, bookinfo' },
  { name: 'unknown flag', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--frobnicate'], error: "--frobnicate: unknown option, neither the CLI's nor mesh istio's (it takes no options); see --help" },
  { name: 'flag with a dot', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh.x=1'], error: "--mesh.x: unknown option, neither the CLI's nor mesh istio's (it takes no options); see --help" },
  { name: 'flag naming a prototype', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--constructor.prototype.x=1'], error: "--constructor.prototype.x: unknown option, neither the CLI's nor mesh istio's (it takes no options); see --help" },
  { name: 'plugin option without a value', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'nsm', '--nsm-app-path'], error: '--nsm-app-path: the value is missing. Use one of: nsm, cluster-network' },
  { name: 'plugin option with an unknown value', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'nsm', '--nsm-app-path', 'vl3'], error: '--nsm-app-path: "vl3" is not valid. Use one of: nsm, cluster-network' },
  { name: 'env value with NUL', yaml: topology((d) => { web(d).env.DB_HOST = 'db\0host'; }), error: 'topology.yaml: spec.services[0].env.DB_HOST: contains a NUL character, which no process environment can hold. Remove it' },
  { name: 'mesh without a value', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh'], error: `--mesh: the value is missing. Use one of: ${builtinPluginIds().join(', ')}` },
  { name: 'preset without a value', argv: ['out', '--yes', '--preset'], error: '--preset: the value is missing. Use one of: workshop, bookinfo' },
  { name: 'plugin option negated', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'nsm', '--no-nsm-app-path'], error: '--nsm-app-path: the value is missing. Use one of: nsm, cluster-network' },
  { name: 'plugin option given twice', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--mesh', 'nsm', '--nsm-app-path', 'nsm', '--nsm-app-path', 'cluster-network'], error: '--nsm-app-path: given 2 times (nsm, cluster-network). Give it once' },
  { name: 'option of another mesh', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '--nsm-app-path', 'nsm'], error: '--nsm-app-path: an option of mesh nsm, not of istio. Add --mesh nsm, or leave the option out' },
  { name: 'replicated callee on the NSM path', yaml: topology((d) => { (d.spec.services[1] as { replicas?: number }).replicas = 2; }), argv: [...DEFAULT_ARGV, '--mesh', 'nsm'], error: 'topology.yaml: service "db", field replicas: 2 replicas, but NSM connects each caller pod to one endpoint pod, so the app would reach the other replicas outside NSM: set replicas of db to 1, or choose the cluster network as the app\'s path with --nsm-app-path cluster-network' },
  { name: 'unknown short flag', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, '-q'], error: "-q: unknown option, neither the CLI's nor mesh istio's (it takes no options); see --help" },
  { name: 'second directory', yaml: VALID_YAML, argv: [...DEFAULT_ARGV, 'other'], error: 'unexpected argument "other". Give at most one directory; see --help' },
  { name: 'directory with NUL', yaml: VALID_YAML, argv: ['out\0x', '--yes', '--topology', 'topology.yaml'], error: 'directory: the name contains a NUL character. Choose another directory name' },
];

describe('invalid input', () => {
  it('corpus has at least 60 cases with distinct names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CASES.map((entry) => entry.name)).size).toBe(CASES.length);
  });

  it.each(CASES)('$name', async (entry) => {
    const files = { ...entry.files, ...(entry.yaml !== undefined && { 'topology.yaml': entry.yaml }) };
    const run = await runCli(entry.argv ?? DEFAULT_ARGV, {
      files,
      ...(entry.readError && { wrapFs: (fs) => failing(fs, 'readFile', entry.readError!, (path) => path.endsWith('topology.yaml')) }),
    });

    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`create-zero-trust-app: ${entry.error}\n`);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe('');
    const written = Object.keys(run.tree()).filter((path) => !path.startsWith(`${CWD}/topology.yaml`) && path !== CWD);
    expect(written).toEqual([]);
  });
});
