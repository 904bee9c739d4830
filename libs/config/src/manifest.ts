/**
 * Build manifests: what a preset's build was made from, written beside its outputs as
 * OUTPUT.manifest.json, and the comparison behind `kiln explain` and the reason `kiln build`
 * gives for rebuilding a preset.
 *
 * A manifest records the same inputs as the cache key (inputs.ts), as values rather than a hash:
 *  - settings: the resolved value of every setting that can change the image, paths relative to
 *    the project root (RootPassword= and passed-through Environment= values only as a hash);
 *  - files: every config file, the lockfile, every tree, script and directory the preset reads:
 *    type, mode, size, content hash, symlink target;
 *  - packages and buildPackages: the preset's kiln.lock, or null when it has none (unlocked);
 *  - readOutputs: the SHA-256 of the output files of the presets it reads (BaseTrees=%O/base);
 *  - environment: the variables the build reads, as a SHA-256 of the value (null when unset),
 *    never the value, which may be a secret;
 *  - tools: what the preset's installer runs (tools-identity.ts: host tools' versions, or the
 *    ToolsTree= and its digest), the lines the fingerprint has; kiln: its build identity;
 *  - outputs: what the build wrote, the SHA-256 and size of each regular output file (not the
 *    manifest or its signature), so that a restored output is checked before it is used
 *    (output-check.ts). Absent in manifests of older kilns, and in the manifest of the inputs now.
 *
 * It is deterministic: sorted keys, no timestamps, no absolute paths, no host names, so two builds
 * of the same inputs write the same bytes (caches compare and restore outputs bit for bit).
 *
 * currentManifest reads the file system; diffManifests and formatExplanation are pure.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { inputEntries, type InputEntry } from './input-digest';
import { presetInputs, presetSettings } from './inputs';
import { LockedPackageSchema, packageDigest, readLockfile, type Lock, type LockedPackage } from './lockfile';
import { compareDistributionVersions } from './distributions/versions';
import { cachedOutputNames, manifestName, signatureName } from './outputs';
import type { Preset, Project } from './project';
import { findSetting, SETTINGS, type SettingDef } from './settings';

export const MANIFEST_VERSION = 1;

const Sha = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex');

const FileEntrySchema = z.discriminatedUnion('type', [
  // linkOf: the first path hard-linked to this file (the copy into the image keeps hard links).
  z.strictObject({ type: z.literal('file'), mode: z.string(), size: z.number().int().nonnegative(), sha256: Sha, linkOf: z.string().optional() }),
  z.strictObject({ type: z.literal('dir'), mode: z.string() }),
  z.strictObject({ type: z.literal('link'), target: z.string() }),
  z.strictObject({ type: z.literal('special'), mode: z.string(), device: z.enum(['c', 'b', 'p', 's']), rdev: z.number().int() }),
]);
export type FileEntry = z.infer<typeof FileEntrySchema>;

export type ManifestPackage = LockedPackage;

const ManifestSchema = z.strictObject({
  manifestVersion: z.literal(MANIFEST_VERSION),
  preset: z.string(),
  kiln: z.string().nullable(),
  tools: z.record(z.string(), z.string()),
  settings: z.record(z.string(), z.unknown()),
  files: z.record(z.string(), FileEntrySchema),
  packages: z.array(LockedPackageSchema).nullable(),
  buildPackages: z.array(LockedPackageSchema).nullable(),
  readOutputs: z.record(z.string(), z.record(z.string(), Sha.nullable())),
  environment: z.record(z.string(), Sha.nullable()),
  outputs: z.record(z.string(), z.strictObject({ sha256: Sha, size: z.number().int().nonnegative() })).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export interface ManifestOptions {
  /** kiln's build identity (version + engine code hash); null when the caller has none. */
  identity: string | null;
  /** The tools the build runs, name -> version line (see the engine's toolsIdentity). */
  tools: Record<string, string>;
  /** The environment the build reads (default: process.env). */
  env?: Record<string, string | undefined>;
}

/** What stands for a passed-through Environment= value (recorded under `environment`). */
export const PASSED_THROUGH = '(from the environment)';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Where a preset's manifest is, or null for a preset without outputs (Format=none). */
export function manifestPath(preset: Preset): string | null {
  const name = manifestName(preset.config);
  return name ? path.join(preset.config.OutputDirectory, name) : null;
}

