import type { PodTemplate } from '../plugin/api.js';
import type { KubeObject, LabelSelector } from '../k8s/object.js';
import type { Service } from '../topology/types.js';

/** Returns whether `labels` satisfy a Kubernetes label selector; an empty selector matches everything. */
export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        throw new Error(`unknown label selector operator "${String(expression.operator)}": use In, NotIn, Exists or DoesNotExist`);
    }
  }
  return true;
}

/** Finds the Deployment or StatefulSet of a service among the manifests. */
export function workloadOf(objects: readonly KubeObject[], service: Service): KubeObject | undefined {
  return objects.find(
    (object) =>
      (object.kind === 'Deployment' || object.kind === 'StatefulSet') && object.metadata.name === service.name && (object.metadata.namespace ?? 'default') === service.namespace,
  );
}

/** Returns the pod template of a service's workload, if the manifests contain it. */
export function podTemplateOf(objects: readonly KubeObject[], service: Service): PodTemplate | undefined {
  const workload = workloadOf(objects, service);
  return (workload?.spec as { template?: PodTemplate } | undefined)?.template;
}
