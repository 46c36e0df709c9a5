import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commandFirst } from '../src/cli/command-first.js';
import { builtinPluginIds } from '../src/plugin/builtin.js';
import { CWD, runCli } from './support/cli.js';

const examplePlugin = fileURLToPath(new URL('./fixtures/plugins/example-mesh/index.mjs', import.meta.url));

const SHORTHAND_TOPOLOGY = `# shorthand
apiVersion: create-zero-trust-app/v1alpha1
kind: Topology
metadata: {name: short}
spec:
  namespace: production
  services:
    - {name: hero, image: docker.io/vfarcic/cncf-demo:v0.0.1, ports: [{port: 8080, protocol: http}]}
`;

describe('create command', () => {
  it('generates the workshop repository on Istio without prompting', async () => {
    const run = await runCli(['--yes']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('Created hero: 2 services, 1 edge, on Istio (istio 1.30.5).');
    const tree = run.tree();
    expect(tree[`${CWD}/hero/Makefile`]).toContain('up: cluster mesh deploy');
    expect(tree[`${CWD}/hero/README.md`]).toContain('waits up to `VERIFY_TIMEOUT` seconds (180 by default) for its client pods.\n\n## What `make verify` proves\n');
    expect(tree[`${CWD}/hero/README.md`]).not.toContain('VERIFY_SKIP_EXTERNAL');
    expect(parse(tree[`${CWD}/hero/generation.yaml`]!).plugin.id).toBe('istio');
  });

  it('writes into the named directory', async () => {
    const run = await runCli(['apps/shop', '--preset', 'bookinfo', '--mesh', 'linkerd']);
    expect(run.code).toBe(0);
    const topology = parse(run.tree()[`${CWD}/apps/shop/topology.yaml`]!);
    expect(topology.metadata.name).toBe('bookinfo');
    expect(topology.spec.services.map((service: { name: string }) => service.name)).toEqual(['details', 'productpage', 'ratings', 'reviews']);
  });

  it('lists the files and writes nothing with --dry-run', async () => {
    const run = await runCli(['out', '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Would write \d+ files to \/home\/user\/out:\n/);
    expect(run.stdout).toContain('  manifests/mesh/authorization.yaml\n');
    expect(Object.keys(run.tree()).some((path) => path.startsWith(`${CWD}/out`))).toBe(false);
  });

  it('names stale files with --dry-run', async () => {
    const first = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(first.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const listed = await runCli(['out', '--dry-run', '--force', '--json', '--mesh', 'linkerd'], { files });
    const summary = JSON.parse(listed.stdout) as { dryRun: boolean; stale: string[]; files: { created: string[]; replaced: string[] } };
    expect(summary.dryRun).toBe(true);
    expect(summary.stale).toEqual(['manifests/mesh/peer-authentication.yaml']);
    expect(summary.files.replaced).toContain('Makefile');
    expect(summary.files.created).toContain('manifests/mesh/servers.yaml');
    const text = await runCli(['out', '--dry-run', '--force', '--mesh', 'linkerd'], { files });
    expect(text.stdout).toContain('\n  Makefile (replaces the existing file)\n');
    expect(text.stdout).toContain('\nNo longer generated: manifests/mesh/peer-authentication.yaml\n');
  });

  it('prints no cd step when writing into the current folder', async () => {
    const run = await runCli(['.', '--yes']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Created the repository in the current folder: 2 services, 1 edge, on Istio');
    expect(run.stdout).toContain('\nNext:\n  make tools ');
    expect(run.stdout).not.toContain('cd .');
  });

  it('fails a dry run where the write would fail', async () => {
    const first = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(first.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const run = await runCli(['out', '--dry-run'], { files });
    expect(run.stderr).toContain('/home/user/out: the directory is not empty. Choose a new directory, or pass --force to replace the generated files in it');
    expect(run.code).toBe(2);
  });

  it('prints a summary with --json', async () => {
    const run = await runCli(['out', '--json', '--mesh', 'kuma']);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.directory).toBe(`${CWD}/out`);
    expect(summary.mesh.id).toBe('kuma');
    expect(summary.topology).toEqual({ name: 'hero', services: 2, edges: 1, namespaces: ['data', 'production'] });
    expect(summary.files.created).toContain('Makefile');
  });

  it('asks for the topology, mesh and directory on a terminal', async () => {
    const asked: string[] = [];
    const answers: Record<string, string> = { topology: 'bookinfo', mesh: 'cilium-spiffe', directory: 'from-prompts' };
    const run = await runCli([], {
      interactive: true,
      prompt: async (questions) => {
        asked.push(...questions.map((question) => question.name));
        return Object.fromEntries(questions.map((question) => [question.name, answers[question.name] ?? question.default ?? '']));
      },
    });
    expect(run.code).toBe(0);
    expect(asked).toEqual(['topology', 'mesh', 'directory']);
    expect(parse(run.tree()[`${CWD}/from-prompts/generation.yaml`]!).plugin.id).toBe('cilium-spiffe');
  });

  it('asks again for a missing file or a taken directory', async () => {
    const queue: Record<string, string[]> = { topology: [''], file: ['missing.yaml', 'topology.yaml'], mesh: ['istio'], directory: ['taken', 'fresh'] };
    const topology = 'apiVersion: create-zero-trust-app/v1alpha1\nkind: Topology\nmetadata: {name: small}\nspec:\n  namespace: apps\n  services:\n    - {name: web, image: "docker.io/library/nginx:1.29", ports: [{port: 80, protocol: http}]}\n';
    const run = await runCli([], {
      interactive: true,
      files: { 'topology.yaml': topology, 'taken/notes.txt': 'mine\n' },
      prompt: async (questions) => Object.fromEntries(questions.map((question) => [question.name, queue[question.name]!.shift()!])),
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('missing.yaml not found. Check the path\ntaken is not empty (pass --force to replace the generated files in it). Choose another directory\n');
    expect(parse(run.tree()[`${CWD}/fresh/topology.yaml`]!).metadata.name).toBe('small');
    expect(Object.keys(run.tree()).filter((path) => path.startsWith(`${CWD}/taken/`))).toEqual([`${CWD}/taken/notes.txt`]);
  });

  it('asks nothing on a terminal with --yes', async () => {
    const run = await runCli(['--yes'], { interactive: true, prompt: async () => { throw new Error('no prompt expected'); } });
    expect(run.code).toBe(0);
  });

  it('suggests the flag a misspelled one stands for', async () => {
    const run = await runCli(['--topolgy', 'topology.yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: --topolgy: unknown option. Did you mean --topology? See --help\n');
  });

  it('prints an error as JSON on stdout with --json', async () => {
    const run = await runCli(['out', '--json', '--mesh', 'nope']);
    expect(run.code).toBe(2);
    const message = `--mesh: unknown mesh "nope". Use one of: ${builtinPluginIds().join(', ')}, or load a plugin with --plugin`;
    expect(JSON.parse(run.stdout)).toEqual({ error: { message, exitCode: 2 } });
  });

  it.each([
    [['plugins', 'extra'], 'unexpected argument "extra". The plugins command takes none; see --help'],
    [['verify', 'out', 'extra'], 'unexpected argument "extra". Give at most one directory; see --help'],
  ])('rejects extra arguments: %j', async (argv, message) => {
    const run = await runCli(argv);
    expect(run.stderr).toBe(`create-zero-trust-app: ${message}\n`);
    expect(run.code).toBe(2);
  });

  it('rejects a value given to a switch', async () => {
    const run = await runCli(['out', '--force=maybe']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: --force: "maybe" is not valid. The option is a switch: give --force alone, or =true or =false\n');
  });

  it('documents verify switches for externals', async () => {
    const topology = readFileSync(fileURLToPath(new URL('./fixtures/external-topology.yaml', import.meta.url)), 'utf8');
    const run = await runCli(['out', '--topology', 'topology.yaml'], { files: { 'topology.yaml': topology } });
    expect(run.code).toBe(0);
    const readme = run.tree()[`${CWD}/out/README.md`]!;
    expect(readme).toContain('for its client pods and the gateway.\n`VERIFY_SKIP_EXTERNAL=1 make verify` leaves out the dependencies outside the cluster');
    expect(readme).toContain('that cannot reach them.\n\n## What `make verify` proves\n');
  });

  it('rejects an unknown YAML tag in the topology', async () => {
    const topology = 'apiVersion: create-zero-trust-app/v1alpha1\nkind: Topology\nmetadata: {name: !foo web}\nspec: {services: []}\n';
    const run = await runCli(['out', '--topology', 'topology.yaml'], { files: { 'topology.yaml': topology } });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: topology.yaml:3:18: invalid YAML: unknown tag. Remove the tag (the text starting with "!")\n');
  });

  it('refuses a directory named like a misspelled command', async () => {
    const run = await runCli(['verifyy']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('create-zero-trust-app: "verifyy" looks like a misspelled command. Did you mean "verify"? To create a repository in a folder of that name, write ./verifyy\n');
    expect(Object.keys(run.tree()).some((path) => path.includes('verifyy'))).toBe(false);
  });

  it('names the files a regeneration no longer writes', async () => {
    const first = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(first.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const topology = `apiVersion: create-zero-trust-app/v1alpha1
kind: Topology
metadata: {name: hero}
spec:
  namespace: production
  services:
    - {name: hero, image: docker.io/vfarcic/cncf-demo:v0.0.1, ports: [{port: 8080, protocol: http}]}
`;
    const again = await runCli(['out', '--force', '--topology', 'topology.yaml'], { files: { ...files, 'topology.yaml': topology } });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No longer generated, left in place: manifests/network-policies/data.yaml, manifests/workloads/lil-deebee.yaml.');
    expect(again.tree()[`${CWD}/out/manifests/workloads/lil-deebee.yaml`]).toBeTruthy();
  });

  it('keeps comments of a normalised topology file', async () => {
    const first = await runCli(['out']);
    const generated = first.tree()[`${CWD}/out/topology.yaml`]!;
    const header = generated.split('\n').slice(0, 2).join('\n');
    // The user edits the repository's own topology.yaml: a comment, and a value changed in place.
    const edited = generated.replace('\nspec:\n', '\n# Owned by the platform team.\nspec:\n').replace('replicas: 1', 'replicas: 2 # two for the demo');
    expect(edited).not.toBe(generated);
    const files = Object.fromEntries(Object.entries(first.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const again = await runCli(['out', '--force', '--topology', 'out/topology.yaml'], { files: { ...files, [`${CWD}/out/topology.yaml`]: edited } });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const keptTopology = again.tree()[`${CWD}/out/topology.yaml`]!;
    expect(keptTopology).toBe(edited);
    expect(keptTopology.startsWith(`${header}\n`)).toBe(true);
    expect(again.tree()[`${CWD}/out/manifests/workloads/hero.yaml`]).toContain('replicas: 2');

    // The generated header appears once, above the team's own comments, whatever happened to the old one.
    const [headerLine, schemaLine] = header.split('\n') as [string, string];
    const body = generated.split('\n').slice(2).join('\n');
    const variants = [`# Team topology\n${generated}`, `\n${generated}`, `${schemaLine}\n${headerLine}\n${body}`, `${headerLine}\n${body}`, `# Team topology\n${body}`];
    for (const variant of variants) {
      const run = await runCli(['out', '--force', '--topology', 'out/topology.yaml'], { files: { ...files, [`${CWD}/out/topology.yaml`]: variant } });
      expect(run.stderr).toBe('');
      const written = run.tree()[`${CWD}/out/topology.yaml`]!;
      expect(written.startsWith(`${header}\n`), variant).toBe(true);
      expect(written.split('# Generated by').length, variant).toBe(2);
      expect(written.split('yaml-language-server').length, variant).toBe(2);
      expect(written.includes('# Team topology'), variant).toBe(variant.includes('# Team topology'));
    }
    const windows = await runCli(['out', '--force', '--topology', 'out/topology.yaml'], { files: { ...files, [`${CWD}/out/topology.yaml`]: edited.replaceAll('\n', '\r\n') } });
    expect(windows.tree()[`${CWD}/out/topology.yaml`]).toBe(edited.replaceAll('\n', '\r\n'));
    const directive = await runCli(['out', '--force', '--topology', 'out/topology.yaml'], { files: { ...files, [`${CWD}/out/topology.yaml`]: `%YAML 1.3\n---\n${body}` } });
    expect(directive.stderr).toBe('');
    expect(directive.code).toBe(0);

    // A topology in shorthand is written normalised, so its comments go.
    const shorthand = await runCli(['short', '--topology', 'topology.yaml'], { files: { 'topology.yaml': SHORTHAND_TOPOLOGY } });
    expect(shorthand.code).toBe(0);
    expect(shorthand.tree()[`${CWD}/short/topology.yaml`]).not.toContain('# shorthand');
  });

  it('generates with a plugin loaded by path', async () => {
    const run = await runCli(['out', '--plugin', examplePlugin, '--mesh', 'example-mesh']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(parse(run.tree()[`${CWD}/out/generation.yaml`]!).plugin).toEqual({ id: 'example-mesh', version: '1.0.0', apiVersion: 1, options: {} });
  });

  it('takes one value per --plugin', async () => {
    // The directory after the plugin's path is the positional argument, not a second plugin.
    const once = await runCli(['--plugin', examplePlugin, 'out', '--mesh', 'example-mesh']);
    expect(once.stderr).toBe('');
    expect(once.code).toBe(0);
    const twice = await runCli(['out', '--plugin', examplePlugin, '--plugin', examplePlugin, '--mesh', 'example-mesh']);
    expect(twice.stderr).toContain('has the id "example-mesh", which another plugin already uses');
    expect(twice.code).toBe(2);
  });
});

describe('command after options', () => {
  it('finds the command after switches', async () => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const verified = await runCli(['--json', 'verify', 'out'], { files });
    expect(verified.code).toBe(0);
    expect((JSON.parse(verified.stdout) as { ok: boolean }).ok).toBe(true);
    const listed = await runCli(['--yes', 'plugins']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('istio');
    expect(Object.keys(listed.tree()).some((path) => path.includes('/plugins'))).toBe(false);
  });

  it('keeps a directory named after a value', () => {
    expect(commandFirst(['--topology', 'verify'])).toEqual(['--topology', 'verify']);
    expect(commandFirst(['--plugin', './p.mjs', 'verify', 'out'])).toEqual(['verify', '--plugin', './p.mjs', 'out']);
    expect(commandFirst(['--mesh=kuma', 'plugins'])).toEqual(['plugins', '--mesh=kuma']);
    expect(commandFirst(['out', 'verify'])).toEqual(['out', 'verify']);
  });
});

describe('help', () => {
  it('prints the same help for -h and --help', async () => {
    const long = await runCli(['--help']);
    const short = await runCli(['-h']);
    expect(long.code).toBe(0);
    expect(long.stdout).toContain('verify [directory]');
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(long.stdout);
  });
});

describe('plugins command', () => {
  it('lists every built-in plugin with its pins', async () => {
    const run = await runCli(['plugins', '--json']);
    expect(run.code).toBe(0);
    const plugins = JSON.parse(run.stdout) as { id: string; meshVersions: Record<string, string> }[];
    expect(plugins.map((plugin) => plugin.id)).toEqual(builtinPluginIds());
    for (const plugin of plugins) expect(Object.keys(plugin.meshVersions).length, plugin.id).toBeGreaterThan(0);
  });

  it('lists a plugin named with --plugin', async () => {
    const run = await runCli(['plugins', '--plugin', examplePlugin]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('example-mesh    Example Mesh (plugin 1.0.0; pins istio 1.30.5)');
  });
});

describe('verify command', () => {
  it('passes on a repository as generated, for every mesh', async () => {
    for (const mesh of builtinPluginIds()) {
      const created = await runCli(['out', '--mesh', mesh]);
      expect(created.code, mesh).toBe(0);
      const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
      const verified = await runCli(['verify', 'out'], { files });
      expect(verified.stdout, mesh).toContain('PASSED');
      expect(verified.code, mesh).toBe(0);
    }
  });

  it('claims mTLS only for meshed traffic', async () => {
    const claims: Record<string, string> = {};
    for (const mesh of builtinPluginIds()) {
      const created = await runCli(['out', '--mesh', mesh]);
      const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
      const verified = await runCli(['verify', 'out'], { files });
      claims[mesh] = verified.stdout.trimEnd().split('\n').at(-1)!;
      const json = JSON.parse((await runCli(['verify', 'out', '--json'], { files })).stdout) as { limit?: string };
      expect(json.limit === undefined, mesh).toBe(mesh !== 'nsm');
      // The generated README promises mandatory mTLS only where verify claims it.
      expect(files[`${CWD}/out/README.md`]!.includes('**mandatory mTLS**'), mesh).toBe(mesh !== 'nsm');
    }
    expect(claims.istio).toBe('PASSED: each layer on its own allows exactly the declared edges, each over mTLS.');
    expect(claims.nsm).toMatch(/^PASSED: each layer on its own allows exactly the declared edges\. Not mTLS: the mesh's mTLS here means NSM links: .*not between two pods on one node/);

    // On the cluster path the application's traffic does not use the NSM links at all.
    const created = await runCli(['out', '--mesh', 'nsm', '--nsm-app-path', 'cluster-network']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const verified = await runCli(['verify', 'out'], { files });
    expect(verified.stdout.trimEnd().split('\n').at(-1)).toMatch(/^PASSED: .* Not mTLS: .*the application connects to its callees over the cluster network/);
  });

  it('checks the plugin options of the generation record', async () => {
    const created = await runCli(['out', '--mesh', 'nsm']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const record = `${CWD}/out/generation.yaml`;
    expect(files[record]).toContain('\n  options:\n    nsm-app-path: nsm\n');
    const cases: [string, string][] = [
      ['    nsm-app-path: Nsm\n', 'plugin.options.nsm-app-path: "Nsm" is not valid. Use one of: nsm, cluster-network'],
      ['    nsm-app-path: true\n', 'plugin.options.nsm-app-path: true is not valid. Use one of: nsm, cluster-network'],
      ['    kuma-identity: mesh-mtls\n', 'plugin.options.kuma-identity: mesh nsm has no such option (its options: nsm-app-path). Remove the line or regenerate the repository'],
      ['', 'plugin.options.nsm-app-path is missing, so the repository predates that option of mesh nsm. Add the choice it was generated with (one of: nsm, cluster-network), or regenerate the repository'],
    ];
    for (const [line, message] of cases) {
      const edited = { ...files, [record]: files[record]!.replace('    nsm-app-path: nsm\n', line) };
      const verified = await runCli(['verify', 'out'], { files: edited });
      expect(verified.stderr).toBe(`create-zero-trust-app: ${record}: ${message}\n`);
      expect(verified.code).toBe(2);
    }
  });

  it('fails with exit code 1 and names the problem', async () => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const path = `${CWD}/out/manifests/mesh/peer-authentication.yaml`;
    files[path] = files[path]!.replaceAll('STRICT', 'PERMISSIVE');
    const verified = await runCli(['verify', 'out'], { files });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain('hero -> lil-deebee:5432 is declared, but the mesh does not require mTLS on it');
    expect(verified.stdout).toContain('FAILED');
  });

  it('names a manifest with invalid YAML and the fix', async () => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const path = `${CWD}/out/manifests/mesh/authorization.yaml`;
    files[path] = `${files[path]}---\nkind: [unclosed\n`;
    const run = await runCli(['verify', 'out'], { files });
    expect(run.stderr).toMatch(new RegExp(`^create-zero-trust-app: ${path}: invalid YAML: [^\\n]*[^:]\\. Fix the syntax at that position, or regenerate the repository\\n$`));
    expect(run.code).toBe(2);
  });

  it.each([
    ['reading files in turn', false],
    ['reading files synchronously', true],
  ])('reads only manifests the kustomization lists, %s', async (_name, syncReads) => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    // A file an earlier generation left behind is not applied by make deploy, so it does not count.
    files[`${CWD}/out/manifests/mesh/leftover.yaml`] = files[`${CWD}/out/manifests/mesh/peer-authentication.yaml`]!.replaceAll('STRICT', 'PERMISSIVE').replaceAll('name: default', 'name: leftover');
    expect((await runCli(['verify', 'out'], { files, syncReads })).code).toBe(0);

    const kustomization = `${CWD}/out/manifests/kustomization.yaml`;
    files[kustomization] = files[kustomization]!.replace('resources:\n', 'resources:\n  - mesh/leftover.yaml\n');
    const listed = await runCli(['verify', 'out'], { files, syncReads });
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain('PERMISSIVE');

    files[kustomization] = files[kustomization]!.replace('resources:\n', 'resources:\n  - mesh/missing.yaml\n');
    const missing = await runCli(['verify', 'out'], { files, syncReads });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`lists ${CWD}/out/manifests/mesh/missing.yaml, which is not found (no YAML file or folder of them under manifests/ has that path)`);
  });

  it('explains the NETPOL column with --all', async () => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const verified = await runCli(['verify', 'out', '--all'], { files });
    expect(verified.stdout).toContain('\nNETPOL is the decision of both ends together; the problems below also check each end on its own.\n');
  });

  it('gives every pair with --json --all', async () => {
    const created = await runCli(['out']);
    const files = Object.fromEntries(Object.entries(created.tree()).filter(([, content]) => content !== null)) as Record<string, string>;
    const verified = await runCli(['verify', 'out', '--json', '--all'], { files });
    const result = JSON.parse(verified.stdout) as { ok: boolean; pairs: { client: string; clientKind: string; service: string; port: number; declared: boolean; stoppedBy: string }[] };
    expect(result.ok).toBe(true);
    const declared = result.pairs.filter((pair) => pair.declared);
    expect(declared.map((pair) => `${pair.client}->${pair.service}:${pair.port} ${pair.stoppedBy}`)).toEqual(['hero->lil-deebee:5432 none']);
    expect(result.pairs.filter((pair) => !pair.declared).every((pair) => pair.stoppedBy !== 'none')).toBe(true);
  });
});
