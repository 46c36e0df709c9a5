import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FileTree } from '../../src/generate/files.js';
import { generateRepository } from '../../src/generate/repository.js';
import type { MeshPlugin } from '../../src/plugin/api.js';
import { normaliseTopology } from '../../src/topology/parse.js';
import { findPreset } from '../../src/topology/presets.js';

/** Generates a preset's repository with a plugin, each option at its default. */
export function generatePreset(plugin: MeshPlugin, preset = 'workshop'): FileTree {
  const topology = normaliseTopology(findPreset(preset)!.document, `preset ${preset}`);
  const options = Object.fromEntries((plugin.options ?? []).map((option) => [option.name, option.default]));
  return generateRepository({ topology, plugin, options });
}

/** Writes a tree into a new temporary folder and returns its path; the caller removes it. */
export function writeTreeToTemp(files: FileTree): string {
  const directory = mkdtempSync(join(tmpdir(), 'zero-trust-test-'));
  for (const [path, entry] of files) {
    mkdirSync(dirname(join(directory, path)), { recursive: true });
    writeFileSync(join(directory, path), entry.content, { mode: entry.executable ? 0o755 : 0o644 });
  }
  return directory;
}
