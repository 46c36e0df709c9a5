import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodePlop from 'node-plop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExactEdges, generateCase, verifyCase } from '../src/conformance/checks.js';
import { findPreset } from '../src/topology/presets.js';
import type { MeshPlugin } from '../src/plugin/api.js';

// The scaffold goes inside the repository, so that its imports of "create-zero-trust-app" resolve to this package.
const destination = fileURLToPath(new URL('./.scaffold/', import.meta.url));
const plopfile = fileURLToPath(new URL('../generators/plopfile.js', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const vitestBin = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
let plugin: MeshPlugin;

beforeAll(async () => {
  rmSync(destination, { recursive: true, force: true });
  const plop = await nodePlop(plopfile, { destBasePath: destination, force: false });
  const result = await plop.getGenerator('plugin').runActions({ id: 'blank-mesh', name: 'Blank Mesh' });
  expect(result.failures).toEqual([]);
  plugin = ((await import(`${destination}plugins/blank-mesh/index.ts`)) as { blankMeshPlugin: MeshPlugin }).blankMeshPlugin;
});

afterAll(() => rmSync(destination, { recursive: true, force: true }));

describe('new-plugin generator', () => {
  it('writes the plugin, its evaluator, its test and a README', () => {
    for (const file of ['index.ts', 'evaluate.ts', 'blank-mesh.test.ts', 'README.md']) {
      expect(existsSync(`${destination}plugins/blank-mesh/${file}`), file).toBe(true);
    }
  });

  it('wires the test to the conformance kit', () => {
    const test = readFileSync(`${destination}plugins/blank-mesh/blank-mesh.test.ts`, 'utf8');
    expect(test).toContain("import { describeConformance } from 'create-zero-trust-app/conformance';");
    expect(test).toContain('describeConformance(blankMeshPlugin,');
  });

  it('scaffolds a plugin the loader accepts', () => {
    expect(plugin.id).toBe('blank-mesh');
    expect(plugin.displayName).toBe('Blank Mesh');
  });

  it('runs its own test against the published kit, failing on the edges', () => {
    // The scaffolded test imports create-zero-trust-app/conformance, the built kit in dist/ (npm test builds it first).
    const run = spawnSync(process.execPath, [vitestBin, 'run', `${destination}plugins/blank-mesh/blank-mesh.test.ts`, '--dir', destination], { cwd: repositoryRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status, output).toBe(1);
    expect(output).toContain('conformance of mesh plugin blank-mesh');
    expect(output).toMatch(/preset-workshop > allows exactly the declared edges, each over mTLS/);
    // One failure per conformance topology, all of them on the edges: everything the core writes already passes.
    expect(output).toMatch(/Tests\s+11 failed \| \d+ passed/);
  });

  it('starts out failing conformance with what to implement', () => {
    const problems = checkExactEdges(verifyCase(plugin, generateCase(plugin, findPreset('workshop')!.document)));
    expect(problems).toContain('hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it: Blank Mesh evaluator not written yet');
    expect(problems).toContain('lil-deebee -> hero:8080 is not declared, but the mesh allows it: Blank Mesh evaluator not written yet');
    expect(problems).toContain('verify-outside (outside) -> lil-deebee:5432 is not declared, but the mesh allows it: Blank Mesh evaluator not written yet');
  });
});
