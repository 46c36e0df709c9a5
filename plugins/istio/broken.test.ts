import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkExactEdges, checkMakefile, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { findPreset } from '../../src/topology/presets.js';
import { istioPlugin } from './index.js';

const workshop = findPreset('workshop')!.document;

function generateWorkshop(): GeneratedCase {
  return generateCase(istioPlugin, workshop);
}

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject {
  const object = generated.objects.find((candidate) => candidate.kind === kind && (candidate.metadata.namespace ?? '') === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object;
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(istioPlugin, generated));
}

describe('istio verify on hand-broken output', () => {
  it('passes on the output as generated', () => {
    expect(problemsOf(generateWorkshop())).toEqual([]);
  });

  it('names an extra ALLOW rule', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: { from: { source: { principals: string[] } }[] }[] } } & KubeObject;
    policy.spec.rules[0]!.from[0]!.source.principals.push('cluster.local/ns/data/sa/lil-deebee');
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a rule with an empty from list', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: { from: unknown[] }[] } } & KubeObject;
    policy.spec.rules[0]!.from = [];
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a rule with an empty principals list', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: { from: { source: { principals: string[] } }[] }[] } } & KubeObject;
    policy.spec.rules[0]!.from[0]!.source.principals = [];
    const problems = problemsOf(generated);
    expect(problems).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names an extra NetworkPolicy ingress rule', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'NetworkPolicy', 'production', 'default-deny') as { spec: { ingress: unknown[] } } & KubeObject;
    policy.spec.ingress.push({ from: [{ namespaceSelector: {} }] });
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> hero:8080 is not declared, but NetworkPolicy ingress allows it (production/default-deny)');
    expect(problems).toContain('verify-outside (outside) -> hero:8080 is not declared, but NetworkPolicy ingress allows it (production/default-deny)');
  });

  it('names an extra NetworkPolicy egress rule even when ingress still refuses', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'NetworkPolicy', 'data', 'default-deny') as { spec: { egress: unknown[] } } & KubeObject;
    policy.spec.egress.push({ to: [{ namespaceSelector: {} }] });
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> hero:8080 is not declared, but NetworkPolicy egress allows it (data/default-deny)');
    expect(problems.some((problem) => problem.includes('ingress allows'))).toBe(false);
  });

  it('names a missing DNS rule', () => {
    const generated = generateWorkshop();
    generated.objects = generated.objects.filter((object) => !(object.kind === 'NetworkPolicy' && object.metadata.name === 'allow-dns' && object.metadata.namespace === 'data'));
    const problems = problemsOf(generated);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^DNS: lil-deebee cannot reach kube-dns on UDP 53; lil-deebee cannot reach kube-dns on TCP 53: add an egress rule/);
  });

  it('names PERMISSIVE mTLS', () => {
    const generated = generateWorkshop();
    const peer = find(generated, 'PeerAuthentication', 'data', 'default') as { spec: { mtls: { mode: string } } } & KubeObject;
    peer.spec.mtls.mode = 'PERMISSIVE';
    const problems = problemsOf(generated);
    expect(problems).toContain('PeerAuthentication data/default: allows plaintext (mode PERMISSIVE): set spec.mtls.mode to STRICT');
    expect(problems).toContain('hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a client outside the mesh that PERMISSIVE mTLS lets through', () => {
    const generated = generateWorkshop();
    for (const object of generated.objects) {
      if (object.kind === 'PeerAuthentication') (object as { spec: { mtls: { mode: string } } } & KubeObject).spec.mtls.mode = 'PERMISSIVE';
    }
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: Record<string, unknown>[] } } & KubeObject;
    policy.spec.rules[0] = { to: [{ operation: { ports: ['5432'] } }] };
    const problems = problemsOf(generated);
    expect(problems).toContain('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a principal in the wrong namespace', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: { from: { source: { principals: string[] } }[] }[] } } & KubeObject;
    policy.spec.rules[0]!.from[0]!.source.principals = ['cluster.local/ns/data/sa/hero'];
    const problems = problemsOf(generated);
    expect(problems).toEqual([
      'hero -> lil-deebee:5432 is declared, but the mesh denies it: no rule of the ALLOW AuthorizationPolicies on data/lil-deebee matches (AuthorizationPolicy data/allow-nothing, AuthorizationPolicy data/lil-deebee-from-hero)',
    ]);
  });

  it('names a missing allow-nothing policy on a service without callers', () => {
    const generated = generateWorkshop();
    generated.objects = generated.objects.filter((object) => !(object.kind === 'AuthorizationPolicy' && object.metadata.name === 'allow-nothing' && object.metadata.namespace === 'production'));
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> hero:8080 is not declared, but the mesh allows it: no ALLOW AuthorizationPolicy applies to production/hero, so Istio allows everything');
  });

  it('refuses to pass a rule on source addresses', () => {
    const generated = generateWorkshop();
    const policy = find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as { spec: { rules: Record<string, unknown>[] } } & KubeObject;
    policy.spec.rules.push({ from: [{ source: { ipBlocks: ['0.0.0.0/0'] } }] });
    expect(problemsOf(generated)).toContain('AuthorizationPolicy data/lil-deebee-from-hero: matches on source.ipBlocks, which verify does not evaluate; use principals or serviceAccounts');
  });

  it('refuses to pass a DENY on HTTP methods', () => {
    const generated = generateWorkshop();
    generated.objects.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'no-writes', namespace: 'production' },
      spec: { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST', 'PUT', 'DELETE'] } }] }] },
    });
    expect(problemsOf(generated)).toContain('AuthorizationPolicy production/no-writes: matches on operation.methods, which verify does not evaluate per request; authorize by port');
  });

  it('widens a DENY with HTTP fields on a TCP port', () => {
    const generated = generateWorkshop();
    generated.objects.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'no-deletes', namespace: 'data' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
    });
    expect(problemsOf(generated)).toContain('hero -> lil-deebee:5432 is declared, but the mesh denies it: denied by AuthorizationPolicy data/no-deletes');
  });

  it('names a workload that left the mesh', () => {
    const generated = generateWorkshop();
    const namespace = find(generated, 'Namespace', '', 'data');
    delete namespace.metadata.labels!['istio-injection'];
    const problems = problemsOf(generated);
    expect(problems).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: data/lil-deebee has no sidecar, so Istio enforces nothing on it');
  });
});

describe('Makefile check', () => {
  it('names missing targets and .NOTPARALLEL', () => {
    const generated = generateCase(istioPlugin, findPreset('workshop')!.document);
    expect(checkMakefile(generated.files)).toEqual([]);
    const makefile = generated.files.get('Makefile')!;
    generated.files.set('Makefile', { ...makefile, content: makefile.content.replace('.NOTPARALLEL:\n', '').replace(/^destroy:/m, 'teardown:') });
    expect(checkMakefile(generated.files)).toEqual(['Makefile: no "destroy" target', 'Makefile: no .NOTPARALLEL, so make -j runs the steps of up at once']);
  });
});

describe('CI workflow', () => {
  it('reads the repository only and runs make targets', () => {
    const generated = generateCase(istioPlugin, findPreset('workshop')!.document);
    const workflow = parse(generated.files.get('.github/workflows/verify.yaml')!.content) as { permissions: unknown; jobs: Record<string, { steps: { run?: string }[] }> };
    expect(workflow.permissions).toEqual({ contents: 'read' });
    const runs = Object.values(workflow.jobs).flatMap((job) => job.steps.map((step) => step.run).filter((run) => run?.startsWith('make ')));
    expect(runs).toEqual(['make install-tools', 'make up verify']);
  });
});
