import { InputError } from '../errors.js';
import { runtimeProfileOf } from '../generate/images.js';
import type { Finding } from '../plugin/api.js';
import type { Topology } from '../topology/types.js';
import { podTemplateOf } from '../verify/objects.js';
import type { KubeObject } from './object.js';

/** The ports a mesh's sidecar proxy listens on in the application's pod, and the user it runs as. */
export interface ProxyReservations {
  /** The proxy's name in messages, such as `Istio proxy`. */
  proxy: string;
  ports: readonly number[];
  /** The proxy's user ID: the pod's traffic redirection leaves this user's connections alone. */
  uid: number;
  /** The proxy's group ID, when the redirection leaves that group's connections alone too. */
  gid?: number;
}

/**
 * Rejects services whose containers would clash with the sidecar proxy in their pod: a container port the proxy
 * listens on, or the proxy's user or group, whose connections bypass the proxy and so the mesh's mTLS and policy.
 */
export function rejectProxyConflicts(topology: Topology, reserved: ProxyReservations): void {
  for (const service of topology.services) {
    for (const port of service.ports) {
      if (reserved.ports.includes(port.targetPort)) {
        throw new InputError(
          `field ports of service ${service.name}: container port ${port.targetPort} is one of the ${reserved.proxy}'s ports (${reserved.ports.join(', ')}). Set another targetPort`,
        );
      }
    }
    const profile = runtimeProfileOf(service);
    if (profile.user === reserved.uid) {
      throw new InputError(
        `field runAsUser of service ${service.name}: user ID ${reserved.uid} is the ${reserved.proxy}'s, and connections of that user bypass the proxy, so the service would be outside the mesh. Set another runAsUser`,
      );
    }
    if (reserved.gid !== undefined && profile.group === reserved.gid) {
      throw new InputError(
        `field runAsGroup of service ${service.name}: group ID ${reserved.gid} is the ${reserved.proxy}'s, and connections of that group bypass the proxy, so the service would be outside the mesh. Set another runAsGroup`,
      );
    }
  }
}

interface SecurityContext {
  runAsUser?: unknown;
  runAsGroup?: unknown;
}

/**
 * Lists, for verify, the services of a repository whose containers clash with the sidecar, as
 * {@link rejectProxyConflicts} rejects them at generation: a container port the proxy listens on, or the proxy's
 * user or group, set on the container or on the pod. A hand-edited manifest can bring either back.
 */
export function proxyConflictFindings(objects: readonly KubeObject[], topology: Topology, reserved: ProxyReservations): Finding[] {
  const findings: Finding[] = [];
  for (const service of topology.services) {
    const template = podTemplateOf(objects, service);
    if (!template) continue;
    const subject = `${service.namespace}/${service.name}`;
    const podContext = (template.spec.securityContext ?? {}) as SecurityContext;
    // Init containers too: a native sidecar (restartPolicy Always) runs beside the application.
    const containers = [...template.spec.containers, ...((template.spec.initContainers ?? []) as Record<string, unknown>[])];
    for (const container of containers as { name?: string; ports?: { containerPort?: unknown }[]; securityContext?: SecurityContext }[]) {
      // A field the container leaves unset, or sets to null, comes from the pod's securityContext.
      const context = { runAsUser: container.securityContext?.runAsUser ?? podContext.runAsUser, runAsGroup: container.securityContext?.runAsGroup ?? podContext.runAsGroup };
      for (const port of container.ports ?? []) {
        if (typeof port.containerPort === 'number' && reserved.ports.includes(port.containerPort)) {
          findings.push({ subject, message: `container ${String(container.name)} declares port ${port.containerPort}, one of the ${reserved.proxy}'s ports: use another port` });
        }
      }
      if (context.runAsUser === reserved.uid) {
        findings.push({ subject, message: `container ${String(container.name)} runs as user ${reserved.uid}, the ${reserved.proxy}'s, whose connections bypass the proxy: set another runAsUser` });
      }
      if (reserved.gid !== undefined && context.runAsGroup === reserved.gid) {
        findings.push({ subject, message: `container ${String(container.name)} runs as group ${reserved.gid}, the ${reserved.proxy}'s, whose connections bypass the proxy: set another runAsGroup` });
      }
    }
  }
  return findings;
}
