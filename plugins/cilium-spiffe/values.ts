import { stringify } from 'yaml';
import type { KubeObject } from '../../src/k8s/object.js';
import { HELM_VALUES_CONFIG_MAP } from './versions.js';

/**
 * Builds the Helm values of the Cilium chart: Cilium as the kind cluster's CNI, SPIRE mutual authentication
 * with the bundled SPIRE server and agents, and WireGuard transparent encryption. WireGuard is needed because
 * mutual authentication only authenticates the peers and leaves the packets in clear text.
 */
export function buildHelmValues(): Record<string, unknown> {
  return {
    // Kubernetes IPAM gives pods addresses from each node's podCIDR, which kind carves out of its podSubnet.
    ipam: { mode: 'kubernetes' },
    image: { pullPolicy: 'IfNotPresent' },
    // One operator replica is enough for a two-node kind cluster.
    operator: { replicas: 1 },
    authentication: {
      // Helm reference: with authentication disabled, rules that require it still drop traffic, and
      // nothing ever authenticates it.
      enabled: true,
      mutual: {
        spire: {
          enabled: true,
          install: {
            enabled: true,
            // The default is a 1Gi PersistentVolumeClaim; the SPIRE server of a throwaway kind cluster
            // keeps its data in the pod instead. NOTE: entries are rebuilt by the Cilium operator after a
            // SPIRE server restart, which briefly drops connections that need authentication.
            server: { dataStorage: { enabled: false } },
          },
        },
      },
    },
    // Cilium's WireGuard tunnel between nodes uses UDP 51871.
    encryption: { enabled: true, type: 'wireguard' },
  };
}

/** Builds the ConfigMap that carries the Helm values, so the install script and `verify` read the same data. */
export function buildHelmValuesConfigMap(values: Record<string, unknown>, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: HELM_VALUES_CONFIG_MAP.name, namespace: HELM_VALUES_CONFIG_MAP.namespace, labels },
    data: { [HELM_VALUES_CONFIG_MAP.key]: stringify(values, { lineWidth: 0 }) },
  };
}
