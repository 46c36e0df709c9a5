import { describe, expect, it } from 'vitest';
import { checkExactEdges, CONFORMANCE_TOPOLOGIES, generateCase, verifyCase, withDefaults, type GeneratedCase } from '../../src/conformance/index.js';
import type { KubeObject } from '../../src/k8s/object.js';
import type { MeshEvaluator, Source } from '../../src/plugin/api.js';
import { findPreset } from '../../src/topology/presets.js';
import { checkMayReach } from '../../src/verify/offline.js';
import { GATEWAY_PRINCIPAL } from './ingress.js';
import { istioPlugin } from './index.js';

const workshop = findPreset('workshop')!.document;
const exposed = CONFORMANCE_TOPOLOGIES.find((topology) => topology.name === 'exposed')!.document;

/** The clients of the workshop topology that the tests ask about, as verify's buildClients makes them. */
const HERO: Source = { service: 'hero', namespace: 'production', serviceAccount: 'hero', labels: {}, meshed: true };
const LIL_DEEBEE: Source = { service: 'lil-deebee', namespace: 'data', serviceAccount: 'lil-deebee', labels: {}, meshed: true };
const STRANGER: Source = { service: 'verify-stranger', namespace: 'production', serviceAccount: 'verify-stranger', labels: {}, meshed: true };
const OUTSIDE: Source = { service: 'verify-outside', namespace: 'verify-outside', serviceAccount: 'default', labels: {}, meshed: false };
const UNMESHED_HERO: Source = { ...HERO, meshed: false };

type PolicyObject = KubeObject & { spec: { rules: Record<string, unknown>[] } };
type PeerObject = KubeObject & { spec: { mtls: { mode: string } } };

function generateWorkshop(): GeneratedCase {
  return generateCase(istioPlugin, workshop);
}

function evaluatorOf(generated: GeneratedCase): MeshEvaluator {
  return istioPlugin.evaluate({ topology: generated.topology, options: withDefaults(istioPlugin, {}), objects: generated.objects });
}

function find(generated: GeneratedCase, kind: string, namespace: string, name: string): KubeObject {
  const object = generated.objects.find((candidate) => candidate.kind === kind && (candidate.metadata.namespace ?? '') === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`${kind} ${namespace}/${name} is not in the generated manifests`);
  return object;
}

/** Replaces the one rule of the workshop's only edge policy, which selects lil-deebee. */
function setLilDeebeeRule(generated: GeneratedCase, rule: Record<string, unknown>): void {
  (find(generated, 'AuthorizationPolicy', 'data', 'lil-deebee-from-hero') as PolicyObject).spec.rules = [rule];
}

function setNamespaceMode(generated: GeneratedCase, namespace: string, mode: string): void {
  (find(generated, 'PeerAuthentication', namespace, 'default') as PeerObject).spec.mtls.mode = mode;
}

/**
 * Lists the connections `decide` allows but `mayReach` leaves out: those of every client verify builds, as
 * checkMayReach finds them, and those of the gateway, which checkMayReach does not try.
 */
function leftOut(generated: GeneratedCase): string[] {
  const problems = checkMayReach({ topology: generated.topology, plugin: istioPlugin, options: withDefaults(istioPlugin, {}), objects: generated.objects });
  const evaluator = evaluatorOf(generated);
  if (!evaluator.gateway) return problems;
  const named = new Set(evaluator.mayReach!(evaluator.gateway.source) ?? generated.topology.services.map((service) => service.name));
  for (const target of generated.topology.services) {
    if (named.has(target.name)) continue;
    for (const port of target.ports) {
      const decision = evaluator.decide(evaluator.gateway.source, target, port);
      if (decision.allowed) problems.push(`mayReach of the gateway leaves out ${target.name}, but decide allows port ${port.port}: ${decision.reason}`);
    }
  }
  return problems;
}

/** Returns the sorted result of `mayReach`, or undefined for every service. */
function reachOf(generated: GeneratedCase, source: Source): string[] | undefined {
  const named = evaluatorOf(generated).mayReach!(source);
  return named && [...named].sort();
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(istioPlugin, generated));
}

