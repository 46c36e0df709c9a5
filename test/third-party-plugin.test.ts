import { fileURLToPath } from 'node:url';
import { describeConformance } from '../src/conformance/index.js';
import { loadPluginModule } from '../src/plugin/load.js';

// The example plugin is plain JavaScript that imports only the published API; loading it by path is
// what `--plugin ./example-mesh/index.mjs` does.
const fixtures = fileURLToPath(new URL('./fixtures/plugins', import.meta.url));
const plugin = await loadPluginModule('./example-mesh/index.mjs', fixtures);

describeConformance(plugin, { crdSchemas: fileURLToPath(new URL('./crds', import.meta.url)) });
