/**
 * `kiln summary`: every preset in build order with its resolved settings grouped by section, in
 * the layout of mkosi's summary (right-aligned labels), and the dependency edges. The JSON form
 * holds settings and graph only (no file list), so an mkosi project and its kiln.toml twin give
 * the same JSON.
 */
import * as path from 'node:path';
import { lockfilePath, readLockfile } from './lockfile';
import { Preset, Project } from './project';
import { SECTIONS, SETTINGS, settingValue, SettingDef } from './settings';
import { ShowContext } from './values';

export interface SummaryJson {
  /** Build order: dependencies first. */
  order: string[];
  main: string;
  presets: {
    name: string;
    main: boolean;
    /** A preset kiln generated: "tools" (ToolsTree=default) or "default-initrd". */
    generated?: string;
    dependencies: { preset: string; reason: string }[];
    /** Its kiln.lock: how many packages it pins, or null when the preset is unlocked. */
    lock: { packages: number } | null;
    settings: Record<string, Record<string, unknown>>;
  }[];
  edges: { from: string; to: string; reason: string }[];
}

/** The preset's lock, for the summary: packages pinned, or null (unlocked); a damaged lock says so. */
function lockState(p: Preset): { packages: number } | null | string {
  try {
    const lock = readLockfile(lockfilePath(p));
    return lock ? { packages: lock.package.length + lock['build-package'].length } : null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** A secret (RootPassword=): summaries say only whether it is set. */
function presentable(def: SettingDef, value: unknown): unknown {
  if (def.secret && value !== null) return '(set)';
  return value;
}

export function summaryJson(project: Project): SummaryJson {
  const ctx: ShowContext = { root: project.root };
  return {
    order: project.presets.map((p) => p.name),
    main: project.main.name,
    presets: project.presets.map((p) => {
      const settings: Record<string, Record<string, unknown>> = {};
      for (const def of SETTINGS as readonly SettingDef[]) {
        const v = presentable(def, settingValue(p.config, def.name));
        (settings[def.section] ??= {})[def.name] = v === null || def.secret ? v : def.kind.json(v as never, ctx);
      }
      const lock = lockState(p);
      return { name: p.name, main: p.main, ...(p.generated ? { generated: p.generated } : {}), dependencies: p.dependencies.map(({ preset, reason }) => ({ preset, reason })), lock: typeof lock === 'string' ? null : lock, settings };
    }),
    edges: project.presets.flatMap((p) => p.dependencies.map((d) => ({ from: p.name, to: d.preset, reason: d.reason }))),
  };
}

const LABEL_WIDTH = 35;

/** What a generated preset is for (generated.ts), in the summary's heading. */
const GENERATED: Record<string, string> = { tools: 'the tools tree of ToolsTree=default', 'default-initrd': 'the initrd of bootable presets without Initrds=' };

export function summaryText(project: Project): string {
  const ctx: ShowContext = { root: project.root };
  const out: string[] = [];
  for (const p of project.presets) {
    out.push(`IMAGE: ${p.name}${p.main ? ' (main image)' : p.generated ? ` (generated: ${GENERATED[p.generated]})` : ''}`);
    const lock = lockState(p);
    const lockFile = path.relative(project.root, lockfilePath(p));
    out.push(`${'Lock'.padStart(LABEL_WIDTH)}: ${lock === null ? 'unlocked (kiln lock pins exact package versions)' : typeof lock === 'string' ? `damaged: ${lock}` : `${lockFile} (${lock.packages} packages)`}`);
    for (const section of SECTIONS) {
      const defs = (SETTINGS as readonly SettingDef[]).filter((d) => d.section === section);
      out.push(`    ${section.toUpperCase()}:`);
      for (const def of defs) {
        const v = presentable(def, settingValue(p.config, def.name));
        const shown = v === null ? '(default)' : def.secret ? String(v) : def.kind.show(v as never, ctx);
        const [first, ...rest] = shown.split('\n');
        out.push(`${def.name.padStart(LABEL_WIDTH)}: ${first}`);
        for (const line of rest) out.push(`${' '.repeat(LABEL_WIDTH + 2)}${line}`);
      }
    }
    out.push('');
  }
  out.push('DEPENDENCIES:');
  const edges = project.presets.flatMap((p) => p.dependencies.map((d) => `    ${p.name} -> ${d.preset} (${d.reason})`));
  out.push(...(edges.length ? edges : ['    (none)']));
  return out.join('\n') + '\n';
}
