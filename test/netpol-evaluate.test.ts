import { describe, it, expect } from 'vitest';
import fc from 'fast-check';

import {
  createNetworkPolicyEvaluator,
  type NamespaceModel,
  type NetworkPolicyObject,
  type NetworkPolicySpec,
  type PodModel,
} from '../src/netpol/evaluate.js';

function policy(namespace: string, name: string, spec: NetworkPolicySpec): NetworkPolicyObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

function pod(namespace: string, name: string, labels: Record<string, string> = {}, extra: Partial<PodModel> = {}): PodModel {
  return { name, namespace, labels, ...extra };
}

const namespaces: NamespaceModel[] = [
  { name: 'shop', labels: { team: 'shop', env: 'prod' } },
  { name: 'billing', labels: { team: 'billing', env: 'prod' } },
  { name: 'sandbox', labels: { team: 'shop', env: 'dev' } },
  { name: 'kube-system', labels: {} },
];

const web = pod('shop', 'web-0', { app: 'web' }, { ports: [{ name: 'http', containerPort: 8080 }] });
const api = pod('shop', 'api-0', { app: 'api' }, { ports: [{ name: 'http', containerPort: 9000 }] });
const db = pod('shop', 'db-0', { app: 'db' }, { ports: [{ name: 'postgres', containerPort: 5432 }] });
const invoices = pod('billing', 'invoices-0', { app: 'api' });
const devApi = pod('sandbox', 'api-0', { app: 'api' });
const kubeDns = pod(
  'kube-system',
  'coredns-0',
  { 'k8s-app': 'kube-dns' },
  {
    ports: [
      { name: 'dns', containerPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
    ],
  },
);
const metricsServer = pod('kube-system', 'metrics-0', { 'k8s-app': 'metrics-server' });

const denyAllIngress = (namespace: string) =>
  policy(namespace, 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyAllEgress = (namespace: string) => policy(namespace, 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });

describe('isolation', () => {
  it('allows all traffic between unselected pods', () => {
    const evaluator = createNetworkPolicyEvaluator([denyAllIngress('billing')], namespaces);

    const decision = evaluator.decide({ from: web, to: api, port: 1234, protocol: 'UDP' });

    expect(decision.allowed).toBe(true);
    expect(decision.egress).toEqual({ isolated: false, allowed: true, policies: [] });
    expect(decision.ingress).toEqual({ isolated: false, allowed: true, policies: [] });
  });

  it('denies ingress under a default-deny ingress policy', () => {
    const evaluator = createNetworkPolicyEvaluator([denyAllIngress('shop')], namespaces);

    const decision = evaluator.decide({ from: web, to: api, port: 9000 });

    expect(decision.allowed).toBe(false);
    expect(decision.ingress).toEqual({ isolated: true, allowed: false, policies: ['shop/deny-ingress'] });
    expect(decision.egress.isolated).toBe(false);
  });

  it('leaves egress open under a default-deny ingress policy', () => {
    const evaluator = createNetworkPolicyEvaluator([denyAllIngress('shop')], namespaces);

    const decision = evaluator.decide({ from: web, to: { ip: '203.0.113.7' }, port: 443 });

    expect(decision.allowed).toBe(true);
  });

  it('denies egress under a default-deny egress policy', () => {
    const evaluator = createNetworkPolicyEvaluator([denyAllEgress('shop')], namespaces);

    const toPod = evaluator.decide({ from: web, to: invoices, port: 80 });
    const toExternal = evaluator.decide({ from: web, to: { ip: '203.0.113.7' }, port: 443 });

    expect(toPod.allowed).toBe(false);
    expect(toPod.egress).toEqual({ isolated: true, allowed: false, policies: ['shop/deny-egress'] });
    expect(toPod.ingress.isolated).toBe(false);
    expect(toExternal.allowed).toBe(false);
    expect(toExternal.ingress).toEqual({ isolated: false, allowed: true, policies: [] });
  });

  it('allows a pod to reach itself even when isolated', () => {
    const evaluator = createNetworkPolicyEvaluator([denyAllIngress('shop'), denyAllEgress('shop')], namespaces);

    const decision = evaluator.decide({ from: web, to: web, port: 8080 });

    expect(decision.allowed).toBe(true);
    expect(decision.ingress.isolated).toBe(true);
    expect(decision.egress.isolated).toBe(true);
  });
});

describe('policyTypes defaulting', () => {
  it('makes a policy without policyTypes an Ingress policy', () => {
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'no-types', { podSelector: {} })], namespaces);

    const decision = evaluator.decide({ from: web, to: api, port: 9000 });

    expect(decision.ingress.isolated).toBe(true);
    expect(decision.egress.isolated).toBe(false);
  });

  it('adds Egress when the egress list is non-empty', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'dns-only', spec)], namespaces);

    const dns = evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'UDP' });
    const https = evaluator.decide({ from: web, to: { ip: '203.0.113.7' }, port: 443 });

    expect(dns.egress).toEqual({ isolated: true, allowed: true, policies: ['shop/dns-only'] });
    expect(https.egress).toEqual({ isolated: true, allowed: false, policies: ['shop/dns-only'] });
    expect(dns.ingress.isolated).toBe(false);
  });

  it('does not add Egress for an empty egress list', () => {
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'empty-egress', { podSelector: {}, egress: [] })], namespaces);

    const decision = evaluator.decide({ from: web, to: { ip: '203.0.113.7' }, port: 443 });

    expect(decision.egress.isolated).toBe(false);
    expect(decision.allowed).toBe(true);
  });

  it('ignores ingress rules of an Egress-only policy', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, policyTypes: ['Egress'], ingress: [{}], egress: [{}] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'egress-only', spec), denyAllIngress('shop')], namespaces);

    const decision = evaluator.decide({ from: web, to: api, port: 9000 });

    expect(decision.egress).toEqual({ isolated: true, allowed: true, policies: ['shop/egress-only'] });
    expect(decision.ingress).toEqual({ isolated: true, allowed: false, policies: ['shop/deny-ingress'] });
  });
});

