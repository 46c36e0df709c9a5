import { parse } from 'yaml';

/**
 * Reads a stream of YAML documents in the block layout that the generator writes (see `emit.ts`): maps and
 * sequences by indentation, one scalar or literal block per entry, `[]` and `{}` for empty collections, and `#`
 * comment lines. Returns the values of the documents that have content, as `parseAllDocuments(text)` of the yaml
 * package followed by `toJS()` would, and leaves out empty documents. It avoids yaml's node tree, which verify
 * cannot afford on the 20 MB of manifests of a large topology. Returns `undefined` for any text outside that
 * layout, so that the caller reads it with yaml and gets yaml's errors. Outside it are anchors, tags, flow
 * collections with entries, folded or multi-line flow scalars, literal blocks in another form than emit.ts writes,
 * trailing comments, tabs, duplicate keys and anything yaml would reject.
 */
export function readBlockDocuments(text: string): unknown[] | undefined {
  if (text.includes('\r') || text.includes('\t')) return undefined;
  const documents: unknown[] = [];
  // Each document is split into lines on its own, so that its lines die young instead of a whole file's lines
  // outliving many collections of the young generation.
  for (let start = 0; ; ) {
    const separator = separatorAt(text, start);
    const lines = text.slice(start, separator < 0 ? text.length : separator).split('\n');
    const value = new BlockReader(lines, 0, lines.length).document();
    if (value === FAILED) return undefined;
    if (value !== EMPTY) documents.push(value);
    if (separator < 0) return documents;
    start = separator + 4;
  }
}

/** Returns the position of the next line that is exactly `---`, from the line that starts at `from`, or -1. */
function separatorAt(text: string, from: number): number {
  const endsLine = (position: number) => position === text.length || text.charCodeAt(position) === NEWLINE;
  if (text.startsWith('---', from) && endsLine(from + 3)) return from;
  for (let search = from; ; ) {
    const found = text.indexOf('\n---', search);
    if (found < 0) return -1;
    if (endsLine(found + 4)) return found + 1;
    search = found + 1;
  }
}

const FAILED = Symbol('outside the block layout');
const EMPTY = Symbol('empty document');

