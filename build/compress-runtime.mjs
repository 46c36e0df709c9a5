// Run after the tsup builds (`npm run build`), before build/record-help.mjs. The runtime bundle, dist/index.cjs,
// is about 650 KB of minified code. This script compresses it with brotli into dist/runtime.cjs.br (about 175 KB),
// which the launcher (src/launcher/runtime.ts) decompresses in about 3 ms on each run. In the bundle's place it
// puts a small loader as the package's entry point, so `require` and `import` of the package work as before.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, brotliDecompressSync, constants, crc32 } from 'node:zlib';

const runtimePath = new URL('../dist/index.cjs', import.meta.url).pathname;
const compressedPath = new URL('../dist/runtime.cjs.br', import.meta.url).pathname;

const bundle = readFileSync(runtimePath);
// The launcher and the loader decode the bundle as latin1, which reads ASCII as utf8 does, and faster. esbuild
// escapes every other character by default (its charset option).
const nonAscii = bundle.findIndex((byte) => byte > 0x7f);
if (nonAscii !== -1) throw new Error(`${runtimePath}: byte ${nonAscii} is not ASCII, so the runtime cannot be decoded as latin1`);
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
const { brotliDecompressSync, crc32 } = require("node:zlib");
const { Script } = require("node:vm");
const file = join(__dirname, "runtime.cjs.br");
const bytes = readFileSync(file);
// brotli has no checksum of its own, so a damaged file could decompress into other code.
if (crc32(bytes) !== ${crc32(compressed)}) throw new Error(file + " is damaged (its CRC-32 differs from the build's). Reinstall create-zero-trust-app");
const source = brotliDecompressSync(bytes).toString("latin1");
const wrapper = new Script("(function (exports, require, module, __filename, __dirname) { " + source + "\\n});", { filename: __filename }).runInThisContext();
wrapper.call(exports, exports, require, module, __filename, __dirname);
// The export names, which Node reads from this text when an ES module imports the package.
0 && (module.exports = { ${names.join(', ')} });
`;

writeFileSync(compressedPath, compressed);
writeFileSync(runtimePath, loader);

// The launcher checks the compressed file's CRC-32 before it runs the code: brotli has no checksum of its own, so a
// damaged file may decompress into other code.
const launcherPath = new URL('../dist/cli.cjs', import.meta.url).pathname;
const CRC_PLACEHOLDER = JSON.stringify('create-zero-trust-app runtime CRC-32, recorded after the build');
const launcher = readFileSync(launcherPath, 'utf8');
if (!launcher.includes(CRC_PLACEHOLDER)) throw new Error(`${launcherPath}: the runtime CRC-32 placeholder is missing, so the check cannot be recorded`);
writeFileSync(launcherPath, launcher.replace(CRC_PLACEHOLDER, JSON.stringify(crc32(compressed).toString(16).padStart(8, '0'))));
