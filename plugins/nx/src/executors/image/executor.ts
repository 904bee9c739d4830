/**
 * @kiln/nx:image: builds one preset (`kiln build --preset NAME --no-deps --force`). Nx decides
 * whether it runs at all (the cache), and builds the presets it reads first (dependsOn), so kiln
 * neither skips it nor builds its dependencies.
 *
 * The hash is computed from the files when Nx hashes (kiln-digest), but a target's outputs and
 * edges come from the graph, which the Nx daemon keeps while only gitignored files change. A
 * gitignored mkosi.local.conf that changes Format= or Dependencies= would have Nx cache the wrong
 * files or order the wrong presets: the executor compares the graph with the configuration now
 * and stops with the fix instead.
 *
 * A variant's target (`image-debug`) passes the variant's settings (`args`) to kiln build, and
 * the comparison reads the configuration with them.
 */
import * as path from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { isFactsError, projectFacts, type ProjectFacts } from '@kiln/config/dist/facts';
import { runKiln, verbose } from '../run-kiln';
import { runScript } from '@kiln/cli/dist/config-scripts';
import type { Override } from '@kiln/config/dist/project';
import { parseArguments } from '../../variants';

export interface ImageExecutorOptions {
  /** The project directory (holding mkosi.conf or kiln.toml), relative to the workspace root. */
  directory: string;
  /** The preset to build (the main image is named after the directory). */
  preset: string;
  /** A variant's settings, as kiln build takes them (`--Profiles=debug`). */
  args?: string[];
  /** A variant the plugin could not read (nx.json): the target fails with this message. */
  error?: string;
}

export default async function imageExecutor(options: ImageExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  if (options.error) {
    process.stderr.write(`kiln: ${options.error}\n`);
    return { success: false };
  }
  const settings = parseArguments(options.args ?? []);
  if ('error' in settings) {
    // A variant of nx.json that is not usable: the plugin warned, its targets fail with the message.
    process.stderr.write(`kiln: ${settings.error}\n`);
    return { success: false };
  }
  const stale = staleGraph(options, context, settings.overrides);
  if (stale) {
    process.stderr.write(`kiln: ${stale}; the Nx graph was made from an older configuration (a gitignored file such as mkosi.local.conf changed since). Run \`nx reset\` and run the task again.\n`);
    return { success: false };
  }
  const args = ['build', '-C', options.directory, '--preset', options.preset, '--force', '--no-deps', ...(options.args ?? [])];
  if (verbose()) args.push('--verbose');
  return runKiln(context.root, args);
}

/** What differs between the task's graph and the configuration now, or null. */
export function staleGraph(options: ImageExecutorOptions, context: ExecutorContext, overrides: readonly Override[] = []): string | null {
  const facts = projectFacts(path.join(context.root, options.directory), { runScript, overrides });
  if (isFactsError(facts)) return null; // kiln build reports it, with file and line
  const preset = facts.presets.find((p) => p.name === options.preset);
  if (!preset) return `preset ${options.preset} is no longer in ${options.directory}`;
  const target = context.projectName && context.targetName ? context.projectsConfigurations?.projects[context.projectName]?.targets?.[context.targetName] : undefined;
  const declared = [...(target?.outputs ?? [])].map((o) => o.replace('{workspaceRoot}/', '')).sort();
  const now = preset.cachedOutputs.map((f) => path.relative(context.root, f)).sort();
  if (target && declared.join('\n') !== now.join('\n')) return `its outputs are now ${now.join(', ')}, not ${declared.join(', ')}`;
  // Edges to this project's presets only: a user may add implicit dependencies of their own.
  // A preset the configuration no longer reaches is dropped (as mkosi drops it) but its project
  // is still in the graph: a project rooted in this directory is ours too.
  const dir = path.normalize(options.directory);
  const inDir = Object.entries(context.projectsConfigurations?.projects ?? {})
    .filter(([, p]) => {
      const r = path.normalize(p.root ?? '');
      return r === dir || r.startsWith(dir + path.sep);
    })
    .map(([name]) => name);
  const ours = new Set([...facts.presets.map((p) => dependencyName(facts, p.name)), ...inDir]);
  // One edge may be there twice, static and implicit: a workspace whose Nx cache still has the
  // static edges an older @kiln/nx declared (Nx restores those while their file is unchanged).
  const graphDeps = [...new Set((context.projectGraph?.dependencies[context.projectName ?? ''] ?? []).map((d) => d.target))].filter((t) => ours.has(t)).sort();
  const deps = preset.dependencies.map((d) => dependencyName(facts, d)).sort();
  // A missing edge is the danger (Nx would not build that preset first). An extra edge only
  // orders: with variants, a project's edges are the union over the default configuration and
  // every variant's (plugin.ts addVariant), so an edge this configuration lacks is expected.
  const missing = deps.filter((d) => !graphDeps.includes(d));
  if (context.projectGraph && missing.length) return `it now depends on ${missing.join(', ')} too (the graph has ${graphDeps.join(', ') || 'no dependency'})`;
  return null;
}

function dependencyName(facts: ProjectFacts, name: string): string {
  const main = facts.presets.find((p) => p.main)!;
  return name === main.name ? name : `${main.name}-${name}`;
}
