/** The generator's name and version, recorded in every repository it writes. */
export const GENERATOR_NAME = 'create-zero-trust-app';

// Replaced with package.json's version by tsup at build time and by vitest in tests.
declare const __GENERATOR_VERSION__: string;
export const GENERATOR_VERSION: string = __GENERATOR_VERSION__;
