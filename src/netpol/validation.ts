// Structural validation helpers that read untyped policy, namespace and pod objects.

/** Throws an Error for an invalid value at `path` of the policy being read. */
export type Fail = (path: string, problem: string) => never;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Reads an object field, rejecting unknown keys so that typos do not widen a policy. */
export function readObject(value: unknown, path: string, allowedKeys: readonly string[], fail: Fail): Record<string, unknown> {
  if (!isRecord(value)) {
    return fail(path, `expected an object, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!allowedKeys.includes(key)) {
      return fail(`${path}.${key}`, `unknown field; expected one of ${allowedKeys.join(', ')}`);
    }
  }
  return value;
}

/** Reads an optional list. A JSON/YAML `null` counts as absent, as in the API server. */
export function readOptionalList(value: unknown, path: string, fail: Fail): unknown[] | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value)) {
    return fail(path, `expected a list, got ${describeValue(value)}`);
  }
  return value;
}

export function readStringRecord(value: unknown, path: string, fail: Fail): Map<string, string> {
  if (!isRecord(value)) {
    return fail(path, `expected a map of strings, got ${describeValue(value)}`);
  }
  const entries = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      return fail(`${path}.${key}`, `expected a string value, got ${describeValue(item)}; quote numbers and booleans in YAML`);
    }
    entries.set(key, item);
  }
  return entries;
}