/** The manifest of the preset's inputs as they are now. */
export function currentManifest(project: Project, preset: Preset, opts: ManifestOptions): Manifest {
  const env = opts.env ?? process.env;
  const inputs = presetInputs(project, preset);

  // The lockfile is a file input too (any edit of it rebuilds); a tools tree counts through the
  // tools identity (its digest, when the installer runs from it), not file by file.
  const toolsTree = preset.config.ToolsTree;
  const paths = [...inputs.configFiles, inputs.lockfile, ...inputs.paths.filter((p) => p !== toolsTree)];
  const files: Record<string, FileEntry> = {};
  for (const e of inputEntries(paths, { root: project.root })) {
    const entry = fileEntry(e);
    if (entry) files[e.path] = entry;
  }

  const lock = readLockfile(inputs.lockfile);
  const byName = new Map(project.presets.map((p) => [p.name, p]));
  const readOutputs: Manifest['readOutputs'] = {};
  for (const name of inputs.readsOutputsOf) {
    const producer = byName.get(name)!;
    const dir = producer.config.OutputDirectory;
    // Its image files: not its manifest, nor the signature a signed build adds (signed or not, the image is the same).
    const own = [manifestName(producer.config), signatureName(producer.config)];
    readOutputs[name] = Object.fromEntries(cachedOutputNames(producer.config).filter((n) => !own.includes(n)).map((n) => [n, fileHash(path.join(dir, n))]));
  }

  const manifest: Manifest = {
    manifestVersion: MANIFEST_VERSION,
    preset: preset.name,
    kiln: opts.identity,
    tools: { ...opts.tools },
    settings: recordedSettings(project, preset),
    files,
    packages: lock ? sortPackages(lock.package) : null,
    buildPackages: lock ? sortPackages(lock['build-package']) : null,
    readOutputs,
    environment: Object.fromEntries(inputs.environment.map((name) => [name, env[name] === undefined ? null : sha256(env[name]!)])),
  };
  return sortKeys(manifest) as Manifest;
}

/**
 * The manifest with the packages of `lock` (a build that rewrites its lock, kiln build --relock,
 * records the lock it installed from).
 */
export function withLock(m: Manifest, lock: Lock | null): Manifest {
  return { ...m, packages: lock ? sortPackages(lock.package) : null, buildPackages: lock ? sortPackages(lock['build-package']) : null };
}

function fileEntry(e: InputEntry): FileEntry | null {
  switch (e.type) {
    case 'file':
      return { type: 'file', mode: e.mode, size: e.size, sha256: e.sha256, ...(e.linkOf ? { linkOf: e.linkOf } : {}) };
    case 'dir':
      return { type: 'dir', mode: e.mode };
    case 'link':
      return { type: 'link', target: e.target };
    case 'special':
      return { type: 'special', mode: e.mode, device: e.device, rdev: e.rdev };
    case 'missing':
      // A path that does not exist reads as nothing: when it appears, it is "added".
      return null;
  }
}

/** The SHA-256 of a file's content, or null when it cannot be read. */
export function fileHash(file: string): string | null {
  try {
    const hash = createHash('sha256');
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let n: number;
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    return hash.digest('hex');
  } catch {
    return null;
  }
}

/** The settings record, with secrets (the table's `secret` column) by a hash and passed-through variables by a marker. */
function recordedSettings(project: Project, preset: Preset): Record<string, unknown> {
  const settings = presetSettings(project, preset);
  for (const def of SETTINGS as readonly SettingDef[]) {
    const v = settings[def.name];
    if (def.secret && v !== null && v !== undefined) settings[def.name] = `sha256:${sha256(JSON.stringify(v))}`;
    if (def.cache !== 'environment' || !v || typeof v !== 'object') continue;
    settings[def.name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, preset.passedEnvironment.includes(k) ? PASSED_THROUGH : x]));
  }
  return settings;
}

function sortPackages(pkgs: readonly ManifestPackage[]): ManifestPackage[] {
  const key = (p: ManifestPackage) => `${p.name}\0${p.architecture}`;
  return pkgs.map((p) => ({ ...p })).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Objects with their keys sorted (recursively), so that JSON.stringify is canonical. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The manifest as written: canonical JSON, sorted keys, two-space indentation, final newline. */
export function formatManifest(m: Manifest): string {
  return `${JSON.stringify(sortKeys(m), null, 2)}\n`;
}

export type ManifestRead =
  | { status: 'found'; manifest: Manifest }
  | { status: 'missing' }
  | { status: 'invalid'; reason: string };

/** Reads and validates a manifest; a damaged or foreign file is `invalid` with the reason, never an exception. */
export function readManifest(file: string): ManifestRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return { status: 'invalid', reason: `cannot read it: ${(e as Error).message}` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { status: 'invalid', reason: `invalid JSON: ${(e as Error).message}` };
  }
  const version = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).manifestVersion : undefined;
  if (typeof version === 'number' && version !== MANIFEST_VERSION) {
    return { status: 'invalid', reason: `manifest version ${version}, this kiln reads version ${MANIFEST_VERSION}` };
  }
  const r = ManifestSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { status: 'invalid', reason: `${issue.path.join('.') || 'top level'}: ${issue.message}` };
  }
  return { status: 'found', manifest: r.data };
}

