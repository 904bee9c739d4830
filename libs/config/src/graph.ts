/**
 * The preset graph: Dependencies= edges, plus the edges implied when a preset reads another's
 * output (BaseTrees=%O/base, Initrds=%O/initrd, a tree whose source is an output: the settings the
 * table marks `readsOutputs`), and ToolsTree=default's edge from every preset to the generated
 * tools preset (it reads that preset's tree; generated.ts). Build order is a topological sort,
 * ties broken by name so that it is stable; a cycle is an error naming it.
 *
 * Each edge carries the settings and paths that read the other preset's output, worked out once
 * here: the Nx inputs, the lock, the incremental layer and the build ask the edges which preset
 * produces a path (producerOf) instead of matching paths against outputs again.
 */
import * as path from 'node:path';
import { ConfigError, quote } from './errors';
import { writesImage } from './formats';
import type { Preset } from './project';
import { SETTINGS, settingValue, type SettingDef } from './settings';
import type { Tree } from './values';

/** A path in one of a preset's settings that names another preset's output. */
export interface OutputRead {
  setting: string;
  path: string;
}

export interface Edge {
  /** The preset depended on. */
  preset: string;
  /** The setting that makes the edge (Dependencies=, BaseTrees=, ...): the first one, for messages. */
  reason: string;
  /** The paths naming the preset's output, in table order then value order; none for Dependencies= alone. */
  reads: OutputRead[];
}

/** Where a preset's output lands: OutputDirectory/Output (plus a format's suffix when written). */
export function outputPath(p: Preset): string {
  return path.join(p.config.OutputDirectory, p.config.Output);
}

/** The host paths a setting's value holds: path lists, single paths, and trees by their source. */
export function settingPaths(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((v) => (typeof v === 'string' ? v : (v as Tree).source)).filter((p) => path.isAbsolute(p));
}

const READS_OUTPUTS = (SETTINGS as readonly SettingDef[]).filter((d) => d.readsOutputs);

/** The preset whose output `file` (a value of one of `preset`'s settings) names, from the graph's edges. */
export function producerOf(project: { presets: Preset[] }, preset: Preset, file: string): Preset | undefined {
  const edge = preset.dependencies.find((e) => e.reads.some((r) => r.path === file));
  return edge && project.presets.find((p) => p.name === edge.preset);
}

/** Whether path `p` is the output `out` or one of its forms (out.tar.zst, a file inside out/). */
export function readsOutput(p: string, out: string): boolean {
  return p === out || p.startsWith(`${out}.`) || p.startsWith(`${out}${path.sep}`);
}

export function buildGraph(presets: Preset[], root: string, opts: { dropUnreachable?: boolean } = {}): Preset[] {
  const byName = new Map(presets.map((p) => [p.name, p]));
  if (byName.size !== presets.length) {
    const main = presets.find((p) => p.main)!;
    throw new ConfigError(`a preset has the same name as the main image (${quote(main.name)}, the project directory): rename the preset`, { file: root, line: 0 });
  }

  const outputs = new Map<string, Preset>();
  for (const p of presets) {
    if (!writesImage(p.config)) continue;
    const out = outputPath(p);
    const other = outputs.get(out);
    if (other) {
      throw new ConfigError(`presets ${quote(other.name)} and ${quote(p.name)} both write ${path.relative(root, out)} (give one of them another Output=)`, {
        file: p.origins.Output?.file ?? root,
        line: p.origins.Output?.line ?? 0,
      });
    }
    outputs.set(out, p);
  }

  const tools = presets.find((p) => p.generated === 'tools');
  const outputDirs = [...new Set([...outputs.keys()].map((out) => path.dirname(out) + path.sep))];
  for (const p of presets) {
    const edges = new Map<string, Edge>();
    for (const name of p.config.Dependencies ?? []) {
      const origin = p.origins.Dependencies ?? { file: root, line: 0 };
      const target = byName.get(name);
      if (!target || target.main) {
        const known = presets.filter((x) => !x.main).map((x) => x.name);
        throw new ConfigError(`Dependencies= names ${quote(name)}, which is not a preset (accepted: ${known.join(', ') || 'none: add presets in mkosi.images/'})`, origin);
      }
      if (name === p.name) throw new ConfigError(`Dependencies=: preset ${quote(name)} cannot depend on itself`, origin);
      edges.set(name, { preset: name, reason: 'Dependencies=', reads: [] });
    }
    for (const def of READS_OUTPUTS) {
      for (const f of settingPaths(settingValue(p.config, def.name))) {
        // Most paths (trees, scripts) are outside every output directory: only those inside can
        // name an output, so a project of many presets is not matched all against all.
        if (!outputDirs.some((d) => f.startsWith(d))) continue;
        for (const [out, q] of outputs) {
          if (q === p || !readsOutput(f, out)) continue;
          const edge = edges.get(q.name) ?? { preset: q.name, reason: `${def.name}=`, reads: [] };
          edge.reads.push({ setting: def.name, path: f });
          edges.set(q.name, edge);
        }
      }
    }
    // ToolsTree=default: every other preset's output steps run from the tools preset's tree, so
    // its output is an input of theirs like a base tree's (generated.ts).
    if (tools && p !== tools) edges.set(tools.name, { preset: tools.name, reason: 'ToolsTree=', reads: [{ setting: 'ToolsTree', path: outputPath(tools) }] });
    p.dependencies = [...edges.values()].sort((a, b) => a.preset.localeCompare(b.preset));
  }
  if (opts.dropUnreachable) {
    // As mkosi's resolve_deps: only the images the main image needs (transitively) exist, plus the
    // generated tools tree. kiln follows every edge, not only Dependencies=: a preset whose output
    // a needed one reads (BaseTrees=%O/base) is needed too.
    const keep = reachable(presets, byName);
    presets = presets.filter((p) => keep.has(p.name));
    for (const name of [...byName.keys()]) if (!keep.has(name)) byName.delete(name);
  }
  return topoSort(presets, byName, root);
}

/** The main image, the tools preset, and every preset they depend on. */
function reachable(presets: Preset[], byName: Map<string, Preset>): Set<string> {
  const seen = new Set<string>();
  const queue = presets.filter((p) => p.main || p.generated === 'tools').map((p) => p.name);
  while (queue.length) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const e of byName.get(name)!.dependencies) queue.push(e.preset);
  }
  return seen;
}

function topoSort(presets: Preset[], byName: Map<string, Preset>, root: string): Preset[] {
  const order: Preset[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];

  const visit = (p: Preset) => {
    const s = state.get(p.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(p.name)), p.name];
      const where = p.origins.Dependencies ?? { file: root, line: 0 };
      throw new ConfigError(`dependency cycle: ${cycle.join(' -> ')} (break it by removing one of these dependencies)`, where);
    }
    state.set(p.name, 'visiting');
    stack.push(p.name);
    for (const e of p.dependencies) visit(byName.get(e.preset)!);
    stack.pop();
    state.set(p.name, 'done');
    order.push(p);
  };
  // Presets first by name, the main image last, so that the order is stable and mkosi-like.
  [...presets].sort((a, b) => Number(a.main) - Number(b.main) || a.name.localeCompare(b.name)).forEach(visit);
  return order;
}
