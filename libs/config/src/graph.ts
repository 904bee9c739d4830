/**
 * The preset graph: Dependencies= edges, plus the edges implied when a preset reads another's
 * output (BaseTrees=%O/base, Initrds=%O/initrd, a tree whose source is an output). Build order is
 * a topological sort, ties broken by name so that it is stable; a cycle is an error naming it.
 */
import * as path from 'node:path';
import { ConfigError } from './errors';
import { writesImage } from './formats';
import type { Preset } from './project';
import type { Tree } from './values';

export interface Edge {
  /** The preset depended on. */
  preset: string;
  /** The setting that makes the edge (Dependencies=, BaseTrees=, ...). */
  reason: string;
}

/** Where a preset's output lands: OutputDirectory/Output (plus a format's suffix when written). */
export function outputPath(p: Preset): string {
  return path.join(p.config.OutputDirectory as string, p.config.Output as string);
}

/** Settings whose paths can point at another preset's output. */
const READS_OUTPUTS: [string, (v: unknown) => string[]][] = [
  ['BaseTrees', (v) => v as string[]],
  ['Initrds', (v) => v as string[]],
  ['SkeletonTrees', (v) => (v as Tree[]).map((t) => t.source)],
  ['ExtraTrees', (v) => (v as Tree[]).map((t) => t.source)],
];

/** Whether path `p` is the output `out` or one of its forms (out.tar.zst, a file inside out/). */
export function readsOutput(p: string, out: string): boolean {
  return p === out || p.startsWith(`${out}.`) || p.startsWith(`${out}${path.sep}`);
}

export function buildGraph(presets: Preset[], root: string): Preset[] {
  const byName = new Map(presets.map((p) => [p.name, p]));
  if (byName.size !== presets.length) {
    const main = presets.find((p) => p.main)!;
    throw new ConfigError(`a preset has the same name as the main image ("${main.name}", the project directory): rename the preset`, { file: root, line: 0 });
  }

  const outputs = new Map<string, Preset>();
  for (const p of presets) {
    if (!writesImage(p.config)) continue;
    const out = outputPath(p);
    const other = outputs.get(out);
    if (other) {
      throw new ConfigError(`presets "${other.name}" and "${p.name}" both write ${path.relative(root, out)} (give one of them another Output=)`, {
        file: p.origins.Output?.file ?? root,
        line: p.origins.Output?.line ?? 0,
      });
    }
    outputs.set(out, p);
  }

  for (const p of presets) {
    const edges = new Map<string, string>();
    for (const name of p.config.Dependencies as string[]) {
      const origin = p.origins.Dependencies ?? { file: root, line: 0 };
      const target = byName.get(name);
      if (!target || target.main) {
        const known = presets.filter((x) => !x.main).map((x) => x.name);
        throw new ConfigError(`Dependencies= names "${name}", which is not a preset (accepted: ${known.join(', ') || 'none: add presets in mkosi.images/'})`, origin);
      }
      if (name === p.name) throw new ConfigError(`Dependencies=: preset "${name}" cannot depend on itself`, origin);
      edges.set(name, 'Dependencies=');
    }
    for (const [setting, paths] of READS_OUTPUTS) {
      for (const f of paths(p.config[setting])) {
        for (const [out, q] of outputs) {
          if (q !== p && readsOutput(f, out) && !edges.has(q.name)) edges.set(q.name, `${setting}=`);
        }
      }
    }
    p.dependencies = [...edges].map(([preset, reason]) => ({ preset, reason })).sort((a, b) => a.preset.localeCompare(b.preset));
  }
  return topoSort(presets, byName, root);
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
