import { fileURLToPath } from 'node:url';
import { describeConformance } from '../src/conformance/index.js';
import { loadPluginModule } from '../src/plugin/load.js';

// The example plugin is plain JavaScript that imports only the published API; loading it by path is
// what `--plugin ./example-mesh/index.mjs` does.
const fixtures = fileURLToPath(new URL('./fixtures/plugins', import.meta.url));
const plugin = await loadPluginModule('./example-mesh/index.mjs', fixtures);

// The example plugin has no ingress gateway and no egress control, so the kit checks that generation rejects
// the topologies that need them, naming the field and the fix.
describeConformance(plugin, {
  crdSchemas: fileURLToPath(new URL('./crds', import.meta.url)),
  rejects: { exposed: 'field expose: the Example Mesh plugin (example-mesh 1.0.0) provides no ingress gateway', external: 'field external: the Example Mesh plugin (example-mesh 1.0.0) cannot limit egress' },
});
