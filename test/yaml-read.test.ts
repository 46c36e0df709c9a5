import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generateCase } from '../src/conformance/checks.js';
import { InputError } from '../src/errors.js';
import { CONFORMANCE_TOPOLOGIES } from '../src/conformance/topologies.js';
import { BUILTIN_PLUGINS } from '../src/plugin/builtin.js';
import { YAML_OPTIONS, stringifyDocument } from '../src/yaml/emit.js';
import { readBlockDocuments } from '../src/yaml/read.js';
import { document } from './helpers/yaml-arbitraries.js';

/** Reads documents as verify did before: with yaml, as plain values, leaving out empty documents. */
function readWithYaml(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((entry) => entry.toJS() as unknown)
    .filter((value) => value !== null);
}

describe('readBlockDocuments', () => {
  it('reads random documents as yaml does, or leaves them to yaml', () => {
    let read = 0;
    fc.assert(
      fc.property(fc.array(document, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean(), (values, folded, comments) => {
        // yaml's default layout folds long strings over several lines, which the reader must leave to yaml.
        const texts = values.map((value) => (folded ? stringify(value) : stringifyDocument(value)));
        const text = texts.map((entry) => (comments ? `# a comment\n${entry}  # indented comment\n` : entry)).join('---\n');
        const fast = readBlockDocuments(text);
        if (fast === undefined) return;
        read++;
        expect(fast).toEqual(readWithYaml(text));
      }),
      { numRuns: 3_000 },
    );
    // The property proves nothing if the reader gives up on everything. These values are awkward on purpose, and
    // the reader takes about 170 of the 3,000 (155 to 187 in six runs), so 100 leaves room for chance.
    expect(read).toBeGreaterThan(100);
  });

  it('reads the literal blocks the emitter writes itself', () => {
    const lines = fc.array(fc.stringMatching(/^[ -~]{0,10}$/), { minLength: 2, maxLength: 6 });
    fc.assert(
      fc.property(lines, fc.boolean(), fc.nat(3), (parts, breakAtEnd, depth) => {
        const text = `${parts.join('\n')}${breakAtEnd ? '\n' : ''}`;
        let value: unknown = { script: text, command: ['sh', '-c', text], after: 'x' };
        for (let level = 0; level < depth; level++) value = { spec: [value, { k: text }] };
        const written = stringifyDocument(value);
        const fast = readBlockDocuments(written);
        expect(fast ?? readWithYaml(written)).toEqual(readWithYaml(written));
        // The emitter writes the block itself when it can, and then the reader reads it itself too.
        if (/^[!-~](?:[ -~\n]*[!-~])?\n?$/.test(text) && text.includes('\n') && !/\n +\n|\n +$/.test(text)) expect(fast).toEqual([value]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads values with unusual characters as yaml does', () => {
    // Line and space separators, a byte order mark, control characters and a lone surrogate, among plain ones.
    const special = fc.constantFrom('\u0085', '\u2028', '\u2029', '\u00a0', '\ufeff', '\u200b', '\u3000', '\u0000', '\u007f', '\ud800', 'é', '\u000b', ' ', '#', ':', '"', "'");
    const value = fc.array(fc.oneof(special, fc.constantFrom('a', '1', '-', '.', 'x')), { minLength: 1, maxLength: 5 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(value, (text) => {
        const document = `a: ${text}\nb: c\n`;
        const fast = readBlockDocuments(document);
        if (fast === undefined) return;
        expect(parseAllDocuments(document).every((entry) => entry.errors.length === 0)).toBe(true);
        expect(fast).toEqual(readWithYaml(document));
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads every document shaped like a manifest itself', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9.-]{0,8}$/);
    const leaf = fc.oneof(word, fc.integer({ min: -1_000, max: 70_000 }), fc.boolean(), fc.constant(null), fc.constantFrom('8080', 'true', '100m', '1.5', '', 'a: b', "it's"));
    const manifest = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('map'), tie('list')),
      map: fc.dictionary(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9./-]{0,10}$/), tie('value'), { maxKeys: 4 }),
      list: fc.array(tie('value'), { maxLength: 3 }),
    })).map;
    fc.assert(
      fc.property(fc.array(manifest.filter((value) => Object.keys(value).length > 0), { minLength: 1, maxLength: 3 }), (values) => {
        const text = values.map((value) => `# Generated\n${stringifyDocument(value)}`).join('---\n');
        expect(readBlockDocuments(text)).toEqual(readWithYaml(text));
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    ['a plain map', 'kind: Service\nmetadata:\n  name: hero\n  labels: {}\n', true],
    ['a sequence at its key column', 'ports:\n- port: 80\n  name: http\n- 443\nkind: Service\n', true],
    ['numbers, words and quoted strings', "a: 8080\nb: -3\nc: 1.5\nd: 0x1F\ne: true\nf: ~\ng: '8080'\nh: \"it's\"\ni: 'say ''hi'''\nj: 100m\nk: .inf\n", true],
    ['a separator first, last and twice', '---\na: 1\n---\n---\nb: 2\n---', true],
    ['a separator after a comment', '# header\n---\na: 1\n', true],
    ['a line of four dashes', 'a: 1\n----\nb: 2\n', false],
    ['a separator with content', 'a: 1\n--- b: 2\n', false],
    ['a byte order mark as a value', 'a: \uFEFF\nb: x\uFEFF\n', true],
    ['a value that is a map after a comment', 'key: # note\n  nested: 1\n', false],
    ['a trailing comment', 'key: value # note\n', false],
    ['an anchor and an alias', 'a: &x 1\nb: *x\n', false],
    ['a tag', 'a: !!str 1\n', false],
    ['a flow map with entries', 'a: {b: 1}\n', false],
    ['literal block scalars as the emitter writes them', 'a: |\n  text\n\n  more\nb:\n  - |-\n    x\n    y\nc: 1\n', true],
    ['command-line flags', 'command:\n  - sh\n  - -c\n  - -eu\n', true],
    ['a folded block scalar', 'a: >\n  text\n', false],
    ['a literal block scalar indented deeper than the emitter writes it', 'a: |\n    text\n', false],
    ['a literal block scalar with keep chomping', 'a: |+\n  text\n\n', false],
    ['a plain scalar over two lines', 'a: one\n  two\n', false],
    ['a duplicate key', 'a: 1\na: 2\n', false],
    ['a tab', 'a:\tb\n', false],
    ['Windows line ends', 'a: b\r\n', false],
    ['a YAML escape without a JSON twin', 'a: "\\x41"\n', false],
    ['a document end marker', 'a: 1\n...\n', false],
    ['a directive', '%YAML 1.2\n---\na: 1\n', false],
    ['an indented document', '  a: 1\n', false],
    ['a __proto__ key', '__proto__: 1\n', false],
    ['a key that is a core schema word', 'true: 1\n', false],
  ])('%s', (_name, text, handled) => {
    const fast = readBlockDocuments(text);
    if (!handled) {
      expect(fast).toBeUndefined();
      return;
    }
    expect(fast).toEqual(readWithYaml(text));
  });

  it('gives each document its own empty collections', () => {
    const [first, second] = readBlockDocuments('a: []\n---\na: []\n') as { a: unknown[] }[];
    first!.a.push(1);
    expect(second!.a).toEqual([]);
  });

  it.each(Object.keys(BUILTIN_PLUGINS))('reads every YAML file that %s generates, as yaml does', async (id) => {
    const plugin = await BUILTIN_PLUGINS[id]!();
    for (const topology of CONFORMANCE_TOPOLOGIES) {
      let files;
      try {
        ({ files } = generateCase(plugin, topology.document));
      } catch (error) {
        // A plugin may refuse a topology it cannot enforce (NSM and narrowed edges); its own tests check that.
        if (error instanceof InputError) continue;
        throw error;
      }
      for (const [path, entry] of files) {
        if (!/\.ya?ml$/.test(path)) continue;
        const fast = readBlockDocuments(entry.content);
        // verify reads manifests/ only, so the reader must handle those itself unless they contain a block scalar
        // (a ConfigMap's file, for one). It may leave other files to yaml.
        if (fast === undefined && (!path.startsWith('manifests/') || /(?:: |- )[|>][-+]?$/m.test(entry.content))) continue;
        expect(fast, `${topology.name}: ${path}`).toEqual(readWithYaml(entry.content));
      }
    }
  });
});
