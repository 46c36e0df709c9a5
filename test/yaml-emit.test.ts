import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { YAML_OPTIONS, stringifyDocument } from '../src/yaml/emit.js';
import { document } from './helpers/yaml-arbitraries.js';

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
