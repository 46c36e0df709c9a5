import type { KubeObject } from '../k8s/object.js';
import type { PrecompiledTemplate } from '../render/template.js';
import type { Edge, Exposure, ExternalEdge, ExternalService, Service, ServicePort, Topology } from '../topology/types.js';

/**
 * The plugin API version this release implements. A plugin declares the version it was written for in
 * `apiVersion`, and the loader rejects any other.
 */
export const PLUGIN_API_VERSION = 1;

/** A mesh plugin: the one object a plugin module exports, as its default export or as `plugin`. */
export interface MeshPlugin {
  /** The plugin API version the plugin implements; must equal {@link PLUGIN_API_VERSION}. */
  apiVersion: number;
  /** The value of `--mesh`: a DNS-1123 label such as `istio`. */
  id: string;
  /** The mesh's name for people, such as `Istio`. */
  displayName: string;
  /** The plugin's own version, recorded in every repository it generates. */
  version: string;
  /** One line for `create-zero-trust-app plugins` and the mesh prompt. */
  description: string;
  /** Every component the plugin pins, by name, with its exact version: for example `{ istio: '1.30.1' }`. */
  meshVersions: Record<string, string>;
  /** Extra choices the plugin offers; each becomes a `--<name>` flag and, on a terminal, a prompt. */
  options?: PluginOption[];
  /** Builds the mesh's part of the repository. Must be pure: the same context always gives the same result. */
  generate(context: GenerateContext): MeshGeneration;
  /** Builds the evaluator that `verify` uses to decide what the mesh's own resources allow. */
  evaluate(context: EvaluateContext): MeshEvaluator;
}

/** A choice a plugin offers, such as Istio's data plane mode. */
export interface PluginOption {
  /** The flag name without dashes; start it with the plugin id, as in `istio-mode`. */
  name: string;
  /** Help text for the flag and the prompt. */
  description: string;
  /** The values the option accepts. */
  choices: string[];
  /** The value used with `--yes`, without a terminal, or when the user accepts the default. */
  default: string;
}

/** The input of `generate`. */
export interface GenerateContext {
  /** The validated, normalised topology. */
  topology: Topology;
  /** The value of every option the plugin declares, defaults filled in. */
  options: Record<string, string>;
  /**
   * Renders a Handlebars template with the core's helpers (`shell`, `yamlString`, `json`, `join`, `eq`). Pass the
   * default export of an imported `.hbs` file, which the build precompiles; a string is rejected.
   */
  render(template: PrecompiledTemplate, data: unknown): string;
}

/** A file the plugin adds to the repository, outside the manifests. */
export interface GeneratedFile {
  /** Path relative to the repository root, with `/` separators. */
  path: string;
  content: string;
  /** Marks scripts, which are written with mode 0755. */
  executable?: boolean;
}

/** A command-line tool the repository needs, checked by `make tools`. */
export interface Tool {
  /** The command name, such as `istioctl`. */
  name: string;
  /** The pinned version. */
  version: string;
  /** A shell command that prints the installed version. */
  versionCommand: string;
  /** How to install the pinned version, shown when the tool is missing. */
  install: string;
}

