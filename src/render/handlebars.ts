import Handlebars from 'handlebars';

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

const handlebars = Handlebars.create();
handlebars.registerHelper('shell', (value: unknown) => new handlebars.SafeString(shellQuote(value)));
handlebars.registerHelper('yamlString', (value: unknown) => new handlebars.SafeString(yamlString(value)));
handlebars.registerHelper('json', (value: unknown) => new handlebars.SafeString(JSON.stringify(value)));
handlebars.registerHelper('join', (values: unknown, separator: unknown) =>
  Array.isArray(values) ? values.join(typeof separator === 'string' ? separator : ' ') : '',
);
handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);

const compiled = new Map<string, Handlebars.TemplateDelegate>();

/**
 * Renders a template for text output (scripts, Makefile, Markdown). HTML escaping is off, so every
 * value that reaches a script must go through the `shell` helper.
 */
export function render(template: string, data: unknown): string {
  let delegate = compiled.get(template);
  if (!delegate) {
    delegate = handlebars.compile(template, { noEscape: true, strict: true });
    compiled.set(template, delegate);
  }
  return delegate(data);
}
