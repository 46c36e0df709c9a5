import type { CliIo } from './io.js';
import { listPlugins } from './plugins.js';

/** Runs `plugins`: lists every built-in plugin and those named with --plugin. */
export async function runPlugins(args: { plugin: string[]; json: boolean }, io: CliIo): Promise<number> {
  const plugins = await listPlugins(args.plugin, io.cwd, io.importModule);
  const rows = plugins.map((plugin) => ({
    id: plugin.id,
    name: plugin.displayName,
    version: plugin.version,
    apiVersion: plugin.apiVersion,
    meshVersions: plugin.meshVersions,
    options: (plugin.options ?? []).map((option) => ({ name: option.name, choices: option.choices, default: option.default })),
    description: plugin.description,
  }));
  if (args.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  for (const row of rows) {
    const pins = Object.entries(row.meshVersions).map(([name, version]) => `${name} ${version}`).join(', ');
    io.stdout.write(`${row.id.padEnd(15)} ${row.name} (plugin ${row.version}; pins ${pins})\n${' '.repeat(16)}${row.description}\n`);
    for (const option of row.options) io.stdout.write(`${' '.repeat(16)}--${option.name} ${option.choices.join('|')} (default ${option.default})\n`);
  }
  return 0;
}