describe('peers', () => {
  const fromApiPods = policy('shop', 'db-from-api', {
    podSelector: { matchLabels: { app: 'db' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }] }],
  });

  it('limits a podSelector-only peer to the policy namespace', () => {
    const evaluator = createNetworkPolicyEvaluator([fromApiPods], namespaces);

    expect(evaluator.decide({ from: api, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: invoices, to: db, port: 5432 }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('matches whole namespaces by namespaceSelector alone', () => {
    const spec: NetworkPolicySpec = {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'billing' } } }] }],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'db-from-billing', spec)], namespaces);

    expect(evaluator.decide({ from: invoices, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: pod('billing', 'cron-0', { app: 'cron' }), to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('matches namespaces by the kubernetes.io/metadata.name label', () => {
    const spec: NetworkPolicySpec = {
      podSelector: {},
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'billing' } } }] }],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'from-billing', spec)], namespaces);

    expect(evaluator.decide({ from: invoices, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: devApi, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('labels unlisted namespaces with their name', () => {
    const spec: NetworkPolicySpec = {
      podSelector: {},
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'unlisted' } } }] }],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'from-unlisted', spec)], namespaces);

    expect(evaluator.decide({ from: pod('unlisted', 'job-0'), to: db, port: 5432 }).allowed).toBe(true);
  });

  it('ANDs podSelector and namespaceSelector within one peer', () => {
    const spec: NetworkPolicySpec = {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { team: 'shop' } }, podSelector: { matchLabels: { app: 'api' } } }] },
      ],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'and', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: devApi, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: invoices, to: db, port: 5432 }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('ORs podSelector and namespaceSelector in separate peers', () => {
    const spec: NetworkPolicySpec = {
      podSelector: { matchLabels: { app: 'db' } },
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { team: 'shop' } } }, { podSelector: { matchLabels: { app: 'api' } } }] },
      ],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'or', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: pod('sandbox', 'tool-0', { app: 'tool' }), to: db, port: 5432 }).allowed).toBe(true);
    expect(evaluator.decide({ from: invoices, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('evaluates each matchExpressions operator', () => {
    const cases = [
      { operator: 'In', values: ['api', 'web'], allowedApps: ['api', 'web'] },
      { operator: 'NotIn', values: ['api', 'web'], allowedApps: ['db', 'none'] },
      { operator: 'Exists', values: undefined, allowedApps: ['api', 'web', 'db'] },
      { operator: 'DoesNotExist', values: undefined, allowedApps: ['none'] },
    ] as const;
    const sources = ['api', 'web', 'db', 'none'].map((app) =>
      pod('shop', `${app}-client`, app === 'none' ? { role: 'client' } : { app, role: 'client' }),
    );

    for (const { operator, values, allowedApps } of cases) {
      const spec: NetworkPolicySpec = {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchLabels: { role: 'client' },
                  matchExpressions: [{ key: 'app', operator, ...(values === undefined ? {} : { values: [...values] }) }],
                },
              },
            ],
          },
        ],
      };
      const evaluator = createNetworkPolicyEvaluator([policy('shop', `op-${operator.toLowerCase()}`, spec)], namespaces);
      const allowed = sources
        .filter((source) => evaluator.decide({ from: source, to: db, port: 5432 }).allowed)
        .map((source) => source.labels.app ?? 'none');

      expect(allowed, operator).toEqual([...allowedApps]);
    }
  });

  it('allows all sources for an empty rule', () => {
    const spec: NetworkPolicySpec = { podSelector: { matchLabels: { app: 'web' } }, ingress: [{}] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'web-open', spec)], namespaces);

    expect(evaluator.decide({ from: invoices, to: web, port: 1, protocol: 'SCTP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 65535, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: api, port: 9000 }).ingress.isolated).toBe(false);
  });

  it('treats an empty from list like a missing one', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ from: [], ports: [{ port: 8080 }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'port-only', spec)], namespaces);

    expect(evaluator.decide({ from: invoices, to: web, port: 8080 }).allowed).toBe(true);
    expect(evaluator.decide({ from: invoices, to: web, port: 8081 }).allowed).toBe(false);
  });
});

