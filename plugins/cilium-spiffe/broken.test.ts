import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkExactEdges, generateCase, verifyCase, type GeneratedCase } from '../../src/conformance/checks.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { findPreset } from '../../src/topology/presets.js';
import { ciliumSpiffePlugin } from './index.js';
import { NAMESPACE_POLICY } from './resources.js';
import { buildHelmValues } from './values.js';

interface CiliumRule {
  fromEndpoints?: unknown[];
  fromEntities?: string[];
  toEndpoints?: unknown[];
  toPorts?: unknown[];
  authentication?: { mode: string };
}
type CiliumPolicy = KubeObject & { spec: { endpointSelector: unknown; ingress?: CiliumRule[]; egress?: CiliumRule[]; ingressDeny?: CiliumRule[] } };

function generate(preset: string): GeneratedCase {
  return generateCase(ciliumSpiffePlugin, findPreset(preset)!.document);
}

function policy(generated: GeneratedCase, namespace: string, name: string): CiliumPolicy {
  const object = generated.objects.find((candidate) => candidate.kind === 'CiliumNetworkPolicy' && candidate.metadata.namespace === namespace && candidate.metadata.name === name);
  if (!object) throw new Error(`CiliumNetworkPolicy ${namespace}/${name} is not in the generated manifests`);
  return object as CiliumPolicy;
}

function helmValues(generated: GeneratedCase): KubeObject & { data: Record<string, string> } {
  return generated.objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === 'cilium-helm-values') as KubeObject & { data: Record<string, string> };
}

