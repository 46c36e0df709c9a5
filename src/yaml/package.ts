// The yaml package as a part of the runtime of its own (tsup.config.ts builds this file as an entry point). The
// rest of the runtime imports yaml through loadYamlLazily (build/bundle-plugins.ts), which loads this part the
// first time a yaml function is called, so a run that never calls one does not compile yaml's 100 KB.
export * from 'yaml';
