import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { YAML_OPTIONS, hasMisreadBlockString, stringifyDocument } from '../src/yaml/emit.js';
import { readBlockDocuments } from '../src/yaml/read.js';
import { document } from './helpers/yaml-arbitraries.js';

describe('stringifyDocument', () => {
  it('matches yaml.stringify on random documents', () => {
    fc.assert(
      fc.property(document, (value) => {
        // The one difference allowed: strings that yaml's own block scalar would read back wrong.
        if (hasMisreadBlockString(value)) return;
        expect(stringifyDocument(value)).toBe(stringify(value, YAML_OPTIONS));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([' \n', '  \n', ' \n\n', '\n \n'])('quotes %j, which yaml writes as a block that reads back wrong', (text) => {
    const value = { env: [{ name: 'A', value: text }], data: { [`key`]: text } };
    expect(hasMisreadBlockString(value)).toBe(true);
    const written = stringifyDocument(value);
    expect(parse(written)).toEqual(value);
    expect(readBlockDocuments(written) ?? [parse(written)]).toEqual([value]);
  });

  it('keeps block scalars that read back right', () => {
    const value = { script: '#!/bin/sh\necho hi\n', trailing: 'a\n \n' };
    expect(hasMisreadBlockString(value)).toBe(false);
    expect(stringifyDocument(value)).toBe(stringify(value, YAML_OPTIONS));
    expect(parse(stringifyDocument(value))).toEqual(value);
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

describe('stringifyDocument on text that starts like a number', () => {
  // The emitter decides these without yaml (cannotBeNumber in src/yaml/emit.ts), so they are compared one by one.
  const numberLike = fc.oneof(
    fc.stringMatching(/^[-+.0-9<=~][-+.:_0-9a-zA-Z/@ \t]{0,10}$/),
    fc.stringMatching(/^[-+]?[0-9]{1,4}(\.[0-9]{0,3}){0,4}[a-zA-Z]{0,2}$/),
    fc.stringMatching(/^[-+.]?[0-9a-fA-FxXoObB._:]{0,8}[g-zG-Z]?$/),
    fc.stringMatching(/^[-+][eE.][-+]?[0-9a-z]{0,4}$/),
    fc.stringMatching(/^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}([.,][0-9]{0,3})?(Z|[-+][0-9]{2}(:[0-9]{2})?)?)?$/),
  );

  it('matches yaml.stringify', () => {
    fc.assert(
      fc.property(numberLike, (text) => {
        // As a value the emitter writes the string itself. As a key that starts like a number it hands the
        // document to yaml, which the whole-document comparison covers.
        for (const value of [{ env: [{ name: 'A', value: text }] }, { [text]: 'key' }]) {
          const written = stringifyDocument(value);
          // Go integers and times that yaml leaves plain, such as `-_1`, are quoted on purpose (kustomize-strings.test.ts).
          if (hasMisreadBlockString(value)) expect(written).toContain(`"${text}"`);
          else expect(written).toBe(stringify(value, YAML_OPTIONS));
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it.each(['1.30.5', '0.1.0', '10m', '32Mi', '1Gi', '192.168.0.0/16', '.gitignore', '-c', '5432', '0755', '-e5', '+E10', '-e-5', '-.e1'])('writes %j as yaml does', (text) => {
    expect(stringifyDocument({ value: text })).toBe(stringify({ value: text }, YAML_OPTIONS));
  });

  it.each(['2001-12-14 21:59:43,10', '2001-1-2T3:4:5,6Z', '2001-12-14t21:59:43,10-05:00', '2001-12-14 21:5:3'])('quotes the Go time %j', (text) => {
    expect(stringifyDocument({ value: text })).toBe(`value: "${text}"\n`);
    expect(stringifyDocument({ value: [text], other: 'a\n---\nb' })).toContain(`- "${text}"\n`);
  });
});