/** The message for an unreadable manifest (`file` as it should be shown). */
export function invalidManifestMessage(file: string, reason: string): string {
  return `cannot compare: ${file} is not a kiln manifest (${reason})`;
}

// ---------------------------------------------------------------------------------------------
// The comparison

export type FileChangeKind = 'content' | 'mode' | 'type' | 'target' | 'link';

export interface ManifestDiff {
  settings: { name: string; old: unknown; new: unknown }[];
  files: { path: string; change: 'added' | 'removed' | 'changed'; kinds: FileChangeKind[]; old: FileEntry | null; new: FileEntry | null }[];
  /** The preset got a kiln.lock (locked) or lost it (unlocked); null: the same as before. */
  lock: { change: 'locked' | 'unlocked'; packages: number } | null;
  packages: PackageChange[];
  /** Output files of presets this one reads (BaseTrees=%O/base). */
  readOutputs: { preset: string; change: 'added' | 'removed' | 'changed' | 'missing' }[];
  environment: { name: string; change: 'set' | 'unset' | 'changed' }[];
  tools: { name: string; old: string | null; new: string | null }[];
  kiln: { old: string | null; new: string | null } | null;
  /** The new manifest has no kiln.lock: package versions come from the mirror, unseen here. */
  unlocked: boolean;
}

export interface PackageChange {
  name: string;
  architecture: string;
  /** A BuildPackages= package (installed for build scripts only). */
  build: boolean;
  /** changed: another version, in an order kiln does not know (a distribution without a version scheme yet). */
  change: 'added' | 'removed' | 'upgraded' | 'downgraded' | 'changed' | 'rebuilt';
  old: string | null;
  new: string | null;
}

const canonical = (v: unknown) => JSON.stringify(sortKeys(v ?? null));

