import { Document, Scalar, parse, stringify, visit } from 'yaml';

/**
 * The options of every YAML document the generator writes: no line folding, no anchors for repeated objects, and
 * quotes on strings that YAML 1.1 would read as another type. kubectl and kustomize read YAML with go-yaml, which
 * follows YAML 1.1 there: unquoted, `yes` is a boolean, `1_000` and `0b101` numbers and `2024-01-01` a time.
 */
export const YAML_OPTIONS = { lineWidth: 0, aliasDuplicateObjects: false, compat: 'yaml-1.1' } as const;

/**
 * Keys that yaml writes as plain scalars in any position, and that cannot be mistaken for another type, with
 * colons only between other characters, as in Cilium's `k8s:io.kubernetes.pod.namespace`.
 */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9._/-]*(?::[A-Za-z0-9._/-]+)*$/;

/**
 * Strings that yaml writes plain, as they are: a letter, then word characters and `./@+=,-`, with colons only
 * between them (so never `: ` or a final colon). Of such strings, only the YAML 1.2 core schema's boolean and
 * null words would read back as another type, and yaml quotes those.
 */
const PLAIN_STRING = /^[A-Za-z][\w./@+=,-]*(?::[\w./@+=,-]+)*$/;
/** The words that the YAML 1.2 core schema or YAML 1.1 reads as a boolean or null, which yaml quotes. */
const CORE_SCHEMA_WORDS = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'null', 'Null', 'NULL', 'y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'on', 'On', 'ON', 'off', 'Off', 'OFF']);

/** Starts of strings that YAML 1.1 may read as a number, a time, a merge key or a null, left to yaml to write. */
const YAML_11_START = /^[-+.0-9<=~]/;

/** A bare exponent, such as `e0`, which yaml's YAML 1.1 float pattern also matches (yaml 2.8), so yaml quotes it. */
const BARE_EXPONENT = /^[eE][-+]?[0-9]+$/;

/**
 * A character that no number, time, null or merge key of YAML 1.2's core schema or YAML 1.1 contains, nor a Go
 * integer: those use only digits, signs, `.`, `:`, `_`, spaces, tabs and the letters of hexadecimal digits,
 * `0x`, `0o`, `.inf`, `.nan` and times (`T`, `Z`). Go's times may also contain a comma, so GO_TIME is checked first.
 */
const NOT_IN_NUMBERS = /[^-+.:_0-9a-fA-FiInNoOtTxXzZ \t<=~]/;

/**
 * Returns whether a string that starts like a number cannot be one in either schema, so NOT_PLAIN alone decides its
 * quoting. Such a string has a character no number has (`128Mi`, `10.0.0.0/16`, `.gitignore`), a sign before a
 * letter other than `e` (`-c`), or three or more groups of digits between dots (`1.30.5`), which no float pattern matches.
 * Versions, quantities, address ranges and flags are such strings, so a workshop run does not load yaml's writer.
 */
function cannotBeNumber(value: string): boolean {
  // A sign before `e` or `E` may start a float such as `-e5`, which yaml's YAML 1.1 pattern reads as a number.
  return NOT_IN_NUMBERS.test(value) || /^[-+][A-DF-Za-df-z]/.test(value) || /^[0-9]+(?:\.[0-9]+){2,}$/.test(value);
}

/** Returns whether yaml quotes this string, which starts with a letter, under the core schema or YAML 1.1. */
function isTypeWord(value: string): boolean {
  return CORE_SCHEMA_WORDS.has(value) || BARE_EXPONENT.test(value);
}

/**
 * Printable ASCII without quotes or backslashes, on one line: yaml writes such a string either plain or between
 * double quotes with nothing escaped.
 */
