import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { builtinPluginIds } from '../src/plugin/builtin.js';
import { CWD, runCli } from './support/cli.js';

const TARGET = `${CWD}/out`;

/** Characters that break naive YAML, shell or template output, mixed into random Unicode text. */
const TRICKY = ['"', "'", ':', ': ', '#', ' #', '\n', '\r\n', '\t', '{{', '}}', '{', '[', '- ', '---', '...', '&a', '*a', '!!', '%', '@', '`', '|', '>', '\\', '$(', '\u0000', '\u0001', '\u001b', 'é', '日本', '👩‍👩‍👧', ' ', 'true', 'null', '0x1F', '1e3', '~'];
// Values with the characters that kubectl cannot read back (U+007F to U+009F, U+2028, U+2029, U+FEFF) are rejected
// as input, which test/invalid-input.test.ts checks, so they are left out here.
const UNREADABLE = /[\u007F-\u009F\u2028\u2029\uFEFF]/u;
const trickyText = fc.string({ unit: fc.oneof(fc.constantFrom(...TRICKY), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 40 }).filter((text) => !UNREADABLE.test(text));
// Env values may not hold NUL, which no process environment can carry.
const trickyEnvText = trickyText.filter((text) => !text.includes('\u0000'));

const lowerAlphanumeric = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 1, maxLength: 8 });
const pathComponent = fc.tuple(lowerAlphanumeric, fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '--'), lowerAlphanumeric), { maxLength: 2 })).map(([head, rest]) => head + rest.map(([separator, part]) => separator + part).join(''));
const hostComponent = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'), minLength: 1, maxLength: 8 });

