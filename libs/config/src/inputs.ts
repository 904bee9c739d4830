/**
 * What a preset's build depends on, derived from the settings table's `cache` roles:
 *  - settings: the resolved values of every setting that can change the image (role value,
 *    path and script as written, environment), hashed: a config line that changes nothing
 *    resolved (a comment, a setting of another preset) changes nothing here;
 *  - configFiles: the files the preset's configuration was read from;
 *  - lockfile: its kiln.lock, present or not (writing one changes what gets installed);
 *  - paths: every tree, script and directory whose contents go into the image (role path and
 *    script), except other presets' outputs, which the build system tracks as dependency outputs;
 *  - environment: variables the build reads (SOURCE_DATE_EPOCH, Environment= pass-through).
 * The Nx plugin turns these into target inputs; `kiln digest` fingerprints the paths.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { checkoutOf } from './input-digest';
import { outputPath, readsOutput } from './graph';
import { lockfilePath } from './lockfile';
import type { Preset, Project } from './project';
import { SETTINGS, type SettingDef } from './settings';
import type { Tree } from './values';

export interface PresetInputs {
  settingsHash: string;
  configFiles: string[];
  lockfile: string;
  paths: string[];
  /** Presets whose outputs this preset reads (BaseTrees=%O/base, Initrds=...). */
  readsOutputsOf: string[];
  environment: string[];
}

/** Paths a setting's value points at (trees by their source). */
function pathsOf(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((v) => (typeof v === 'string' ? v : (v as Tree).source)).filter((p) => path.isAbsolute(p));
}

/**
 * The one walk of the settings table: the resolved value of every setting that takes part in the
 * cache key (relative to the project root), and the paths the path and script settings point at,
 * split into the preset's own inputs and other presets' outputs.
 */
function walkSettings(project: Project, preset: Preset): { settings: Record<string, unknown>; paths: Set<string>; readsOutputsOf: Set<string> } {
  const settings: Record<string, unknown> = {};
  const paths = new Set<string>();
  const readsOutputsOf = new Set<string>();
  // Another preset's output is a name (Output=) in its OutputDirectory=: a path outside every
  // output directory reads no output, and most paths (trees, scripts) are outside. The list of
  // outputs is made only for the others: making it for every preset of every preset was
  // quadratic (a fifth of a cold read of 200 presets).
  const dirOf = new Map<string, string>();
  for (const q of project.presets) {
    const od = q.config.OutputDirectory as string;
    if (!dirOf.has(od)) dirOf.set(od, path.dirname(outputPath(q)));
  }
  const outputDirs = [...new Set(dirOf.values())];
  const underOutputs = (p: string) => outputDirs.some((d) => d === path.sep || p.startsWith(`${d}${path.sep}`));
  let outputs: (readonly [string, string])[] | undefined;
  const table = SETTINGS as readonly SettingDef[];
  const runsScripts = table.some((d) => d.cache === 'script' && (preset.config[d.name] as string[]).length > 0);
  const base = anchor(project.root);

  for (const def of table) {
    if (def.cache === 'none' || (def.cache === 'scripts' && !runsScripts)) continue;
    const value = preset.config[def.name];
    const isPath = def.cache === 'path' || def.cache === 'script';
    // Only host paths are made relative: RemoveFiles=/usr/share/man is a path in the image.
    settings[def.name] = isPath ? relativise(value, base) : value;
    if (!isPath) continue;
    for (const p of pathsOf(value)) {
      if (underOutputs(p)) outputs ??= project.presets.filter((q) => q !== preset).map((q) => [outputPath(q), q.name] as const);
      const producer = underOutputs(p) ? outputs!.find(([out]) => readsOutput(p, out)) : undefined;
      if (producer) readsOutputsOf.add(producer[1]);
      else paths.add(p);
    }
  }
  return { settings, paths, readsOutputsOf };
}

/**
 * The settings that can change a preset's image, by name in table order, paths relative to the
 * project root: what the settings hash covers and what a build manifest records.
 */
export function presetSettings(project: Project, preset: Preset): Record<string, unknown> {
  return walkSettings(project, preset).settings;
}

export function presetInputs(project: Project, preset: Preset): PresetInputs {
  const { settings, paths, readsOutputsOf } = walkSettings(project, preset);
  // $SOURCE_DATE_EPOCH is read only when SourceDateEpoch= does not set the time.
  const environment = new Set([...(preset.config.SourceDateEpoch === null ? ['SOURCE_DATE_EPOCH'] : []), ...preset.passedEnvironment]);
  return {
    settingsHash: createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 32),
    configFiles: [...new Set(preset.files)],
    lockfile: lockfilePath(preset),
    paths: [...paths].sort(),
    readsOutputsOf: [...readsOutputsOf].sort(),
    environment: [...environment].sort(),
  };
}

interface Anchor {
  root: string;
  /** The git checkout holding the project, if any: paths inside it are written relative. */
  checkout: string | null;
}

function anchor(root: string): Anchor {
  return { root, checkout: checkoutOf(root) };
}

/**
 * Host paths as the hash sees them: relative to the project when inside the project's checkout
 * (or the project itself), so that two checkouts of one commit at any place or depth hash alike;
 * absolute otherwise (/opt/trees is the same path from every checkout).
 */
function relativise(value: unknown, a: Anchor): unknown {
  if (typeof value === 'string') {
    if (!path.isAbsolute(value)) return value;
    const within = a.checkout ?? a.root;
    return value === within || value.startsWith(within + path.sep) ? path.relative(a.root, value) || '.' : value;
  }
  if (Array.isArray(value)) return value.map((v) => relativise(v, a));
  // A tree's target is a path in the image: only its source is a host path.
  if (value && typeof value === 'object' && 'source' in value) return { ...value, source: relativise((value as Tree).source, a) };
  return value;
}
