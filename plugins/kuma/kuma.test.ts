import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkExactEdges, describeConformance, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/index.js';
import { InputError } from '../../src/errors.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { createNetworkPolicyEvaluator, type NetworkPolicyObject, type PodModel } from '../../src/netpol/evaluate.js';
import { findPreset } from '../../src/topology/presets.js';
import { kumaPlugin } from './index.js';

/** A storefront exposed on two ports, an admin service that is not exposed, and three dependencies outside the cluster. */
const edgeTopology = {
  apiVersion: 'create-zero-trust-app/v1alpha1',
  kind: 'Topology',
  metadata: { name: 'shop' },
  spec: {
    namespace: 'shop',
    services: [
      {
        name: 'web',
        image: 'docker.io/library/nginx:1.29',
        ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'grpc' }, { port: 9100, protocol: 'http' }],
        expose: [8080, 9090],
        calls: ['api', 'payments', 'ledger'],
      },
      { name: 'api', namespace: 'backend', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }], expose: true, calls: ['partner'] },
      { name: 'admin', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }], calls: ['api'] },
      { name: 'payments', external: { host: 'api.payments.example', port: 443, protocol: 'tls' } },
      { name: 'partner', external: { host: 'partner.example', port: 80, protocol: 'http' } },
      { name: 'ledger', external: { host: 'db.ledger.example', port: 5432, protocol: 'postgres', addresses: ['203.0.113.0/24'] } },
    ],
  },
};

describeConformance(kumaPlugin, {
  crdSchemas: fileURLToPath(new URL('../../test/crds', import.meta.url)),
  allChoices: true,
  topologies: [{ name: 'kuma-edge', description: 'exposed ports and external dependencies', document: edgeTopology }],
});

const workshop = findPreset('workshop')!.document;
const bookinfo = findPreset('bookinfo')!.document;

type Spec<T> = KubeObject & { spec: T };

