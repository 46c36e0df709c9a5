/**
 * Versions of the tools and components every generated repository pins, whatever the mesh.
 * Each pin names the release page it was confirmed on.
 */
export const CORE_VERSIONS = {
  // https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0 lists the node images with their digests.
  kind: 'v0.33.0',
  kindNodeImage: 'kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed',
  kubectl: 'v1.36.4',
  // https://github.com/helm/helm/releases
  helm: 'v3.19.4',
  // https://github.com/projectcalico/calico/releases/tag/v3.32.4
  calico: 'v3.32.4',
  // The verification clients only need a shell, nc and timeout.
  probeImage: 'docker.io/library/busybox:1.37.0',
} as const;
