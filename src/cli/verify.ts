import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { readRepository, recordedOptions } from '../verify/read.js';
import { count } from './count.js';
import { verifyRepository, type PairResult, type VerifyResult } from '../verify/offline.js';
import type { CliIo } from './io.js';
import { findPlugin, loadThirdPartyPlugins } from './plugins.js';

export interface VerifyArguments {
  directory: string;
  all: boolean;
  json: boolean;
  plugin: string[];
}

/** Runs `verify`: exit 0 when both layers allow exactly the declared edges with mTLS, else 1. */
export async function runVerify(args: VerifyArguments, io: CliIo): Promise<number> {
  const directory = resolve(io.cwd, args.directory);
  const repository = await readRepository(io.fs, directory);
  const thirdParty = await loadThirdPartyPlugins(args.plugin, io.cwd, io.importModule);
  const plugin = await findPlugin(repository.pluginId, thirdParty);
  if (!plugin) throw new InputError(`${directory}: generated with mesh plugin "${repository.pluginId}", which is not loaded. Load it with --plugin`);

  const options = recordedOptions(plugin, repository.options, repository.recordPath);
  const result = verifyRepository({ topology: repository.topology, plugin, options, objects: repository.objects, includeAllPairs: args.all });
  io.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : formatResult(result, args.all));
  return result.ok ? 0 : 1;
}

/** Formats the result for people: a summary, every check, and every mismatch (or every pair with --all). */
export function formatResult(result: VerifyResult, all: boolean): string {
  const lines: string[] = [];
  const { counts } = result;
  const extras = [
    ...(counts.exposed > 0 ? [`${counts.exposed} exposed ${counts.exposed === 1 ? 'port' : 'ports'}`] : []),
    ...(counts.externalCalls > 0 ? [`${counts.externalCalls} external ${counts.externalCalls === 1 ? 'call' : 'calls'}`] : []),
  ];
  lines.push(`${result.topology} on ${result.mesh}: ${count(counts.pairs, 'client and port pair')} checked, ${count(counts.declared, 'declared edge')}${extras.map((extra) => `, ${extra}`).join('')}`);
  lines.push(`  Between services, NetworkPolicy allows ${count(counts.networkPolicyAllowed, 'connection')}; the mesh allows ${counts.meshAllowed}`);
  for (const check of result.checks) lines.push(`  ${check.ok ? 'ok      ' : 'FAILED  '}${check.name}: ${check.detail}`);

  if (all && result.pairs) {
    lines.push('', `${'CLIENT'.padEnd(36)} ${'TARGET'.padEnd(30)} ${'DECLARED'.padEnd(9)} ${'NETPOL'.padEnd(7)} ${'MESH'.padEnd(7)} ${'MTLS'.padEnd(5)} STOPPED BY`);
    for (const pair of result.pairs) lines.push(formatPair(pair));
    // The problems below judge each end of a pair on its own, so one may name an end that allows a denied pair.
    lines.push('NETPOL is the decision of both ends together; the problems below also check each end on its own.');
  }
  if (result.mismatches.length > 0) {
    const problems = result.mismatches.reduce((total, pair) => total + pair.problems.length, 0);
    lines.push('', `${problems} ${problems === 1 ? 'problem' : 'problems'} in ${result.mismatches.length} client and port ${result.mismatches.length === 1 ? 'pair' : 'pairs'}:`);
    for (const pair of result.mismatches) for (const problem of pair.problems) lines.push(`  ${problem}`);
  }
  const also = [...(counts.exposed > 0 ? ['the exposed ports from the gateway'] : []), ...(counts.externalCalls > 0 ? ['the declared calls to external dependencies'] : [])];
  const alsoText = also.length > 0 ? ` It also allows exactly ${also.join(' and ')}.` : '';
  // A mesh whose decisions do not cover the application's own traffic proves no mTLS for it, so the line states its limit.
  const passed = result.limit
    ? `PASSED: each layer on its own allows exactly the declared edges.${alsoText} Not mTLS: ${result.limit}`
    : `PASSED: each layer on its own allows exactly the declared edges, each over mTLS.${alsoText}`;
  lines.push('', result.ok ? passed : 'FAILED: see the problems above.');
  return `${lines.join('\n')}\n`;
}

function formatPair(pair: PairResult): string {
  let client = `${pair.client} (${pair.clientKind})`;
  if (pair.clientKind === 'service') client = pair.client;
  else if (pair.clientKind === 'gateway') client = 'ingress gateway';
  const yesNo = (value: boolean) => (value ? 'allow' : 'deny');
  // mTLS is the mesh's between workloads: a dependency outside the cluster has no mesh identity.
  let mtls = '-';
  if (pair.mesh.allowed && !pair.external) mtls = pair.mesh.mtls ? 'yes' : 'NO';
  const target = pair.external ? `${pair.service}:${pair.port} (external)` : `${pair.service}:${pair.port}`;
  return `${client.padEnd(36)} ${target.padEnd(30)} ${(pair.declared ? 'yes' : 'no').padEnd(9)} ${yesNo(pair.networkPolicy.allowed).padEnd(7)} ${yesNo(pair.mesh.allowed).padEnd(7)} ${mtls.padEnd(5)} ${pair.stoppedBy}`;
}
