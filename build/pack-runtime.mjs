// Run after the tsup builds (`npm run build`), before build/record-help.mjs. tsup leaves the runtime as ES module
// parts in dist/runtime-parts (esbuild splits it at dynamic imports). This script turns each part into CommonJS,
// which node:vm can compile with a code cache, and packs the parts, each compressed with brotli, into
// dist/runtime.cjs.br (src/launcher/runtime.ts has the format). It then records the file's CRC-32 in the launcher
// and the package's entry point, and the export names in the entry point.
import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { crc32 } from 'node:zlib';
import { transformSync } from 'esbuild';
import { importLauncherRuntime } from './launcher-module.mjs';

const dist = new URL('../dist/', import.meta.url).pathname;
const partsFolder = `${dist}runtime-parts/`;
const runtimePath = `${dist}runtime.cjs.br`;
const ENTRY = 'index.js';

// The format's code lives in the launcher's sources.
const { packParts, partSource, unpackParts } = await importLauncherRuntime();

const metafilePath = `${partsFolder}metafile-esm.json`;
const { outputs } = JSON.parse(readFileSync(metafilePath, 'utf8'));
if (process.env.BUNDLE_METAFILE) renameSync(metafilePath, `${dist}metafile-esm.json`);

// Each module's source as CommonJS, and the modules it imports statically and dynamically.
const modules = new Map();
for (const [output, { imports }] of Object.entries(outputs)) {
  const name = basename(output);
  if (!name.endsWith('.js')) throw new Error(`${output}: not a part of the runtime, so it cannot be packed`);
  const { code } = transformSync(readFileSync(`${partsFolder}${name}`, 'utf8'), {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    // Code compiled with node:vm cannot call import(), so a module loads another with require (the loader's).
    supported: { 'dynamic-import': false },
    // The bundled packages' ES module code reads import.meta.url (yargs, for one): it becomes the URL of the
    // package's entry point, which is each module's __filename.
    define: { 'import.meta.url': '__import_meta_url' },
  });
  const source = code.includes('__import_meta_url') ? `var __import_meta_url=require("node:url").pathToFileURL(__filename).href;${code}` : code;
  // The loader decodes the parts as latin1, which reads ASCII as utf8 does, and faster. esbuild escapes every other
  // character by default (its charset option).
  const nonAscii = Buffer.from(source).findIndex((byte) => byte > 0x7f);
  if (nonAscii !== -1) throw new Error(`${partsFolder}${name}: byte ${nonAscii} is not ASCII, so the part cannot be decoded as latin1`);
  const local = imports.filter((entry) => !entry.external);
  modules.set(name, {
    source,
    static: local.filter((entry) => entry.kind === 'import-statement').map((entry) => basename(entry.path)),
    dynamic: local.filter((entry) => entry.kind === 'dynamic-import').map((entry) => basename(entry.path)),
  });
}
if (!modules.has(ENTRY)) throw new Error(`${partsFolder}${ENTRY} is missing, so the runtime has no entry module`);

// The parts. A run loads a module with everything it imports statically, so each part is the entry module or one
// that another imports dynamically, with what they import statically: the core (index), yargs, the prompts, each
// mesh plugin. A module that several such parts import goes into a part of its own with the others of that set, so
// each module is in one part and runs once.
const reach = (root) => {
  const found = new Set([root]);
  for (const name of found) for (const next of modules.get(name).static) found.add(next);
  return found;
};
// The build's other entry points (yaml.js) are loaded by a require that esbuild leaves to the loader.
const entryPoints = Object.entries(outputs).filter(([, output]) => output.entryPoint).map(([output]) => basename(output));
const roots = [...new Set([ENTRY, ...entryPoints, ...[...modules.values()].flatMap((module) => module.dynamic)])];
const core = reach(ENTRY);
const reachedBy = new Map();
for (const root of roots.filter((root) => root === ENTRY || !core.has(root))) {
  for (const name of root === ENTRY ? core : [...reach(root)].filter((name) => !core.has(name))) {
    reachedBy.set(name, [...(reachedBy.get(name) ?? []), root]);
  }
}
const groups = new Map();
for (const [name, rootsOfModule] of reachedBy) {
  const key = rootsOfModule.join(' ');
  groups.set(key, [...(groups.get(key) ?? []), name]);
}
// A part is named after its root without esbuild's hash (`istio`), `core` for the entry's, and a shared part
// after its first module. Cache file names end in the part's name after an underscore, so it may not contain one.
const parts = [...groups].map(([key, names]) => {
  const ownRoots = key.split(' ');
  const ordered = [...names].sort();
  let name = `shared-${ordered[0].replace(/\.js$/, '')}`;
  if (ownRoots.length === 1) name = ownRoots[0] === ENTRY ? 'core' : ownRoots[0].replace(/(-[A-Z0-9]+)?\.js$/, '');
  if (!/^[a-z][a-z0-9-]*(-[A-Z0-9]+)?$/.test(name)) throw new Error(`part name ${name} is invalid: cache file names allow only letters, digits and "-"`);
  return { name, modules: ordered, source: Buffer.from(partSource(new Map(ordered.map((module) => [module, modules.get(module).source]))), 'latin1') };
});
const missing = [...modules.keys()].filter((name) => !reachedBy.has(name));
if (missing.length > 0) throw new Error(`modules ${missing.join(', ')} are in no part: nothing imports them`);

const packed = packParts(ENTRY, parts);
const unpacked = unpackParts(packed);
for (const [position, part] of parts.entries()) {
  if (!unpacked.parts[position].source().equals(part.source)) throw new Error(`${runtimePath}: part ${part.name} does not unpack to its source`);
}
writeFileSync(runtimePath, packed);
rmSync(partsFolder, { recursive: true, force: true });

// The launcher and the entry point check the file's CRC-32 before they run any of it: brotli has no checksum of its
// own, so a damaged file may decompress into other code.
const CRC_PLACEHOLDER = JSON.stringify('create-zero-trust-app runtime CRC-32, recorded after the build');
const crc = JSON.stringify(crc32(packed).toString(16).padStart(8, '0'));
for (const file of [`${dist}cli.cjs`, `${dist}index.cjs`]) {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(CRC_PLACEHOLDER)) throw new Error(`${file}: the runtime CRC-32 placeholder is missing, so the check cannot be recorded`);
  writeFileSync(file, text.replaceAll(CRC_PLACEHOLDER, crc));
}

// The export names, in the form Node's reader of CommonJS exports (cjs-module-lexer) finds in the entry point's text.
const names = Object.keys(createRequire(import.meta.url)(`${dist}index.cjs`));
const identifier = /^[A-Za-z_$][\w$]*$/;
const odd = names.filter((name) => !identifier.test(name));
if (odd.length > 0) throw new Error(`${dist}index.cjs: exports ${odd.join(', ')} are not identifiers, so they cannot be listed`);
appendFileSync(`${dist}index.cjs`, `// The export names, which Node reads from this text when an ES module imports the package.\n0 && (module.exports = { ${names.join(', ')} });\n`);
