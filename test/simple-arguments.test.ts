import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseArguments } from '../src/cli/main.js';
import { simpleCreateArguments } from '../src/cli/simple-arguments.js';
import { runCli } from './support/cli.js';

// Words a command line may hold: directories and values that look like other types or like commands, every core
// flag, and words only yargs reads.
const WORDS = [
  'hero', 'apps/shop', '.', '123', '1e3', '0x10', '-1', 'true', 'false', 'TRUE', 'null', 'a=b', 'a b', 'verify', 'plugins', 'help', 'version', 'completion', '$0', 'verfy', 'toString', '__proto__', 'constructor',
  'istio', 'linkerd', 'kuma', 'nsm', 'cilium-spiffe', 'workshop', 'bookinfo', 'topology.yaml',
  '--yes', '-y', '--force', '--dry-run', '--json', '--debug', '--mesh', '--preset', '--topology',
  '--help', '-h', '--version', '--plugin', '--no-yes', '--mesh=istio', '--yes=false', '--kuma-identity', '--all', '-yf', '--', '-', '',
];

describe('simpleCreateArguments', () => {
  it('matches yargs on accepted lines', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...WORDS), { maxLength: 7 }), async (argv) => {
        const simple = simpleCreateArguments(argv);
        if (simple === undefined) return;
        accepted++;
        await expect(parseArguments(argv)).resolves.toEqual({ command: 'create', args: simple });
      }),
      { numRuns: 3_000 },
    );
    // The property checks nothing unless many lines take the simple path.
    expect(accepted).toBeGreaterThan(100);
  });

  it.each([
    [['hero', '--yes', '--mesh', 'istio'], { directory: 'hero', yes: true, mesh: 'istio' }],
    [['--yes'], { yes: true }],
    [['-y', 'out', '--preset', 'bookinfo', '--dry-run', '--json', '--force'], { directory: 'out', yes: true, preset: 'bookinfo', dryRun: true, json: true, force: true }],
    [['--topology', 'topology.yaml', '--debug'], { topology: 'topology.yaml' }],
  ])('reads %j', async (argv, expected) => {
    const args = simpleCreateArguments(argv);
    expect(args).toEqual({ yes: false, force: false, dryRun: false, plugin: [], json: false, extraFlags: {}, ...expected });
    await expect(parseArguments(argv)).resolves.toEqual({ command: 'create', args });
  });

  it.each([
    ['verify'], ['plugins', '--json'], ['help'], ['help', '--yes'], ['$0', '--dry-run'], ['--help'], ['-h'], ['--version'], ['a', 'b'], ['--mesh'], ['--mesh', '--yes'], ['--mesh', ''], ['--mesh=istio'], ['--yes', '--yes'], ['-y', '--yes'],
    ['--mesh', 'istio', '--mesh', 'kuma'], ['--plugin', 'x'], ['--kuma-identity', 'spiffe'], ['--no-yes'], ['--'], ['-'], [''], ['--yes=false'], ['-yf'], ['--force', 'false'], ['hero', '--yes', 'TRUE'],
  ])('leaves %j to yargs', (...argv) => {
    expect(simpleCreateArguments(argv)).toBeUndefined();
  });

  it('reports yargs errors for other lines', async () => {
    const run = await runCli(['hero', 'extra', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unexpected argument "extra"');
    const repeated = await runCli(['--mesh', 'istio', '--mesh', 'kuma']);
    expect(repeated.stderr).toContain('--mesh: given 2 times (istio, kuma). Give it once');
  });
});
