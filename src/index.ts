// The package's API for plugin authors and tools: the plugin contract, the builders plugins share, and verify.
export * from './plugin/api.js';
export { buildNetworkPolicy, podsInNamespace, tcp, groupEdges, indexServices, type NetworkPolicyPeer, type NetworkPolicyPort, type NetworkPolicyRule, type NetworkPolicyProps } from './k8s/network-policy.js';
export { selectorOf, serviceLabels, SERVER_COMPONENT, type KubeObject, type LabelSelector, type ObjectMeta } from './k8s/object.js';
export { matchesSelector, podTemplateOf, workloadOf } from './verify/objects.js';
export { parseTopology, normaliseTopology } from './topology/parse.js';
export { TOPOLOGY_API_VERSION } from './topology/validate.js';
export { PRESETS, type Preset } from './topology/presets.js';
export type { Topology, Service, ServicePort, Edge, Protocol, EnvVar, Exposure, ExternalEdge, ExternalService, ExternalProtocol } from './topology/types.js';
export { EXTERNAL_PROTOCOLS } from './topology/types.js';
export { generateRepository, type GenerateRequest } from './generate/repository.js';
export type { FileTree, FileEntry } from './generate/files.js';
export { parseYamlStream } from './generate/yaml.js';
export { checkMayReach, verifyRepository, type VerifyResult, type PairResult, type Check } from './verify/offline.js';
export { createNetworkPolicyEvaluator } from './netpol/evaluate.js';
export { InputError } from './errors.js';
export { TEMPLATE_COMPILE_OPTIONS, type PrecompiledTemplate } from './render/template.js';
export { GENERATOR_VERSION } from './version.js';
export { runCli } from './cli/run.js';
