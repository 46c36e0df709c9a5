import type { MeshPlugin } from './api.js';

/** The built-in plugins, loaded only when used so that `--help` and `--version` stay fast. */
export const BUILTIN_PLUGINS: Record<string, () => Promise<MeshPlugin>> = {
  istio: async () => (await import('../../plugins/istio/index.js')).istioPlugin,
  'cilium-spiffe': async () => (await import('../../plugins/cilium-spiffe/index.js')).ciliumSpiffePlugin,
  linkerd: async () => (await import('../../plugins/linkerd/index.js')).linkerdPlugin,
  kuma: async () => (await import('../../plugins/kuma/index.js')).kumaPlugin,
  nsm: async () => (await import('../../plugins/nsm/index.js')).nsmPlugin,
};

export const DEFAULT_MESH = 'istio';

export function builtinPluginIds(): string[] {
  return Object.keys(BUILTIN_PLUGINS);
}
