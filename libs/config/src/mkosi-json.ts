/**
 * `kiln summary --json=mkosi`: the project in the shape of mkosi 26's `mkosi --json summary`, so
 * that the two can be diffed directly (and the oracle suite, libs/config/test/oracle/, compares
 * them field by field):
 *
 *   {"Images": [one object per image: dependencies first, the main image last], "Tools": null | {...}}
 *
 * Each object has mkosi's field names, sorted as mkosi prints them, with mkosi's value forms: paths
 * absolute, enums and UUIDs as strings, sizes as integers in bytes, trees as
 * [{"Source": ..., "Target": ...}], Environment= and Credentials= as objects, "Image" ("main" for
 * the main image) and "Files" (the config files read). The form is derived from each setting's
 * value generically (objects get mkosi's capitalised keys), so settings added to the table come
 * out right without an entry here; SPECIAL holds the few whose mkosi form is not their kiln value.
 *
 * Only mkosi's fields are printed (mkosi-fields.ts, generated from mkosi 26): kiln-only settings
 * (Binhosts=, Portage*=, CacheMaxSize=, ...) and the ToolsTreeX= settings (mkosi prints them as
 * the Tools object) stay out, and fields kiln has no setting for are absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { outputPath } from './graph';
import { wantedArtifacts } from './formats/split';
import { MKOSI_FIELD_RENAMES, MKOSI_FIELDS } from './mkosi-fields';
import type { Preset, Project } from './project';
import { SETTINGS, settingValue, type SettingDef } from './settings';

export interface MkosiSummaryJson {
  Images: Record<string, unknown>[];
  Tools: Record<string, unknown> | null;
}

const FIELDS = new Set(MKOSI_FIELDS);

/** The field mkosi prints a kiln setting as: its name, an alias mkosi prints, or a shared one; undefined for kiln-only settings. */
export function mkosiField(def: SettingDef): string | undefined {
  for (const name of [def.name, ...(def.aliases ?? [])]) {
    const field = MKOSI_FIELD_RENAMES[name] ?? name;
    if (FIELDS.has(field)) return field;
  }
  return undefined;
}

/** mkosi's dataclasses print as objects with capitalised keys (ConfigTree -> {"Source","Target"}, KeySource -> {"Source","Type"}). */
function capitalised(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(capitalised);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.charAt(0).toUpperCase() + k.slice(1), capitalised(x)]));
  return v;
}