/** The mesh's part of the repository, returned by {@link MeshPlugin.generate}; the core assembles the rest. */
export interface MeshGeneration {
  /**
   * The component that enforces NetworkPolicy in the kind cluster: `calico` makes the core install Calico, and
   * `plugin` means the plugin's install script installs the CNI itself (as Cilium does).
   */
  cni: 'calico' | 'plugin';
  /**
   * False when the mesh replaces kube-proxy (Cilium's kube-proxy replacement, which its Gateway API needs): the
   * kind cluster is then created without kube-proxy. True (the default) keeps it.
   */
  kubeProxy?: boolean;
  /** Labels for every application namespace, such as the mesh's injection label. */
  namespaceLabels: Record<string, string>;
  /** Annotations for every application namespace, for meshes configured by annotation (Linkerd's `linkerd.io/inject`). */
  namespaceAnnotations?: Record<string, string>;
  /** The Pod Security level the application namespaces enforce, `restricted` unless the mesh cannot meet it. */
  podSecurity: 'restricted' | 'baseline';
  /** The reason a level below `restricted` is needed, required when `podSecurity` is not `restricted`. */
  podSecurityReason?: string;
  /** Changes a service's pod template: mesh labels, annotations, extra containers. Returns the new template. */
  podTemplate?(service: Service, template: PodTemplate): PodTemplate;
  /**
   * Changes a service's Kubernetes Service, for example to make it headless so that its DNS name gives the pods'
   * own addresses. Returns the new object, which must keep its kind, name and namespace.
   */
  service?(service: Service, object: KubeObject): KubeObject;
  /** The Service `appProtocol` for a port, so the mesh never has to guess the protocol. */
  appProtocol(port: ServicePort, service: Service): string | undefined;
  /** NetworkPolicies the mesh's own traffic needs (proxy to control plane and the like), in application namespaces. */
  networkPolicies: KubeObject[];
  /** The mesh's resources, one file each under `manifests/mesh/`. */
  manifests: ManifestFile[];
  /** The body of `scripts/install-mesh.sh`, run by `make mesh` after the cluster and its CNI are up. */
  installScript: string;
  /** Extra tools `make tools` checks, beyond kind, kubectl and helm. */
  tools: Tool[];
  /** The mesh's settings for the live verification. */
  verify: LiveVerification;
  /** Markdown for the generated README: how the mesh enforces each guarantee, and its known limits. */
  readme: string;
  /**
   * One or two sentences for the top of the generated README, in place of the default promise that every
   * allowed connection is mutual TLS, for a mesh that does not give that on the application's own path.
   */
  readmeSummary?: string;
  /**
   * The gateway that brings traffic from outside the cluster to the exposed services. Required when the
   * topology exposes a service; a plugin without it rejects such topologies.
   */
  ingress?: IngressGateway;
  /**
   * The mesh's limits on egress to external dependencies. Required when the topology declares one, since the
   * core rejects such topologies for a plugin without it.
   */
  egress?: ExternalEgress;
  /** Extra files, such as scripts the install script calls. */
  files?: GeneratedFile[];
  /** Lines added to the generated `.gitignore`, such as generated certificates. */
  gitignore?: string[];
}

/** The pods of a gateway, as NetworkPolicy selects them. */
export interface GatewayPods {
  namespace: string;
  labels: Record<string, string>;
}

/** The mesh's ingress gateway, as the core needs it for NetworkPolicy and the live verification. */
export interface IngressGateway {
  /**
   * The gateway's pods: the core lets them reach each exposed port through the callee's ingress NetworkPolicy.
   * `null` when the gateway is not a pod that NetworkPolicy can select (Cilium's Envoy runs on the nodes), in
   * which case the plugin's own policies must admit it.
   */
  pods: GatewayPods | null;
  /**
   * The way `make verify` reaches the gateway from the machine that runs kind: `kubectl port-forward` to a
   * Service, or a port of the control-plane node that kind maps to the host (`nodePort`).
   */
  entry: { portForward: { namespace: string; service: string; port: number } } | { nodePort: number };
}

/** The mesh's limits on egress to external dependencies. */
export interface ExternalEgress {
  /**
   * One or two sentences for the generated README: what the mesh enforces by host name, and what only by
   * address and port.
   */
  summary: string;
}

/** A route of the ingress gateway, as the mesh's resources define it. */
export interface GatewayRoute {
  /** The host name the route matches. */
  hostname: string;
  /** The service and Service port it sends traffic to. */
  service: string;
  namespace: string;
  port: number;
  /** The resource that defines it, such as `HTTPRoute production/hero-http`. */
  resource: string;
}

/** The ingress gateway as `verify` models it, read from the mesh's resources. */
export interface GatewayModel {
  /** The identity the gateway's connections to services carry. */
  source: Source;
  /** The gateway's pods, for NetworkPolicy; `null` as in {@link IngressGateway.pods}. */
  pods: GatewayPods | null;
  routes: GatewayRoute[];
  /**
   * False when the mesh gives no mTLS from the gateway to the services, as with an nginx gateway outside NSM:
   * verify then accepts plain connections on the exposed ports. True (the default) requires mTLS there.
   */
  mtls?: boolean;
}

/** A file of mesh resources. */
export interface ManifestFile {
  /** File name under `manifests/mesh/`, such as `authorization.yaml`. */
  name: string;
  documents: KubeObject[];
}

/** A pod template as the core builds it, before the plugin's changes. */
export interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown> & { containers: Record<string, unknown>[] };
}

