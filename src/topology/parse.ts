import { LineCounter, parseDocument, isMap, type Document } from 'yaml';
import { InputError } from '../errors.js';
import { isRecord } from '../netpol/validation.js';
import { readBlockDocuments } from '../yaml/read.js';
import { compare, validateTopology } from './validate.js';
import type { Edge, Exposure, ExternalEdge, Service, ServicePort, Topology } from './types.js';

/** Parses, validates and normalises topology YAML; `file` names the source in error messages. */
export function parseTopology(text: string, file: string): Topology {
  // A file in plain block layout, as generated repositories keep it, is read without yaml's node tree. yaml reads
  // everything else, so syntax errors are reported with their line and column.
  const fast = readBlockDocuments(text);
  if (fast?.length === 1 && isRecord(fast[0])) return normaliseTopology(fast[0], file);
  const lineCounter = new LineCounter();
  // logLevel 'error' keeps the yaml library from printing warnings, such as for a collection used as a key, on stderr.
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true, lineCounter, logLevel: 'error' });
  const problem = document.errors[0];
  if (problem) {
    const line = lineCounter.linePos(problem.pos[0]);
    const where = `${file}:${line.line}:${line.col}`;
    if (problem.code === 'MULTIPLE_DOCS') throw new InputError(`${where}: contains more than one YAML document. Keep one topology per file and remove the "---" separators`);
    // The parser stops where it ran out of stack, which varies from run to run, so no position is given.
    if (problem.code === 'RESOURCE_EXHAUSTION') throw new InputError(`${file}: invalid YAML: the document is nested too deeply. Flatten it`);
    throw new InputError(`${where}: invalid YAML: ${firstLine(problem.message)}. Fix the syntax at that position`);
  }
  // An unknown tag such as !foo is only a warning to yaml, which then reads the value as a plain string.
  const unknownTag = document.warnings.find((warning) => warning.code === 'TAG_RESOLVE_FAILED');
  if (unknownTag) {
    const line = lineCounter.linePos(unknownTag.pos[0]);
    throw new InputError(`${file}:${line.line}:${line.col}: invalid YAML: unknown tag. Remove the tag (the text starting with "!")`);
  }
  if (!isMap(document.contents)) {
    throw new InputError(`${file}: the document must be a mapping with apiVersion, kind, metadata and spec. Write a Topology document; the topology.yaml of a generated repository is an example`);
  }
  return normaliseTopology(toPlainData(document, file), file);
}

/** Converts the document to plain data; aliases are resolved here, so an unknown alias or an alias bomb fails here. */
function toPlainData(document: Document, file: string): unknown {
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // yaml 2.x throws a ReferenceError for an alias without its anchor and for too many alias expansions.
    if (!(error instanceof ReferenceError)) throw error;
    if (error.message.startsWith('Excessive alias count')) throw new InputError(`${file}: invalid YAML: the aliases expand to too many values. Use fewer aliases`);
    throw new InputError(`${file}: invalid YAML: ${firstLine(error.message)}. Define the anchor before the alias`);
  }
}

/** Validates an already parsed document and fills every default: namespaces, port names and explicit edges. */
export function normaliseTopology(document: unknown, file: string): Topology {
  const validated = validateTopology(document, file);
  const services = validated.services
    .map(({ calls: _calls, path: _path, ...service }) => service)
    .sort((a, b) => compare(a.name, b.name));
  const byName = new Map(services.map((service) => [service.name, service]));

  const edges = new Map<string, Edge>();
  for (const caller of validated.services) {
    for (const call of caller.calls) {
      const callee = byName.get(call.service);
      // A call to an external dependency becomes an external edge below.
      if (!callee) continue;
      for (const port of callee.ports) {
        if (call.port !== undefined && call.port !== port.port) continue;
        edges.set(`${caller.name}\0${callee.name}\0${port.port}`, { from: caller.name, to: callee.name, port });
      }
    }
  }
  const sortedEdges = [...edges.values()].sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to) || a.port.port - b.port.port);
  const namespaces = [...new Set(services.map((service) => service.namespace))].sort(compare);

  const externals = validated.externals.map(({ path: _path, ...external }) => external).sort((a, b) => compare(a.name, b.name));
  const externalsByName = new Map(externals.map((external) => [external.name, external]));
  const externalEdges = new Map<string, ExternalEdge>();
  for (const caller of validated.services) {
    for (const call of caller.calls) {
      const external = externalsByName.get(call.service);
      if (external) externalEdges.set(`${caller.name}\0${external.name}`, { from: caller.name, to: external });
    }
  }
  const sortedExternalEdges = [...externalEdges.values()].sort((a, b) => compare(a.from, b.from) || compare(a.to.name, b.to.name));

  return {
    name: validated.name,
    namespace: validated.namespace,
    namespaces,
    services,
    edges: sortedEdges,
    externals,
    externalEdges: sortedExternalEdges,
    exposures: services.flatMap((service) => exposuresOf(service, validated.name)),
  };
}

/**
 * Names the host name the gateway routes to each exposed port: `<service>.<topology>.localhost` for the service's
 * first port, and `<port name>.<service>.<topology>.localhost` for its other ports, so exposing another port later
 * never renames one already exposed. Names under `localhost` resolve to the loopback address on most systems,
 * where kind and `kubectl port-forward` publish the gateway.
 */
export function exposuresOf(service: Service, topologyName: string): Exposure[] {
  return service.exposedPorts.map((number) => {
    const port = service.ports.find((candidate) => candidate.port === number)!;
    return { service: service.name, namespace: service.namespace, port, hostname: hostnameOf(service, port, topologyName) };
  });
}

/** Returns the host name a port of a service has, or would have, at the gateway. */
export function hostnameOf(service: Service, port: ServicePort, topologyName: string): string {
  const prefix = port === service.ports[0] ? '' : `${port.name}.`;
  return `${prefix}${service.name}.${topologyName}.localhost`;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}