describe('istio mayReach on generated output', () => {
  for (const topology of CONFORMANCE_TOPOLOGIES) {
    it(`names every allowed target on ${topology.name}`, () => {
      expect(leftOut(generateCase(istioPlugin, topology.document))).toEqual([]);
    });
  }

  it('names only the callees on workshop', () => {
    const generated = generateWorkshop();
    expect(reachOf(generated, HERO)).toEqual(['lil-deebee']);
    expect(reachOf(generated, LIL_DEEBEE)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual([]);
    expect(reachOf(generated, OUTSIDE)).toEqual([]);
    expect(reachOf(generated, UNMESHED_HERO)).toEqual([]);
  });

  it('names only the callees on bookinfo', () => {
    const generated = generateCase(istioPlugin, findPreset('bookinfo')!.document);
    const client = (name: string): Source => ({ service: name, namespace: 'bookinfo', serviceAccount: name, labels: {}, meshed: true });
    expect(reachOf(generated, client('productpage'))).toEqual(['details', 'reviews']);
    expect(reachOf(generated, client('reviews'))).toEqual(['ratings']);
    expect(reachOf(generated, client('ratings'))).toEqual([]);
  });

  it('names only the exposed services for the gateway', () => {
    const generated = generateCase(istioPlugin, exposed);
    const evaluator = evaluatorOf(generated);
    expect([...evaluator.mayReach!(evaluator.gateway!.source)!].sort()).toEqual(['api', 'web']);
  });
});

describe('istio mayReach on hand-broken output', () => {
  it('names a target whose rule has no from', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { to: [{ operation: { ports: ['5432'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toContain('lil-deebee');
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a target whose rule has an empty source', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: {} }] });
    expect(leftOut(generated)).toEqual([]);
    expect(problemsOf(generated)).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names an open target to unmeshed clients under PERMISSIVE', () => {
    const generated = generateWorkshop();
    setNamespaceMode(generated, 'data', 'PERMISSIVE');
    setLilDeebeeRule(generated, { to: [{ operation: { ports: ['5432'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, OUTSIDE)).toEqual(['lil-deebee']);
    const problems = problemsOf(generated);
    expect(problems).toContain('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
    expect(problems).toContain('verify-outside (outside) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a target with a PERMISSIVE port and a notPrincipals rule', () => {
    const generated = generateWorkshop();
    generated.objects.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'lil-deebee', namespace: 'data' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }, portLevelMtls: { '5432': { mode: 'PERMISSIVE' } } },
    });
    setLilDeebeeRule(generated, { from: [{ source: { notPrincipals: ['cluster.local/ns/production/sa/hero'] } }] });
    expect(leftOut(generated)).toEqual([]);
    const problems = problemsOf(generated);
    expect(problems).toContain('verify-outside (outside) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
    expect(problems).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('leaves out STRICT targets for unmeshed clients', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { to: [{ operation: { ports: ['5432'] } }] });
    expect(reachOf(generated, OUTSIDE)).toEqual([]);
    expect(reachOf(generated, UNMESHED_HERO)).toEqual([]);
  });

  it('names a target without ALLOW policies', () => {
    const generated = generateWorkshop();
    setNamespaceMode(generated, 'production', 'PERMISSIVE');
    generated.objects = generated.objects.filter((object) => !(object.kind === 'AuthorizationPolicy' && object.metadata.name === 'allow-nothing' && object.metadata.namespace === 'production'));
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, OUTSIDE)).toEqual(['hero']);
    expect(problemsOf(generated)).toContain('verify-outside (outside) -> hero:8080 is not declared, but the mesh allows it: no ALLOW AuthorizationPolicy applies to production/hero, so Istio allows everything');
  });

  it('names a target in a namespace out of the mesh', () => {
    const generated = generateWorkshop();
    delete find(generated, 'Namespace', '', 'data').metadata.labels!['istio-injection'];
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, OUTSIDE)).toEqual(['lil-deebee']);
    expect(problemsOf(generated)).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: data/lil-deebee has no sidecar, so Istio enforces nothing on it');
  });

  it('names a target whose workload opts out of injection', () => {
    const generated = generateWorkshop();
    const workload = generated.objects.find((object) => (object.kind === 'Deployment' || object.kind === 'StatefulSet') && object.metadata.name === 'lil-deebee')!;
    const template = (workload.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template;
    template.metadata.annotations = { ...template.metadata.annotations, 'sidecar.istio.io/inject': 'false' };
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: data/lil-deebee has no sidecar, so Istio enforces nothing on it');
  });

  it('names a target for a namespace-wide principal', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['cluster.local/ns/production/sa/*'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
    expect(reachOf(generated, LIL_DEEBEE)).toEqual([]);
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a target for a suffix principal', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['*/sa/verify-stranger'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
    expect(reachOf(generated, HERO)).toEqual([]);
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  // A prefix or suffix pattern also matches the whole principal, as String.startsWith and endsWith do.
  for (const pattern of ['cluster.local/ns/production/sa/verify-stranger*', '*cluster.local/ns/production/sa/verify-stranger']) {
    it(`names a target for the pattern ${pattern}`, () => {
      const generated = generateWorkshop();
      setLilDeebeeRule(generated, { from: [{ source: { principals: [pattern] } }] });
      expect(leftOut(generated)).toEqual([]);
      expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
      expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
    });
  }

  it('names a target for the wildcard principal', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['*'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, LIL_DEEBEE)).toEqual(['lil-deebee']);
    expect(reachOf(generated, OUTSIDE)).toEqual([]);
    expect(problemsOf(generated)).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a target for a whole namespace', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { namespaces: ['prod*'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a target for the stranger by service account', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { serviceAccounts: ['production/verify-stranger'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['lil-deebee']);
    expect(problemsOf(generated)).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('indexes the selective field of a source', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['*'], namespaces: ['data'] } }] });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, LIL_DEEBEE)).toEqual(['lil-deebee']);
    expect(reachOf(generated, HERO)).toEqual([]);
    expect(problemsOf(generated)).toContain('lil-deebee -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names every target of a mesh-wide policy', () => {
    const generated = generateWorkshop();
    generated.objects.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'allow-stranger', namespace: 'istio-system' },
      spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/production/sa/verify-stranger'] } }] }] },
    });
    expect(leftOut(generated)).toEqual([]);
    expect(reachOf(generated, STRANGER)).toEqual(['hero', 'lil-deebee']);
    const problems = problemsOf(generated);
    expect(problems).toContain('verify-stranger (stranger) -> hero:8080 is not declared, but the mesh allows it: allowed by AuthorizationPolicy istio-system/allow-stranger');
    expect(problems).toContain('verify-stranger (stranger) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy istio-system/allow-stranger');
  });

  it('names a client that left the mesh as unmeshed', () => {
    const generated = generateWorkshop();
    delete find(generated, 'Namespace', '', 'production').metadata.labels!['istio-injection'];
    setNamespaceMode(generated, 'data', 'PERMISSIVE');
    setLilDeebeeRule(generated, { from: [{ source: { notNamespaces: ['production'] } }] });
    expect(leftOut(generated)).toEqual([]);
    // Without a sidecar, hero has no namespace to match notNamespaces, and hero itself is open to everyone.
    expect(reachOf(generated, HERO)).toEqual(['hero', 'lil-deebee']);
    expect(problemsOf(generated)).toContain('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it: allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names a non-exposed target the gateway is allowed to', () => {
    const generated = generateCase(istioPlugin, exposed);
    generated.objects.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'db-from-gateway', namespace: 'data' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'db' } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [GATEWAY_PRINCIPAL] } }] }] },
    });
    expect(leftOut(generated)).toEqual([]);
    const evaluator = evaluatorOf(generated);
    expect([...evaluator.mayReach!(evaluator.gateway!.source)!].sort()).toEqual(['api', 'db', 'web']);
    expect(problemsOf(generated)).toContain('gateway -> db:5432 is not exposed, but the mesh allows the gateway: allowed by AuthorizationPolicy data/db-from-gateway');
  });
});