describe('ports', () => {
  it('defaults a port entry protocol to TCP', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ port: 8080 }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'tcp-8080', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: web, port: 8080 }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 8080, protocol: 'TCP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 8080, protocol: 'UDP' }).allowed).toBe(false);
  });

  it('matches the entry protocol exactly', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ port: 5000, protocol: 'SCTP' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'sctp', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: web, port: 5000, protocol: 'SCTP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 5000 }).allowed).toBe(false);
  });

  it('matches every port of the protocol when port is absent', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'all-udp', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: web, port: 1, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 65535, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: api, to: web, port: 1 }).allowed).toBe(false);
  });

  it('resolves an ingress named port on the destination pod', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'http-in', spec)], namespaces);

    expect(evaluator.decide({ from: api, to: web, port: 8080 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: api, port: 9000 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: api, port: 8080 }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: db, port: 5432 }).allowed).toBe(false);
  });

  it('resolves an egress named port on the destination pod', () => {
    const spec: NetworkPolicySpec = { podSelector: { matchLabels: { app: 'web' } }, egress: [{ ports: [{ port: 'http' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'http-out', spec)], namespaces);

    expect(evaluator.decide({ from: web, to: api, port: 9000 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: api, port: 8080 }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: { ip: '203.0.113.7' }, port: 8080 }).allowed).toBe(false);
  });

  it('requires the named port protocol to match', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ port: 'dns', protocol: 'UDP' }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('kube-system', 'dns-in', spec)], namespaces);

    expect(evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'TCP' }).allowed).toBe(false);
  });

  it('matches an endPort range inclusively', () => {
    const spec: NetworkPolicySpec = { podSelector: {}, ingress: [{ ports: [{ port: 32000, endPort: 32768 }] }] };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'range', spec)], namespaces);
    const allowedAt = (port: number) => evaluator.decide({ from: api, to: web, port }).allowed;

    expect(allowedAt(31999)).toBe(false);
    expect(allowedAt(32000)).toBe(true);
    expect(allowedAt(32500)).toBe(true);
    expect(allowedAt(32768)).toBe(true);
    expect(allowedAt(32769)).toBe(false);
  });
});

