/**
 * The settings an image needs to run under Pod Security `restricted`: its non-root user and the paths it writes.
 * The root filesystem is read-only, so every path the image writes gets a volume.
 */
export interface ImageProfile {
  /** UID and GID to run as; `restricted` requires a non-root user, and the image must work as this one. */
  user: number;
  group: number;
  /** Paths that hold data that must outlive the pod: a PersistentVolumeClaim for StatefulSets. */
  dataPath?: string;
  /** Paths the program writes at run time; each gets an emptyDir. */
  scratchPaths: string[];
  /** Environment variables that point the program at the writable paths. */
  env: Record<string, string>;
  /** The working directory, when the program writes into it and the image's own is read-only. */
  workingDir?: string;
  /**
   * Keeps the root filesystem writable, for programs that write in places no one has listed. Pod Security
   * `restricted` allows it; the other restrictions still apply.
   */
  writableRoot?: boolean;
  /** The source of these facts, for the generated README. */
  source: string;
}

interface KnownImage {
  /** Repository without tag, in the normalised form `registry/path`. */
  repository: string;
  profile: ImageProfile;
}

const KNOWN_IMAGES: KnownImage[] = [
  {
    // docker-library/postgres 17 Dockerfile: user postgres is UID/GID 999, PGDATA defaults to
    // /var/lib/postgresql/data, and the socket directory /var/run/postgresql must be writable.
    // A subdirectory of the volume is used as PGDATA because initdb rejects a mount point that contains lost+found.
    repository: 'docker.io/library/postgres',
    profile: {
      user: 999,
      group: 999,
      dataPath: '/var/lib/postgresql/data',
      scratchPaths: ['/var/run/postgresql', '/tmp'],
      env: { PGDATA: '/var/lib/postgresql/data/pgdata' },
      source: 'docker-library/postgres Dockerfile (user postgres, UID 999)',
    },
  },
  {
    // docker-library/mysql Dockerfile: user mysql is UID/GID 999; mysqld writes its socket under /var/run/mysqld.
    repository: 'docker.io/library/mysql',
    profile: {
      user: 999,
      group: 999,
      dataPath: '/var/lib/mysql',
      scratchPaths: ['/var/run/mysqld', '/tmp'],
      env: {},
      source: 'docker-library/mysql Dockerfile (user mysql, UID 999)',
    },
  },
  {
    // docker-library/mongo Dockerfile: user mongodb is UID/GID 999; data in /data/db, config in /data/configdb.
    repository: 'docker.io/library/mongo',
    profile: {
      user: 999,
      group: 999,
      dataPath: '/data/db',
      scratchPaths: ['/data/configdb', '/tmp'],
      env: {},
      source: 'docker-library/mongo Dockerfile (user mongodb, UID 999)',
    },
  },
  {
    // docker-library/redis Dockerfile: user redis is UID/GID 999; the working directory /data contains dumps.
    repository: 'docker.io/library/redis',
    profile: {
      user: 999,
      group: 999,
      scratchPaths: ['/data', '/tmp'],
      env: {},
      source: 'docker-library/redis Dockerfile (user redis, UID 999)',
    },
  },
  {
    // vfarcic/cncf-demo: the image runs as root and writes traces.json into its working directory, which is /.
    repository: 'docker.io/vfarcic/cncf-demo',
    profile: {
      user: 65532,
      group: 65532,
      scratchPaths: ['/tmp'],
      env: {},
      workingDir: '/tmp',
      source: 'vfarcic/cncf-demo Dockerfile (runs as root, writes traces.json to its working directory)',
    },
  },
  ...['details', 'productpage', 'ratings'].map((name) => ({
    // Istio's samples/bookinfo/src/*/Dockerfile at 1.30.3: USER 1000.
    repository: `registry.istio.io/release/examples-bookinfo-${name}-v1`,
    profile: { user: 1000, group: 1000, scratchPaths: ['/tmp'], env: {}, source: 'Istio Bookinfo Dockerfile (USER 1000)' },
  })),
  ...['v1', 'v2', 'v3'].map((version) => ({
    // Istio's samples/bookinfo/src/reviews Dockerfile at 1.30.3: USER 1001; Open Liberty writes under /opt/ibm/wlp/output.
    repository: `registry.istio.io/release/examples-bookinfo-reviews-${version}`,
    profile: {
      user: 1001,
      group: 1001,
      scratchPaths: ['/opt/ibm/wlp/output', '/tmp'],
      env: { LOG_DIR: '/tmp/logs' },
      // NOTE: Istio's own manifest never runs reviews with a read-only root, and Open Liberty's start-up writes
      // are not listed anywhere (the image runs from /opt/ol/wlp), so the root stays writable.
      writableRoot: true,
      source: 'Istio Bookinfo reviews Dockerfile (USER 1001, Open Liberty; writable root)',
    },
  })),
];

/** The profile for images that are not in the table: an unprivileged user, a read-only root and a writable /tmp. */
export const DEFAULT_IMAGE_PROFILE: ImageProfile = {
  user: 65532,
  group: 65532,
  scratchPaths: ['/tmp'],
  env: {},
  source: 'default for images not in the table: UID 65532, writable /tmp only',
};

/** Returns how `image` runs under Pod Security `restricted`. */
export function profileOf(image: string): ImageProfile {
  const repository = normaliseRepository(image);
  return KNOWN_IMAGES.find((known) => known.repository === repository)?.profile ?? DEFAULT_IMAGE_PROFILE;
}

/** Strips the tag and digest and adds Docker Hub's defaults, so `postgres:17` becomes `docker.io/library/postgres`. */
export function normaliseRepository(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  const repository = lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;

  const parts = repository.split('/');
  const hasRegistry = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!);
  if (hasRegistry) return repository;
  if (parts.length === 1) return `docker.io/library/${repository}`;
  return `docker.io/${repository}`;
}

/** Returns how a service's container runs: its image's profile with the topology's own settings applied on top. */
export function runtimeProfileOf(service: { image: string; runAsUser?: number; runAsGroup?: number; writablePaths: string[] }): ImageProfile {
  const profile = profileOf(service.image);
  const overridden = service.runAsUser !== undefined || service.runAsGroup !== undefined || service.writablePaths.length > 0;
  if (!overridden) return profile;
  return {
    ...profile,
    user: service.runAsUser ?? profile.user,
    group: service.runAsGroup ?? service.runAsUser ?? profile.group,
    scratchPaths: [...new Set([...profile.scratchPaths, ...service.writablePaths])],
    source: `${profile.source}, with the topology's runAsUser, runAsGroup and writablePaths`,
  };
}
