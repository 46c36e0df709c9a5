import type { KubeObject } from '../../src/k8s/object.js';
import { createNetworkPolicyEvaluator, type NamespaceModel, type NetworkPolicyObject, type PodModel } from '../../src/netpol/evaluate.js';
import type { MeshDecision, Source } from '../../src/plugin/api.js';
import type { ExternalService, Topology } from '../../src/topology/types.js';
import { candidateAddresses, collectBoundaries, describeRanges, rangesOf } from '../../src/verify/address-ranges.js';


/**
 * Decides egress to external dependencies by NetworkPolicy, the only layer that limits it under NSM.
 *
 * NSM v1.18.0 has no egress resource (deployments-k8s apps/registry-k8s defines only the NetworkService and
 * NetworkServiceEndpoint CRDs), and this plugin sends no traffic to hosts outside the cluster over NSM. Calico
 * open source v3.32 matches destinations by address only: its EntityRule has nets, selectors, ports, service
 * accounts and services, and its NetworkSet has only nets (tigera/docs calico_versioned_docs/version-3.32,
 * _includes/content/_entityrule.mdx and reference/resources/networkset.mdx). Domain names in policy are a
 * Calico Enterprise and Calico Cloud feature (docs.tigera.io "DNS policy"). So this evaluator decides, from the
 * NetworkPolicies in the manifests, whether a pod with the source's labels may open TCP connections to the
 * external's port at any address the external may have: its `addresses`, or without them any public address.
 */
export class ExternalEgressEvaluator {
  private readonly evaluator: ReturnType<typeof createNetworkPolicyEvaluator>;
  /** Every start and end of an ipBlock range in the policies, by family: the points where a decision can change. */
  private readonly boundaries: Map<4 | 6, bigint[]>;
  /** The pod model name of each namespace and label set, because the evaluator rejects two different pods with one name. */
  private readonly podNames = new Map<string, string>();

  constructor(objects: KubeObject[], topology: Topology) {
    const policies = objects.filter((object) => object.kind === 'NetworkPolicy' && object.apiVersion === 'networking.k8s.io/v1') as unknown as NetworkPolicyObject[];
    this.evaluator = createNetworkPolicyEvaluator(policies, readNamespaces(objects, topology));
    this.boundaries = collectBoundaries(policies);
  }

  decide(source: Source, external: ExternalService): MeshDecision {
    const ranges = rangesOf(external);
    const candidates = candidateAddresses(ranges, this.boundaries);
    const pod = this.podOf(source);
    const allowedAt: string[] = [];
    const policies = new Set<string>();
    let denial = '';
    for (const address of candidates) {
      const decision = this.evaluator.decide({ from: pod, to: { ip: address }, port: external.port, protocol: 'TCP' });
      if (decision.allowed) {
        allowedAt.push(address);
        for (const policy of decision.egress.policies) policies.add(policy);
      } else if (!denial) {
        denial = decision.egress.policies.length > 0 ? `no egress rule of ${decision.egress.policies.join(', ')} allows it` : '';
      }
    }

    const target = `TCP ${external.port} to ${describeRanges(external)}`;
    if (allowedAt.length === 0) {
      return { allowed: false, mtls: false, reason: `NetworkPolicy denies ${target}: ${denial || 'no policy allows it'}` };
    }
    const by = policies.size > 0 ? [...policies].sort().join(', ') : `no policy isolates the egress of ${source.namespace}/${source.service}`;
    const part = allowedAt.length < candidates.length ? ` (only part of that range, starting at ${allowedAt[0]})` : '';
    return {
      allowed: true,
      mtls: false,
      reason: `NetworkPolicy allows ${target}${part}: ${by}. Any host at those addresses is reachable, not only ${external.host}, because Calico open source and NSM have no rule by host name`,
    };
  }

  private podOf(source: Source): PodModel {
    const key = JSON.stringify([source.namespace, Object.entries(source.labels).sort()]);
    let name = this.podNames.get(key);
    if (!name) {
      name = `external-client-${this.podNames.size}`;
      this.podNames.set(key, name);
    }
    return { name, namespace: source.namespace, labels: source.labels };
  }
}

/** Lists the namespaces of the manifests and of the topology with their labels, as NetworkPolicy selects them. */
function readNamespaces(objects: KubeObject[], topology: Topology): NamespaceModel[] {
  const declared = new Map(objects.filter((object) => object.kind === 'Namespace').map((object) => [object.metadata.name, object.metadata.labels ?? {}]));
  const names = new Set([...topology.namespaces, ...declared.keys()]);
  return [...names].map((name) => ({ name, labels: { ...(declared.get(name) ?? {}), 'kubernetes.io/metadata.name': name } }));
}
