import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../k8s/object.js';
import { stringifyDocument } from '../yaml/emit.js';

/** Serialises objects as one multi-document YAML stream, after a comment header. */
export function toYamlStream(objects: readonly unknown[], header: string): string {
  const documents = objects.map(stringifyDocument);
  return `${header}\n${documents.map((document) => `---\n${document}`).join('')}`;
}

/** Sorts objects into a stable order: by kind, namespace and name. */
export function sortObjects(objects: KubeObject[]): KubeObject[] {
  const keyOf = (object: KubeObject) => `${object.kind}\0${object.metadata.namespace ?? ''}\0${object.metadata.name}`;
  return [...objects].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

/** Parses a multi-document YAML stream into plain values, skipping empty documents; `path` names the file in errors. */
export function parseYamlStream(text: string, path: string): unknown[] {
  const values: unknown[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`${path}: invalid YAML: ${document.errors[0]!.message}`);
    const value: unknown = document.toJS();
    if (value !== null) values.push(value);
  }
  return values;
}
