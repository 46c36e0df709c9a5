/**
 * A Handlebars template compiled at build time: the object whose source `Handlebars.precompile()` returns.
 * Importing a `.hbs` file yields one, because the build (tsup.config.ts) and the tests (vitest.config.ts)
 * precompile every template with {@link TEMPLATE_COMPILE_OPTIONS}.
 */
export interface PrecompiledTemplate {
  /** The compiler revision and the runtime versions it needs, such as `[8, ">= 4.3.0"]`. */
  readonly compiler: readonly [number, string];
  readonly main: (...args: never[]) => unknown;
  readonly [key: string]: unknown;
}

/**
 * The options every template is compiled with: text output without HTML escaping, an error on a missing value,
 * and only the core's helpers (registered in handlebars.ts) besides Handlebars' own, so `{{name}}` compiles to a
 * plain lookup and an unknown helper fails the build.
 */
export const TEMPLATE_COMPILE_OPTIONS = {
  noEscape: true,
  strict: true,
  knownHelpers: { shell: true, yamlString: true, json: true, join: true, eq: true },
  knownHelpersOnly: true,
} as const;