export function diffManifests(old: Manifest, cur: Manifest): ManifestDiff {
  const names = (a: object, b: object) => [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();

  const settings = names(old.settings, cur.settings)
    .filter((n) => canonical(old.settings[n]) !== canonical(cur.settings[n]))
    .map((name) => ({ name, old: old.settings[name] ?? null, new: cur.settings[name] ?? null }));

  const files: ManifestDiff['files'] = [];
  for (const p of names(old.files, cur.files)) {
    const a = old.files[p] ?? null;
    const b = cur.files[p] ?? null;
    if (!a || !b) files.push({ path: p, change: a ? 'removed' : 'added', kinds: [], old: a, new: b });
    else {
      const kinds = fileChanges(a, b);
      if (kinds.length) files.push({ path: p, change: 'changed', kinds, old: a, new: b });
    }
  }

  let lock: ManifestDiff['lock'] = null;
  const packages: PackageChange[] = [];
  if (old.packages === null && cur.packages !== null) lock = { change: 'locked', packages: cur.packages.length };
  else if (old.packages !== null && cur.packages === null) lock = { change: 'unlocked', packages: old.packages.length };
  else {
    // Versions in the order of the distribution's package manager (a Gentoo 1.0_rc1 -> 1.0 is an upgrade).
    const distribution = String(cur.settings.Distribution ?? old.settings.Distribution ?? '');
    packages.push(...diffPackages(old.packages ?? [], cur.packages ?? [], false, distribution), ...diffPackages(old.buildPackages ?? [], cur.buildPackages ?? [], true, distribution));
  }

  const readOutputs: ManifestDiff['readOutputs'] = [];
  for (const preset of names(old.readOutputs, cur.readOutputs)) {
    const a = old.readOutputs[preset];
    const b = cur.readOutputs[preset];
    if (!a) readOutputs.push({ preset, change: 'added' });
    else if (!b) readOutputs.push({ preset, change: 'removed' });
    else if (canonical(a) !== canonical(b)) readOutputs.push({ preset, change: Object.values(b).some((h) => h === null) ? 'missing' : 'changed' });
  }

  const environment: ManifestDiff['environment'] = [];
  for (const name of names(old.environment, cur.environment)) {
    const a = old.environment[name] ?? null;
    const b = cur.environment[name] ?? null;
    if (a === b) continue;
    environment.push({ name, change: a === null ? 'set' : b === null ? 'unset' : 'changed' });
  }

  const tools = names(old.tools, cur.tools)
    .filter((n) => old.tools[n] !== cur.tools[n])
    .map((name) => ({ name, old: old.tools[name] ?? null, new: cur.tools[name] ?? null }));

  return {
    settings,
    files,
    lock,
    packages,
    readOutputs,
    environment,
    tools,
    kiln: old.kiln !== cur.kiln ? { old: old.kiln, new: cur.kiln } : null,
    unlocked: cur.packages === null,
  };
}

function fileChanges(a: FileEntry, b: FileEntry): FileChangeKind[] {
  if (a.type !== b.type) return ['type'];
  const kinds: FileChangeKind[] = [];
  if (a.type === 'file' && b.type === 'file' && (a.sha256 !== b.sha256 || a.size !== b.size)) kinds.push('content');
  if (a.type === 'special' && b.type === 'special' && (a.device !== b.device || a.rdev !== b.rdev)) kinds.push('content');
  if (a.type === 'link' && b.type === 'link' && a.target !== b.target) kinds.push('target');
  if (a.type === 'file' && b.type === 'file' && a.linkOf !== b.linkOf) kinds.push('link');
  if ('mode' in a && 'mode' in b && a.mode !== b.mode) kinds.push('mode');
  return kinds;
}

function diffPackages(old: ManifestPackage[], cur: ManifestPackage[], build: boolean, distribution: string): PackageChange[] {
  const key = (p: ManifestPackage) => `${p.name}:${p.architecture}`;
  const a = new Map(old.map((p) => [key(p), p]));
  const b = new Map(cur.map((p) => [key(p), p]));
  const out: PackageChange[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(k);
    const y = b.get(k);
    const base = { name: (x ?? y)!.name, architecture: (x ?? y)!.architecture, build };
    if (!x) out.push({ ...base, change: 'added', old: null, new: y!.version });
    else if (!y) out.push({ ...base, change: 'removed', old: x.version, new: null });
    else if (x.version !== y.version) {
      const order = compareDistributionVersions(distribution, y.version, x.version);
      out.push({ ...base, change: order === null ? 'changed' : order >= 0 ? 'upgraded' : 'downgraded', old: x.version, new: y.version });
    } else if (packageDigest(x) !== packageDigest(y)) out.push({ ...base, change: 'rebuilt', old: x.version, new: y.version });
  }
  return out;
}

export function diffIsEmpty(d: ManifestDiff): boolean {
  return !d.settings.length && !d.files.length && !d.lock && !d.packages.length && !d.readOutputs.length && !d.environment.length && !d.tools.length && !d.kiln;
}

// ---------------------------------------------------------------------------------------------
// The explanation

export interface ExplanationItem {
  /** The group's heading in `kiln explain` (settings, files, packages, ...). */
  group: string;
  /** The change within its group. */
  text: string;
  /** The change as a line of its own, as a build's log shows it. */
  line: string;
}

const GROUPS = ['settings', 'files', 'packages', 'build packages', 'outputs of other presets', 'environment', 'tools', 'kiln'] as const;

function show(v: unknown): string {
  const s = v === null || v === undefined ? '(unset)' : JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

const TYPE_NAMES: Record<FileEntry['type'], string> = { file: 'file', dir: 'directory', link: 'symlink', special: 'special file' };

function fileText(f: ManifestDiff['files'][number]): string {
  const entry = (f.new ?? f.old)!;
  const what = entry.type === 'file' ? '' : ` (${TYPE_NAMES[entry.type]})`;
  if (f.change !== 'changed') return `${f.path} ${f.change}${what}`;
  const a = f.old!;
  const b = f.new!;
  const parts = f.kinds.map((k) => {
    switch (k) {
      case 'content':
        return 'content';
      case 'mode':
        return `mode ${(a as { mode: string }).mode} -> ${(b as { mode: string }).mode}`;
      case 'target':
        return `symlink target ${(a as { target: string }).target} -> ${(b as { target: string }).target}`;
      case 'type':
        return `type ${TYPE_NAMES[a.type]} -> ${TYPE_NAMES[b.type]}`;
      case 'link': {
        const link = (e: FileEntry) => ((e as { linkOf?: string }).linkOf ? `hard link to ${(e as { linkOf?: string }).linkOf}` : 'no hard link');
        return `${link(a)} -> ${link(b)}`;
      }
    }
  });
  return `${f.path} changed (${parts.join(', ')}${f.kinds.includes('mode') && f.kinds.length === 1 ? ' only' : ''})`;
}

function packageText(p: PackageChange): string {
  const name = p.architecture === 'all' ? p.name : `${p.name}:${p.architecture}`;
  switch (p.change) {
    case 'added':
      return `${name} added (${p.new})`;
    case 'removed':
      return `${name} removed (was ${p.old})`;
    case 'rebuilt':
      return `${name} ${p.new} changed (same version, another file)`;
    default:
      return `${name} ${p.change} ${p.old} -> ${p.new}`;
  }
}

/** Every change as a line, in group order. */
export function explanationItems(d: ManifestDiff): ExplanationItem[] {
  const items: ExplanationItem[] = [];
  const add = (group: (typeof GROUPS)[number], text: string, line: string) => items.push({ group, text, line });
  for (const s of d.settings) {
    const text = findSetting(s.name)?.secret ? `${s.name}: changed (the value is not shown)` : `${s.name}: ${show(s.old)} -> ${show(s.new)}`;
    add('settings', text, `setting ${text}`);
  }
  for (const f of d.files) {
    const text = fileText(f);
    add('files', text, `file ${text}`);
  }
  if (d.lock?.change === 'locked') add('packages', `kiln.lock added: ${d.lock.packages} packages locked`, `packages: kiln.lock added (${d.lock.packages} packages locked)`);
  if (d.lock?.change === 'unlocked') add('packages', 'kiln.lock removed: packages are unlocked', 'packages: kiln.lock removed, packages are unlocked');
  for (const p of d.packages) {
    const text = packageText(p);
    add(p.build ? 'build packages' : 'packages', text, `${p.build ? 'build package' : 'package'} ${text}`);
  }
  for (const o of d.readOutputs) {
    const text = {
      changed: `the output of preset ${o.preset} changed`,
      missing: `the output of preset ${o.preset} is missing`,
      added: `reads the output of preset ${o.preset} now`,
      removed: `no longer reads the output of preset ${o.preset}`,
    }[o.change];
    add('outputs of other presets', text, text);
  }
  for (const e of d.environment) {
    const text = `${e.name} ${e.change === 'changed' ? 'changed' : e.change === 'set' ? 'changed (set now, was unset)' : 'changed (unset now)'}`;
    add('environment', text, `environment ${text}`);
  }
  for (const t of d.tools) {
    const text = `${t.name}: ${t.old ?? '(none)'} -> ${t.new ?? '(none)'}`;
    add('tools', text, `tool ${text}`);
  }
  if (d.kiln) add('kiln', `${d.kiln.old ?? '(unknown)'} -> ${d.kiln.new ?? '(unknown)'}`, `kiln ${d.kiln.old ?? '(unknown)'} -> ${d.kiln.new ?? '(unknown)'}`);
  return items.sort((a, b) => GROUPS.indexOf(a.group as (typeof GROUPS)[number]) - GROUPS.indexOf(b.group as (typeof GROUPS)[number]));
}

export const UNLOCKED_NOTE = 'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here';

/** The changes grouped under headings; "Nothing changed" when there are none. */
export function formatExplanation(d: ManifestDiff): string {
  const items = explanationItems(d);
  const out: string[] = [];
  if (!items.length) out.push('Nothing changed');
  let group = '';
  for (const item of items) {
    if (item.group !== group) out.push(`${(group = item.group)}:`);
    out.push(`  ${item.text}`);
  }
  if (d.unlocked && !d.lock) out.push(UNLOCKED_NOTE);
  return `${out.join('\n')}\n`;
}

/**
 * Why a build rebuilds a preset, for its log: one line per change (at most `max`), or why it
 * cannot say. `file` is the manifest as it should be shown.
 */
export function rebuildReason(previous: ManifestRead, current: Manifest, file: string, max = 20): string[] {
  if (previous.status === 'missing') return ['no previous build (no manifest)'];
  if (previous.status === 'invalid') return [`${invalidManifestMessage(file, previous.reason)}: building as if there was no previous build`];
  const lines = explanationItems(diffManifests(previous.manifest, current)).map((i) => i.line);
  if (!lines.length) return ['rebuilding, but nothing changed since the last build'];
  const shown = lines.length > max ? [...lines.slice(0, max - 1), `... and ${lines.length - max + 1} more changes`] : lines;
  return ['rebuilding because:', ...shown.map((l) => `  ${l}`)];
}
