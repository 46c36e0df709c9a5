import { describe, expect, it } from 'vitest';
import { CONFORMANCE_TOPOLOGIES, generateCase, withDefaults, type GeneratedCase } from '../../src/conformance/index.js';
import { STRANGER, strangerNamespace } from '../../src/generate/clients.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import type { Topology } from '../../src/topology/types.js';
import { podTemplateOf } from '../../src/verify/objects.js';
import { checkMayReach } from '../../src/verify/offline.js';
import { kumaPlugin } from './index.js';
import { IDENTITY_MODES, type IdentityMode } from './versions.js';

const documentOf = (name: string) => CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === name)!.document;
const workshop = documentOf('preset-workshop');
const exposed = documentOf('exposed');

function requestOf(generated: GeneratedCase, mode: IdentityMode) {
  return { topology: generated.topology, plugin: kumaPlugin, options: withDefaults(kumaPlugin, { 'kuma-identity': mode }), objects: generated.objects };
}

function evaluatorOf(generated: GeneratedCase, mode: IdentityMode): MeshEvaluator {
  return kumaPlugin.evaluate(requestOf(generated, mode));
}

/** Returns the sorted result of mayReach, and fails the test when it is undefined (every service). */
function reachOf(evaluator: MeshEvaluator, source: Source): string[] {
  const names = evaluator.mayReach!(source);
  if (names === undefined) throw new Error(`mayReach of ${source.namespace}/${source.service} returned undefined, but the Kuma evaluator always returns a list of services`);
  return [...new Set(names)].sort();
}

/** Lists the services that decide lets `source` reach on at least one port. */
function allowedTargets(evaluator: MeshEvaluator, topology: Topology, source: Source): string[] {
  return topology.services.filter((target) => target.ports.some((port) => evaluator.decide(source, target, port).allowed)).map((target) => target.name);
}

/** Lists the services that decide lets `source` reach but mayReach leaves out, for sources that checkMayReach does not try. */
function leftOut(evaluator: MeshEvaluator, topology: Topology, source: Source): string[] {
  const reached = new Set(reachOf(evaluator, source));
  return allowedTargets(evaluator, topology, source).filter((name) => !reached.has(name));
}

// The sources verify uses, built as buildClients in src/verify/offline.ts builds them.
function serviceClient(generated: GeneratedCase, name: string, meshed = true): Source {
  const service = generated.topology.services.find((candidate) => candidate.name === name)!;
  const labels = podTemplateOf(generated.objects, service)?.metadata.labels ?? {};
  return { service: name, namespace: service.namespace, serviceAccount: name, labels, meshed };
}

function stranger(generated: GeneratedCase): Source {
  const labels = { 'app.kubernetes.io/name': STRANGER, 'app.kubernetes.io/component': 'verify-client' };
  return { service: STRANGER, namespace: strangerNamespace(generated.topology), serviceAccount: STRANGER, labels, meshed: true };
}

const outside: Source = { service: 'verify-outside', namespace: 'verify-outside', serviceAccount: 'default', labels: { 'app.kubernetes.io/name': 'verify-outside' }, meshed: false };

