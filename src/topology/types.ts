/** Application protocols a service port can speak; plugins map each one to what their mesh understands. */
export const PROTOCOLS = ['http', 'http2', 'grpc', 'tcp', 'postgres', 'mysql', 'redis', 'mongodb'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Protocols whose servers keep data, so their services run as StatefulSets with a volume. */
export const STATEFUL_PROTOCOLS: ReadonlySet<Protocol> = new Set(['postgres', 'mysql', 'mongodb']);

/** A port of a service after normalisation: every default is filled in. */
export interface ServicePort {
  /** Port name, unique in the service; also the container port's name, so at most 15 characters. */
  name: string;
  /** The Kubernetes Service port. */
  port: number;
  /** The container port the Service forwards to. */
  targetPort: number;
  protocol: Protocol;
}

/** A container environment variable: a literal value, or a reference to a generated Secret. */
export type EnvVar = { name: string; value: string } | { name: string; secret: string };

/** A workload of the topology after normalisation. */
export interface Service {
  name: string;
  namespace: string;
  image: string;
  replicas: number;
  ports: ServicePort[];
  /** Sorted by name. */
  env: EnvVar[];
  /** True when a port speaks a database protocol: the service then runs as a StatefulSet. */
  stateful: boolean;
  /** Replaces the image's entrypoint, when given. */
  command?: string[];
  /** Replaces the image's arguments, when given. */
  args?: string[];
  /** The non-root user and group the container runs as, when the image's built-in profile does not fit. */
  runAsUser?: number;
  runAsGroup?: number;
  /** Paths the program writes, each mounted as an emptyDir on the read-only root filesystem. Sorted. */
  writablePaths: string[];
  /** The Service ports reachable from outside the cluster through the mesh's gateway, sorted; empty when none. */
  exposedPorts: number[];
}

/** The protocols an external dependency can speak: `tls` for any protocol inside TLS, whose SNI names the host. */
export const EXTERNAL_PROTOCOLS = ['tls', 'http', 'tcp', 'postgres', 'mysql', 'redis', 'mongodb'] as const;
export type ExternalProtocol = (typeof EXTERNAL_PROTOCOLS)[number];

/** A dependency outside the cluster, such as a managed database or a partner API, that services may call. */
export interface ExternalService {
  name: string;
  /** The DNS name the callers connect to. */
  host: string;
  port: number;
  protocol: ExternalProtocol;
  /**
   * The address ranges (CIDR) the host resolves into, for NetworkPolicy, which cannot name hosts. Empty when not
   * given: NetworkPolicy then allows every address outside the private, loopback and link-local ranges.
   */
  addresses: string[];
}

/** A declared call to an external dependency. */
export interface ExternalEdge {
  from: string;
  to: ExternalService;
}

/** A service port reachable from outside the cluster, and the host name the gateway routes to it. */
export interface Exposure {
  service: string;
  namespace: string;
  port: ServicePort;
  hostname: string;
}

/** One allowed connection: `from` may open connections to one port of `to`. */
export interface Edge {
  from: string;
  to: string;
  port: ServicePort;
}

/** A validated, normalised topology: the input of every plugin. Lists are sorted, so output is deterministic. */
export interface Topology {
  name: string;
  /** The default namespace of the services. */
  namespace: string;
  /** Every namespace a service uses, sorted. */
  namespaces: string[];
  /** Sorted by name. */
  services: Service[];
  /** Sorted by caller, callee and port. */
  edges: Edge[];
  /** External dependencies, sorted by name. */
  externals: ExternalService[];
  /** Calls to external dependencies, sorted by caller and callee. */
  externalEdges: ExternalEdge[];
  /** Every exposed service port, sorted by service and port. */
  exposures: Exposure[];
}
