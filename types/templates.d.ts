// Handlebars templates are precompiled when imported: by the esbuild plugin in tsup.config.ts for the bundle,
// and by the plugin in vitest.config.ts for the tests.
declare module '*.hbs' {
  const template: import('../src/render/template.js').PrecompiledTemplate;
  export default template;
}
