// Types of the scale benchmark's topology builder, for the tests that use it.
export interface ScaleOptions {
  services?: number;
  namespaces?: number;
  callsPerService?: number;
}
export function buildScaleTopology(options?: ScaleOptions): Record<string, unknown>;
export function writeScaleTopology(path: string, options?: ScaleOptions): void;