// Building mayReach reads the policies of every target, so the evaluator files them by namespace and label.
describe('istio policy lookup', () => {
  const allowHero = (namespace: string, selector?: Record<string, unknown>): KubeObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-hero', namespace },
    spec: { ...(selector && { selector }), action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/production/sa/hero'] } }] }] },
  });

  function reasonOf(generated: GeneratedCase): string {
    const target = generated.topology.services.find((service) => service.name === 'lil-deebee')!;
    return evaluatorOf(generated).decide(HERO, target, target.ports[0]!).reason;
  }

  it('names the first policy by label before a later namespace-wide one', () => {
    const generated = generateWorkshop();
    generated.objects.push(allowHero('data'));
    expect(reasonOf(generated)).toBe('allowed by AuthorizationPolicy data/lil-deebee-from-hero');
  });

  it('names an earlier mesh-wide policy before one by label', () => {
    const generated = generateWorkshop();
    generated.objects.unshift(allowHero('istio-system', { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }));
    expect(reasonOf(generated)).toBe('allowed by AuthorizationPolicy istio-system/allow-hero');
  });

  it('reads a policy that selects by expressions', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['cluster.local/ns/production/sa/verify-stranger'] } }] });
    generated.objects.push(allowHero('data', { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['lil-deebee'] }] }));
    expect(reasonOf(generated)).toBe('allowed by AuthorizationPolicy data/allow-hero');
  });

  it('skips a policy whose other labels differ', () => {
    const generated = generateWorkshop();
    setLilDeebeeRule(generated, { from: [{ source: { principals: ['cluster.local/ns/production/sa/verify-stranger'] } }] });
    generated.objects.push(allowHero('data', { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee', tier: 'cache' } }));
    expect(reasonOf(generated)).toBe('no rule of the ALLOW AuthorizationPolicies on data/lil-deebee matches (AuthorizationPolicy data/allow-nothing, AuthorizationPolicy data/lil-deebee-from-hero)');
  });
});