/** Image references that the distribution project's grammar accepts: registry, path, tag and digest. */
const validImage = fc
  .record({
    registry: fc.option(fc.tuple(fc.array(hostComponent, { minLength: 1, maxLength: 3 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })), { nil: undefined }),
    path: fc.array(pathComponent, { minLength: 1, maxLength: 3 }),
    // Validation requires a pinned version: a tag other than latest, a digest, or both.
    tag: fc.option(fc.stringMatching(/^[\w][\w.-]{0,20}$/).filter((tag) => tag !== 'latest'), { nil: undefined }),
    digest: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: undefined }),
  })
  .filter(({ tag, digest }) => tag !== undefined || digest !== undefined)
  .map(({ registry, path, tag, digest }) => {
    const host = registry ? `${registry[0].join('.')}${registry[1] === undefined ? '' : `:${registry[1]}`}/` : '';
    return `${host}${path.join('/')}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@sha256:${digest}`}`;
  });

/** Characters no image reference may contain, inserted into a valid one. */
const FORBIDDEN_IN_IMAGE = [' ', '\n', '\t', '"', "'", '{', '}', '#', '!', '$', '`', '\\', ',', ';', '*', '?', '%', '&', '=', '|', '<', '>', '\u0000', 'é'];
const invalidImage = fc.tuple(validImage, fc.constantFrom(...FORBIDDEN_IN_IMAGE), fc.nat()).map(([image, character, at]) => {
  const index = at % (image.length + 1);
  return image.slice(0, index) + character + image.slice(index);
});

const validEnvName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
const invalidEnvName = fc.string({ minLength: 0, maxLength: 12 }).filter((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));

function topologyYaml(image: string, env: Record<string, string>): string {
  return stringify({
    apiVersion: 'create-zero-trust-app/v1alpha1',
    kind: 'Topology',
    metadata: { name: 'shop' },
    spec: {
      namespace: 'shop',
      services: [
        { name: 'web', image, ports: [{ port: 8080, protocol: 'http' }], env, calls: ['db'] },
        { name: 'db', image: 'docker.io/library/postgres:17', ports: [{ port: 5432, protocol: 'postgres' }] },
      ],
    },
    // Double quotes for every string value: yaml 2.8 writes some values as block scalars that read back wrong
    // (" \n" comes back as "\n"), which would change the input, not the output under test.
  }, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string }[];
}

/** Finds the web container in the generated workload file and returns it with the file's document count. */
function readWebContainer(text: string): { container: Container; documents: number } {
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) throw new Error('no documents');
  for (const document of documents) expect(document.errors).toEqual([]);
  const workload = documents.map((document) => document.toJS() as Record<string, any>).find((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet')!;
  const containers = workload.spec.template.spec.containers as Container[];
  return { container: containers.find((container) => container.name === 'web')!, documents: documents.length };
}

describe.each(builtinPluginIds())('free text on %s', (mesh) => {
  const argv = ['out', '--yes', '--mesh', mesh, '--topology', 'topology.yaml'];

  it('emits env values and images exactly', async () => {
    const baseline = await runCli(argv, { files: { 'topology.yaml': topologyYaml('nginx:1.29', { PLAIN: 'plain' }) } });
    const baselineDocuments = readWebContainer(baseline.tree()[`${TARGET}/manifests/workloads/web.yaml`]!).documents;

    await fc.assert(
      fc.asyncProperty(validImage, fc.dictionary(validEnvName, trickyEnvText, { minKeys: 1, maxKeys: 4 }), async (image, env) => {
        const run = await runCli(argv, { files: { 'topology.yaml': topologyYaml(image, env) } });
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        const tree = run.tree();

        const { container, documents } = readWebContainer(tree[`${TARGET}/manifests/workloads/web.yaml`]!);
        expect(documents).toBe(baselineDocuments);
        expect(container.image).toBe(image);
        for (const [name, value] of Object.entries(env)) {
          expect(container.env?.find((variable) => variable.name === name)?.value).toBe(value);
        }

        const keptTopology = parse(tree[`${TARGET}/topology.yaml`]!) as { spec: { services: { name: string; image: string; env?: Record<string, string> }[] } };
        const web = keptTopology.spec.services.find((service) => service.name === 'web')!;
        expect(web.image).toBe(image);
        expect(web.env).toEqual(env);

        for (const [path, content] of Object.entries(tree)) {
          if (content === null || !/\.ya?ml$/.test(path)) continue;
          expect(parseAllDocuments(content).flatMap((document) => document.errors)).toEqual([]);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('keeps env names that are Object properties', async () => {
    // Written as text, because an object literal cannot hold an own __proto__ key.
    const yaml = topologyYaml('nginx:1.29', { PLACEHOLDER: 'x' }).replace('PLACEHOLDER: "x"', ['__proto__: a', 'constructor: b', 'toString: c', 'hasOwnProperty: d'].join('\n        '));
    const run = await runCli(argv, { files: { 'topology.yaml': yaml } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const tree = run.tree();

    const { container } = readWebContainer(tree[`${TARGET}/manifests/workloads/web.yaml`]!);
    // A plugin may add variables of its own, so only the topology's are looked up.
    for (const [name, value] of [['__proto__', 'a'], ['constructor', 'b'], ['hasOwnProperty', 'd'], ['toString', 'c']]) {
      expect(container.env?.find((variable) => variable.name === name)?.value).toBe(value);
    }
    const keptTopology = parse(tree[`${TARGET}/topology.yaml`]!) as { spec: { services: { name: string; env?: Record<string, string> }[] } };
    expect(Object.entries(keptTopology.spec.services.find((service) => service.name === 'web')!.env!)).toEqual([['__proto__', 'a'], ['constructor', 'b'], ['hasOwnProperty', 'd'], ['toString', 'c']]);
  });

  it('rejects invalid image references', async () => {
    await fc.assert(
      fc.asyncProperty(invalidImage, async (image) => {
        const run = await runCli(argv, { files: { 'topology.yaml': topologyYaml(image, {}) } });
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/^create-zero-trust-app: topology\.yaml: spec\.services\[0\]\.image: ".*" is not a valid image reference\. Use a reference such as docker\.io\/library\/postgres:17\n$/);
        expect(Object.keys(run.tree()).filter((path) => path.startsWith(TARGET))).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });

  it('rejects invalid environment variable names', async () => {
    await fc.assert(
      fc.asyncProperty(invalidEnvName, async (name) => {
        const run = await runCli(argv, { files: { 'topology.yaml': topologyYaml('nginx:1.29', { [name]: 'value' }) } });
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/^create-zero-trust-app: topology\.yaml: spec\.services\[0\]\.env\.\S.*: ".*" is not a valid environment variable name\. Use letters, digits and "_", not starting with a digit\n$/);
        expect(Object.keys(run.tree()).filter((path) => path.startsWith(TARGET))).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});
