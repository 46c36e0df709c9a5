import { describe, expect, it } from 'vitest';
import { buildScaleTopology } from '../bench/scale-topology.mjs';
import { generateCase } from '../src/conformance/checks.js';
import { InputError } from '../src/errors.js';
import { MAX_LISTED_PAIRS, verifyRepository } from '../src/verify/offline.js';
import { istioPlugin } from '../plugins/istio/index.js';

describe('verify --all', () => {
  it('refuses to list more pairs than fit', () => {
    const generated = generateCase(istioPlugin, buildScaleTopology({ services: 500, namespaces: 5, callsPerService: 2 }));
    const request = { topology: generated.topology, plugin: istioPlugin, options: {}, objects: generated.objects };
    const listed = () => verifyRepository({ ...request, includeAllPairs: true });
    expect(listed).toThrow(InputError);
    expect(listed).toThrow(new RegExp(`^--all: this repository has \\d+ client and port pairs, more than the ${MAX_LISTED_PAIRS} that verify lists`));
    // Without the list, the same repository verifies.
    const result = verifyRepository(request);
    expect(result.ok).toBe(true);
    expect(result.counts.pairs).toBeGreaterThan(MAX_LISTED_PAIRS);
  });
});