const SIMPLE_TEXT = /^[ !#-&(-[\]-~]*$/;

/**
 * Single-line values that YAML cannot write plain: a leading indicator or space, a lone `-` or `?`, or one
 * followed by a space, `: ` or ` #` inside, or a final space or colon.
 */
const NOT_PLAIN = /^[ ,[\]{}#&*!|>%@`]|^[?-]$|^[?-] |: | #| $|:$/;

/** The YAML 1.2 core schema's forms of null, booleans, integers and floats: a string in one of them needs quotes. */
const CORE_SCHEMA_VALUE = [
  /^(?:~|[Nn]ull|NULL)?$/,
  /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
  /^0o[0-7]+$/,
  /^[-+]?[0-9]+$/,
  /^0x[0-9a-fA-F]+$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
];

/** Returns yaml's text for a simple string value (see SIMPLE_TEXT): plain when it can be, else in double quotes. */
function simpleStringText(value: string): string {
  const quoted = NOT_PLAIN.test(value) || isTypeWord(value) || CORE_SCHEMA_VALUE.some((pattern) => pattern.test(value));
  return quoted ? `"${value}"` : value;
}

/** Scalars as yaml writes them, by value: manifests repeat the same keys and values thousands of times. */
const scalarTexts = new Map<string | number | boolean | null, string | undefined>();

/**
 * Serialises a value as one YAML document, byte for byte as `stringify(value, YAML_OPTIONS)` of the yaml package
 * does, about twenty times faster. yaml builds a node tree for every document and checks every string against
 * its schema; this lays out block maps and sequences itself and calls yaml to write each distinct scalar once.
 * Any value outside that simple shape (a string with a line break or a document marker, a key that needs
 * quotes, a class instance) is passed to yaml whole.
 */
export function stringifyDocument(value: unknown): string {
  if (isPlainObject(value) || Array.isArray(value) || value instanceof Map) {
    const lines: string[] = [];
    if (emitBlock(value, '', lines)) return `${lines.join('\n')}\n`;
  }
  if (!hasMisreadBlockString(value)) return stringify(value, YAML_OPTIONS);
  // Those strings go between double quotes, every other node as yaml chooses.
  const document = new Document(value, YAML_OPTIONS);
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && needsDoubleQuotes(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return document.toString(YAML_OPTIONS);
}

/**
 * Integers as Go's strconv.ParseInt reads them with base 0 once underscores are removed, which go-yaml (and so
 * kubectl) does with plain scalars: `0X1F`, `0O17`, `0B101` and `-_1` among them, which yaml's YAML 1.1 mode
 * leaves plain.
 */
const GO_INTEGER = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|[0-9]+)$/;

/**
 * Dates, and dates with a time, in the shapes go-yaml tries with Go's time.Parse. Go takes forms that yaml's
 * YAML 1.1 pattern does not, such as a comma before the fraction (`2001-12-14 21:59:43,10`), which yaml leaves
 * plain and kubectl then reads as a time. The pattern takes more than Go does, which only adds quotes.
 */
const GO_TIME = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t][ \t0-9:.,+\-TtZz]*)?$/;

/**
 * Returns whether go-yaml reads a plain string as a Go integer or time (see GO_INTEGER and GO_TIME). It tries
 * numbers and times only for a string that starts with a digit, a sign or a dot (resolveTable in resolve.go of
 * sigs.k8s.io/yaml/goyaml.v3, the copy that kubectl uses).
 */
function goReadsAsOtherType(text: string): boolean {
  return /^[-+.0-9]/.test(text) && (GO_INTEGER.test(text.replaceAll('_', '')) || GO_TIME.test(text));
}

/** Returns whether a string must be double-quoted whatever yaml would choose (see goReadsAsOtherType and misreadAsBlock). */
function needsDoubleQuotes(text: string): boolean {
  return goReadsAsOtherType(text) || misreadAsBlock(text);
}

/** Strings already checked by {@link misreadAsBlock}, with the result. */
const blockChecks = new Map<string, boolean>();

/**
 * Returns whether yaml (2.8) writes a multi-line string as a block scalar that reads back as another string, or
 * not at all. A line of only spaces before the first line with text loses its spaces: " \n" comes back as "\n".
 */
function misreadAsBlock(text: string): boolean {
  if (!text.includes('\n')) return false;
  let misread = blockChecks.get(text);
  if (misread === undefined) {
    try {
      misread = (parse(stringify({ value: text }, YAML_OPTIONS)) as { value: unknown }).value !== text;
    } catch {
      misread = true;
    }
    if (blockChecks.size < 10_000) blockChecks.set(text, misread);
  }
  return misread;
}

/** Returns whether a value has a string anywhere that {@link needsDoubleQuotes} catches. */
export function hasMisreadBlockString(value: unknown): boolean {
  if (typeof value === 'string') return needsDoubleQuotes(value);
  if (Array.isArray(value)) return value.some(hasMisreadBlockString);
  if (value instanceof Map) return [...value].some(([key, item]) => hasMisreadBlockString(key) || hasMisreadBlockString(item));
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, item]) => hasMisreadBlockString(key) || hasMisreadBlockString(item));
  return false;
}

/** Appends the lines of a map or sequence at `indent`; returns false when the value needs yaml's full rules. */
function emitBlock(value: object, indent: string, lines: string[]): boolean {
  if (Array.isArray(value)) {
    if (value.length === 0) return false;
    for (const item of value) {
      if (!emitEntry(`${indent}-`, item, `${indent}  `, lines, true)) return false;
    }
    return true;
  }

  let count = 0;
  for (const [key, item] of entriesOf(value)) {
    if (item === undefined) continue;
    if (typeof key !== 'string') return false;
    if (!PLAIN_KEY.test(key) || key.length > 1000 || key === '__proto__' || scalarText(key) !== key) return false;
    if (!emitEntry(`${indent}${key}:`, item, `${indent}  `, lines, false)) return false;
    count++;
  }
  return count > 0;
}