function podLabels(generated: GeneratedCase, namespace: string, name: string): Record<string, string> {
  const workload = generated.objects.find((object) => object.kind === 'Deployment' && object.metadata.namespace === namespace && object.metadata.name === name);
  if (!workload) throw new Error(`Deployment ${namespace}/${name} is not in the generated manifests`);
  return (workload.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
}

function problemsOf(generated: GeneratedCase): string[] {
  return checkExactEdges(verifyCase(ciliumSpiffePlugin, generated));
}

describe('cilium-spiffe verify on hand-broken output', () => {
  it('passes on the output as generated', () => {
    expect(problemsOf(generate('workshop'))).toEqual([]);
    expect(problemsOf(generate('bookinfo'))).toEqual([]);
  });

  it('names a declared edge that an ICMP-only rule stops', () => {
    const generated = generate('workshop');
    const ingress = policy(generated, 'data', 'lil-deebee').spec.ingress![0]! as CiliumRule & { icmps?: unknown[] };
    delete ingress.toPorts;
    ingress.icmps = [{ fields: [{ type: 8 }] }];
    const problems = problemsOf(generated);
    expect(problems.some((problem) => problem.startsWith('hero -> lil-deebee:5432 is declared, but the mesh denies it'))).toBe(true);
  });

  it('names an ingress rule without authentication', () => {
    const generated = generate('workshop');
    delete policy(generated, 'data', 'lil-deebee').spec.ingress![0]!.authentication;
    const problems = problemsOf(generated);
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: allowed by CiliumNetworkPolicy production/hero egress[0], CiliumNetworkPolicy data/lil-deebee ingress[0], but the ingress rule (CiliumNetworkPolicy data/lil-deebee ingress[0]) does not require authentication',
    );
    expect(problems).toContain('hero (unmeshed) -> lil-deebee:5432 is not declared, but the mesh allows it: CiliumNetworkPolicy data/lil-deebee ingress[0] allows it without authentication');
  });

  it('names an egress rule without authentication', () => {
    const generated = generate('workshop');
    delete policy(generated, 'production', 'hero').spec.egress![0]!.authentication;
    expect(problemsOf(generated)).toEqual([
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: allowed by CiliumNetworkPolicy production/hero egress[0], CiliumNetworkPolicy data/lil-deebee ingress[0], but the egress rule (CiliumNetworkPolicy production/hero egress[0]) does not require authentication',
    ]);
  });

  it('names a peer selector that matches the whole namespace', () => {
    const generated = generate('workshop');
    policy(generated, 'data', 'lil-deebee').spec.ingress![0]!.fromEndpoints = [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'production' } }];
    expect(problemsOf(generated)).toEqual([
      'a pod without edges in production -> lil-deebee:5432: is not declared, but the ingress side allows it (CiliumNetworkPolicy data/lil-deebee ingress[0])',
    ]);
  });

  it('names a peer selector on namespace labels', () => {
    const generated = generate('workshop');
    // Cilium does not confine a selector on namespace labels to the policy's own namespace.
    policy(generated, 'data', 'lil-deebee').spec.ingress![0]!.fromEndpoints = [{ matchLabels: { 'io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': 'production' } }];
    expect(problemsOf(generated)).toEqual([
      'a pod without edges in production -> lil-deebee:5432: is not declared, but the ingress side allows it (CiliumNetworkPolicy data/lil-deebee ingress[0])',
    ]);
  });

  it('names an endpoint selector that matches every pod of the namespace', () => {
    const generated = generate('bookinfo');
    policy(generated, 'bookinfo', 'ratings').spec.endpointSelector = {};
    const problems = problemsOf(generated);
    expect(problems).toContain('reviews -> details:9080: is not declared, but the ingress side allows it (CiliumNetworkPolicy bookinfo/ratings ingress[0])');
    expect(problems).toContain('reviews -> productpage:9080: is not declared, but the ingress side allows it (CiliumNetworkPolicy bookinfo/ratings ingress[0])');
  });

  it('names authentication required on DNS', () => {
    const generated = generate('workshop');
    policy(generated, 'data', NAMESPACE_POLICY).spec.egress![0]!.authentication = { mode: 'required' };
    expect(problemsOf(generated)).toEqual([
      'CiliumNetworkPolicy data/default-deny-allow-dns egress[0]: requires authentication on traffic to or from kube-dns, port 53 (DNS): remove "authentication" from this rule, as DNS, kube-system and SPIRE must work before identities exist',
      'data/lil-deebee: DNS (UDP 53 to kube-dns) requires authentication in CiliumNetworkPolicy data/default-deny-allow-dns egress[0]',
      'data/lil-deebee: DNS (TCP 53 to kube-dns) requires authentication in CiliumNetworkPolicy data/default-deny-allow-dns egress[0]',
    ]);
  });

  it('names authentication required on SPIRE', () => {
    const generated = generate('workshop');
    policy(generated, 'production', 'hero').spec.egress!.push({
      toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'cilium-spire' } }],
      authentication: { mode: 'required' },
    });
    expect(problemsOf(generated)).toContain(
      'CiliumNetworkPolicy production/hero egress[1]: requires authentication on traffic to or from the SPIRE server, a SPIRE agent: remove "authentication" from this rule, as DNS, kube-system and SPIRE must work before identities exist',
    );
  });

  it('names WireGuard turned off', () => {
    const generated = generate('workshop');
    const values = buildHelmValues() as { encryption: { enabled: boolean } };
    values.encryption.enabled = false;
    helmValues(generated).data['values.yaml'] = stringify(values);
    const problems = problemsOf(generated);
    expect(problems).toContain('ConfigMap kube-system/cilium-helm-values: does not turn on WireGuard: set encryption.enabled to true and encryption.type to wireguard, because mutual authentication alone does not encrypt');
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: allowed by CiliumNetworkPolicy production/hero egress[0], CiliumNetworkPolicy data/lil-deebee ingress[0], but WireGuard encryption is off in the Helm values',
    );
  });

  it('names missing Helm values', () => {
    const generated = generate('workshop');
    generated.objects = generated.objects.filter((object) => object.kind !== 'ConfigMap');
    const problems = problemsOf(generated);
    expect(problems).toContain('ConfigMap kube-system/cilium-helm-values: is missing, or has no "values.yaml": verify cannot tell whether WireGuard and SPIRE are on. Regenerate the repository');
    expect(problems).toContain(
      'hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: allowed by CiliumNetworkPolicy production/hero egress[0], CiliumNetworkPolicy data/lil-deebee ingress[0], but SPIRE mutual authentication is off in the Helm values; WireGuard encryption is off in the Helm values',
    );
  });

  it('names a namespace without default deny', () => {
    const generated = generate('workshop');
    generated.objects = generated.objects.filter((object) => !(object.kind === 'CiliumNetworkPolicy' && object.metadata.name === NAMESPACE_POLICY && object.metadata.namespace === 'production'));
    expect(problemsOf(generated)).toEqual([
      'production/hero: CiliumNetworkPolicies block DNS (UDP 53 to kube-dns): add an egress rule to k8s-app=kube-dns in kube-system',
      'production/hero: CiliumNetworkPolicies block DNS (TCP 53 to kube-dns): add an egress rule to k8s-app=kube-dns in kube-system',
      'a pod without edges in production -> hero:8080: is not declared, but the egress side allows it (no policy puts a pod without edges in production in default deny)',
      'a pod without edges in production -> lil-deebee:5432: is not declared, but the egress side allows it (no policy puts a pod without edges in production in default deny)',
    ]);
  });

  it('names a deny rule on a declared edge', () => {
    const generated = generate('workshop');
    policy(generated, 'data', 'lil-deebee').spec.ingressDeny = [{ fromEntities: ['cluster'], toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }] }] }];
    expect(problemsOf(generated)).toContain('hero -> lil-deebee:5432 is declared, but the mesh denies it: ingress to data/lil-deebee: no rule allows it (CiliumNetworkPolicy data/lil-deebee ingressDeny[0])');
  });

  it('scopes an empty peer selector to the policy namespace', () => {
    const generated = generate('workshop');
    // In a namespaced policy, a peer selector without a namespace label selects only that namespace.
    policy(generated, 'data', 'lil-deebee').spec.ingressDeny = [{ fromEndpoints: [{}] }];
    expect(problemsOf(generated)).toEqual([]);
  });

  it('names rules that disagree on authentication', () => {
    const generated = generate('workshop');
    const ingress = policy(generated, 'data', 'lil-deebee').spec.ingress!;
    ingress.push({ ...structuredClone(ingress[0]!), authentication: { mode: 'disabled' } });
    expect(problemsOf(generated)).toContain(
      'hero -> lil-deebee:5432: rules disagree on authentication: CiliumNetworkPolicy data/lil-deebee ingress[1] disable authentication that CiliumNetworkPolicy data/lil-deebee ingress[0] require',
    );
  });

  it('lists matching rules in manifest order', () => {
    const generated = generate('workshop');
    const ingress = policy(generated, 'data', 'lil-deebee').spec.ingress!;
    // The index files this rule under the namespace label and hero's rule under hero's name, which a lookup
    // for hero reads first, so the lookup must restore manifest order.
    ingress.unshift({ ...structuredClone(ingress[0]!), fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'production' } }] });
    const evaluator = ciliumSpiffePlugin.evaluate({ topology: generated.topology, options: {}, objects: generated.objects });
    const target = generated.topology.services.find((service) => service.name === 'lil-deebee')!;
    const hero = { service: 'hero', namespace: 'production', serviceAccount: 'hero', labels: podLabels(generated, 'production', 'hero'), meshed: true };
    expect(evaluator.decide(hero, target, target.ports[0]!).reason).toBe(
      'allowed by CiliumNetworkPolicy production/hero egress[0], CiliumNetworkPolicy data/lil-deebee ingress[0], CiliumNetworkPolicy data/lil-deebee ingress[1], with SPIRE mutual authentication over WireGuard',
    );
  });

  it('names a rule that the evaluator cannot read', () => {
    const generated = generate('workshop');
    policy(generated, 'production', 'hero').spec.egress!.push({ toServices: [{ k8sService: { serviceName: 'lil-deebee', namespace: 'data' } }] } as CiliumRule);
    expect(problemsOf(generated)).toContain('CiliumNetworkPolicy production/hero egress[1]: uses toServices, which verify does not evaluate; the rule is treated as matching nothing');
  });
});