/** Keys the reader takes as they are: the keys `emit.ts` writes plain, minus the core schema's special words. */
const KEY = /^[A-Za-z_][A-Za-z0-9._/-]*(?::[A-Za-z0-9._/-]+)*$/;
const SPECIAL_KEYS = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'null', 'Null', 'NULL', '__proto__']);
/** Plain scalars that start with a letter and contain no `: ` or ` #`, which yaml reads as strings unless listed below. */
const PLAIN_WORD = /^[A-Za-z][^#]*$/;
const CORE_WORDS = new Map<string, unknown>([
  ['true', true], ['True', true], ['TRUE', true],
  ['false', false], ['False', false], ['FALSE', false],
  ['null', null], ['Null', null], ['NULL', null],
]);
const DECIMAL = /^-?(?:0|[1-9][0-9]{0,14})$/;
const DASH_WORD = /^-[A-Za-z][^#]*$/;
/** The escapes that mean the same in JSON and in YAML double-quoted scalars. */
const JSON_ESCAPES = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/g;

/** Scalars resolved once per text: manifests repeat the same values thousands of times. */
const scalars = new Map<string, unknown>();

/** Reads the lines [from, to) as one document. Every collection starts its entries at the column of its indent. */
class BlockReader {
  private position: number;
  /** The indent of the line at `position`, set by skipBlank. */
  private indent = 0;

  constructor(
    private readonly lines: string[],
    from: number,
    private readonly to: number,
  ) {
    this.position = from;
  }

  document(): unknown {
    this.skipBlank();
    if (this.position >= this.to) return EMPTY;
    if (this.indent !== 0) return FAILED;
    const value = this.node(0);
    this.skipBlank();
    return this.position < this.to ? FAILED : value;
  }

  /** Moves past empty lines and comment lines. */
  private skipBlank(): void {
    while (this.position < this.to) {
      const line = this.lines[this.position]!;
      let indent = 0;
      while (line.charCodeAt(indent) === SPACE) indent++;
      if (indent < line.length && line.charCodeAt(indent) !== HASH) {
        this.indent = indent;
        return;
      }
      this.position++;
    }
  }

  /** Reads the map or sequence whose first entry starts at column `indent` of the current line. */
  private node(indent: number): unknown {
    return this.lines[this.position]!.startsWith('-', indent) ? this.sequence(indent) : this.map(indent);
  }

  private map(indent: number): unknown {
    const value: Record<string, unknown> = {};
    let count = 0;
    for (;;) {
      const line = this.lines[this.position]!;
      const colon = colonOf(line, indent);
      const key = colon < 0 ? null : keyText(line, indent, colon);
      if (key === null) return FAILED;
      this.position++;
      const text = colon === line.length - 1 ? undefined : line.slice(colon + 2);
      let item: unknown;
      if (text === undefined) item = this.nested(indent);
      else if (text === '|' || text === '|-') item = this.literal(indent + 2, text === '|-');
      else item = scalar(text);
      if (item === FAILED) return FAILED;
      value[key] = item;
      count++;
      const next = this.nextAt(indent);
      if (next === FAILED || (next === CONTINUES && this.lines[this.position]!.startsWith('-', indent))) return FAILED;
      // A duplicate key would have overwritten an entry, which yaml rejects.
      if (next === undefined) return Object.keys(value).length === count ? value : FAILED;
    }
  }

  private sequence(indent: number): unknown {
    const value: unknown[] = [];
    for (;;) {
      const line = this.lines[this.position]!;
      if (!line.startsWith('- ', indent)) return FAILED;
      const column = indent + 2;
      let item: unknown;
      // A map or sequence whose first entry shares the dash's line; its other entries sit two columns further in.
      if (line.startsWith('- ', column)) {
        item = this.sequence(column);
      } else if (isKeyLine(line, column)) {
        item = this.map(column);
      } else {
        this.position++;
        const text = line.slice(column);
        item = text === '|' || text === '|-' ? this.literal(column, text === '|-') : scalar(text);
      }
      if (item === FAILED) return FAILED;
      value.push(item);
      const next = this.nextAt(indent);
      if (next === FAILED) return FAILED;
      // A line at the dash's column that is not an entry ends a sequence that sits at its key's column.
      if (next === undefined || !this.lines[this.position]!.startsWith('-', indent)) return value;
    }
  }

  /**
   * Reads a literal block scalar (`|` or `|-`) whose lines start at column `indent`, as emit.ts writes one: the
   * first line indented exactly so, empty lines empty, and no line of only spaces. The block ends at the first
   * line with text that is indented less. `|` keeps one final line break, `|-` none, and trailing empty lines go.
   */
  private literal(indent: number, strip: boolean): unknown {
    if (this.position >= this.to) return FAILED;
    const first = this.lines[this.position]!;
    if (first.length <= indent || leadingSpaces(first) !== indent) return FAILED;
    const parts: string[] = [];
    while (this.position < this.to) {
      const line = this.lines[this.position]!;
      const spaces = leadingSpaces(line);
      if (line.length > 0 && spaces < indent) {
        // A line of only spaces would be an empty line of the block, which the emitter never writes.
        if (spaces === line.length) return FAILED;
        break;
      }
      const content = line.slice(indent);
      if (content.length > 0 && leadingSpaces(content) === content.length) return FAILED;
      parts.push(content);
      this.position++;
    }
    let end = parts.length;
    while (parts[end - 1] === '') end--;
    return parts.slice(0, end).join('\n') + (strip ? '' : '\n');
  }

  /**
   * Reads the value of a key with nothing after its colon: a map indented further, a sequence indented further or
   * at the key's own column, or null when neither follows.
   */
  private nested(indent: number): unknown {
    this.skipBlank();
    if (this.position >= this.to) return null;
    const childIndent = this.indent;
    if (childIndent > indent) return this.node(childIndent);
    if (childIndent === indent && this.lines[this.position]!.startsWith('-', indent)) return this.sequence(indent);
    return null;
  }

  /**
   * Moves to the next line with content and returns CONTINUES when it continues the collection at `indent`, or
   * undefined when the collection ends there. A line indented deeper than `indent` fails the read: it would
   * continue a scalar.
   */
  private nextAt(indent: number): typeof CONTINUES | typeof FAILED | undefined {
    this.skipBlank();
    if (this.position >= this.to) return undefined;
    const lineIndent = this.indent;
    if (lineIndent < indent) return undefined;
    return lineIndent > indent ? FAILED : CONTINUES;
  }
}

const SPACE = 32;
const NEWLINE = 10;
const HASH = 35;
const CONTINUES = Symbol('the collection continues');

/** Returns the number of spaces at the start of `line`. */
function leadingSpaces(line: string): number {
  let count = 0;
  while (line.charCodeAt(count) === SPACE) count++;
  return count;
}

/** Keys checked so far against {@link KEY}, each kept as one string: manifests repeat the same few hundred keys. */
const keys = new Map<string, string | null>();

/**
 * Returns the position of the first colon after `column` of `line` that is followed by a space or ends the line:
 * the end of a key when the line has a plain key there, or -1.
 */
function colonOf(line: string, column: number): number {
  const colon = line.indexOf(': ', column);
  if (colon >= 0) return colon;
  return line.endsWith(':') ? line.length - 1 : -1;
}

/** Returns whether `line` has a plain key at `column`. */
function isKeyLine(line: string, column: number): boolean {
  const colon = colonOf(line, column);
  return colon >= 0 && keyText(line, column, colon) !== null;
}

/** Returns the key between `column` and `colon`, the same string for every equal key, or null for an invalid key. */
function keyText(line: string, column: number, colon: number): string | null {
  const key = line.slice(column, colon);
  let known = keys.get(key);
  if (known === undefined) {
    // A double-quoted key of the same characters, as emit.ts writes `"y"` or `"on"`, which YAML 1.1 reads as booleans.
    const inner = key.length > 2 && key.startsWith('"') && key.endsWith('"') ? key.slice(1, -1) : undefined;
    if (inner !== undefined) known = KEY.test(inner) && inner !== '__proto__' && inner.length <= 1000 ? inner : null;
    else known = KEY.test(key) && !SPECIAL_KEYS.has(key) && key.length <= 1000 ? key : null;
    if (keys.size < 10_000) keys.set(key, known);
  }
  return known;
}

/** Resolves the text after `key: ` or `- ` as yaml's core schema does; FAILED outside the simple forms. */
function scalar(text: string): unknown {
  if (text === '[]') return [];
  if (text === '{}') return {};
  let value = scalars.get(text);
  if (value === undefined && !scalars.has(text)) {
    value = resolveScalar(text);
    if (value !== FAILED && scalars.size < 100_000) scalars.set(text, value);
  }
  return value;
}

function resolveScalar(text: string): unknown {
  const first = text.charCodeAt(0);
  if (first === 34) return doubleQuoted(text);
  if (first === 39) return singleQuoted(text);
  if (text.includes(': ') || text.includes(' #') || text.endsWith(':') || text.endsWith(' ') || text === '') return FAILED;
  if (PLAIN_WORD.test(text)) return CORE_WORDS.has(text) ? CORE_WORDS.get(text) : text;
  if (DECIMAL.test(text)) return Number(text);
  // A command-line flag such as `-c`: a dash and a letter start a plain string, not a sequence entry or a number.
  if (DASH_WORD.test(text)) return text;
  // yaml resolves any other plain scalar, such as one with a leading digit, dot or sign. A scalar that could
  // start a collection, alias, anchor, tag, block scalar, directive, comment or document marker fails the read.
  if ((/^[[\]{}&*!|>%@`,?#-]/.test(text) && !/^-[0-9.]/.test(text)) || text.startsWith('...')) return FAILED;
  // yaml reads it as the value of a one-line map, the place it has in the document: on its own, a byte order mark
  // or a directive at the start would mean something else.
  try {
    const parsed: unknown = parse(`k: ${text}`);
    if (parsed === null || typeof parsed !== 'object' || Object.keys(parsed).length !== 1 || !Object.hasOwn(parsed, 'k')) return FAILED;
    const value = (parsed as { k: unknown }).k;
    return value !== null && typeof value === 'object' ? FAILED : value;
  } catch {
    return FAILED;
  }
}

function doubleQuoted(text: string): unknown {
  if (text.length < 2 || !text.endsWith('"')) return FAILED;
  // Only escapes that JSON reads the same way; YAML's own (\e, \x, \N and others) go to yaml.
  if (text.replace(JSON_ESCAPES, '').includes('\\')) return FAILED;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'string' ? value : FAILED;
  } catch {
    return FAILED;
  }
}

function singleQuoted(text: string): unknown {
  if (text.length < 2 || !text.endsWith("'")) return FAILED;
  const inner = text.slice(1, -1);
  if (inner.replaceAll("''", '').includes("'")) return FAILED;
  return inner.replaceAll("''", "'");
}
