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

/** The Deployments and StatefulSets of a list of manifests by namespace and name, with their positions. */
interface WorkloadIndex {
  length: number;
  entries: Map<string, { object: KubeObject; position: number }>;
}

const workloadIndexes = new WeakMap<readonly KubeObject[], WorkloadIndex>();

function workloadKey(object: KubeObject): string | undefined {
  if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') return undefined;
  return `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
}

function indexWorkloads(objects: readonly KubeObject[]): WorkloadIndex {
  const entries = new Map<string, { object: KubeObject; position: number }>();
  objects.forEach((object, position) => {
    const key = workloadKey(object);
    if (key !== undefined && !entries.has(key)) entries.set(key, { object, position });
  });
  const index = { length: objects.length, entries };
  workloadIndexes.set(objects, index);
  return index;
}

/**
 * Finds the Deployment or StatefulSet of a service among the manifests. Verify calls this for every service, so
 * the first call indexes the list; a later call checks that the list's length and the object it finds are
 * unchanged, re-indexes when they are not, and searches the whole list when the index has no such workload.
 */
export function workloadOf(objects: readonly KubeObject[], service: Service): KubeObject | undefined {
  const key = `${service.namespace}/${service.name}`;
  let index = workloadIndexes.get(objects);
  if (!index || index.length !== objects.length) index = indexWorkloads(objects);
  let entry = index.entries.get(key);
  if (entry && (objects[entry.position] !== entry.object || workloadKey(entry.object) !== key)) entry = indexWorkloads(objects).entries.get(key);
  return entry?.object ?? objects.find((object) => workloadKey(object) === key);
}

/** Returns the pod template of a service's workload, if the manifests contain it. */
export function podTemplateOf(objects: readonly KubeObject[], service: Service): PodTemplate | undefined {
  const workload = workloadOf(objects, service);
  return (workload?.spec as { template?: PodTemplate } | undefined)?.template;
}