describe('ipBlock', () => {
  const egressTo = (ipBlock: { cidr: string; except?: string[] }) =>
    createNetworkPolicyEvaluator(
      [policy('shop', 'to-block', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock }] }] })],
      namespaces,
    );

  it('allows addresses in the CIDR except the excluded ranges', () => {
    const evaluator = egressTo({ cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.3.4/32'] });
    const allowedTo = (ip: string) => evaluator.decide({ from: web, to: { ip }, port: 443 }).allowed;

    expect(allowedTo('10.0.0.1')).toBe(true);
    expect(allowedTo('10.255.255.255')).toBe(true);
    expect(allowedTo('10.1.200.3')).toBe(false);
    expect(allowedTo('10.2.3.4')).toBe(false);
    expect(allowedTo('10.2.3.5')).toBe(true);
    expect(allowedTo('11.0.0.1')).toBe(false);
  });

  it('matches IPv6 addresses', () => {
    const evaluator = egressTo({ cidr: '2001:db8::/32', except: ['2001:db8:ffff::/48'] });
    const allowedTo = (ip: string) => evaluator.decide({ from: web, to: { ip }, port: 443 }).allowed;

    expect(allowedTo('2001:db8::1')).toBe(true);
    expect(allowedTo('2001:0db8:0001:0000:0000:0000:0000:0001')).toBe(true);
    expect(allowedTo('2001:db8:ffff::10')).toBe(false);
    expect(allowedTo('2001:db9::1')).toBe(false);
    expect(allowedTo('10.0.0.1')).toBe(false);
  });

  it('allows every address for 0.0.0.0/0 but not IPv6', () => {
    const evaluator = egressTo({ cidr: '0.0.0.0/0' });

    expect(evaluator.decide({ from: web, to: { ip: '198.51.100.1' }, port: 443 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: { ip: '::1' }, port: 443 }).allowed).toBe(false);
  });

  it('matches a pod only through its ip', () => {
    const evaluator = egressTo({ cidr: '10.0.0.0/8' });
    const apiWithIp = pod('shop', 'api-1', { app: 'api' }, { ip: '10.4.0.12' });

    expect(evaluator.decide({ from: web, to: apiWithIp, port: 9000 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: api, port: 9000 }).allowed).toBe(false);
  });

  it('keeps selector peers inside the cluster', () => {
    const spec: NetworkPolicySpec = {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: {} }] }],
    };
    const evaluator = createNetworkPolicyEvaluator([policy('shop', 'cluster-only', spec)], namespaces);

    expect(evaluator.decide({ from: web, to: invoices, port: 80 }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: { ip: '10.0.0.1' }, port: 80 }).allowed).toBe(false);
  });
});