/**
 * Appends `prefix` (a key with its colon, or a sequence dash) followed by the value: on the same line for a
 * scalar or an empty collection, on the next lines for a map or sequence. yaml puts the first entry of a
 * collection inside a sequence on the dash's line.
 */
function emitEntry(prefix: string, item: unknown, childIndent: string, lines: string[], inSequence: boolean): boolean {
  if (typeof item === 'string' && BLOCK_TEXT.test(item)) {
    lines.push(`${prefix} ${literalBlock(item, childIndent)}`);
    return true;
  }
  if (item === null || typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean') {
    const text = scalarText(item);
    if (text === undefined) return false;
    lines.push(`${prefix} ${text}`);
    return true;
  }
  if (Array.isArray(item) && item.length === 0) {
    lines.push(`${prefix} []`);
    return true;
  }
  if (!Array.isArray(item) && !isPlainObject(item) && !(item instanceof Map)) return false;
  if (!Array.isArray(item) && !entriesOf(item).some(([, child]) => child !== undefined)) {
    lines.push(`${prefix} {}`);
    return true;
  }

  if (!inSequence) {
    lines.push(prefix);
    return emitBlock(item, childIndent, lines);
  }
  const first = lines.length;
  if (!emitBlock(item, childIndent, lines)) return false;
  lines[first] = `${prefix} ${lines[first]!.slice(childIndent.length)}`;
  return true;
}

/**
 * Multi-line strings that yaml writes as a literal block with nothing more to decide. They hold printable ASCII,
 * tabs and at least one line break. They start with neither a space nor a line break, and end in neither a space,
 * a tab nor two line breaks. Scripts, policies and configuration files in ConfigMaps are such strings.
 */
const BLOCK_TEXT = /^(?=[^\n]*\n)[!-~](?:[\t\n -~]*[!-~])?\n?$/;

/**
 * Returns yaml's literal block for a string that {@link BLOCK_TEXT} matches, as the value of an entry whose
 * content lines start at `indent`: `|` when the string ends in one line break, `|-` when it ends in none. Empty
 * lines stay empty, as yaml leaves them.
 */
function literalBlock(value: string, indent: string): string {
  const body = value.endsWith('\n') ? value.slice(0, -1) : value;
  return `|${body === value ? '-' : ''}\n${indent}${body.replace(/\n+/g, `$&${indent}`)}`;
}

/** Returns yaml's text for a scalar, or undefined when it spans lines or depends on its position. */
function scalarText(value: string | number | boolean | null): string | undefined {
  if (typeof value === 'string' && PLAIN_STRING.test(value) && !isTypeWord(value)) return value;
  // yaml writes safe integers in decimal, and -0 as -0, which String() would not.
  if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) return String(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && SIMPLE_TEXT.test(value)) {
    // Strings that start with `/` or hold spaces, as paths and commands do.
    if (!YAML_11_START.test(value)) return simpleStringText(value);
    // A decimal integer as text (a port in an environment variable) is quoted in both schemas, and a Go time as
    // the whole-document path writes it. Their characters need no escapes.
    if (/^[0-9]+$/.test(value) || GO_TIME.test(value)) return `"${value}"`;
    if (cannotBeNumber(value)) return simpleStringText(value);
  }
  // Other strings that start with a digit or a sign go to yaml, which has YAML 1.1's rules for numbers and times.
  if (scalarTexts.has(value)) return scalarTexts.get(value);
  let text: string | undefined = stringify(value, YAML_OPTIONS).slice(0, -1);
  // A Go integer or time that yaml leaves plain goes between double quotes, as the whole-document path writes it.
  // Its characters need no escapes.
  if (typeof value === 'string' && goReadsAsOtherType(value) && text === value) text = `"${value}"`;
  // A line break, or a document marker (which yaml writes differently at the top level), needs yaml's full rules.
  if (text.includes('\n') || (typeof value === 'string' && (value.includes('\n') || /^(%|---|\.\.\.)/m.test(value)))) text = undefined;
  if (scalarTexts.size < 100_000) scalarTexts.set(value, text);
  return text;
}

/** Returns the entries of a plain object or a Map, which yaml writes alike. */
function entriesOf(value: object): [unknown, unknown][] {
  return value instanceof Map ? [...(value as Map<unknown, unknown>).entries()] : Object.entries(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
