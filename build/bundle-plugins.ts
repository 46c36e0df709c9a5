// esbuild plugins for the published bundle. They keep dist/index.js small: the package ships one runtime file
// with no dependencies, so every byte of the prompt stack (node-plop, inquirer, ora) is part of `npm create`.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

const require = createRequire(import.meta.url);

/**
 * Modules that node-plop and inquirer import for features this CLI never uses: node-plop's file actions
 * (tinyglobby, isbinaryfile) and its plopfile loader (resolve), and inquirer's `editor` prompt
 * (@inquirer/external-editor with iconv-lite, about 500 KB).
 */
const UNUSED_MODULES = ['tinyglobby', 'isbinaryfile', 'resolve', '@inquirer/external-editor'];

/** Inquirer's prompt types and UI that the CLI never shows: it asks only `list` and `input` questions. */
const UNUSED_INQUIRER_FILES = /^\.\/(prompts\/(number|confirm|rawlist|expand|checkbox|password|editor)|ui\/bottom-bar)\.js$/;

/**
 * Replaces the modules in {@link UNUSED_MODULES} and the files in {@link UNUSED_INQUIRER_FILES} with stubs that
 * throw if anything calls them, which saves about 20 KB of the bundle and 500 KB of its build.
 */
export function stubUnusedModules(): Plugin {
  const filter = new RegExp(`^(${UNUSED_MODULES.map((name) => name.replace(/[/.]/g, '\\$&')).join('|')})$`);
  return {
    name: 'stub-unused-modules',
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'unused-module' }));
      build.onResolve({ filter: UNUSED_INQUIRER_FILES }, (args) =>
        /[\\/]inquirer[\\/]lib$/.test(args.resolveDir) ? { path: `inquirer/lib/${args.path.slice(2)}`, namespace: 'unused-module' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'unused-module' }, (args) => {
        const message = JSON.stringify(`${args.path} is not bundled with create-zero-trust-app, which uses only node-plop's list and input prompts`);
        return {
          contents: [
            `const fail = () => { throw new Error(${message}); };`,
            'module.exports = function unavailable() { fail(); };',
            'Object.assign(module.exports, { default: module.exports, globSync: fail, isBinaryFileSync: fail, sync: fail, editAsync: fail });',
          ].join('\n'),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * Replaces three parts of yargs and node-plop that this CLI never reaches with ES modules that throw if called:
 * - yargs' shell completion (yargs 18, build/lib/completion.js and its script templates, 7 KB): the CLI adds no
 *   `completion` command, so there is no script to install, and the hidden `--get-yargs-completions` flag it
 *   answers becomes an unknown option;
 * - node-plop's file actions (`add`, `addMany`, `modify`, `append`, 6 KB): the CLI's generator only prompts;
 * - node-plop's case-changing template helpers (change-case and title-case, 4 KB): only its renderString
 *   calls them, through `handlebars.compile`, which the bundled Handlebars runtime does not have.
 */
export function stubUnusedFeatures(): Plugin {
  const fail = (what: string) => `const fail = () => { throw new Error(${JSON.stringify(`${what} is not bundled with create-zero-trust-app`)}); };`;
  const stubs: Record<string, string> = {
    'yargs/completion': [
      fail("yargs' shell completion"),
      'export function completion() {',
      '  return { completionKey: undefined, setParsed() {}, getCompletion: fail, generateCompletionScript: fail, registerFunction: fail };',
      '}',
    ].join('\n'),
    'node-plop/actions': [fail("node-plop's file actions"), 'export const add = fail, addMany = fail, modify = fail, append = fail;'].join('\n'),
    'node-plop/helpers': 'export default {};',
  };
  return {
    name: 'stub-unused-features',
    setup(build) {
      build.onResolve({ filter: /^\.\/completion\.js$/ }, (args) => (/[\\/]yargs[\\/]build[\\/]lib$/.test(args.resolveDir) ? { path: 'yargs/completion', namespace: 'unused-feature' } : undefined));
      build.onResolve({ filter: /^\.\/(actions\/index|baked-in-helpers)\.js$/ }, (args) =>
        /[\\/]node-plop[\\/]src$/.test(args.resolveDir) ? { path: args.path.includes('actions') ? 'node-plop/actions' : 'node-plop/helpers', namespace: 'unused-feature' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'unused-feature' }, (args) => ({ contents: stubs[args.path], loader: 'js' }));
    },
  };
}

/**
 * Replaces @inquirer/figures, a table of about 250 symbols, with the ones that inquirer's files name (in inquirer
 * 9.3, `figures.pointer`, `figures.line` and the unused prompts' few), taken from the real table at build time in
 * its Unicode and its fallback form, and chosen by the same test as the package's (is-unicode-supported's).
 */
export function slimFigures(): Plugin {
  const inquirerDirectory = dirname(createRequire(require.resolve('node-plop')).resolve('inquirer/package.json'));
  const used = new Set<string>();
  for (const file of readdirSync(join(inquirerDirectory, 'lib'), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.js')) continue;
    const contents = readFileSync(join(inquirerDirectory, 'lib', file), 'utf8');
    if (contents.includes('@inquirer/figures')) for (const match of contents.matchAll(/\bfigures\.(\w+)/g)) used.add(match[1]!);
  }
  return {
    name: 'slim-figures',
    setup(build) {
      build.onResolve({ filter: /^@inquirer\/figures$/ }, (args) => ({ path: createRequire(join(args.resolveDir, 'index.js')).resolve('@inquirer/figures'), namespace: 'slim-figures' }));
      build.onLoad({ filter: /.*/, namespace: 'slim-figures' }, async (args) => {
        const figures = (await import(pathToFileURL(args.path).href)) as { mainSymbols: Record<string, string>; fallbackSymbols: Record<string, string> };
        const pick = (table: Record<string, string>) => Object.fromEntries([...used].sort().map((name) => [name, table[name]]));
        return {
          contents: [
            "import process from 'node:process';",
            "const unicode = process.platform !== 'win32'",
            "  ? process.env.TERM !== 'linux'",
            "  : Boolean(process.env.WT_SESSION) || Boolean(process.env.TERMINUS_SUBLIME) || process.env.ConEmuTask === '{cmd::Cmder}' ||",
            "    ['Terminus-Sublime', 'vscode'].includes(process.env.TERM_PROGRAM) || ['xterm-256color', 'alacritty'].includes(process.env.TERM) ||",
            "    process.env.TERMINAL_EMULATOR === 'JetBrains-JediTerm';",
            `export default unicode ? ${JSON.stringify(pick(figures.mainSymbols))} : ${JSON.stringify(pick(figures.fallbackSymbols))};`,
          ].join('\n'),
          loader: 'js',
        };
      });
    },
  };
}

/**
 * Replaces ora for inquirer, whose screen manager (inquirer 9.3, lib/utils/screen-manager.js) only calls
 * `ora(text)` and reads the spinner's `interval` and `frame()` while a prompt validates its answer. ora 5 brings
 * chalk, bl, cli-spinners and seven more packages, about 80 KB. The replacement draws ora's default spinner
 * (`dots`, or `line` where the terminal may lack Unicode, as is-unicode-supported decides) in cyan, with
 * inquirer's own color package, which honours NO_COLOR.
 */
export function replaceOraForInquirer(): Plugin {
  return {
    name: 'replace-ora-for-inquirer',
    setup(build) {
      build.onResolve({ filter: /^ora$/ }, (args) => ({ path: 'ora', namespace: 'inquirer-spinner', pluginData: args.resolveDir }));
      build.onLoad({ filter: /.*/, namespace: 'inquirer-spinner' }, (args) => {
        const spinnersPath = createRequire(require.resolve('ora')).resolve('cli-spinners/spinners.json');
        const spinners = JSON.parse(readFileSync(spinnersPath, 'utf8')) as Record<string, { interval: number; frames: string[] }>;
        return {
          contents: [
            "import colors from 'yoctocolors-cjs';",
            "const unicode = process.platform !== 'win32' || Boolean(process.env.WT_SESSION) || process.env.TERM_PROGRAM === 'vscode';",
            `const spinner = unicode ? ${JSON.stringify(spinners.dots)} : ${JSON.stringify(spinners.line)};`,
            'export default function ora(text) {',
            '  let index = 0;',
            '  return {',
            '    interval: spinner.interval,',
            '    frame() {',
            '      const frame = colors.cyan(spinner.frames[index]);',
            '      index = (index + 1) % spinner.frames.length;',
            "      return typeof text === 'string' ? `${frame} ${text}` : frame;",
            '    },',
            '  };',
            '}',
          ].join('\n'),
          resolveDir: args.pluginData as string,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * Points five imports at smaller files, each an ES module build that esbuild can tree-shake or a module the
 * bundle already has:
 * - `handlebars` (node-plop's import) and `handlebars/runtime.js` (src/render/handlebars.ts) at the runtime
 *   only, from its ES module sources in handlebars/lib, the code that its CommonJS build is compiled from (4 KB
 *   smaller bundled): the templates are precompiled, and node-plop compiles templates only in its file actions,
 *   which the prompts do not use;
 * - `rxjs` and `yaml` at their ES module builds, since on Node both resolve to CommonJS builds. yaml's ES module
 *   build is its browser build, which differs only in logging warnings with console.warn and in using atob and
 *   btoa, both global on Node 20;
 * - `wrap-ansi` (inquirer has 6) at cliui's wrap-ansi 9, which takes the same arguments and, unlike 6, needs no
 *   color-convert (17 KB);
 */
export function redirectToSmallerModules(): Plugin {
  const packageDirectory = (name: string) => dirname(require.resolve(`${name}/package.json`));
  const targets: Record<string, { path: string }> = {
    handlebars: { path: join(packageDirectory('handlebars'), 'lib/handlebars.runtime.js') },
    rxjs: { path: join(dirname(dirname(dirname(require.resolve('rxjs')))), 'dist/esm/index.js') },
    yaml: { path: join(packageDirectory('yaml'), 'browser/index.js') },
    'wrap-ansi': { path: createRequire(require.resolve('cliui')).resolve('wrap-ansi') },
  };
  return {
    name: 'redirect-to-smaller-modules',
    setup(build) {
      build.onResolve({ filter: /^(handlebars|rxjs|yaml|wrap-ansi)$/ }, (args) => targets[args.path]);
      build.onResolve({ filter: /^handlebars\/runtime(\.js)?$/ }, () => targets.handlebars);
    },
  };
}

/**
 * Resolves every copy of string-width (yargs has 8, cliui 7, inquirer's wrap-ansi 4) to yargs' copy, behind a
 * fast path for printable ASCII, whose width is its length, and loads string-width only for other text: its
 * module builds Intl.Segmenter and Unicode property regular expressions, which cost 20 to 40 ms, a sixth or more
 * of `node -e 0`, on every `--help`. The module is CommonJS so that
 * both `import` and wrap-ansi's `require` get the function.
 */
export function measureAsciiFast(): Plugin {
  const yargsRequire = createRequire(require.resolve('yargs'));
  const realPath = yargsRequire.resolve('string-width');
  return {
    name: 'measure-ascii-fast',
    setup(build) {
      build.onResolve({ filter: /^string-width$/ }, () => ({ path: 'string-width', namespace: 'ascii-fast-width' }));
      build.onLoad({ filter: /.*/, namespace: 'ascii-fast-width' }, () => ({
        contents: [
          'const printableAscii = /^[\\x20-\\x7e]*$/;',
          'let measure;',
          'module.exports = function stringWidth(text, options) {',
          "  if (typeof text === 'string' && printableAscii.test(text)) return text.length;",
          '  if (!measure) {',
          `    const real = require(${JSON.stringify(realPath)});`,
          '    measure = real.default ?? real;',
          '  }',
          '  return measure(text, options);',
          '};',
          'module.exports.default = module.exports;',
        ].join('\n'),
        resolveDir: dirname(realPath),
        loader: 'js',
      }));
    },
  };
}

/**
 * Loads Node's built-in modules with `require` (the banner's createRequire) when the code that uses them first
 * runs, instead of as static ES module imports, which Node resolves before the bundle starts. For each such import
 * Node 20 builds an ES module facade by reading every export, which also runs the lazy getters of `fs`, `util`
 * and `process` (parseArgs, MIMEType, the report API), and it loads readline even when no prompt is shown. In CPU
 * profiles of the workshop run (Node 20.20) that work took 10 to 17 ms. Each built-in becomes a one-line
 * CommonJS module, which esbuild runs when the first module that imports it initialises.
 */
export function requireBuiltinsLazily(): Plugin {
  return {
    name: 'require-builtins-lazily',
    setup(build) {
      build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
        if (!isBuiltin(args.path)) return undefined;
        // The one-line module's own require stays a call of Node's require.
        if (args.namespace === 'node-builtin') return { path: args.path, external: true };
        return { path: args.path, namespace: 'node-builtin' };
      });
      build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    },
  };
}

/**
 * Gives yargs' ES module shim (yargs 18, lib/platform-shims/esm.mjs) its own `strictEqual` and `notStrictEqual` in
 * place of Node's assert module, which the shim imports at start-up and which costs every run a few milliseconds.
 * yargs calls them only to check its own arguments; a failed check throws an Error with the same message.
 */
export function replaceAssertForYargs(): Plugin {
  return {
    name: 'replace-assert-for-yargs',
    setup(build) {
      build.onResolve({ filter: /^assert$/ }, (args) => (args.importer.includes('/yargs/lib/platform-shims/') ? { path: 'assert', namespace: 'yargs-assert' } : undefined));
      build.onLoad({ filter: /.*/, namespace: 'yargs-assert' }, () => ({
        contents: [
          "const fail = (message, fallback) => { throw message instanceof Error ? message : new Error(message ?? fallback); };",
          "export function strictEqual(actual, expected, message) { if (actual !== expected) fail(message, `Expected values to be strictly equal: ${actual} !== ${expected}`); }",
          "export function notStrictEqual(actual, expected, message) { if (actual === expected) fail(message, `Expected \"actual\" to be strictly unequal to: ${expected}`); }",
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}

/**
 * Makes every import of `yaml` in the runtime load the yaml part (src/yaml/package.ts, an entry point of the
 * runtime build) only when a yaml function or class is first used. The workshop's run uses none: the YAML emitter
 * and reader (src/yaml) handle its documents. The import becomes a CommonJS module with a getter per export, which
 * requires the part; build/pack-runtime.mjs packs it, and the launcher's require loads it.
 */
export function loadYamlLazily(): Plugin {
  const names = Object.keys(require('yaml') as object).filter((name) => name !== 'default');
  return {
    name: 'load-yaml-lazily',
    setup(build) {
      build.onResolve({ filter: /^yaml$/ }, (args) => (args.importer.endsWith(join('src', 'yaml', 'package.ts')) ? undefined : { path: 'yaml', namespace: 'lazy-yaml' }));
      build.onResolve({ filter: /^\.\/yaml\.js$/, namespace: 'lazy-yaml' }, (args) => ({ path: args.path, external: true }));
      build.onLoad({ filter: /.*/, namespace: 'lazy-yaml' }, () => ({
        contents: [
          'let yaml;',
          'const load = () => (yaml ??= require("./yaml.js"));',
          `for (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });`,
        ].join('\n'),
        loader: 'js',
      }));
    },
  };
}
