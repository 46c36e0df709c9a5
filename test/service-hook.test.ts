import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import istioPlugin from '../plugins/istio/index.js';
import type { KubeObject } from '../src/k8s/object.js';
import type { MeshPlugin } from '../src/plugin/api.js';
import { generatePreset } from './helpers/generate.js';

/** Returns the Istio plugin with `service` set on its generation. */
function withServiceHook(service: (object: KubeObject) => KubeObject): MeshPlugin {
  return { ...istioPlugin, generate: (context) => ({ ...istioPlugin.generate(context), service: (_, object) => service(object) }) };
}

describe('plugin service hook', () => {
  it('changes the generated Service', () => {
    const plugin = withServiceHook((object) => ({ ...object, spec: { ...(object.spec as object), clusterIP: 'None' } }));
    const files = generatePreset(plugin);
    const documents = parseAllDocuments(files.get('manifests/workloads/lil-deebee.yaml')!.content).map((document) => document.toJS() as KubeObject);
    const service = documents.find((object) => object.kind === 'Service')!;
    expect((service.spec as { clusterIP?: string }).clusterIP).toBe('None');
  });

  it('rejects a renamed Service', () => {
    const plugin = withServiceHook((object) => ({ ...object, metadata: { ...object.metadata, name: 'renamed' } }));
    expect(() => generatePreset(plugin)).toThrow(
      'plugin istio: service() returned Service production/renamed for Service production/hero; it must keep the kind, name and namespace',
    );
  });
});
