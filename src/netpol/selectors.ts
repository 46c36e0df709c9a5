// Label selectors, compiled once and shared between identical selectors.

import { describeValue, isRecord, readObject, readOptionalList, readStringRecord, type Fail } from './validation.js';

export type LabelMap = ReadonlyMap<string, string>;
type LabelPredicate = (labels: LabelMap) => boolean;

export interface CompiledSelector {
  /** Index into per-namespace result caches. */
  id: number;
  matches: LabelPredicate;
  /** The `matchLabels` pairs, sorted by key: a pod must carry each of them. */
  labelTerms: readonly (readonly [string, string])[];
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

function combinePredicates(tests: LabelPredicate[]): LabelPredicate {
  if (tests.length === 0) {
    return () => true;
  }
  if (tests.length === 1) {
    return tests[0]!;
  }
  return (labels) => {
    for (const test of tests) {
      if (!test(labels)) {
        return false;
      }
    }
    return true;
  };
}

export class SelectorTable {
  private readonly byCanonicalForm = new Map<string, CompiledSelector>();
  private readonly byText = new Map<string, CompiledSelector>();

  get size(): number {
    return this.byCanonicalForm.size;
  }

  /** Validates a label selector and returns its compiled predicate, reusing an identical one. */
  compile(raw: unknown, path: string, fail: Fail): CompiledSelector {
    // Policies repeat the same selectors thousands of times: an identical raw selector, already validated, is
    // looked up by its JSON text before any of the work below.
    const text = isRecord(raw) ? JSON.stringify(raw) : undefined;
    const seen = text === undefined ? undefined : this.byText.get(text);
    if (seen !== undefined) {
      return seen;
    }
    const compiled = this.compileNew(raw, path, fail);
    if (text !== undefined) {
      this.byText.set(text, compiled);
    }
    return compiled;
  }

  private compileNew(raw: unknown, path: string, fail: Fail): CompiledSelector {
    const selector = readObject(raw, path, ['matchLabels', 'matchExpressions'], fail);
    const labelTerms: [string, string][] = [];
    const expressionTerms: [string, string, string[]][] = [];

    if (selector.matchLabels !== undefined && selector.matchLabels !== null) {
      const matchLabels = readStringRecord(selector.matchLabels, `${path}.matchLabels`, fail);
      labelTerms.push(...matchLabels.entries());
    }

    const expressions = readOptionalList(selector.matchExpressions, `${path}.matchExpressions`, fail) ?? [];
    expressions.forEach((rawExpression, index) => {
      const expressionPath = `${path}.matchExpressions[${index}]`;
      const expression = readObject(rawExpression, expressionPath, ['key', 'operator', 'values'], fail);
      if (typeof expression.key !== 'string' || expression.key === '') {
        fail(`${expressionPath}.key`, `expected a non-empty string, got ${describeValue(expression.key)}`);
      }
      const operator = expression.operator;
      if (typeof operator !== 'string' || !(OPERATORS as readonly string[]).includes(operator)) {
        fail(`${expressionPath}.operator`, `unsupported operator ${describeValue(operator)}; expected one of ${OPERATORS.join(', ')}`);
      }
      const values = readOptionalList(expression.values, `${expressionPath}.values`, fail) ?? [];
      values.forEach((value, valueIndex) => {
        if (typeof value !== 'string') {
          fail(`${expressionPath}.values[${valueIndex}]`, `expected a string, got ${describeValue(value)}`);
        }
      });
      const isSetOperator = operator === 'In' || operator === 'NotIn';
      if (isSetOperator && values.length === 0) {
        fail(`${expressionPath}.values`, `must be non-empty for operator ${operator}`);
      }
      if (!isSetOperator && values.length > 0) {
        fail(`${expressionPath}.values`, `must be empty for operator ${operator}`);
      }
      const sortedValues = [...new Set(values as string[])].sort();
      expressionTerms.push([expression.key as string, operator as string, sortedValues]);
    });

    labelTerms.sort((a, b) => compareStrings(a[0], b[0]));
    expressionTerms.sort((a, b) => compareStrings(JSON.stringify(a), JSON.stringify(b)));
    const canonicalForm = JSON.stringify([labelTerms, expressionTerms]);
    const existing = this.byCanonicalForm.get(canonicalForm);
    if (existing !== undefined) {
      return existing;
    }

    const tests: LabelPredicate[] = labelTerms.map(([key, value]) => (labels) => labels.get(key) === value);
    for (const [key, operator, values] of expressionTerms) {
      const valueSet = new Set(values);
      switch (operator) {
        case 'In':
          tests.push((labels) => {
            const value = labels.get(key);
            return value !== undefined && valueSet.has(value);
          });
          break;
        case 'NotIn':
          // A pod without the label matches NotIn, as in Kubernetes label selectors.
          tests.push((labels) => {
            const value = labels.get(key);
            return value === undefined || !valueSet.has(value);
          });
          break;
        case 'Exists':
          tests.push((labels) => labels.has(key));
          break;
        default:
          tests.push((labels) => !labels.has(key));
      }
    }

    const compiled: CompiledSelector = { id: this.byCanonicalForm.size, matches: combinePredicates(tests), labelTerms };
    this.byCanonicalForm.set(canonicalForm, compiled);
    return compiled;
  }
}

export function compareStrings(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}
