import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { generateCase } from '../src/conformance/checks.js';
import { runCommand, withTreeOnDisk } from '../src/conformance/tools.js';
import { istioPlugin } from '../plugins/istio/index.js';

// Strings that YAML 1.2 reads as strings but YAML 1.1, which kubectl and kustomize follow, reads as booleans,
// numbers or times, and one that yaml's block scalars change.
const TRICKY = ['yes', 'on', 'Off', 'y', 'n', '1_000', '0b101', '0x_1', '2024-01-01', '12:30', '1:20:30.5', '0755', '<<', 'e0', ' \n', 'a\u0001b', 'tab\there', '日本 é', ' lead', 'trail ', 'a: b', 'c #d', '"q"', "'s'", '0X1F', '0O17', '0B101', '-0X1F', '+0O17', '0X_1F', '0B1_0', '-_1', '1_0', '2001-12-14 21:59:43,10', '2001-1-2T3:4:5,6Z', '-e5'];

describe('manifests through kubectl kustomize', () => {
  it('keeps env values and args as the strings given', () => {
    const env = Object.fromEntries(TRICKY.map((value, index) => [`V${index}`, value]));
    const generated = generateCase(istioPlugin, {
      apiVersion: 'create-zero-trust-app/v1alpha1',
      kind: 'Topology',
      metadata: { name: 'shop' },
      spec: {
        namespace: 'shop',
        services: [{ name: 'web', image: 'docker.io/library/nginx:1.29', command: ['run'], args: TRICKY, ports: [{ port: 8080, protocol: 'http' }], env }],
      },
    });
    withTreeOnDisk(generated.files, (directory) => {
      const kustomize = runCommand('kubectl', ['kustomize', 'manifests'], directory);
      expect(kustomize.ok, kustomize.output).toBe(true);
      const documents = parseAllDocuments(kustomize.output).map((document) => document.toJS() as { kind: string; metadata: { name: string }; spec?: { template: { spec: { containers: { name: string; args?: unknown[]; env?: { name: string; value?: unknown }[] }[] } } } });
      const workload = documents.find((document) => document.kind === 'Deployment' && document.metadata.name === 'web')!;
      const container = workload.spec!.template.spec.containers.find((candidate) => candidate.name === 'web')!;
      expect(container.args).toEqual(TRICKY);
      for (const [name, value] of Object.entries(env)) expect(container.env!.find((variable) => variable.name === name)?.value, name).toBe(value);
      // kustomize writes back what go-yaml read: a value it took as a number would come out unquoted.
      for (const value of TRICKY.filter((item) => /^[-+]?[0-9_]/.test(item))) expect(kustomize.output, value).not.toMatch(new RegExp(`value: ${value.replace(/[+]/g, '\\+')}\n`));
    });
  });
});
