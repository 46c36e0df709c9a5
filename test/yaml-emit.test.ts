import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { YAML_OPTIONS, stringifyDocument } from '../src/yaml/emit.js';

// Strings that stress yaml's quoting rules: core schema words, numbers, markers, colons, comments and quotes.
const awkwardString = fc.oneof(
  fc.constantFrom('true', 'False', 'NULL', 'null', '~', 'yes', 'on', '8080', '0x1F', '1e3', '.inf', '-', '- a', 'a: b', 'a:', 'a #b', '#a', "it's", 'say "hi"', '', ' a', 'a ', '---', '...', 'a\nb', 'ns/sa:x', '@a', '%a', '*a', '&a', '!a', '|', '>'),
  fc.string(),
  fc.stringMatching(/^[a-z][a-z0-9.:/-]{0,12}$/),
);
const key = fc.oneof(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9._/-]{0,10}$/), fc.stringMatching(/^[a-z][a-z0-9.:/-]{0,12}$/), awkwardString);
const scalar = fc.oneof(awkwardString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const document = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('map'), tie('list')),
  map: fc.dictionary(key, fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 5 }),
  list: fc.array(tie('value'), { maxLength: 4 }),
})).map;

describe('stringifyDocument', () => {
  it('matches yaml.stringify on random documents', () => {
    fc.assert(
      fc.property(document, (value) => {
        expect(stringifyDocument(value)).toBe(stringify(value, YAML_OPTIONS));
      }),
      { numRuns: 2_000 },
    );
  });

  it('matches yaml.stringify on a Kubernetes object', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hero', namespace: 'production', labels: { 'app.kubernetes.io/name': 'hero', 'k8s:io.kubernetes.pod.namespace': 'production' }, annotations: {} },
      spec: { containers: [{ name: 'app', image: 'docker.io/vfarcic/cncf-demo:v0.0.1', ports: [{ containerPort: 8080 }], args: [], env: [{ name: 'A', value: 'true' }] }], volumes: [[]] },
    };
    expect(stringifyDocument(pod)).toBe(stringify(pod, YAML_OPTIONS));
  });
});