/** Whether a kind's values are maps of user-chosen names (Environment=): their keys are data, not field names. */
function isNameMap(def: SettingDef): boolean {
  return (def.kind.schema as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'record';
}

/**
 * Kinds whose kiln value is a compact spelling of what mkosi holds as a structure or a number
 * (by the kind's type name, so that every setting of the kind follows).
 */
const KIND_FORMS: Record<string, (v: unknown) => unknown> = {
  // "TYPE[:SOURCE]" (SecureBootKeySource=engine:pkcs11): mkosi's KeySource dataclass.
  'key source': (v) => {
    const [type, ...source] = String(v).split(':');
    return { Source: source.join(':'), Type: type };
  },
  // auto and hash are mkosi's VsockCID enum, -1 and -2; a connection ID is a number.
  'vsock cid': (v) => (v === 'auto' ? -1 : v === 'hash' ? -2 : Number(v)),
};

/** The generic form, from the kind: maps of names keep their keys, everything else as mkosi's dataclasses print. */
function generic(def: SettingDef, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  const form = KIND_FORMS[def.kind.type];
  if (form) return form(v);
  if (isNameMap(def)) return v;
  return capitalised(v);
}

interface Context {
  project: Project;
  preset: Preset;
}

/**
 * Settings whose mkosi form is not their kiln value, with why. Each receives the kiln value and
 * returns mkosi's.
 */
const SPECIAL: Record<string, (v: unknown, c: Context) => unknown> = {
  // kiln keeps NAME=VALUE words and paths (files, directories) as written; mkosi prints the
  // resulting name -> value map, a file's contents being its value.
  Credentials: (v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
    const out: Record<string, string> = {};
    for (const item of (v as string[] | null) ?? []) {
      const eq = item.indexOf('=');
      if (eq >= 0 && !path.isAbsolute(item)) out[item.slice(0, eq)] = item.slice(eq + 1);
      else for (const f of credentialFiles(item)) out[path.basename(f)] = readOr(f);
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  },
  // ToolsTree=default names the generated tools preset: mkosi prints the path of its output.
  ToolsTree: (v, c) => {
    if (v === null || v === 'no' || v === 'none') return null;
    if (v === 'default' || v === 'yes') {
      const tools = c.project.presets.find((p) => p.generated === 'tools');
      return tools ? outputPath(tools) : null;
    }
    return v;
  },
  // mkosi prints [password, hashed]; kiln's summaries never print a secret, only that it is set.
  RootPassword: (v) => (v === null ? null : ['(set)', String(v).startsWith('hashed:')]),
  // ID:SIZE[:DIRECTORY[:OPTIONS[:FILE_ID[:FLAGS]]]] words: mkosi's Drive dataclass.
  Drives: (v) => ((v as string[] | null) ?? []).map(drive),
  // mkosi's default is None, printed as null for the main image, where kiln's is an empty list;
  // the other images receive the main image's value as a list (universal settings pass through
  // mkosi's command line namespace), so they print [].
  ProxyExclude: (v, c) => (c.preset.main && Array.isArray(v) && v.length === 0 ? null : v),
  // A boolean SplitArtifacts= is what mkosi 26 reads as its list.
  SplitArtifacts: (_v, c) => wantedArtifacts(c.preset.config as unknown as Record<string, unknown>),
  // kiln's Dependencies= is the setting; mkosi's also names the default initrd it added.
  Dependencies: (v, c) => {
    const deps = [...((v as string[] | null) ?? [])];
    for (const d of c.preset.dependencies) {
      const target = c.project.presets.find((p) => p.name === d.preset);
      if (target?.generated === 'default-initrd' && !deps.includes(target.name)) deps.push(target.name);
    }
    return deps;
  },
};

function drive(word: string): Record<string, unknown> {
  const [id, size, directory, options, fileId, flags] = word.split(':');
  return {
    Directory: directory || null,
    FileId: fileId || id,
    Flags: flags ? flags.split(',') : [],
    Id: id,
    Options: options || null,
    Size: driveBytes(size),
  };
}

/** A drive's size as mkosi's parse_bytes reads it: K, M, G suffixes, rounded up to 4096 bytes. */
function driveBytes(size: string): number {
  const factor = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[size.slice(-1)] ?? 1;
  const bytes = Math.ceil(Number(factor > 1 ? size.slice(0, -1) : size) * factor);
  return Math.ceil(bytes / 4096) * 4096;
}

function credentialFiles(p: string): string[] {
  try {
    return fs.statSync(p).isDirectory() ? fs.readdirSync(p).sort().map((n) => path.join(p, n)) : [p];
  } catch {
    return [p];
  }
}

function readOr(f: string): string {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** One image (or the tools tree) as mkosi's summary object. */
export function mkosiImageJson(project: Project, preset: Preset): Record<string, unknown> {
  const c: Context = { project, preset };
  const out: Record<string, unknown> = {
    Image: preset.main ? 'main' : preset.name,
    Files: preset.appliedFiles,
  };
  for (const def of SETTINGS as readonly SettingDef[]) {
    const field = mkosiField(def);
    if (!field) continue;
    const v = settingValue(preset.config, def.name);
    out[field] = SPECIAL[field] ? SPECIAL[field](v, c) : generic(def, v);
  }
  // Not a setting: mkosi adds where a BuildDirectory= image builds (BuildKey= expanded) when set.
  const buildDir = settingValue(preset.config, 'BuildDirectory');
  if (typeof buildDir === 'string') out.BuildSubdirectory = buildSubdirectory(preset, buildDir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** BuildDirectory=/BuildKey= with BuildKey='s &-specifiers expanded ("-": the directory itself), as mkosi's build_subdir. */
function buildSubdirectory(preset: Preset, buildDir: string): string {
  const config = (name: string) => settingValue(preset.config, name);
  const values: Record<string, string> = {
    '&': '&',
    d: String(config('Distribution')),
    r: String(config('Release') ?? ''),
    a: String(config('Architecture')),
    i: String(config('ImageId') ?? ''),
    v: String(config('ImageVersion') ?? ''),
    I: preset.main ? 'main' : preset.name,
  };
  const key = String(config('BuildKey') ?? '&d~&r~&a').replace(/&(.)/g, (m, c: string) => values[c] ?? m);
  return key === '-' ? buildDir : path.join(buildDir, key);
}

/**
 * The images in mkosi's order: it reads mkosi.images/ entries sorted, appends the default initrd,
 * and orders them with Python's graphlib.TopologicalSorter over Dependencies= (resolve_deps); the
 * main image comes last. kiln's build order is a valid order too, but not always the same one.
 */
function mkosiOrder(project: Project, images: Preset[]): Preset[] {
  const read = [...images].sort((a, b) => {
    const ga = a.generated === 'default-initrd' ? 1 : 0;
    const gb = b.generated === 'default-initrd' ? 1 : 0;
    return ga - gb || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0);
  });
  const byName = new Map(read.map((p) => [p.name, p]));
  const deps = (p: Preset) => (SPECIAL.Dependencies(p.config.Dependencies, { project, preset: p }) as string[]).filter((d) => byName.has(d));
  return staticOrder(read.map((p) => [p.name, deps(p)] as const)).map((n) => byName.get(n)!);
}

/** graphlib.TopologicalSorter(graph).static_order(), step for step, so that ties break as in mkosi. */
function staticOrder(graph: readonly (readonly [string, readonly string[]])[]): string[] {
  const info = new Map<string, { preds: number; successors: string[] }>();
  const node = (n: string) => info.get(n) ?? (info.set(n, { preds: 0, successors: [] }), info.get(n)!);
  for (const [n, preds] of graph) {
    node(n).preds += preds.length;
    for (const p of preds) node(p).successors.push(n);
  }
  const order: string[] = [];
  let ready = [...info].filter(([, i]) => i.preds === 0).map(([n]) => n);
  while (ready.length) {
    const group = ready;
    ready = [];
    order.push(...group);
    for (const n of group) {
      for (const s of info.get(n)!.successors) if (--info.get(s)!.preds === 0) ready.push(s);
    }
  }
  return order;
}

export function mkosiSummaryJson(project: Project): MkosiSummaryJson {
  const tools = project.presets.find((p) => p.generated === 'tools');
  const images = mkosiOrder(project, project.presets.filter((p) => p !== tools && !p.main));
  return {
    Images: [...images, project.main].map((p) => mkosiImageJson(project, p)),
    Tools: tools ? mkosiImageJson(project, tools) : null,
  };
}
