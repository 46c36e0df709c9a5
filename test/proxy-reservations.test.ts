import { describe, expect, it } from 'vitest';
import { generateCase, verifyCase } from '../src/conformance/checks.js';
import { InputError } from '../src/errors.js';
import type { MeshPlugin } from '../src/plugin/api.js';
import { findPreset } from '../src/topology/presets.js';
import { istioPlugin } from '../plugins/istio/index.js';
import { kumaPlugin } from '../plugins/kuma/index.js';
import { linkerdPlugin } from '../plugins/linkerd/index.js';

interface WorkshopService {
  name: string;
  ports: { port: number; targetPort?: number; protocol: string }[];
  runAsUser?: number;
  runAsGroup?: number;
}

/** Returns the workshop topology with a change to its service hero. */
function workshopWith(change: (hero: WorkshopService) => void): unknown {
  const document = structuredClone(findPreset('workshop')!.document) as { spec: { services: WorkshopService[] } };
  change(document.spec.services.find((service) => service.name === 'hero')!);
  return document;
}

function generationError(plugin: MeshPlugin, document: unknown): string {
  try {
    generateCase(plugin, document);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }
  throw new Error(`${plugin.id} generated the topology`);
}

const CASES: [MeshPlugin, number, number, number | undefined][] = [
  // plugin, a proxy port, the proxy's user ID, its group ID where the redirection skips that group
  [istioPlugin, 15006, 1337, 1337],
  [linkerdPlugin, 4143, 2102, undefined],
  [kumaPlugin, 15001, 5678, undefined],
];

describe('proxy reservations', () => {
  it.each(CASES)('rejects clashes with the %s proxy', (plugin, port, uid, gid) => {
    expect(generationError(plugin, workshopWith((hero) => (hero.ports[0]!.targetPort = port)))).toMatch(new RegExp(`^field ports of service hero: container port ${port} is one of the .* proxy's ports`));
    expect(generationError(plugin, workshopWith((hero) => (hero.runAsUser = uid)))).toMatch(new RegExp(`^field runAsUser of service hero: user ID ${uid} is the .*, and connections of that user bypass the proxy`));
    if (gid !== undefined) {
      expect(generationError(plugin, workshopWith((hero) => (hero.runAsGroup = gid)))).toMatch(new RegExp(`^field runAsGroup of service hero: group ID ${gid} is the`));
    }
    // Other users and ports are fine.
    expect(() => generateCase(plugin, workshopWith((hero) => (hero.runAsUser = uid + 1)))).not.toThrow();
  });
});

describe('verify on hand-edited clashes', () => {
  it.each(CASES)('names %s clashes edited into the manifests', (plugin, port, uid, gid) => {
    const generated = generateCase(plugin, findPreset('workshop')!.document);
    expect(verifyCase(plugin, generated).ok).toBe(true);
    const workload = generated.objects.find((object) => object.kind === 'Deployment' && object.metadata.name === 'hero')!;
    const spec = (workload.spec as { template: { spec: { securityContext?: Record<string, unknown>; containers: { name: string; ports: { containerPort: number }[]; securityContext: Record<string, unknown> }[] } } }).template.spec;
    const container = spec.containers.find((candidate) => candidate.name === 'hero')!;
    container.ports.push({ containerPort: port });
    container.securityContext.runAsUser = uid;
    if (gid !== undefined) spec.securityContext = { ...spec.securityContext, runAsGroup: gid };
    delete container.securityContext.runAsGroup;
    const result = verifyCase(plugin, generated);
    expect(result.ok).toBe(false);
    const messages = result.checks.filter((check) => !check.ok && check.name === 'production/hero').map((check) => check.detail);
    expect(messages).toContainEqual(expect.stringMatching(new RegExp(`^container hero declares port ${port}, one of the .* proxy's ports`)));
    expect(messages).toContainEqual(expect.stringMatching(new RegExp(`^container hero runs as user ${uid}, the .*, whose connections bypass the proxy`)));
    if (gid !== undefined) expect(messages).toContainEqual(expect.stringMatching(new RegExp(`^container hero runs as group ${gid}`)));
  });
});
