import type { LiveVerification } from '../plugin/api.js';
import type { Topology } from '../topology/types.js';
import { restrictedSecurityContext, type KubeObject } from '../k8s/object.js';
import { CORE_VERSIONS } from '../versions.js';

/** The identity of the in-mesh client whose ServiceAccount has no edges. */
export const STRANGER = 'verify-stranger';

/** Returns the stranger's namespace: the default namespace when a service uses it, else the first one in use. */
export function strangerNamespace(topology: Topology): string {
  return topology.namespaces.includes(topology.namespace) ? topology.namespace : topology.namespaces[0]!;
}

/** A client pod of the live verification. */
export interface VerificationClient {
  pod: string;
  namespace: string;
  /** The service whose ServiceAccount and labels the pod carries, or the stranger's. */
  identity: string;
  kind: 'meshed' | 'stranger' | 'unmeshed';
}

/** Lists the verification clients: one per service, a stranger, and an unmeshed twin of each caller when the mesh allows it. */
export function listClients(topology: Topology, verification: LiveVerification): VerificationClient[] {
  const clients: VerificationClient[] = topology.services.map((service) => ({
    pod: `verify-${service.name}`.slice(0, 63).replace(/-+$/, ''),
    namespace: service.namespace,
    identity: service.name,
    kind: 'meshed',
  }));
  clients.push({ pod: STRANGER, namespace: strangerNamespace(topology), identity: STRANGER, kind: 'stranger' });

  if (verification.unmeshedClient) {
    const callers = new Set(topology.edges.map((edge) => edge.from));
    for (const service of topology.services) {
      if (!callers.has(service.name)) continue;
      clients.push({ pod: `verify-unmeshed-${service.name}`.slice(0, 63).replace(/-+$/, ''), namespace: service.namespace, identity: service.name, kind: 'unmeshed' });
    }
  }
  return clients;
}

/** Builds the client pods (and the stranger's ServiceAccount) as objects for verify/clients.yaml. */
export function buildClientObjects(topology: Topology, clients: VerificationClient[], verification: LiveVerification): KubeObject[] {
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: STRANGER, namespace: strangerNamespace(topology), labels: { 'app.kubernetes.io/component': 'verify-client' } },
      automountServiceAccountToken: false,
    },
  ];

  for (const client of clients) {
    const mesh = clientMeshSettings(topology, client, verification);
    objects.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: client.pod,
        namespace: client.namespace,
        labels: {
          ...mesh.labels,
          'app.kubernetes.io/name': client.identity,
          'app.kubernetes.io/part-of': topology.name,
          'app.kubernetes.io/component': 'verify-client',
        },
        ...(Object.keys(mesh.annotations).length > 0 && { annotations: mesh.annotations }),
      },
      spec: {
        serviceAccountName: client.identity,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        ...(client.kind !== 'unmeshed' && verification.meshedClient.volumes && { volumes: verification.meshedClient.volumes }),
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'probe',
            image: CORE_VERSIONS.probeImage,
            command: ['sleep', '3600'],
            securityContext: restrictedSecurityContext(),
            resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '32Mi' } },
          },
        ],
      },
    });
  }
  return objects;
}

/** Returns the mesh's annotations and labels for a client: per identity where the mesh sets them so, else shared. */
function clientMeshSettings(topology: Topology, client: VerificationClient, verification: LiveVerification): { annotations: Record<string, string>; labels: Record<string, string> } {
  if (client.kind === 'unmeshed') return verification.unmeshedClient!;
  const service = topology.services.find((candidate) => candidate.name === client.identity);
  if (client.kind === 'meshed' && service && verification.meshedClientFor) return verification.meshedClientFor(service);
  return verification.meshedClient;
}
