// Types for the subset of the Kubernetes `networking.k8s.io/v1` NetworkPolicy
// API that the evaluator reads. Field names and meanings follow the API
// reference: https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export type PolicyType = 'Ingress' | 'Egress';

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** One `matchExpressions` entry of a label selector. */
export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values?: string[];
}

/** Kubernetes label selector. An empty selector `{}` matches every object. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Address range of a peer, minus the ranges in `except`. */
export interface IPBlock {
  cidr: string;
  except?: string[];
}

/**
 * Peer of a rule: either `ipBlock` alone, or `podSelector`, `namespaceSelector`
 * or both (both means the pod must match both).
 */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

/** Port entry of a rule. `port` is a number or a container port name. */
export interface NetworkPolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: PolicyType[];
  ingress?: NetworkPolicyIngressRule[];
  egress?: NetworkPolicyEgressRule[];
}

export interface NetworkPolicyObject {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: NetworkPolicySpec;
}