function find(generated: GeneratedCase, kind: string, namespace: string | undefined, name: string): KubeObject & { spec: Record<string, unknown> } {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace ?? ''}/${name} is not in the generated manifests`);
  return object as KubeObject & { spec: Record<string, unknown> };
}

function permission(name: string, namespace: string, mesh: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission', metadata: { name, namespace, labels: { 'kuma.io/mesh': mesh } }, spec };
}

describe('kuma mayReach on generated output', () => {
  for (const topology of CONFORMANCE_TOPOLOGIES) {
    for (const mode of IDENTITY_MODES) {
      it(`leaves nothing out on ${topology.name} (${mode})`, () => {
        const generated = generateCase(kumaPlugin, topology.document, { 'kuma-identity': mode });
        expect(checkMayReach(requestOf(generated, mode))).toEqual([]);
      });

      it(`names exactly the callees on ${topology.name} (${mode})`, () => {
        const generated = generateCase(kumaPlugin, topology.document, { 'kuma-identity': mode });
        const evaluator = evaluatorOf(generated, mode);
        for (const service of generated.topology.services) {
          const callees = [...new Set(generated.topology.edges.filter((edge) => edge.from === service.name).map((edge) => edge.to))].sort();
          expect(reachOf(evaluator, serviceClient(generated, service.name))).toEqual(callees);
          expect(reachOf(evaluator, serviceClient(generated, service.name, false))).toEqual([]);
        }
        expect(reachOf(evaluator, stranger(generated))).toEqual([]);
        expect(reachOf(evaluator, outside)).toEqual([]);
      });
    }
  }

  for (const mode of IDENTITY_MODES) {
    it(`returns only the callee on workshop (${mode})`, () => {
      const generated = generateCase(kumaPlugin, workshop, { 'kuma-identity': mode });
      const names = evaluatorOf(generated, mode).mayReach!(serviceClient(generated, 'hero'));
      expect(names).toBeDefined();
      expect([...names!]).toEqual(['lil-deebee']);
    });

    it(`names the exposed services for the gateway (${mode})`, () => {
      const generated = generateCase(kumaPlugin, exposed, { 'kuma-identity': mode });
      const evaluator = evaluatorOf(generated, mode);
      expect(reachOf(evaluator, evaluator.gateway!.source)).toEqual(['api', 'web']);
      expect(leftOut(evaluator, generated.topology, evaluator.gateway!.source)).toEqual([]);
    });
  }
});

interface Opening {
  name: string;
  document: Record<string, unknown>;
  mode: IdentityMode;
  /** Changes the generated manifests so that decide lets `source` reach `target`, which it did not before. */
  open(generated: GeneratedCase): void;
  source(generated: GeneratedCase, evaluator: MeshEvaluator): Source;
  target: string;
}

// Each case opens a connection in one of the ways the evaluator's decide allows one.
const openings: Opening[] = [
  {
    name: 'a namespace without injection',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => void delete find(generated, 'Namespace', undefined, 'data').metadata.labels!['kuma.io/sidecar-injection'],
    source: () => outside,
    target: 'lil-deebee',
  },
  {
    name: 'a workload without injection',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) => {
      const template = podTemplateOf(generated.objects, generated.topology.services.find((service) => service.name === 'hero')!)!;
      template.metadata.labels['kuma.io/sidecar-injection'] = 'disabled';
    },
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'hero',
  },
  {
    name: 'mTLS turned off',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => void delete find(generated, 'Mesh', undefined, 'hero').spec.mtls,
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a missing mTLS backend',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => void ((find(generated, 'Mesh', undefined, 'hero').spec.mtls as { enabledBackend: string }).enabledBackend = 'ca-missing'),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'hero',
  },
  {
    name: 'PERMISSIVE mTLS',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => void ((find(generated, 'Mesh', undefined, 'hero').spec.mtls as { backends: { mode: string }[] }).backends[0]!.mode = 'PERMISSIVE'),
    source: (generated) => serviceClient(generated, 'hero', false),
    target: 'hero',
  },
  {
    name: 'Permissive MeshTLS',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) => void ((find(generated, 'MeshTLS', 'kuma-system', 'hero-strict').spec.rules as { default: { mode: string } }[])[0]!.default.mode = 'Permissive'),
    source: () => outside,
    target: 'lil-deebee',
  },
  {
    name: 'a permissive second mesh',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => {
      generated.objects.push({ apiVersion: 'kuma.io/v1alpha1', kind: 'Mesh', metadata: { name: 'other' }, spec: { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'PERMISSIVE' }] } } });
      find(generated, 'Namespace', undefined, 'data').metadata.labels!['kuma.io/mesh'] = 'other';
    },
    // The stranger has a certificate of the mesh "hero", which the mesh "other" does not check.
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a mesh missing from the manifests',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) => void (find(generated, 'Namespace', undefined, 'data').metadata.labels!['kuma.io/mesh'] = 'ghost'),
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a from entry of kind Mesh',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(permission('allow-all', 'data', 'hero', { targetRef: { kind: 'Dataplane' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] })),
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a from entry without tags',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(
        permission('allow-any-subset', 'data', 'hero', { targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } }, from: [{ targetRef: { kind: 'MeshSubset' }, default: { action: 'Allow' } }] }),
      ),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'lil-deebee',
  },
  {
    name: 'a namespace-wide from entry',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => {
      const from = find(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero').spec.from as { targetRef: { tags: Record<string, string> } }[];
      from[0]!.targetRef.tags = { 'k8s.kuma.io/namespace': 'production' };
    },
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a from entry for the stranger',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(
        permission('allow-stranger', 'production', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'hero' } },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': STRANGER, 'k8s.kuma.io/namespace': 'production' } }, default: { action: 'Allow' } }],
        }),
      ),
    source: (generated) => stranger(generated),
    target: 'hero',
  },
  {
    name: 'a from entry on kuma.io/service',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(
        permission('allow-by-service', 'data', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'lil-deebee_data_svc_5432' } }, default: { action: 'Allow' } }],
        }),
      ),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'lil-deebee',
  },
  {
    name: 'an AllowWithShadowDeny from entry',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(
        permission('shadow-allow', 'production', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'hero' } },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'lil-deebee' } }, default: { action: 'AllowWithShadowDeny' } }],
        }),
      ),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'hero',
  },
  {
    name: 'a Mesh targetRef in kuma-system',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => {
      const moved = find(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
      moved.spec.targetRef = { kind: 'Mesh' };
      moved.metadata.namespace = 'kuma-system';
    },
    source: (generated) => serviceClient(generated, 'hero'),
    target: 'hero',
  },
  {
    name: 'a MeshSubset targetRef on kuma.io/service',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) =>
      void generated.objects.push(
        permission('hero-by-service', 'production', 'hero', {
          targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'hero_production_svc_8080' } },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'lil-deebee', 'k8s.kuma.io/namespace': 'data' } }, default: { action: 'Allow' } }],
        }),
      ),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'hero',
  },
  {
    name: 'a SPIFFE prefix for the trust domain',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) =>
      void generated.objects.push(
        permission('allow-trust-domain', 'data', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } },
          rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://hero.mesh.local/' } }] } }],
        }),
      ),
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'an exact SPIFFE ID of the stranger',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) => {
      const rules = find(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero').spec.rules as { default: { allow: { spiffeID: { value: string } }[] } }[];
      rules[0]!.default.allow[0]!.spiffeID.value = `spiffe://hero.mesh.local/ns/production/sa/${STRANGER}`;
    },
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'an allowWithShadowDeny rule',
    document: workshop,
    mode: 'meshidentity',
    open: (generated) =>
      void generated.objects.push(
        permission('shadow-rule', 'production', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'hero' } },
          rules: [{ default: { allowWithShadowDeny: [{ spiffeID: { type: 'Exact', value: 'spiffe://hero.mesh.local/ns/data/sa/lil-deebee' } }] } }],
        }),
      ),
    source: (generated) => serviceClient(generated, 'lil-deebee'),
    target: 'hero',
  },
  {
    name: 'rules on a callee without a MeshIdentity',
    document: workshop,
    mode: 'mesh-mtls',
    open: (generated) => {
      // Only the stranger gets a SPIFFE ID, and one rule on lil-deebee, which keeps the Mesh's CA, allows that ID.
      generated.objects.push({
        apiVersion: 'kuma.io/v1alpha1',
        kind: 'MeshIdentity',
        metadata: { name: 'stranger-identity', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'hero' } },
        spec: { selector: { dataplane: { matchLabels: { 'app.kubernetes.io/name': STRANGER } } }, spiffeID: { trustDomain: 'hero.mesh.local' } },
      });
      generated.objects.push(
        permission('allow-stranger-id', 'data', 'hero', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } },
          rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: `spiffe://hero.mesh.local/ns/production/sa/${STRANGER}` } }] } }],
        }),
      );
    },
    source: (generated) => stranger(generated),
    target: 'lil-deebee',
  },
  {
    name: 'a gateway permission by tag',
    document: exposed,
    mode: 'mesh-mtls',
    open: (generated) => {
      // The gateway's certificate carries the tags of its MeshGatewayInstance, which its pods do not have as labels.
      find(generated, 'MeshGatewayInstance', 'ingress-gateway', 'edge-gateway').spec.tags = { team: 'edge' };
      generated.objects.push(
        permission('db-from-gateway', 'data', 'exposed', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'db' } },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { team: 'edge' } }, default: { action: 'Allow' } }],
        }),
      );
    },
    source: (_generated, evaluator) => evaluator.gateway!.source,
    target: 'db',
  },
  {
    name: 'a gateway permission by SPIFFE ID',
    document: exposed,
    mode: 'meshidentity',
    open: (generated) =>
      void generated.objects.push(
        permission('db-from-gateway', 'data', 'exposed', {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'db' } },
          rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://exposed.mesh.local/ns/ingress-gateway/sa/edge-gateway' } }] } }],
        }),
      ),
    source: (_generated, evaluator) => evaluator.gateway!.source,
    target: 'db',
  },
];

describe('kuma mayReach on hand-broken output', () => {
  for (const opening of openings) {
    it(`covers ${opening.name} (${opening.mode})`, () => {
      const options = { 'kuma-identity': opening.mode };
      const before = generateCase(kumaPlugin, opening.document, options);
      const beforeEvaluator = evaluatorOf(before, opening.mode);
      expect(allowedTargets(beforeEvaluator, before.topology, opening.source(before, beforeEvaluator))).not.toContain(opening.target);

      const generated = generateCase(kumaPlugin, opening.document, options);
      opening.open(generated);
      const evaluator = evaluatorOf(generated, opening.mode);
      const source = opening.source(generated, evaluator);
      expect(allowedTargets(evaluator, generated.topology, source)).toContain(opening.target);
      expect(reachOf(evaluator, source)).toContain(opening.target);
      expect(leftOut(evaluator, generated.topology, source)).toEqual([]);
      expect(checkMayReach(requestOf(generated, opening.mode))).toEqual([]);
    });
  }
});
