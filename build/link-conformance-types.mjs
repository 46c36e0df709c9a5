// Run after both tsup builds (`npm run build`). The conformance kit's types are built with the core's types
// left out, as imports of '../index.js', the specifier in src/conformance/. Next to dist/index.d.ts that has to
// read './index.js'; rollup writes external relative imports relative to the project, so this rewrites them.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../dist/conformance.d.ts', import.meta.url);
const types = readFileSync(path, 'utf8');
const coreImport = /^(import .* from )'\.\.\/index\.js';$/gm;
if (!types.match(coreImport)) throw new Error(`${path.pathname}: no import of '../index.js' to point at dist/index.d.ts; was the kit built with tsup.conformance.config.ts?`);
writeFileSync(path, types.replace(coreImport, "$1'./index.js';"));
