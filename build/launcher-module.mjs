// Imports the launcher's loader (src/launcher/runtime.ts) for the build and benchmark scripts, which need its
// runtime file format. esbuild compiles the TypeScript source in memory.
import { buildSync } from 'esbuild';

/** Returns the exports of src/launcher/runtime.ts. */
export async function importLauncherRuntime() {
  const source = new URL('../src/launcher/runtime.ts', import.meta.url).pathname;
  const [output] = buildSync({ entryPoints: [source], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' }).outputFiles;
  return import(`data:text/javascript;base64,${Buffer.from(output.contents).toString('base64')}`);
}
