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
}
