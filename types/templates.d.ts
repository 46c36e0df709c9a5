// Handlebars templates are bundled as text: tsup loads them with its text loader, vitest with the plugin in vitest.config.ts.
declare module '*.hbs' {
  const template: string;
  export default template;
}
