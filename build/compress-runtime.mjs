// Run after the tsup builds (`npm run build`), before build/record-help.mjs. The runtime bundle, dist/index.cjs,
// is about 650 KB of minified code. This script compresses it with brotli into dist/runtime.cjs.br (about 175 KB),
// which the launcher (src/launcher/runtime.ts) decompresses in about 3 ms on each run. In the bundle's place it
// puts a small loader as the package's entry point, so `require` and `import` of the package work as before.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const runtimePath = new URL('../dist/index.cjs', import.meta.url).pathname;
const compressedPath = new URL('../dist/runtime.cjs.br', import.meta.url).pathname;

const bundle = readFileSync(runtimePath);
// The export names, for the loader's list that Node's import of a CommonJS file reads (cjs-module-lexer).
const names = Object.keys(createRequire(import.meta.url)(runtimePath));
const identifier = /^[A-Za-z_$][\w$]*$/;
const odd = names.filter((name) => !identifier.test(name));
if (odd.length > 0) throw new Error(`${runtimePath}: exports ${odd.join(', ')} are not identifiers, so the loader cannot list them`);

const compressed = brotliCompressSync(bundle, {
  params: {
    [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_SIZE_HINT]: bundle.length,
  },
});
if (!brotliDecompressSync(compressed).equals(bundle)) throw new Error(`${compressedPath}: the compressed runtime does not decompress to the bundle`);

const loader = `"use strict";
// The entry point of create-zero-trust-app's package. The runtime (the CLI, the plugins and the API, with the
// licences of the packages bundled in it) ships compressed as runtime.cjs.br to keep the package small. This file
// runs it as this module. The bin, cli.cjs, loads the same runtime through V8's code cache instead.
const { join } = require("node:path");
const { readFileSync } = require("node:fs");
const { brotliDecompressSync } = require("node:zlib");
const { Script } = require("node:vm");
const source = brotliDecompressSync(readFileSync(join(__dirname, "runtime.cjs.br"))).toString("utf8");
const wrapper = new Script("(function (exports, require, module, __filename, __dirname) { " + source + "\\n});", { filename: __filename }).runInThisContext();
wrapper.call(exports, exports, require, module, __filename, __dirname);
// The export names, which Node reads from this text when an ES module imports the package.
0 && (module.exports = { ${names.join(', ')} });
`;

writeFileSync(compressedPath, compressed);
writeFileSync(runtimePath, loader);