describe('combined decisions', () => {
  it('denies when egress allows but ingress does not', () => {
    const allowEgress = policy('shop', 'web-egress', {
      podSelector: { matchLabels: { app: 'web' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }] }],
    });
    const evaluator = createNetworkPolicyEvaluator([allowEgress, denyAllIngress('shop')], namespaces);

    const decision = evaluator.decide({ from: web, to: db, port: 5432 });

    expect(decision.allowed).toBe(false);
    expect(decision.egress).toEqual({ isolated: true, allowed: true, policies: ['shop/web-egress'] });
    expect(decision.ingress).toEqual({ isolated: true, allowed: false, policies: ['shop/deny-ingress'] });
  });

  it('unions the rules of all policies selecting a pod', () => {
    const fromWeb = policy('shop', 'api-from-web', {
      podSelector: { matchLabels: { app: 'api' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 9000 }] }],
    });
    const fromBilling = policy('shop', 'api-from-billing', {
      podSelector: { matchLabels: { app: 'api' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'billing' } } }] }],
    });
    const evaluator = createNetworkPolicyEvaluator([fromWeb, fromBilling], namespaces);

    expect(evaluator.decide({ from: web, to: api, port: 9000 }).ingress.policies).toEqual(['shop/api-from-web']);
    expect(evaluator.decide({ from: invoices, to: api, port: 9000 }).ingress.policies).toEqual(['shop/api-from-billing']);
    expect(evaluator.decide({ from: web, to: api, port: 9001 }).allowed).toBe(false);
    expect(evaluator.decide({ from: db, to: api, port: 9000 }).allowed).toBe(false);
  });

  it('records every allowing policy in input order', () => {
    const open = policy('shop', 'open', { podSelector: {}, ingress: [{}] });
    const webOnly = policy('shop', 'web-only', {
      podSelector: {},
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }],
    });
    const evaluator = createNetworkPolicyEvaluator([webOnly, denyAllIngress('shop'), open], namespaces);

    expect(evaluator.decide({ from: web, to: db, port: 5432 }).ingress).toEqual({
      isolated: true,
      allowed: true,
      policies: ['shop/web-only', 'shop/open'],
    });
    expect(evaluator.decide({ from: api, to: db, port: 5432 }).ingress.policies).toEqual(['shop/open']);
  });

  it('records every isolating policy when denied', () => {
    const webOnly = policy('shop', 'web-only', {
      podSelector: {},
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }],
    });
    const evaluator = createNetworkPolicyEvaluator([webOnly, denyAllIngress('shop')], namespaces);

    expect(evaluator.decide({ from: api, to: db, port: 5432 }).ingress).toEqual({
      isolated: true,
      allowed: false,
      policies: ['shop/web-only', 'shop/deny-ingress'],
    });
  });

  it('limits a DNS egress rule to kube-dns', () => {
    const dnsOnly = policy('shop', 'allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ],
    });
    const evaluator = createNetworkPolicyEvaluator([dnsOnly], namespaces);

    expect(evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'UDP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'TCP' }).allowed).toBe(true);
    expect(evaluator.decide({ from: web, to: kubeDns, port: 53, protocol: 'SCTP' }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: kubeDns, port: 9153 }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: metricsServer, port: 53, protocol: 'UDP' }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: pod('shop', 'dns-0', { 'k8s-app': 'kube-dns' }), port: 53, protocol: 'UDP' }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: { ip: '8.8.8.8' }, port: 53, protocol: 'UDP' }).allowed).toBe(false);
    expect(evaluator.decide({ from: web, to: api, port: 9000 }).allowed).toBe(false);
  });
});

describe('validation', () => {
  const rejects = (spec: unknown, message: string | RegExp) =>
    expect(() =>
      createNetworkPolicyEvaluator([policy('shop', 'bad', spec as NetworkPolicySpec)], namespaces),
    ).toThrow(message);

  it('rejects an unknown matchExpressions operator', () => {
    rejects(
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['x'] }] } },
      'NetworkPolicy shop/bad: spec.podSelector.matchExpressions[0].operator: unsupported operator "Equals"',
    );
  });

  it('rejects In without values', () => {
    rejects(
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } },
      'spec.podSelector.matchExpressions[0].values: must be non-empty for operator In',
    );
  });

  it('rejects an invalid CIDR', () => {
    rejects(
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] },
      'NetworkPolicy shop/bad: spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR "10.0.0.0/33"',
    );
    rejects({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '300.0.0.0/8' } }] }] }, 'ipBlock.cidr: invalid CIDR');
    rejects({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.1/8' } }] }] }, 'bits set beyond the /8 prefix');
    rejects({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '2001:db8:::/32' } }] }] }, 'invalid CIDR');
  });

  it('rejects an except range outside the CIDR', () => {
    rejects(
      { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] },
      'spec.egress[0].to[0].ipBlock.except[0]: "10.1.0.0/24" must be a strict subset of cidr',
    );
    rejects(
      { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] },
      'strict subset',
    );
  });

  it('rejects endPort with a named port', () => {
    rejects({ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }, 'endPort cannot be used with a named port');
  });

  it('rejects endPort below port', () => {
    rejects({ podSelector: {}, ingress: [{ ports: [{ port: 90, endPort: 80 }] }] }, 'spec.ingress[0].ports[0].endPort');
  });

  it('rejects a misspelled field', () => {
    rejects({ podSelector: {}, ingress: [{ form: [] }] }, 'spec.ingress[0].form: unknown field');
  });

  it('rejects a peer combining ipBlock with a selector', () => {
    rejects(
      { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] },
      'ipBlock cannot be combined',
    );
  });

  it('rejects a missing podSelector', () => {
    rejects({ ingress: [{}] }, 'spec.podSelector: missing');
  });

  it('rejects an invalid connection port', () => {
    const evaluator = createNetworkPolicyEvaluator([], namespaces);

    expect(() => evaluator.decide({ from: web, to: api, port: 0 })).toThrow('connection.port');
  });

  it('rejects a changed pod under a known namespace/name', () => {
    const evaluator = createNetworkPolicyEvaluator([], namespaces);
    evaluator.decide({ from: web, to: api, port: 80 });

    expect(() => evaluator.decide({ from: { ...web, labels: { app: 'other' } }, to: api, port: 80 })).toThrow(
      'differs from an earlier pod',
    );
  });
});

