// Scaffolds a new mesh plugin: `npm run new-plugin`. The plugin starts out failing the conformance kit,
// and each failure says what to implement next.
const ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** @param {import('plop').NodePlopAPI} plop */
export default function scaffold(plop) {
  plop.setHelper('constantCase', (text) => String(text).toUpperCase().replace(/[^A-Z0-9]+/g, '_'));
  plop.setHelper('camelCase', (text) => String(text).replace(/-([a-z0-9])/g, (_match, letter) => letter.toUpperCase()));

  plop.setGenerator('plugin', {
    description: 'A mesh plugin folder with its conformance test',
    prompts: [
      {
        type: 'input',
        name: 'id',
        message: 'Plugin id (the value of --mesh, lowercase letters, digits and "-")',
        validate: (value) => (ID.test(value) && value.length <= 40 ? true : 'Use lowercase letters, digits and "-", for example "my-mesh"'),
      },
      {
        type: 'input',
        name: 'name',
        message: 'Mesh name for people',
        validate: (value) => (value.trim() ? true : 'Enter a name, for example "My Mesh"'),
      },
    ],
    actions: [
      { type: 'add', path: 'plugins/{{id}}/index.ts', templateFile: 'plugin/index.ts.hbs', abortOnFail: true },
      { type: 'add', path: 'plugins/{{id}}/evaluate.ts', templateFile: 'plugin/evaluate.ts.hbs', abortOnFail: true },
      { type: 'add', path: 'plugins/{{id}}/{{id}}.test.ts', templateFile: 'plugin/test.ts.hbs', abortOnFail: true },
      { type: 'add', path: 'plugins/{{id}}/README.md', templateFile: 'plugin/README.md.hbs', abortOnFail: true },
    ],
  });
}
