import type { PodTemplate } from '../plugin/api.js';
import type { Service, Topology } from '../topology/types.js';
import { runtimeProfileOf } from '../generate/images.js';
import { SERVER_COMPONENT, restrictedSecurityContext, serviceLabels, type KubeObject } from './object.js';

/** Builds an application namespace with the Pod Security level enforced by label, and the mesh's labels and annotations. */
export function buildNamespace(name: string, topology: Topology, level: string, meshLabels: Record<string, string>, meshAnnotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      ...(Object.keys(meshAnnotations).length > 0 && { annotations: { ...meshAnnotations } }),
      labels: {
        'app.kubernetes.io/part-of': topology.name,
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/warn-version': 'latest',
        ...meshLabels,
      },
    },
  };
}

/** Builds the ServiceAccount that is a service's identity. Its API token is never mounted: no app needs it. */
export function buildServiceAccount(service: Service, topology: Topology): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: service.name, namespace: service.namespace, labels: serviceLabels(service.name, topology.name) },
    automountServiceAccountToken: false,
  };
}

/** Builds the pod template of a service, with a security context that meets Pod Security `restricted`. */
export function buildPodTemplate(service: Service, topology: Topology): PodTemplate {
  const profile = runtimeProfileOf(service);
  const volumes = profile.scratchPaths.map((path, index) => ({ name: `scratch-${index}`, emptyDir: {} }));
  const mounts = profile.scratchPaths.map((path, index) => ({ name: `scratch-${index}`, mountPath: path }));
  if (profile.dataPath && service.stateful) mounts.push({ name: 'data', mountPath: profile.dataPath });

  const env: Record<string, unknown>[] = Object.entries(profile.env).map(([name, value]) => ({ name, value }));
  for (const variable of service.env) {
    if (Object.hasOwn(profile.env, variable.name)) continue;
    if ('secret' in variable) {
      env.push({ name: variable.name, valueFrom: { secretKeyRef: { name: variable.secret, key: 'value' } } });
    } else {
      env.push({ name: variable.name, value: variable.value });
    }
  }
  env.sort((a, b) => (String(a.name) < String(b.name) ? -1 : 1));

  const container: Record<string, unknown> = {
    name: service.name,
    image: service.image,
    ...(profile.workingDir && { workingDir: profile.workingDir }),
    ...(service.command && { command: service.command }),
    ...(service.args && { args: service.args }),
    ports: service.ports.map((port) => ({ name: port.name, containerPort: port.targetPort, protocol: 'TCP' })),
    ...(env.length > 0 && { env }),
    securityContext: restrictedSecurityContext({ user: profile.user, group: profile.group, writableRoot: profile.writableRoot }),
    volumeMounts: mounts,
  };

  return {
    metadata: { labels: { ...serviceLabels(service.name, topology.name), ...SERVER_COMPONENT } },
    spec: {
      serviceAccountName: service.name,
      automountServiceAccountToken: false,
      // The pod-level profile also covers containers a mesh injects, which set none of their own.
      securityContext: {
        runAsNonRoot: true,
        fsGroup: profile.group,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [container],
      volumes,
    },
  };
}

/** Builds the Deployment, or the StatefulSet with a volume claim for a service that keeps data. */
export function buildWorkload(service: Service, topology: Topology, template: PodTemplate): KubeObject {
  const metadata = { name: service.name, namespace: service.namespace, labels: serviceLabels(service.name, topology.name) };
  const selector = { matchLabels: { 'app.kubernetes.io/name': service.name, ...SERVER_COMPONENT } };
  const dataPath = runtimeProfileOf(service).dataPath;

  if (service.stateful) {
    return {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata,
      spec: {
        serviceName: service.name,
        replicas: service.replicas,
        selector,
        template,
        ...(dataPath && {
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
            },
          ],
        }),
      },
    };
  }
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: { replicas: service.replicas, selector, template } };
}

/** Builds the Service; it selects only the application's pods, never the verification clients. */
export function buildService(service: Service, topology: Topology, appProtocol: (index: number) => string | undefined): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: service.name, namespace: service.namespace, labels: serviceLabels(service.name, topology.name) },
    spec: {
      selector: { 'app.kubernetes.io/name': service.name, ...SERVER_COMPONENT },
      ports: service.ports.map((port, index) => {
        const protocol = appProtocol(index);
        return { name: port.name, port: port.port, targetPort: port.name, protocol: 'TCP', ...(protocol && { appProtocol: protocol }) };
      }),
    },
  };
}