describe('scale', () => {
  it('decides all pairs of 2,000 pods in 20 namespaces', () => {
    const scaleNamespaces: NamespaceModel[] = [];
    const pods: PodModel[] = [];
    const policies: NetworkPolicyObject[] = [];
    for (let n = 0; n < 20; n++) {
      const namespace = `ns-${n}`;
      scaleNamespaces.push({ name: namespace, labels: { tier: n % 2 === 0 ? 'frontend' : 'backend' } });
      for (let p = 0; p < 100; p++) {
        pods.push(pod(namespace, `pod-${p}`, { app: `app-${p % 10}` }, { ip: `10.${n}.0.${p}` }));
      }
      policies.push(denyAllIngress(namespace));
      for (let a = 0; a < 10; a++) {
        // app-a accepts app-(a-1) from its namespace and any pod of frontend namespaces.
        policies.push(
          policy(namespace, `app-${a}-ingress`, {
            podSelector: { matchLabels: { app: `app-${a}` } },
            ingress: [
              {
                from: [
                  { podSelector: { matchLabels: { app: `app-${(a + 9) % 10}` } } },
                  { namespaceSelector: { matchLabels: { tier: 'frontend' } }, podSelector: { matchLabels: { app: 'app-0' } } },
                ],
                ports: [{ port: 8080 }],
              },
            ],
          }),
        );
      }
    }
    const evaluator = createNetworkPolicyEvaluator(policies, scaleNamespaces);
    const at = (namespace: number, index: number) => pods[namespace * 100 + index]!;

    let allowedCount = 0;
    for (const from of pods) {
      for (const to of pods) {
        if (evaluator.decide({ from, to, port: 8080 }).allowed) {
          allowedCount++;
        }
      }
    }

    // Same namespace, previous app: pod-1 (app-1) to pod-2 (app-2).
    expect(evaluator.decide({ from: at(3, 1), to: at(3, 2), port: 8080 }).ingress.policies).toEqual(['ns-3/app-2-ingress']);
    // Other namespace, previous app, source namespace is backend: denied.
    expect(evaluator.decide({ from: at(3, 1), to: at(4, 2), port: 8080 }).allowed).toBe(false);
    // app-0 of a frontend namespace reaches app-5 anywhere.
    expect(evaluator.decide({ from: at(2, 10), to: at(7, 15), port: 8080 }).allowed).toBe(true);
    // app-0 of a backend namespace does not.
    expect(evaluator.decide({ from: at(1, 10), to: at(7, 15), port: 8080 }).ingress).toEqual({
      isolated: true,
      allowed: false,
      policies: ['ns-7/deny-ingress', 'ns-7/app-5-ingress'],
    });
    // Wrong port.
    expect(evaluator.decide({ from: at(3, 1), to: at(3, 2), port: 8081 }).allowed).toBe(false);
    // Sources allowed per destination: 10 same-namespace pods of the previous
    // app, 100 app-0 pods of the 10 frontend namespaces, and the pod itself.
    // Overlaps: app-1 in a frontend namespace counts its own namespace's app-0
    // pods once, and app-0 in a frontend namespace is itself a frontend app-0 pod.
    const allowedSources = (namespace: number, app: number): number => {
      const frontend = namespace % 2 === 0;
      if (frontend && app === 0) {
        return 10 + 100;
      }
      if (frontend && app === 1) {
        return 100 + 1;
      }
      return 10 + 100 + 1;
    };
    let expected = 0;
    for (let n = 0; n < 20; n++) {
      for (let p = 0; p < 100; p++) {
        expected += allowedSources(n, p % 10);
      }
    }
    expect(allowedCount).toBe(expected);
  }, 60_000);
});

