import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { KubeObject } from '../index.js';

type Validator = ((value: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };

/** API groups whose kinds the kubernetes-models package validates; everything else is a custom resource. */
const CORE_GROUPS = new Set(['', 'apps', 'batch', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'storage.k8s.io', 'admissionregistration.k8s.io', 'apiextensions.k8s.io', 'autoscaling', 'coordination.k8s.io', 'discovery.k8s.io']);

/**
 * Validates Kubernetes objects: core kinds against the OpenAPI schemas of `kubernetes-models`, custom
 * resources against JSON Schemas laid out as `<group>/<kind lowercase>_<version>.json` under `crdDirectory`
 * (the layout of kubeconform's CRD catalogs). A custom resource without a schema is a problem, since it is
 * most likely a typo in apiVersion or kind.
 */
export class SchemaValidator {
  private readonly crdValidators = new Map<string, Validator | null>();
  private readonly require = createRequire(import.meta.url);
  private ajv: { compile(schema: unknown): Validator } | undefined;

  constructor(private readonly crdDirectory: string) {}

  /** Returns the problems of one object, as "<kind> <namespace>/<name>: <path> <message>". */
  validate(object: KubeObject): string[] {
    const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
    const id = `${object.kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata?.name}`;
    if (CORE_GROUPS.has(group!)) return this.validateCore(object, group!, version!, id);
    return this.validateCustom(object, group!, version!, id);
  }

  private validateCore(object: KubeObject, group: string, version: string, id: string): string[] {
    const module = `kubernetes-models/${group ? `${group}/` : ''}${version}/${object.kind}`;
    let Model: new (data: unknown) => { validate(): void };
    try {
      Model = (this.require(module) as Record<string, new (data: unknown) => { validate(): void }>)[object.kind]!;
    } catch {
      return [`${id}: ${object.apiVersion} ${object.kind} is not a Kubernetes kind`];
    }
    try {
      new Model(object).validate();
      return [];
    } catch (error) {
      return [`${id}: ${(error as Error).message}`];
    }
  }

  private validateCustom(object: KubeObject, group: string, version: string, id: string): string[] {
    const key = `${group}/${object.kind.toLowerCase()}_${version}`;
    if (!this.crdValidators.has(key)) {
      const path = join(this.crdDirectory, `${key}.json`);
      this.crdValidators.set(key, existsSync(path) ? this.compile(JSON.parse(readFileSync(path, 'utf8'))) : null);
    }
    const validator = this.crdValidators.get(key);
    if (!validator) return [`${id}: no schema for ${object.apiVersion} ${object.kind} in ${this.crdDirectory} (a typo in apiVersion or kind?)`];
    if (validator(object)) return [];
    return (validator.errors ?? []).map((error) => `${id}: ${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
  }

  private compile(schema: unknown): Validator {
    if (!this.ajv) {
      const Ajv = this.require('ajv').default as new (options: unknown) => { compile(schema: unknown): Validator };
      const addFormats = this.require('ajv-formats').default as (ajv: unknown) => void;
      // The schemas use OpenAPI keywords (x-kubernetes-*) and formats such as int32, so strict mode is off.
      // CRD patterns are Go (RE2) regular expressions, whose one-letter Unicode classes such as `\PC` (in
      // Cilium's CRDs) JavaScript writes `\P{C}`.
      const regExp = (pattern: string, flags: string) => new RegExp(pattern.replace(/\\([pP])([A-Z])/g, '\\$1{$2}'), flags);
      this.ajv = new Ajv({ strict: false, allErrors: true, code: { regExp } });
      addFormats(this.ajv);
      (this.ajv as unknown as { addFormat(name: string, format: unknown): void }).addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && Math.abs(value) <= 2 ** 31 });
      (this.ajv as unknown as { addFormat(name: string, format: unknown): void }).addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) });
    }
    return this.ajv.compile(schema);
  }
}
