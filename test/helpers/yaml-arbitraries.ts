// Random values for the YAML emitter and reader tests.
import fc from 'fast-check';

// Strings that stress yaml's quoting rules: core schema words, numbers, markers, colons, comments and quotes.
const awkwardString = fc.oneof(
  fc.constantFrom('true', 'False', 'NULL', 'null', '~', 'yes', 'on', '8080', '0x1F', '1e3', '.inf', '-', '- a', 'a: b', 'a:', 'a #b', '#a', "it's", 'say "hi"', '', ' a', 'a ', '---', '...', 'a\nb', 'ns/sa:x', '@a', '%a', '*a', '&a', '!a', '|', '>'),
  fc.string(),
  fc.stringMatching(/^[a-z][a-z0-9.:/-]{0,12}$/),
  // Printable ASCII, which the emitter writes itself, and number-like text, which must stay a string.
  fc.stringMatching(/^[ -~]{0,16}$/),
  fc.stringMatching(/^[-+.0-9eEoxInfa ]{0,8}$/),
  // Text that starts like a number, as versions, quantities, address ranges and flags do.
  fc.stringMatching(/^[-+.0-9<=~][-+.:_0-9a-zA-Z/@ \t]{0,10}$/),
  fc.stringMatching(/^[-+]?[0-9]{1,4}(\.[0-9]{0,3}){0,4}[a-zA-Z]{0,2}$/),
  fc.stringMatching(/^[0-9]{1,4}(-[0-9]{1,2}){0,2}([Tt ][0-9]{1,2}(:[0-9]{2}){0,2}(\.[0-9]*)?Z?)?$/),
  fc.constantFrom('5432', '1.10', '0755', '0o17', '0x1F', '+1', '-.5', '1e-3', '.NaN', '-.inf', '1Gi', 'yes', 'Off', 'y', 'n', 'e0', 'E5', 'e+1', '1_000', '0b101', '2024-01-01', '12:30', '1:20:30.5', '<<', '=', '0x_1', '/tmp', './x', '.gitignore', 'all()', 'a b', '- ', '? a', '?', ':a', 'a:b', 'a #b', 'a# b', '[a]', '{a}', '`a`', '%a', '@a', 'a  b', '1.30.5', '0.1.0', '10m', '32Mi', '192.168.0.0/16', '-c', '+x', '-.inf', '1.2.3e4', '0x1.2.3', '0o1.2.3', '1:2.3.4', '2001-12-14t21:59:43.10-05:00', '.github/workflows/verify.yaml'),
);
// Multi-line text, which the emitter writes as a literal block itself when yaml would have nothing else to decide.
const multiLineString = fc.oneof(
  fc.array(fc.stringMatching(/^[\t -~]{0,12}$/), { minLength: 2, maxLength: 5 }).map((lines) => lines.join('\n')),
  fc.array(fc.stringMatching(/^[!-~][\t -~]{0,10}$/), { minLength: 1, maxLength: 4 }).map((lines) => `${lines.join('\n')}\n`),
  fc.constantFrom('a\nb', 'a\nb\n', 'a\n\nb\n', 'a\n\n', 'a\nb\n\n', 'a \nb', 'a\n  \nb', '#!/bin/sh\n\tset -eu\n', '- a\n- b\n', 'a: b\nc: d', 'a\n---\nb\n', '%a\nb', 'a\t\nb', 'x\n '),
);
const key = fc.oneof(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9._/-]{0,10}$/), fc.stringMatching(/^[a-z][a-z0-9.:/-]{0,12}$/), awkwardString);
const scalar = fc.oneof(awkwardString, multiLineString, fc.integer(), fc.maxSafeInteger(), fc.constantFrom(-0, 0, 2 ** 53, -(2 ** 53)), fc.double(), fc.boolean(), fc.constant(null));
export const document = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('map'), tie('list'), tie('mapObject')),
  // yaml writes a Map as it writes an object with the same entries; the generator uses Maps for user-named keys.
  mapObject: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  map: fc.dictionary(key, fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 5 }),
  list: fc.array(tie('value'), { maxLength: 4 }),
})).map;