describe('reachable', () => {
  const labelValue = fc.constantFrom('a', 'b', 'c');
  const selector = fc.record(
    {
      matchLabels: fc.dictionary(fc.constantFrom('app', 'tier'), labelValue, { maxKeys: 2 }),
      matchExpressions: fc.array(
        fc.oneof(
          fc.record({ key: fc.constantFrom('app', 'tier'), operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.array(labelValue, { minLength: 1, maxLength: 2 }) }),
          fc.record({ key: fc.constantFrom('app', 'tier'), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
        ),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: [] },
  );
  const namespaceSelector = fc.oneof(fc.constant({}), fc.record({ matchLabels: fc.record({ team: fc.constantFrom('shop', 'billing') }) }));
  const peer = fc.oneof(
    fc.record({ podSelector: selector }),
    fc.record({ namespaceSelector }),
    fc.record({ podSelector: selector, namespaceSelector }),
    fc.record({ ipBlock: fc.record({ cidr: fc.constantFrom('10.0.0.0/8', '10.1.0.0/16', '0.0.0.0/0') }) }),
  );
  const ports = fc.array(fc.record({ port: fc.constantFrom(80, 'http', 9000) }), { maxLength: 2 });
  const rule = (field: 'from' | 'to') => fc.record({ [field]: fc.array(peer, { maxLength: 3 }), ports }, { requiredKeys: [] });
  const spec = fc.record({
    podSelector: selector,
    policyTypes: fc.subarray(['Ingress', 'Egress'] as const, { minLength: 1 }),
    ingress: fc.array(rule('from'), { maxLength: 2 }),
    egress: fc.array(rule('to'), { maxLength: 2 }),
  });
  const pods = fc.array(
    fc.record({
      namespace: fc.constantFrom('shop', 'billing', 'sandbox'),
      labels: fc.record({ app: labelValue, tier: labelValue }, { requiredKeys: [] }),
      ip: fc.option(fc.constantFrom('10.1.2.3', '10.2.0.1', '192.0.2.1'), { nil: undefined }),
    }),
    { minLength: 2, maxLength: 6 },
  );

  it('never leaves out a pod that decide allows, in either direction', () => {
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 4 }), pods, (specs, rawPods) => {
        const policies = specs.map((entry, index) => policy(index % 2 ? 'shop' : 'billing', `p${index}`, entry as NetworkPolicySpec));
        const models = rawPods.map((entry, index): PodModel => ({ name: `pod-${index}`, ...entry, ports: [{ name: 'http', containerPort: 80 }] }));
        const evaluator = createNetworkPolicyEvaluator(policies, namespaces);
        const set = evaluator.podSet(models);
        for (const from of models) {
          const egress = evaluator.reachable(from, 'egress', set);
          models.forEach((to, position) => {
            if (to === from) return;
            for (const port of [80, 9000]) {
              const decision = evaluator.decide({ from, to, port });
              if (decision.egress.allowed && egress !== undefined) expect(egress.has(position), `egress ${from.name} -> ${to.name}:${port}`).toBe(true);
              const ingress = evaluator.reachable(to, 'ingress', set);
              if (decision.ingress.allowed && ingress !== undefined) expect(ingress.has(models.indexOf(from)), `ingress ${from.name} -> ${to.name}:${port}`).toBe(true);
            }
          });
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('names only the pods the rules select', () => {
    const allowApi = policy('shop', 'web-to-api', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }] }] });
    const evaluator = createNetworkPolicyEvaluator([allowApi, denyAllIngress('shop')], namespaces);
    const set = evaluator.podSet([web, api, db, invoices, devApi]);

    expect([...evaluator.reachable(web, 'egress', set)!]).toEqual([1]);
    expect([...evaluator.reachable(api, 'ingress', set)!]).toEqual([]);
    expect(evaluator.reachable(api, 'egress', set)).toBeUndefined();
    expect(evaluator.reachable(invoices, 'ingress', set)).toBeUndefined();
  });
});
