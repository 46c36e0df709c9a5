/**
 * The conformance kit: runs a mesh plugin over topologies that exercise every way edges go wrong, and
 * checks the guarantees each generated repository must give. Plugin authors call `describeConformance`
 * from their own vitest suites; it needs vitest, ajv, ajv-formats and kubernetes-models installed, and
 * shellcheck, make and kubectl on the PATH.
 */
import { describe, expect, it } from 'vitest';
import { InputError, generateRepository, normaliseTopology, type MeshPlugin } from '../index.js';
import { CONFORMANCE_TOPOLOGIES, type ConformanceTopology } from './topologies.js';
import {
  checkDefaultDeny,
  checkExactEdges,
  checkHeaders,
  checkIdentities,
  checkMakefile,
  checkPins,
  generateCase,
  reverseOrder,
  verifyCase,
  withDefaults,
} from './checks.js';
import { SchemaValidator } from './schemas.js';
import { runCommand, shellcheckTree, withTreeOnDisk } from './tools.js';

export * from './checks.js';
export { CONFORMANCE_TOPOLOGIES, type ConformanceTopology } from './topologies.js';
export { SchemaValidator } from './schemas.js';
export { runCommand, shellcheckTree, withTreeOnDisk } from './tools.js';

export interface ConformanceOptions {
  /** A folder of custom resource JSON Schemas, laid out as `<group>/<kind lowercase>_<version>.json`. */
  crdSchemas: string;
  /** Values for the plugin's options; each option also runs at each of its choices when `allChoices` is set. */
  options?: Record<string, string>;
  /** Run the topologies once per choice of each plugin option. */
  allChoices?: boolean;
  /** Extra topologies to run besides the kit's own. */
  topologies?: ConformanceTopology[];
  /** Skip the checks that run shellcheck, make and kubectl. */
  skipTools?: boolean;
  /**
   * Topologies the mesh cannot enforce, by name, each with the text its InputError must contain. The kit then
   * checks that generation rejects the topology with that error, instead of running the other checks on it.
   */
  rejects?: Record<string, string>;
}

/** Declares a vitest suite that checks `plugin` against every guarantee, on every conformance topology. */
export function describeConformance(plugin: MeshPlugin, settings: ConformanceOptions): void {
  const schemas = new SchemaValidator(settings.crdSchemas);
  const variants = optionVariants(plugin, settings);

  describe(`conformance of mesh plugin ${plugin.id}`, () => {
    for (const options of variants) {
      const label = Object.entries(options).map(([name, value]) => `${name}=${value}`).join(' ');
      for (const topology of [...CONFORMANCE_TOPOLOGIES, ...(settings.topologies ?? [])]) {
        const rejection = settings.rejects?.[topology.name];
        if (rejection !== undefined) {
          it(`rejects ${topology.name}${label ? ` (${label})` : ''} with a clear error`, () => {
            expect(() => generateCase(plugin, topology.document, options)).toThrow(InputError);
            expect(() => generateCase(plugin, topology.document, options)).toThrow(rejection);
          });
          continue;
        }
        describe(`${topology.name}${label ? ` (${label})` : ''}`, () => {
          const generated = () => generateCase(plugin, topology.document, options);

          it('emits parseable YAML with the header on every file', () => {
            expect(checkHeaders(generated().files)).toEqual([]);
          });

          it('emits objects valid against their schemas', () => {
            const { objects, documents } = generated();
            const clientObjects = (documents.get('verify/clients.yaml') ?? []) as typeof objects;
            expect([...objects, ...clientObjects].flatMap((object) => schemas.validate(object))).toEqual([]);
          });

          it('allows exactly the declared edges, each over mTLS', () => {
            const result = verifyCase(plugin, generated(), options);
            expect(checkExactEdges(result)).toEqual([]);
            expect(result.counts.meshAllowed).toBe(result.counts.declared);
            expect(result.counts.networkPolicyAllowed).toBe(result.counts.declared);
            // The gateway and the external dependencies must have been judged, not skipped.
            const topologyOf = normaliseTopology(topology.document, topology.name);
            if (topologyOf.exposures.length > 0) expect(result.checks.find((check) => check.name === 'gateway routes')).toMatchObject({ ok: true });
            if (topologyOf.externals.length > 0) expect(result.checks.find((check) => check.name === 'external dependencies')).toMatchObject({ ok: true });
          });

          it('denies by default in every namespace', () => {
            expect(checkDefaultDeny(generated())).toEqual([]);
          });

          it('gives each service one identity', () => {
            expect(checkIdentities(generated())).toEqual([]);
          });

          it('pins every image and chart', () => {
            expect(checkPins(generated())).toEqual([]);
          });

          it('has every Makefile target', () => {
            expect(checkMakefile(generated().files)).toEqual([]);
          });

          it('is deterministic, whatever the input order', () => {
            const first = generated();
            const again = generateRepository({ topology: normaliseTopology(topology.document, 'again'), plugin, options: withDefaults(plugin, options) });
            const reordered = generateRepository({ topology: normaliseTopology(reverseOrder(topology.document), 'reordered'), plugin, options: withDefaults(plugin, options) });
            expect([...again]).toEqual([...first.files]);
            expect([...reordered]).toEqual([...first.files]);
          });

          if (!settings.skipTools) {
            it('passes shellcheck, make -n and kubectl kustomize', () => {
              withTreeOnDisk(generated().files, (directory) => {
                const shellcheck = shellcheckTree(generated().files, directory);
                expect(shellcheck.output).toBe('');
                expect(shellcheck.ok).toBe(true);
                const make = runCommand('make', ['-n', 'up', 'verify'], directory);
                expect(make.ok, make.output).toBe(true);
                const kustomize = runCommand('kubectl', ['kustomize', 'manifests'], directory);
                expect(kustomize.ok, kustomize.output).toBe(true);
              });
            });
          }
        });
      }
    }
  });
}

function optionVariants(plugin: MeshPlugin, settings: ConformanceOptions): Record<string, string>[] {
  const base = settings.options ?? {};
  if (!settings.allChoices || !plugin.options?.length) return [base];
  const variants: Record<string, string>[] = [];
  for (const option of plugin.options) {
    for (const choice of option.choices) variants.push({ ...base, [option.name]: choice });
  }
  return variants;
}
