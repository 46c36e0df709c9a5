import { parseDocument, isMap } from 'yaml';
import { InputError } from '../errors.js';
import { compare, validateTopology } from './validate.js';
import type { Edge, Topology } from './types.js';

/** Parses, validates and normalises topology YAML; `file` names the source in error messages. */
export function parseTopology(text: string, file: string): Topology {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, strict: true });
  const problem = document.errors[0];
  if (problem) {
    const line = problem.linePos?.[0];
    const where = line ? `${file}:${line.line}:${line.col}` : file;
    throw new InputError(`${where}: invalid YAML: ${firstLine(problem.message)}. Fix the syntax at that position`);
  }
  if (document.contents !== null && !isMap(document.contents)) {
    throw new InputError(`${file}: the document must be a mapping with apiVersion, kind, metadata and spec. Start from a preset: create-zero-trust-app --dry-run`);
  }
  return normaliseTopology(document.toJS({ maxAliasCount: 100 }), file);
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
      const callee = byName.get(call.service)!;
      for (const port of callee.ports) {
        if (call.port !== undefined && call.port !== port.port) continue;
        edges.set(`${caller.name}\0${callee.name}\0${port.port}`, { from: caller.name, to: callee.name, port });
      }
    }
  }
  const sortedEdges = [...edges.values()].sort((a, b) => compare(a.from, b.from) || compare(a.to, b.to) || a.port.port - b.port.port);
  const namespaces = [...new Set(services.map((service) => service.namespace))].sort(compare);

  return { name: validated.name, namespace: validated.namespace, namespaces, services, edges: sortedEdges };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}