/** The mesh's settings for the live verification script. */
export interface LiveVerification {
  /** Annotations and labels that put a verification client pod into the mesh. */
  meshedClient: {
    annotations: Record<string, string>;
    labels: Record<string, string>;
    /**
     * Volumes added to each meshed client pod, for a proxy that needs one: Kuma's sidecar, for example, reads a
     * projected ServiceAccount token because the clients do not mount the API token. Optional.
     */
    volumes?: Record<string, unknown>[];
  };
  /**
   * Annotations and labels that keep a client pod out of the mesh, while it carries a caller's labels, to show
   * that mTLS is required. `null` when the mesh cannot run such a pod, with the reason in `unmeshedReason`.
   */
  unmeshedClient: { annotations: Record<string, string>; labels: Record<string, string> } | null;
  unmeshedReason?: string;
  /**
   * Annotations and labels for the meshed client that carries `service`'s identity, used instead of
   * `meshedClient` for that client. For meshes whose clients ask for each callee themselves, as NSM clients
   * do with one annotation per caller. The stranger client always uses `meshedClient`.
   */
  meshedClientFor?(service: Service): { annotations: Record<string, string>; labels: Record<string, string> };
  /**
   * False when meshed clients connect straight to the server, as with Cilium and NSM, so a completed TCP
   * handshake proves the connection. True (the default) for sidecar meshes, whose local proxy accepts every
   * connection itself, so the probe then needs a reply from the server.
   */
  meshedClientsUseProxy?: boolean;
  /** The body of `verify/mesh-evidence.sh`: shows with the mesh's own tooling that each declared edge is mTLS. */
  evidenceScript: string;
}

/** The input of `evaluate`: the topology and every object in the repository's manifests. */
export interface EvaluateContext {
  topology: Topology;
  options: Record<string, string>;
  objects: KubeObject[];
}

/** A workload that opens a connection, as the mesh identifies it. */
export interface Source {
  /** The service whose identity the pod carries, or a name that is not a service for a stranger. */
  service: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** False for a pod outside the mesh: no proxy, no workload certificate. */
  meshed: boolean;
}

/** The mesh's decision on one connection. */
export interface MeshDecision {
  allowed: boolean;
  /** True when the connection is mutual TLS. Meaningful only when allowed. */
  mtls: boolean;
  /** The resource that decided, in words: for example `AuthorizationPolicy data/lil-deebee-from-hero`. */
  reason: string;
}

/** A problem the evaluator finds in the mesh resources, beyond single connections. */
export interface Finding {
  /** The object or setting at fault, such as `PeerAuthentication istio-system/default`. */
  subject: string;
  message: string;
}

/** Decides connections by the mesh's own resources. */
export interface MeshEvaluator {
  /** Decides whether `source` may open a connection to `port` of `target`. */
  decide(source: Source, target: Service, port: ServicePort): MeshDecision;
  /**
   * Optional, for speed on large topologies: the names of the services that `source` may be allowed to reach on
   * some port, or `undefined` for every service. It may name services the mesh denies, but never leave out one it
   * allows on any port: verify calls {@link decide} only for the services named here (and those NetworkPolicy or
   * the topology brings up) and counts every other port as denied. Without it, verify decides every pair, which
   * takes minutes on thousands of services. The conformance kit's `verifyCase` checks it against `decide`.
   */
  mayReach?(source: Source): Iterable<string> | undefined;
  /** Problems found in the mesh's setup as a whole, such as a permissive mTLS mode. */
  findings: Finding[];
  /**
   * The ingress gateway and its routes, read from the resources. Required when the topology exposes a service:
   * `verify` then checks that the routes reach exactly the exposed ports and decides each connection from the
   * gateway's identity with {@link decide}.
   */
  gateway?: GatewayModel;
  /**
   * Decides whether `source` may open a connection to an external dependency at the mesh layer. Required when
   * the topology declares external dependencies. `mtls` is not used for these connections.
   */
  decideExternal?(source: Source, external: ExternalService): MeshDecision;
  /**
   * The scope of the mesh's egress rules for external dependencies: per workload (the default), or only per
   * namespace, as with Linkerd's EgressNetwork. With `namespace`, verify accepts the mesh allowing an
   * undeclared client when a declared caller of that dependency shares its namespace; NetworkPolicy must
   * still refuse that client on its own.
   */
  externalScope?: 'workload' | 'namespace';
  /**
   * The way the mesh distinguishes external dependencies: by host name for tls and http ones (the default), or only
   * by address and port, as under NSM. With `address`, verify accepts the mesh allowing a client to reach an
   * undeclared dependency at an address and port it shares with one the client does call.
   */
  externalMatch?: 'host' | 'address';
  /**
   * A sentence on what the mesh's decisions do not cover, printed with verify's result in place of its claim
   * that every declared edge is mTLS. NSM sets it: its decisions are about the NSM links, while the application
   * connects over the cluster network.
   */
  limit?: string;
}

export type { Edge, Exposure, ExternalEdge, ExternalService, PrecompiledTemplate, Service, ServicePort, Topology };
