/**
 * Network Service Mesh v1.18.0, the newest release tag of networkservicemesh/deployments-k8s (2026-04-07; only
 * v1.19.0-rc.1 is newer). SPIRE, the NSM components and the endpoint image all come from that tag.
 */
export const NSM_VERSION = 'v1.18.0';

/** The repository whose kustomizations install SPIRE and NSM, pinned to {@link NSM_VERSION} with `?ref=`. */
export const DEPLOYMENTS_REPOSITORY = 'github.com/networkservicemesh/deployments-k8s';

/** The raw-file address of the same repository at the pinned tag. */
export const DEPLOYMENTS_RAW = `https://raw.githubusercontent.com/networkservicemesh/deployments-k8s/${NSM_VERSION}`;

/**
 * The SPIRE trust domain of deployments-k8s: `trust_domain = "k8s.nsm"` in examples/spire/single_cluster/server.conf
 * and `trustDomain: k8s.nsm` in its spire-controller-manager config, at v1.18.0.
 */
export const TRUST_DOMAIN = 'k8s.nsm';

/** The namespace of nsmgr, the forwarder, the registry and the admission webhook (examples/pss/nsm-system at v1.18.0). */
export const NSM_NAMESPACE = 'nsm-system';

/** The annotation a client pod requests network services with (NSM_ANNOTATION of admission-webhook-k8s at v1.18.0). */
export const CLIENT_ANNOTATION = 'networkservicemesh.io';

/** The pod label the SPIRE registrations select NSM workloads by; the admission webhook adds it to each client (NSM_LABELS). */
export const SPIFFE_LABEL = 'spiffe.io/spiffe-id';

/** The endpoint image of examples/features/webhook and examples/pss/use-cases/nginx (apps/nse-kernel at v1.18.0). */
export const ENDPOINT_IMAGE = `ghcr.io/networkservicemesh/cmd-nse-icmp-responder:${NSM_VERSION}`;

/** CSI drivers that replace hostPath sockets under Pod Security `restricted` (examples/pss at v1.18.0). */
export const SPIFFE_CSI_DRIVER = 'csi.spiffe.io';
export const NSM_CSI_DRIVER = 'csi.networkservicemesh.io';

/**
 * Where the endpoint reads extra server policies. The sdk's authorize server (sdk v1.18.0,
 * pkg/tools/opa/policies.go) loads `etc/nsm/opa/server/.*.rego` as `policies/server/*.rego` relative to the working
 * directory, from disk first and then from the policies built into the binary. The image sets no WORKDIR.
 */
export const ENDPOINT_WORKING_DIR = '/';
export const ENDPOINT_POLICY_DIR = '/policies/server';

/**
 * The address range of the endpoints' NSM networks: one /24 per called service. 172.16.0.0/12 is the private
 * range the upstream examples take their NSM_CIDR_PREFIX from, and it does not overlap kind's pod subnet
 * (192.168.0.0/16) or its Service range (10.96.0.0/12).
 */
export const NSM_PREFIX_BASE = [172, 16] as const;
export const NSM_PREFIX_COUNT = 16 * 256;

/**
 * The plugin option that picks the application's path to its callees. `nsm`: each called Service is headless, so
 * its DNS name gives the callee pod's own address, and every caller routes that address over its NSM interface.
 * `cluster-network`: the app calls the Service's cluster address, outside NSM, limited by NetworkPolicy only.
 */
export const APP_PATH_OPTION = 'nsm-app-path';
export const APP_PATHS = ['nsm', 'cluster-network'] as const;
export type AppPath = (typeof APP_PATHS)[number];

/**
 * The folder and file of the endpoint's policy routes, which it sends to every client: NSM_PBR_CONFIG_PATH of
 * cmd-nse-icmp-responder v1.18.0 (main.go), whose default is this path. The sdk-kernel v1.18.0 iprule element
 * installs them in the client pod as an ip rule and a routing table of their own.
 */
export const ROUTES_DIR = '/etc/policy-based-routing';
export const ROUTES_FILE = 'config.yaml';

/**
 * Volume names the admission webhook gives the client sidecar's sockets (createVolumesPatch in
 * cmd-admission-webhook-k8s v1.18.0, main.go). It adds them without checking for volumes of the same name, so a
 * pod that is both a caller and a callee must not use these names for its endpoint's sockets.
 */
export const WEBHOOK_VOLUME_NAMES = ['spire-agent-socket', 'nsm-socket'] as const;