function find<T = Record<string, unknown>>(generated: GeneratedCase, kind: string, namespace: string | undefined, name: string): Spec<T> {
  const object = generated.objects.find((candidate) => candidate.kind === kind && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace ?? ''}/${name} is not in the generated manifests`);
  return object as Spec<T>;
}

function problemsOf(generated: GeneratedCase, options: Record<string, string> = {}): string[] {
  return checkExactEdges(verifyCase(kumaPlugin, generated, options));
}

describe('kuma Mesh', () => {
  // The Mesh CRD keeps its spec open (x-kubernetes-preserve-unknown-fields), so schema validation checks nothing in it.
  it('uses the builtin CA in STRICT mode by default', () => {
    const mesh = find<{ mtls: { enabledBackend: string; backends: { name: string; type: string; mode: string }[] } }>(generateCase(kumaPlugin, workshop), 'Mesh', undefined, 'hero');
    expect(mesh.spec.mtls.enabledBackend).toBe('ca-1');
    expect(mesh.spec.mtls.backends).toEqual([{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }]);
  });

  it('turns off passthrough and default policies', () => {
    const mesh = find<Record<string, unknown>>(generateCase(kumaPlugin, workshop), 'Mesh', undefined, 'hero');
    expect(mesh.spec.networking).toEqual({ outbound: { passthrough: false } });
    expect(mesh.spec.skipCreatingInitialPolicies).toEqual(['*']);
    expect(Object.keys(mesh.spec).sort()).toEqual(['mtls', 'networking', 'skipCreatingInitialPolicies']);
  });

  it('has no mtls block in meshidentity mode', () => {
    const generated = generateCase(kumaPlugin, workshop, { 'kuma-identity': 'meshidentity' });
    const mesh = find<Record<string, unknown>>(generated, 'Mesh', undefined, 'hero');
    expect(mesh.spec.mtls).toBeUndefined();
    expect(mesh.spec.meshServices).toEqual({ mode: 'Exclusive' });
    expect(find(generated, 'MeshTLS', 'kuma-system', 'hero-strict').spec).toEqual({ targetRef: { kind: 'Mesh' }, rules: [{ default: { mode: 'Strict' } }] });
  });

  it('labels every namespace for injection and the mesh', () => {
    const generated = generateCase(kumaPlugin, bookinfo);
    const namespaces = generated.objects.filter((object) => object.kind === 'Namespace');
    expect(namespaces).toHaveLength(1);
    expect(namespaces[0]!.metadata.labels).toMatchObject({ 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': 'bookinfo', 'pod-security.kubernetes.io/enforce': 'restricted' });
  });
});

describe('kuma MeshTrafficPermission', () => {
  it('allows exactly the caller on the callee port', () => {
    const permission = find<unknown>(generateCase(kumaPlugin, workshop), 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    expect(permission.metadata.labels?.['kuma.io/mesh']).toBe('hero');
    expect(permission.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' }, sectionName: 'postgres-5432' },
      from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'hero', 'k8s.kuma.io/namespace': 'production' } }, default: { action: 'Allow' } }],
    });
  });

  it('names the SPIFFE ID in meshidentity mode', () => {
    const permission = find<unknown>(generateCase(kumaPlugin, workshop, { 'kuma-identity': 'meshidentity' }), 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    expect(permission.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' }, sectionName: 'postgres-5432' },
      rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://hero.mesh.local/ns/production/sa/hero' } }] } }],
    });
  });

  it('has one permission per edge on bookinfo', () => {
    const generated = generateCase(kumaPlugin, bookinfo);
    const names = generated.objects.filter((object) => object.kind === 'MeshTrafficPermission').map((object) => object.metadata.name).sort();
    expect(names).toEqual(['details-http-from-productpage', 'ratings-http-from-reviews', 'reviews-http-from-productpage']);
  });
});

describe('kuma workloads', () => {
  it('declares every container port and a Kuma appProtocol', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const service = find<{ ports: { appProtocol: string; targetPort: string }[] }>(generated, 'Service', 'production', 'hero');
    expect(service.spec.ports.map((port) => port.appProtocol)).toEqual(['http']);
    const database = find<{ ports: { appProtocol: string }[] }>(generated, 'Service', 'data', 'lil-deebee');
    expect(database.spec.ports.map((port) => port.appProtocol)).toEqual(['tcp']);
    const workload = find<{ template: { spec: { containers: { ports: { name: string; containerPort: number }[] }[] } } }>(generated, 'StatefulSet', 'data', 'lil-deebee');
    expect(workload.spec.template.spec.containers[0]!.ports).toEqual([{ name: 'postgres-5432', containerPort: 5432, protocol: 'TCP' }]);
  });

  it('gives only the sidecar a token', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const workload = find<{ template: { metadata: { annotations: Record<string, string> }; spec: { automountServiceAccountToken: boolean; volumes: { name: string }[]; containers: { volumeMounts: { name: string }[] }[] } } }>(
      generated,
      'Deployment',
      'production',
      'hero',
    );
    expect(workload.spec.template.metadata.annotations['kuma.io/service-account-token-volume']).toBe('kuma-sidecar-token');
    expect(workload.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(workload.spec.template.spec.volumes.map((volume) => volume.name)).toContain('kuma-sidecar-token');
    expect(workload.spec.template.spec.containers[0]!.volumeMounts.map((mount) => mount.name)).not.toContain('kuma-sidecar-token');
  });

  it('keeps the unmeshed client out of the mesh', () => {
    const clients = generateCase(kumaPlugin, workshop).documents.get('verify/clients.yaml') as KubeObject[];
    const unmeshed = clients.find((object) => object.metadata.name === 'verify-unmeshed-hero')!;
    expect(unmeshed.metadata.labels?.['kuma.io/sidecar-injection']).toBe('disabled');
    expect((unmeshed.spec as { volumes?: unknown[] }).volumes).toBeUndefined();
    const meshed = clients.find((object) => object.metadata.name === 'verify-hero')!;
    expect((meshed.spec as { volumes: { name: string }[] }).volumes.map((volume) => volume.name)).toEqual(['kuma-sidecar-token']);
  });
});

describe('kuma plumbing NetworkPolicy', () => {
  const generated = generateCase(kumaPlugin, workshop);
  const policies = generated.objects.filter((object) => object.kind === 'NetworkPolicy') as unknown as NetworkPolicyObject[];
  const namespaces = ['production', 'data', 'kuma-system', 'kube-system'].map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name } }));
  const evaluator = createNetworkPolicyEvaluator(policies, namespaces);
  const hero: PodModel = { name: 'hero', namespace: 'production', labels: { 'app.kubernetes.io/name': 'hero', 'app.kubernetes.io/component': 'server' } };
  const database: PodModel = { name: 'lil-deebee', namespace: 'data', labels: { 'app.kubernetes.io/name': 'lil-deebee', 'app.kubernetes.io/component': 'server' } };
  const controlPlane: PodModel = { name: 'kuma-control-plane', namespace: 'kuma-system', labels: { app: 'kuma-control-plane' } };
  const otherSystemPod: PodModel = { name: 'other', namespace: 'kuma-system', labels: { app: 'other' } };

  it('opens the control plane on 5678 only', () => {
    expect(evaluator.decide({ from: hero, to: controlPlane, port: 5678 }).allowed).toBe(true);
    expect(evaluator.decide({ from: database, to: controlPlane, port: 5678 }).allowed).toBe(true);
    expect(evaluator.decide({ from: hero, to: controlPlane, port: 5681 }).allowed).toBe(false);
    expect(evaluator.decide({ from: hero, to: controlPlane, port: 5443 }).allowed).toBe(false);
    expect(evaluator.decide({ from: hero, to: otherSystemPod, port: 5678 }).allowed).toBe(false);
  });

  it('opens the sidecars to the control plane on the Envoy admin port only', () => {
    expect(evaluator.decide({ from: controlPlane, to: database, port: 9901 }).allowed).toBe(true);
    expect(evaluator.decide({ from: controlPlane, to: hero, port: 9901 }).allowed).toBe(true);
    expect(evaluator.decide({ from: otherSystemPod, to: hero, port: 9901 }).allowed).toBe(false);
    expect(evaluator.decide({ from: hero, to: database, port: 9901 }).allowed).toBe(false);
    expect(evaluator.decide({ from: controlPlane, to: database, port: 5432 }).allowed).toBe(false);
  });

  it('keeps the probe proxy closed to pods', () => {
    expect(evaluator.decide({ from: hero, to: database, port: 9001 }).allowed).toBe(false);
    expect(evaluator.decide({ from: controlPlane, to: database, port: 9001 }).allowed).toBe(false);
  });
});

describe('kuma verify on generated output', () => {
  for (const [name, document] of [
    ['workshop', workshop],
    ['bookinfo', bookinfo],
  ] as const) {
    for (const mode of ['mesh-mtls', 'meshidentity']) {
      it(`allows exactly the ${name} edges over mTLS (${mode})`, () => {
        const generated = generateCase(kumaPlugin, document, { 'kuma-identity': mode });
        const result = verifyCase(kumaPlugin, generated, { 'kuma-identity': mode });
        expect(checkExactEdges(result)).toEqual([]);
        expect(result.counts.meshAllowed).toBe(generated.topology.edges.length);
      });
    }
  }
});

describe('kuma verify on hand-broken output', () => {
  it('names a permission for the wrong caller', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const permission = find<{ from: { targetRef: { tags: Record<string, string> } }[] }>(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    permission.spec.from[0]!.targetRef.tags = { 'app.kubernetes.io/name': 'lil-deebee', 'k8s.kuma.io/namespace': 'data' };
    const problems = problemsOf(generated);
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh denies it: no MeshTrafficPermission on data/lil-deebee port postgres-5432 allows the caller, and Kuma denies by default with mTLS on',
    );
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by MeshTrafficPermission data/lil-deebee-postgres-5432-from-hero');
  });

  it('names a SPIFFE ID of the wrong caller', () => {
    const options = { 'kuma-identity': 'meshidentity' };
    const generated = generateCase(kumaPlugin, workshop, options);
    const permission = find<{ rules: { default: { allow: { spiffeID: { value: string } }[] } }[] }>(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    permission.spec.rules[0]!.default.allow[0]!.spiffeID.value = 'spiffe://hero.mesh.local/ns/data/sa/lil-deebee';
    const problems = problemsOf(generated, options);
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by MeshTrafficPermission data/lil-deebee-postgres-5432-from-hero');
    expect(problems.some((problem) => problem.startsWith('hero -> lil-deebee:5432 is declared, but the mesh denies it'))).toBe(true);
  });

  it('names a permission on every port', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const permission = find<{ targetRef: Record<string, unknown> }>(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    permission.spec.targetRef = { kind: 'Mesh' };
    permission.metadata.namespace = 'kuma-system';
    const problems = problemsOf(generated);
    expect(problems).toContain('hero -> hero:8080 is not declared, but the mesh allows it: allowed by MeshTrafficPermission kuma-system/lil-deebee-postgres-5432-from-hero');
  });

  it('names PERMISSIVE mTLS', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const mesh = find<{ mtls: { backends: { mode: string }[] } }>(generated, 'Mesh', undefined, 'hero');
    mesh.spec.mtls.backends[0]!.mode = 'PERMISSIVE';
    const problems = problemsOf(generated);
    expect(problems).toContain('Mesh hero: accepts plaintext (mtls backend mode PERMISSIVE): set the mode to STRICT');
    expect(problems).toContain('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it: Mesh hero (PERMISSIVE) accepts plaintext, and Kuma applies no permission to it');
  });

  it('names Permissive MeshTLS', () => {
    const options = { 'kuma-identity': 'meshidentity' };
    const generated = generateCase(kumaPlugin, workshop, options);
    find<{ rules: { default: { mode: string } }[] }>(generated, 'MeshTLS', 'kuma-system', 'hero-strict').spec.rules[0]!.default.mode = 'Permissive';
    const problems = problemsOf(generated, options);
    expect(problems).toContain('MeshTLS kuma-system/hero-strict: accepts plaintext (mode Permissive): set the mode to Strict');
    expect(problems.some((problem) => problem.startsWith('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it'))).toBe(true);
  });

  it('names mTLS turned off', () => {
    const generated = generateCase(kumaPlugin, workshop);
    delete find<Record<string, unknown>>(generated, 'Mesh', undefined, 'hero').spec.mtls;
    const problems = problemsOf(generated);
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: Mesh hero has no enabled mTLS backend: without mTLS Kuma enforces no MeshTrafficPermission',
    );
  });

  it('names a namespace without the mesh label', () => {
    const generated = generateCase(kumaPlugin, workshop);
    delete find(generated, 'Namespace', undefined, 'data').metadata.labels!['kuma.io/mesh'];
    const problems = problemsOf(generated);
    expect(problems).toContain('Namespace data: lacks the label kuma.io/mesh, so its pods join the mesh "default"');
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: no Mesh "default" in the manifests: without mTLS Kuma enforces no MeshTrafficPermission',
    );
  });

  it('names a permission without the mesh label', () => {
    const generated = generateCase(kumaPlugin, workshop);
    delete find(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero').metadata.labels!['kuma.io/mesh'];
    const problems = problemsOf(generated);
    expect(problems).toContain('MeshTrafficPermission data/lil-deebee-postgres-5432-from-hero: lacks the label kuma.io/mesh, so it belongs to the mesh "default"');
    expect(problems.some((problem) => problem.startsWith('hero -> lil-deebee:5432 is declared, but the mesh denies it'))).toBe(true);
  });

  it('names a namespace without injection', () => {
    const generated = generateCase(kumaPlugin, workshop);
    delete find(generated, 'Namespace', undefined, 'data').metadata.labels!['kuma.io/sidecar-injection'];
    const problems = problemsOf(generated);
    expect(problems).toContain('Namespace data: lacks the label kuma.io/sidecar-injection=enabled, so its pods get no sidecar');
    expect(problems).toContain('verify-outside (outside) -> lil-deebee:5432 is not declared, but the mesh allows it: data/lil-deebee has no Kuma sidecar, so Kuma enforces nothing on it');
  });

  it('names a Dataplane deny over a Mesh allow', () => {
    const generated = generateCase(kumaPlugin, workshop);
    const permission = find<{ targetRef: Record<string, unknown> }>(generated, 'MeshTrafficPermission', 'data', 'lil-deebee-postgres-5432-from-hero');
    permission.spec.targetRef = { kind: 'Mesh' };
    permission.metadata.namespace = 'kuma-system';
    generated.objects.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: { name: 'lil-deebee-deny', namespace: 'data', labels: { 'kuma.io/mesh': 'hero' } },
      spec: { targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } }] },
    } as KubeObject);
    const problems = problemsOf(generated);
    expect(problems).toContain('hero -> lil-deebee:5432 is declared, but the mesh denies it: denied by MeshTrafficPermission data/lil-deebee-deny');
  });

  it('orders from entries by strength, not manifest order', () => {
    // Each deny comes after the generated allow in the manifests. It has the allow's rank, except in kuma-system,
    // where the system role ranks it lower.
    const denyHero = (name: string, namespace: string) =>
      ({
        apiVersion: 'kuma.io/v1alpha1',
        kind: 'MeshTrafficPermission',
        metadata: { name, namespace, labels: { 'kuma.io/mesh': 'hero' } },
        spec: {
          targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' }, sectionName: 'postgres-5432' },
          from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'hero' } }, default: { action: 'Deny' } }],
        },
      }) as KubeObject;

    const strongerName = generateCase(kumaPlugin, workshop);
    strongerName.objects.push(denyHero('aaa-deny', 'data'));
    expect(problemsOf(strongerName)).toContain('hero -> lil-deebee:5432 is declared, but the mesh denies it: denied by MeshTrafficPermission data/aaa-deny');

    const weakerName = generateCase(kumaPlugin, workshop);
    weakerName.objects.push(denyHero('zzz-deny', 'data'));
    expect(problemsOf(weakerName)).toEqual([]);

    const weakerRole = generateCase(kumaPlugin, workshop);
    weakerRole.objects.push(denyHero('aaa-deny', 'kuma-system'));
    expect(problemsOf(weakerRole)).toEqual([]);
  });

  it('names a Dataplane ref without labels', () => {
    const generated = generateCase(kumaPlugin, workshop);
    generated.objects.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: { name: 'allow-all', namespace: 'data', labels: { 'kuma.io/mesh': 'hero' } },
      spec: { targetRef: { kind: 'Dataplane' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
    } as KubeObject);
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by MeshTrafficPermission data/allow-all');
  });

  it('ignores from entries under a MeshIdentity', () => {
    const options = { 'kuma-identity': 'meshidentity' };
    const generated = generateCase(kumaPlugin, workshop, options);
    generated.objects.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: { name: 'allow-all', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'hero' } },
      spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
    } as KubeObject);
    expect(problemsOf(generated, options)).toEqual([]);
  });

  it('names missing permissions', () => {
    const generated = generateCase(kumaPlugin, workshop);
    generated.objects = generated.objects.filter((object) => !(object.kind === 'MeshTrafficPermission'));
    const problems = problemsOf(generated);
    expect(problems).toEqual([
      'hero -> lil-deebee:5432 is declared, but the mesh denies it: no MeshTrafficPermission on data/lil-deebee port postgres-5432 allows the caller, and Kuma denies by default with mTLS on',
    ]);
  });
});

describe('kuma ingress gateway', () => {
  for (const mode of ['mesh-mtls', 'meshidentity']) {
    it(`routes exactly the exposures (${mode})`, () => {
      const options = { 'kuma-identity': mode };
      const generated = generateCase(kumaPlugin, edgeTopology, options);
      const result = verifyCase(kumaPlugin, generated, options);
      expect(checkExactEdges(result)).toEqual([]);
      const gateway = kumaPlugin.evaluate({ topology: generated.topology, options, objects: generated.objects }).gateway!;
      const routes = gateway.routes.map((route) => `${route.hostname} ${route.namespace}/${route.service}:${route.port}`).sort();
      expect(routes).toEqual(['api.shop.localhost backend/api:8080', 'web.shop.localhost shop/web:8080', 'grpc-9090.web.shop.localhost shop/web:9090'].sort());
    });
  }

  it('reaches exactly the exposed ports', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    const evaluator = kumaPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const gateway = evaluator.gateway!;
    const allowed = generated.topology.services.flatMap((service) => service.ports.filter((port) => evaluator.decide(gateway.source, service, port).allowed).map((port) => `${service.name}:${port.port}`));
    expect(allowed.sort()).toEqual(['api:8080', 'web:8080', 'web:9090']);
    const web = generated.topology.services.find((service) => service.name === 'web')!;
    expect(evaluator.decide(gateway.source, web, web.ports[0]!)).toMatchObject({ allowed: true, mtls: true });
  });

  it('describes the gateway for the core', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    const instance = find<{ serviceType: string; podTemplate: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string } } }>(generated, 'MeshGatewayInstance', 'ingress-gateway', 'edge-gateway');
    expect(instance.metadata.labels?.['kuma.io/mesh']).toBe('shop');
    expect(instance.spec.serviceType).toBe('ClusterIP');
    expect(instance.spec.podTemplate.spec.serviceAccountName).toBe('edge-gateway');
    const mesh = kumaPlugin.generate({ topology: generated.topology, options: { 'kuma-identity': 'mesh-mtls' }, render: () => '' });
    expect(mesh.ingress).toEqual({
      pods: { namespace: 'ingress-gateway', labels: { 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } },
      entry: { portForward: { namespace: 'ingress-gateway', service: 'edge-gateway', port: 8080 } },
    });
    expect(mesh.egress?.summary).toContain('host name (SNI)');
    expect(find(generated, 'Namespace', undefined, 'ingress-gateway').metadata.labels).toMatchObject({ 'kuma.io/mesh': 'shop', 'pod-security.kubernetes.io/enforce': 'baseline' });
  });

  it('lets the gateway identity in per port', () => {
    const permission = find<unknown>(generateCase(kumaPlugin, edgeTopology), 'MeshTrafficPermission', 'shop', 'web-grpc-9090-exposed');
    expect(permission.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'web' }, sectionName: 'grpc-9090' },
      from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'edge-gateway_ingress-gateway_svc' } }, default: { action: 'Allow' } }],
    });
  });

  it('opens the gateway pods only as needed', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    const policies = generated.objects.filter((object) => object.kind === 'NetworkPolicy') as unknown as NetworkPolicyObject[];
    const namespaces = ['shop', 'backend', 'ingress-gateway', 'kuma-system', 'kube-system'].map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name } }));
    const evaluator = createNetworkPolicyEvaluator(policies, namespaces);
    const gatewayPod: PodModel = { name: 'gw', namespace: 'ingress-gateway', labels: { app: 'edge-gateway', 'app.kubernetes.io/name': 'edge-gateway', 'app.kubernetes.io/component': 'gateway' } };
    const web: PodModel = { name: 'web', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'web', 'app.kubernetes.io/component': 'server' } };
    const admin: PodModel = { name: 'admin', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'admin', 'app.kubernetes.io/component': 'server' } };
    const controlPlane: PodModel = { name: 'cp', namespace: 'kuma-system', labels: { app: 'kuma-control-plane' } };
    expect(evaluator.decide({ from: gatewayPod, to: web, port: 8080 }).allowed).toBe(true);
    expect(evaluator.decide({ from: gatewayPod, to: web, port: 9100 }).allowed).toBe(false);
    expect(evaluator.decide({ from: gatewayPod, to: admin, port: 8080 }).allowed).toBe(false);
    expect(evaluator.decide({ from: gatewayPod, to: controlPlane, port: 5678 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: gatewayPod, port: 8080 }).ingress.allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: gatewayPod, port: 9901 }).ingress.allowed).toBe(false);
  });
});

describe('kuma external dependencies', () => {
  it('allows exactly the declared callers', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    const evaluator = kumaPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const allowed: string[] = [];
    for (const service of generated.topology.services) {
      for (const external of generated.topology.externals) {
        const source = { service: service.name, namespace: service.namespace, serviceAccount: service.name, labels: { 'app.kubernetes.io/name': service.name }, meshed: true };
        if (evaluator.decideExternal!(source, external).allowed) allowed.push(`${service.name} -> ${external.name}`);
      }
    }
    expect(allowed.sort()).toEqual(['api -> partner', 'web -> ledger', 'web -> payments']);
  });

  it('matches TLS by host and TCP by address', () => {
    const passthrough = find<{ default: { appendMatch: unknown[] } }>(generateCase(kumaPlugin, edgeTopology), 'MeshPassthrough', 'shop', 'web-external');
    expect(passthrough.spec.default.appendMatch).toEqual([
      { type: 'CIDR', value: '203.0.113.0/24', port: 5432, protocol: 'tcp' },
      { type: 'Domain', value: 'api.payments.example', port: 443, protocol: 'tls' },
    ]);
  });
});

/** Service a calls the dependencies in `externals`; service b calls none. */
function callerTopology(externals: Record<string, unknown>[]) {
  return {
    apiVersion: 'create-zero-trust-app/v1alpha1',
    kind: 'Topology',
    metadata: { name: 'egress' },
    spec: {
      namespace: 'egress',
      services: [
        { name: 'a', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }], calls: externals.map((external) => external.name) },
        { name: 'b', image: 'docker.io/library/nginx:1.29', ports: [{ port: 8080, protocol: 'http' }] },
        ...externals,
      ],
    },
  };
}

const twoRanges = callerTopology([{ name: 'db', external: { host: 'db.example', port: 5432, protocol: 'postgres', addresses: ['198.51.100.0/24', '203.0.113.0/24'] } }]);

describe('kuma egress by address', () => {
  for (const mode of ['mesh-mtls', 'meshidentity']) {
    it(`passes a dependency with two ranges (${mode})`, () => {
      const options = { 'kuma-identity': mode };
      expect(problemsOf(generateCase(kumaPlugin, twoRanges, options), options)).toEqual([]);
    });
  }

  it('names a range left out of the matches', () => {
    const generated = generateCase(kumaPlugin, twoRanges);
    const passthrough = find<{ default: { appendMatch: { value: string }[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external');
    passthrough.spec.default.appendMatch = passthrough.spec.default.appendMatch.filter((match) => match.value !== '203.0.113.0/24');
    expect(problemsOf(generated)).toContain('a -> db (db.example:5432) is declared, but the mesh denies it: no match of MeshPassthrough egress/a-external lets db.example:5432 through at 203.0.113.0, and mode Matched refuses the rest');
  });

  it('matches IPv6 ranges by containment', () => {
    const generated = generateCase(kumaPlugin, callerTopology([{ name: 'db', external: { host: 'db.example', port: 5432, protocol: 'postgres', addresses: ['2001:db8::/32'] } }]));
    const passthrough = find<{ default: { appendMatch: { value: string }[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external');
    expect(passthrough.spec.default.appendMatch).toEqual([{ type: 'CIDR', value: '2001:db8::/32', port: 5432, protocol: 'tcp' }]);
    passthrough.spec.default.appendMatch[0]!.value = '2001:d00::/24';
    expect(problemsOf(generated)).toEqual([]);
  });

  it('passes tls and tcp on one port', () => {
    const document = callerTopology([
      { name: 'api', external: { host: 'api.example', port: 443, protocol: 'tls' } },
      { name: 'raw', external: { host: 'raw.example', port: 443, protocol: 'tcp', addresses: ['198.51.100.0/24'] } },
    ]);
    for (const mode of ['mesh-mtls', 'meshidentity']) {
      const options = { 'kuma-identity': mode };
      expect(problemsOf(generateCase(kumaPlugin, document, options), options)).toEqual([]);
    }
  });

  it('denies TLS on a tcp address match', () => {
    // Kuma's tcp filter chain requires transport raw_buffer, so a TLS connection on that port finds no chain.
    const document = callerTopology([
      { name: 'api', external: { host: 'api.example', port: 443, protocol: 'tls' } },
      { name: 'raw', external: { host: 'raw.example', port: 443, protocol: 'tcp' } },
    ]);
    const generated = generateCase(kumaPlugin, document);
    find<{ default: { appendMatch: { type: string }[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external').spec.default.appendMatch = [{ type: 'CIDR', value: '0.0.0.0/0', port: 443, protocol: 'tcp' } as never];
    const evaluator = kumaPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const source = { service: 'a', namespace: 'egress', serviceAccount: 'a', labels: { 'app.kubernetes.io/name': 'a' }, meshed: true };
    const [api, raw] = ['api', 'raw'].map((name) => generated.topology.externals.find((external) => external.name === name)!);
    expect(evaluator.decideExternal!(source, api!).allowed).toBe(false);
    expect(evaluator.decideExternal!(source, raw!).allowed).toBe(true);
  });
});

/** Caller a calls a tls or http dependency `api` and a tcp-like dependency `raw`, each with its own addresses and port. */
function domainAndAddress(api: { protocol: string; addresses: string[]; port?: number }, raw: { protocol: string; addresses?: string[]; port?: number }) {
  return callerTopology([
    { name: 'api', external: { host: 'api.example', port: api.port ?? 443, protocol: api.protocol, addresses: api.addresses } },
    { name: 'raw', external: { host: 'raw.example', port: raw.port ?? 443, protocol: raw.protocol, ...(raw.addresses && { addresses: raw.addresses }) } },
  ]);
}

function generationError(document: unknown): unknown {
  try {
    generateCase(kumaPlugin, document);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('kuma egress with overlapping matches', () => {
  const rejected = [
    { case: 'tls inside a tcp range', api: { protocol: 'tls', addresses: ['198.51.100.0/28'] }, raw: { protocol: 'tcp', addresses: ['198.51.100.0/24'] }, ranges: ['198.51.100.0/28', '198.51.100.0/24'] },
    { case: 'tls around a postgres range', api: { protocol: 'tls', addresses: ['198.51.100.0/23'] }, raw: { protocol: 'postgres', addresses: ['198.51.100.0/24'] }, ranges: ['198.51.100.0/23', '198.51.100.0/24'] },
    { case: 'http inside a mysql range', api: { protocol: 'http', addresses: ['198.51.100.8/29'] }, raw: { protocol: 'mysql', addresses: ['198.51.100.0/24'] }, ranges: ['198.51.100.8/29', '198.51.100.0/24'] },
    { case: 'tls on one of two redis ranges', api: { protocol: 'tls', addresses: ['192.0.2.0/24', '203.0.113.0/25'] }, raw: { protocol: 'redis', addresses: ['198.51.100.0/24', '203.0.113.0/24'] }, ranges: ['203.0.113.0/25', '203.0.113.0/24'] },
    { case: 'tls inside a mongodb IPv6 range', api: { protocol: 'tls', addresses: ['2001:db8:1::/48'] }, raw: { protocol: 'mongodb', addresses: ['2001:db8::/32'] }, ranges: ['2001:db8:1::/48', '2001:db8::/32'] },
  ];
  for (const { case: name, api, raw, ranges } of rejected) {
    it(`rejects ${name}`, () => {
      const error = generationError(domainAndAddress(api, raw));
      expect(error).toBeInstanceOf(InputError);
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain(`service "a", field calls: "api" (${api.protocol}, ${ranges[0]}) and "raw" (${raw.protocol}, ${ranges[1]}) share port 443`);
      expect(message).toContain('Give them addresses that do not overlap, or use another port for one of them');
    });
  }

  it('names the dropped TLS connection', () => {
    const message = (generationError(domainAndAddress({ protocol: 'tls', addresses: ['198.51.100.0/28'] }, { protocol: 'tcp', addresses: ['198.51.100.0/24'] })) as Error).message;
    expect(message).toContain('through the tcp match of "raw", which closes TLS connections');
  });

  it('names the lost Host check for http', () => {
    const message = (generationError(domainAndAddress({ protocol: 'http', addresses: ['198.51.100.0/28'] }, { protocol: 'tcp', addresses: ['198.51.100.0/24'] })) as Error).message;
    expect(message).toContain('which passes HTTP requests by address without checking the Host header');
  });

  const accepted = [
    { case: 'ranges apart', api: { protocol: 'tls', addresses: ['192.0.2.0/24'] }, raw: { protocol: 'tcp', addresses: ['198.51.100.0/24'] } },
    { case: 'other ports', api: { protocol: 'tls', addresses: ['198.51.100.0/28'] }, raw: { protocol: 'postgres', addresses: ['198.51.100.0/24'], port: 5432 } },
    { case: 'a tcp dependency without addresses', api: { protocol: 'tls', addresses: ['198.51.100.0/28'] }, raw: { protocol: 'tcp' } },
    { case: 'other address families', api: { protocol: 'tls', addresses: ['2001:db8::/32'] }, raw: { protocol: 'tcp', addresses: ['198.51.100.0/24'] } },
  ];
  for (const { case: name, api, raw } of accepted) {
    it(`accepts ${name}`, () => {
      expect(problemsOf(generateCase(kumaPlugin, domainAndAddress(api, raw)))).toEqual([]);
    });
  }

  it('denies tls shadowed by a hand-written tcp match', () => {
    const generated = generateCase(kumaPlugin, domainAndAddress({ protocol: 'tls', addresses: ['198.51.100.0/28'] }, { protocol: 'tcp', addresses: ['203.0.113.0/24'] }));
    const passthrough = find<{ default: { appendMatch: Record<string, unknown>[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external');
    passthrough.spec.default.appendMatch.push({ type: 'CIDR', value: '198.51.100.0/24', port: 443, protocol: 'tcp' });
    expect(problemsOf(generated)).toEqual([
      'a -> api (api.example:443) is declared, but the mesh denies it: no match of MeshPassthrough egress/a-external lets api.example:443 through, and mode Matched refuses the rest. ' +
        'Envoy picks the most specific address match, CIDR 198.51.100.0/24 port 443 (tcp) of MeshPassthrough egress/a-external, which accepts only raw TCP and no tls connection to api.example at 198.51.100.0',
      'external dependencies: see the mismatches of the external dependencies',
    ]);
  });

  it('denies tls partly shadowed by a hand-written tcp match', () => {
    const generated = generateCase(kumaPlugin, domainAndAddress({ protocol: 'tls', addresses: ['198.51.100.0/23'] }, { protocol: 'tcp', addresses: ['203.0.113.0/24'] }));
    const passthrough = find<{ default: { appendMatch: Record<string, unknown>[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external');
    passthrough.spec.default.appendMatch.push({ type: 'CIDR', value: '198.51.101.0/24', port: 443, protocol: 'tcp' });
    const evaluator = kumaPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const source = { service: 'a', namespace: 'egress', serviceAccount: 'a', labels: { 'app.kubernetes.io/name': 'a' }, meshed: true };
    const api = generated.topology.externals.find((external) => external.name === 'api')!;
    const decision = evaluator.decideExternal!(source, api);
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('lets api.example:443 through at 198.51.101.0');
    expect(decision.reason).toContain('CIDR 198.51.101.0/24 port 443 (tcp) of MeshPassthrough egress/a-external');
  });

  it('passes http through a hand-written tcp match by address', () => {
    // The tcp chain takes raw_buffer transport with any application protocol, so plain HTTP gets through, unchecked by Host.
    const generated = generateCase(kumaPlugin, domainAndAddress({ protocol: 'http', addresses: ['198.51.100.0/28'] }, { protocol: 'tcp', addresses: ['203.0.113.0/24'] }));
    const passthrough = find<{ default: { appendMatch: Record<string, unknown>[] } }>(generated, 'MeshPassthrough', 'egress', 'a-external');
    passthrough.spec.default.appendMatch.push({ type: 'CIDR', value: '198.51.100.0/24', port: 443, protocol: 'tcp' });
    const evaluator = kumaPlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const source = { service: 'a', namespace: 'egress', serviceAccount: 'a', labels: { 'app.kubernetes.io/name': 'a' }, meshed: true };
    const decision = evaluator.decideExternal!(source, generated.topology.externals.find((external) => external.name === 'api')!);
    expect(decision).toEqual({ allowed: true, mtls: false, reason: 'allowed by MeshPassthrough egress/a-external (CIDR 198.51.100.0/24 port 443)' });
  });
});

describe('kuma verify on hand-broken edges', () => {
  it('names a route to a service not exposed', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    const route = find<{ to: { rules: { default: { backendRefs: { name: string }[] } }[] }[] }>(generated, 'MeshHTTPRoute', 'kuma-system', 'shop-api-http-8080');
    route.spec.to[0]!.rules[0]!.default.backendRefs[0]!.name = 'admin_shop_svc_8080';
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.includes('MeshHTTPRoute kuma-system/shop-api-http-8080 routes api.shop.localhost to shop/admin:8080, which the topology does not expose'))).toBe(true);
    expect(problems.some((problem) => problem.includes('backend/api:8080 is exposed, but no gateway route sends api.shop.localhost to it'))).toBe(true);
  });

  it('names a gateway permission on a port not exposed', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    find<{ targetRef: { sectionName: string } }>(generated, 'MeshTrafficPermission', 'shop', 'web-grpc-9090-exposed').spec.targetRef.sectionName = 'http-9100';
    const problems = problemsOf(generated);
    expect(problems).toContain('gateway -> web:9100 is not exposed, but the mesh allows the gateway: allowed by MeshTrafficPermission shop/web-grpc-9090-exposed');
  });

  it('names an undeclared external caller', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    find<{ targetRef: { labels: Record<string, string> } }>(generated, 'MeshPassthrough', 'backend', 'api-external').spec.targetRef.labels = {};
    generated.objects.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshPassthrough',
      metadata: { name: 'admin-external', namespace: 'shop', labels: { 'kuma.io/mesh': 'shop' } },
      spec: { targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'admin' } }, default: { passthroughMode: 'Matched', appendMatch: [{ type: 'Domain', value: 'api.payments.example', port: 443, protocol: 'tls' }] } },
    } as KubeObject);
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('admin -> payments (api.payments.example:443) is not declared, but the mesh allows it: allowed by MeshPassthrough shop/admin-external'))).toBe(true);
  });

  it('names passthrough left on', () => {
    const generated = generateCase(kumaPlugin, edgeTopology);
    delete find<Record<string, unknown>>(generated, 'Mesh', undefined, 'shop').spec.networking;
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('admin -> partner (partner.example:80) is not declared, but the mesh allows it: Mesh shop passes traffic'))).toBe(true);
  });
});
