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
import { settingPaths } from './graph';
import { lockfilePath } from './lockfile';
import type { Preset, Project } from './project';
import { SETTINGS, settingValue, type SettingDef } from './settings';
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

/**
 * The one walk of the settings table: the resolved value of every setting that takes part in the
 * cache key (relative to the project root), and the paths the path and script settings point at,
 * split into the preset's own inputs and other presets' outputs.
 */
function walkSettings(project: Project, preset: Preset): { settings: Record<string, unknown>; paths: Set<string>; readsOutputsOf: Set<string> } {
  const settings: Record<string, unknown> = {};
  const paths = new Set<string>();
  const readsOutputsOf = new Set<string>();
  // Paths naming another preset's output, from the graph's edges: that preset's task tracks them.
  const producers = new Map(preset.dependencies.flatMap((e) => e.reads.map((r) => [r.path, e.preset] as const)));
  // ToolsTree=default reads the tools preset's tree (its setting holds a word, not the path).
  for (const e of preset.dependencies) if (e.reason === 'ToolsTree=') readsOutputsOf.add(e.preset);
  const table = SETTINGS as readonly SettingDef[];
  const runsScripts = table.some((d) => d.cache === 'script' && (settingValue(preset.config, d.name) as string[]).length > 0);
  const base = anchor(project.root);

  for (const def of table) {
    if (def.cache === 'none' || (def.cache === 'scripts' && !runsScripts)) continue;
    const value = settingValue(preset.config, def.name);
    const isPath = def.cache === 'path' || def.cache === 'script' || def.cache === 'tools';
    // Only host paths are made relative: RemoveFiles=/usr/share/man is a path in the image.
    // BuildSources= (role scripts) holds host trees too: hashed relative, never read as contents.
    settings[def.name] = isPath || def.name === 'BuildSources' ? relativise(value, base) : value;
    if (!isPath) continue;
    for (const p of settingPaths(value)) {
      const producer = producers.get(p);
      if (producer) readsOutputsOf.add(producer);
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
