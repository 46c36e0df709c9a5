import Handlebars from 'handlebars';
import { describe, expect, it } from 'vitest';
import { TEMPLATE_COMPILE_OPTIONS, type PrecompiledTemplate } from '../src/render/template.js';
import { render, shellQuote } from '../src/render/handlebars.js';

/** Precompiles a template the way a plugin's own build would, and loads the module it writes. */
function precompileAsPluginBuild(source: string): PrecompiledTemplate {
  const spec = Handlebars.precompile(source, TEMPLATE_COMPILE_OPTIONS) as unknown as string;
  return new Function(`return ${spec};`)() as PrecompiledTemplate;
}

describe('template rendering', () => {
  it('renders a template a plugin precompiled itself', () => {
    const template = precompileAsPluginBuild('kubectl -n {{shell namespace}} get pods -l {{shell selector}}\n');
    expect(render(template, { namespace: 'data', selector: "app=it's" })).toBe(`kubectl -n data get pods -l ${shellQuote("app=it's")}\n`);
  });

  it('quotes values for the shell', () => {
    expect(shellQuote('plain-value_1.2')).toBe('plain-value_1.2');
    expect(shellQuote("a b'c")).toBe(`'a b'\\''c'`);
    expect(shellQuote('$(reboot)')).toBe(`'$(reboot)'`);
  });

  it('rejects a template given as a string', () => {
    expect(() => render('{{name}}' as unknown as PrecompiledTemplate, { name: 'x' })).toThrow('render() takes a precompiled Handlebars template, not a string');
  });

  it('fails on a value the template needs but the data lacks', () => {
    const template = precompileAsPluginBuild('{{missing}}');
    expect(() => render(template, {})).toThrow(/"missing" not defined/);
  });
});
