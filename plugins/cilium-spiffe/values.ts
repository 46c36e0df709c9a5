import { stringifyDocument } from '../../src/yaml/emit.js';
import type { KubeObject } from '../../src/k8s/object.js';
import { HELM_VALUES_CONFIG_MAP } from './versions.js';

/**
 * Builds the Helm values of the Cilium chart: Cilium as the kind cluster's CNI, SPIRE mutual authentication
 * with the bundled SPIRE server and agents, and WireGuard transparent encryption. WireGuard is needed because
 * mutual authentication only authenticates the peers and leaves the packets in clear text. With `gateway`,
 * also Cilium's Gateway API controller, for a topology that exposes services.
 */
export function buildHelmValues(gateway = false): Record<string, unknown> {
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
    ...(gateway && gatewayValues()),
  };
}

/**
 * Returns the values that turn on Cilium's Gateway API controller with its Envoy listening on the nodes' host network,
 * because kind has no load balancer for the LoadBalancer Service Cilium would otherwise create.
 * Sources: Documentation/network/servicemesh/gateway-api/installation.rst and host-network-mode.rst, and the
 * Helm reference table (gatewayAPI.*, envoy.*) of the same era; the 1.19.6 values.yaml itself could not be opened.
 */
function gatewayValues(): Record<string, unknown> {
  return {
    // The operator leaves Gateway API off, with only a warning, without the kube-proxy replacement
    // (operator/pkg/gateway-api/cell.go). As Cilium's guides do, the kind cluster then runs without kube-proxy
    // (the plugin sets kubeProxy: false, so kind.yaml sets kubeProxyMode: none).
    kubeProxyReplacement: true,
    // With `auto` the chart reads the API server's address from kubeadm's cluster-info ConfigMap in
    // kube-public, which kind creates, so the agent does not depend on kube-proxy's ClusterIP rules.
    k8sServiceHost: 'auto',
    // Envoy is Cilium's L7 proxy; the chart rejects Gateway API with it turned off (true is the default).
    l7Proxy: true,
    gatewayAPI: {
      enabled: true,
      // Create the `cilium` GatewayClass even if Helm cannot see the Gateway API CRDs when it renders.
      gatewayClass: { create: 'true' },
      // Envoy (the cilium-envoy DaemonSet, which tolerates every taint and so also runs on the control-plane
      // node) binds each listener port on the host network of every node.
      hostNetwork: { enabled: true },
      // Backend protocol from the Service's appProtocol (GEP-1911): HTTP/2 and gRPC ports get kubernetes.io/h2c.
      enableAppProtocol: true,
    },
  };
}

/** Builds the ConfigMap that carries the Helm values, so the install script and `verify` read the same data. */
export function buildHelmValuesConfigMap(values: Record<string, unknown>, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: HELM_VALUES_CONFIG_MAP.name, namespace: HELM_VALUES_CONFIG_MAP.namespace, labels },
    // The core's emitter writes what yaml.stringify writes with the core's options, without loading yaml.
    data: { [HELM_VALUES_CONFIG_MAP.key]: stringifyDocument(values) },
  };
}
