import type HandlebarsApi from 'handlebars';
import HandlebarsRuntime from 'handlebars/runtime.js';
import type { PrecompiledTemplate } from './template.js';

/** Quotes a value for POSIX shells: single quotes, with each embedded single quote closed, escaped and reopened. */
export function shellQuote(value: unknown): string {
  const text = String(value);
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a value as a YAML double-quoted scalar (JSON strings are valid YAML). */
export function yamlString(value: unknown): string {
  return JSON.stringify(String(value));
}

// The runtime build has the same API as the full package, less the compiler; its own typings declare nothing.
const Handlebars = HandlebarsRuntime as unknown as typeof HandlebarsApi;

let environment: typeof Handlebars | undefined;
const delegates = new WeakMap<PrecompiledTemplate, Handlebars.TemplateDelegate>();

/** Creates the Handlebars runtime with the core's helpers on first use, so loading this module costs nothing. */
function handlebarsEnvironment(): typeof Handlebars {
  if (environment) return environment;
  const handlebars = Handlebars.create();
  handlebars.registerHelper('shell', (value: unknown) => new handlebars.SafeString(shellQuote(value)));
  handlebars.registerHelper('yamlString', (value: unknown) => new handlebars.SafeString(yamlString(value)));
  handlebars.registerHelper('json', (value: unknown) => new handlebars.SafeString(JSON.stringify(value)));
  handlebars.registerHelper('join', (values: unknown, separator: unknown) => {
    if (!Array.isArray(values)) return '';
    return values.join(typeof separator === 'string' ? separator : ' ');
  });
  handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  environment = handlebars;
  return handlebars;
}

/**
 * Renders a precompiled template for text output (scripts, Makefile, Markdown). HTML escaping is off, so every
 * value that reaches a script must go through the `shell` helper. Only the Handlebars runtime is bundled, so
 * a template given as a string is rejected: import the `.hbs` file instead, which the build precompiles.
 */
export function render(template: PrecompiledTemplate, data: unknown): string {
  let delegate = delegates.get(template);
  if (!delegate) {
    if (typeof template !== 'object' || template === null || typeof (template as { main?: unknown }).main !== 'function') {
      throw new TypeError(
        'render() takes a precompiled Handlebars template, not a string: import the .hbs file (the build and the test setup precompile it), or precompile it with Handlebars.precompile(source, { noEscape: true, strict: true })',
      );
    }
    const handlebars = handlebarsEnvironment();
    delegate = handlebars.template(template as Parameters<typeof handlebars.template>[0]);
    delegates.set(template, delegate);
  }
  return delegate(data);
}
