/**
 * The incremental package layer (Incremental=yes|strict).
 *
 * After base trees, skeleton and sandbox trees, packages and prepare scripts, the image tree is
 * kept as a layer, keyed by everything those steps read. A later build with the same key starts
 * from a copy of the layer and skips them; a build whose locked package set only adds packages to
 * a layer's (everything else the same) installs just the new ones on top of it.
 *
 * An entry is a directory CACHE/KEY holding layer.tar.zst and manifest.json (what the key is made
 * of, the packages, the archive's size and SHA256). It is written under a temporary name and
 * renamed into place, so an entry is whole or absent; before use its manifest and the archive's
 * checksum are checked, and a damaged or foreign entry is removed with a message, never used. The
 * manifest's mtime is the entry's last use, for eviction by age and size (CacheMaxAge=,
 * CacheMaxSize=).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { digestInputs, LockedPackageSchema, outputPath, type Lock, type LockedPackage, type Preset, type Tree } from '@kiln/config';
import { cfg, type BuildContext } from './context';
import { distributionOf } from './distributions';
import { BuildError } from './errors';
import { run } from './exec';
import { ensureDir, removeTree, sha256File } from './fsutil';
import { toolsIdentity } from './tools';

const FORMAT = 'kiln-layer/1';
const ARCHIVE = 'layer.tar.zst';
const MANIFEST = 'manifest.json';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const HEX64 = /^[0-9a-f]{64}$/;

const LayerManifestSchema = z.strictObject({
  format: z.literal(FORMAT),
  key: z.string().regex(HEX64),
  /** The key without the packages: layers with the same prefix differ only in what is installed. */
  prefix: z.string().regex(HEX64),
  preset: z.string(),
  /** The project that wrote the entry (kiln clean --all removes that project's entries). */
  project: z.string(),
  parts: z.record(z.string(), z.string()),
  requested: z.array(z.string()),
  /** The locked packages installed in the layer; null for a layer of an unlocked preset. */
  packages: z.array(LockedPackageSchema).nullable(),
  archive: z.strictObject({ size: z.number().int().nonnegative(), sha256: z.string().regex(HEX64) }),
  created: z.string(),
});
export type LayerManifest = z.infer<typeof LayerManifestSchema>;

export interface LayerKey {
  key: string;
  prefix: string;
  /** What the prefix is made of, one string per input (kept in the entry's manifest). */
  parts: Record<string, string>;
  /** Packages= (sorted): which packages the config names, the rest being dependencies. */
  requested: string[];
  packages: LockedPackage[] | null;
}

export interface Layer {
  dir: string;
  manifest: LayerManifest;
}

export type LayerPlan = { kind: 'exact'; layer: Layer } | { kind: 'append'; layer: Layer; missing: LockedPackage[] } | { kind: 'none' };

/** CacheDirectory=, or the user's cache directory: layers are keyed by content, so projects can share them. */
export function layerCacheDir(preset: Preset, env: Record<string, string | undefined>): string {
  const configured = preset.config.CacheDirectory as string | null;
  if (configured) return configured;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln', 'layers');
}

const relTo = (root: string, p: string) => path.relative(root, p) || '.';

/** Trees as (path in the project, target, content digest). */
function treesPart(ctx: BuildContext, name: string): string {
  const trees = cfg<Tree[]>(ctx, name);
  return trees.length ? JSON.stringify(trees.map((t) => [relTo(ctx.project.root, t.source), t.target, digestInputs([t.source], { root: ctx.project.root })])) : '';
}

/**
 * A base tree's content: a preset's directory output by its archive (bit-identical for the same
 * tree, and cheaper to hash than walking the tree), an archive by its bytes, any other directory
 * by a digest of every entry.
 */
async function baseTreePart(ctx: BuildContext, base: string, source: string): Promise<[string, string]> {
  const name = relTo(ctx.project.root, base);
  if (fs.statSync(source).isFile()) return [name, await sha256File(source)];
  const producer = ctx.project.presets.find((p) => outputPath(p) === base && p.config.Format === 'directory');
  if (producer && fs.existsSync(`${source}.tar.zst`)) return [name, await sha256File(`${source}.tar.zst`)];
  return [name, digestInputs([source], { root: source })];
}

/** Prepare scripts by content, with the settings their environment carries. */
function preparePart(ctx: BuildContext): string {
  const scripts = cfg<string[]>(ctx, 'PrepareScripts');
  if (!scripts.length) return '';
  const c = ctx.preset.config;
  return JSON.stringify({
    scripts: scripts.map((s) => [relTo(ctx.project.root, s), digestInputs([s], { root: ctx.project.root })]),
    environment: c.Environment,
    profiles: c.Profiles,
    imageId: c.ImageId,
    imageVersion: c.ImageVersion,
  });
}

/**
 * The layer's key: everything the steps up to the layer read. `baseSource` maps each BaseTrees=
 * entry to what is copied (a directory, or an archive standing in for it).
 */
export async function layerKey(ctx: BuildContext, lock: Lock | null, identity: string, baseSource: (base: string) => string): Promise<LayerKey> {
  const c = ctx.preset.config;
  const bases: [string, string][] = [];
  for (const base of cfg<string[]>(ctx, 'BaseTrees')) bases.push(await baseTreePart(ctx, base, baseSource(base)));
  const parts: Record<string, string> = {
    format: FORMAT,
    kiln: identity,
    distribution: String(c.Distribution),
    release: String(c.Release),
    architecture: String(c.Architecture),
    mirror: distributionOf(ctx).mirror(ctx),
    repositories: JSON.stringify([...(c.Repositories as string[])].sort()),
    repositoryKeyCheck: String(c.RepositoryKeyCheck),
    withRecommends: String(c.WithRecommends),
    withDocs: String(c.WithDocs),
    tools: JSON.stringify(toolsIdentity(ctx.project, ctx.preset)),
    baseTrees: bases.length ? JSON.stringify(bases) : '',
    skeletonTrees: treesPart(ctx, 'SkeletonTrees'),
    sandboxTrees: treesPart(ctx, 'SandboxTrees'),
    prepareScripts: preparePart(ctx),
    sourceDateEpoch: String(ctx.sourceDateEpoch),
  };
  const prefix = sha256(JSON.stringify(parts));
  const requested = [...new Set(cfg<string[]>(ctx, 'Packages'))].sort();
  const packages = lock ? [...lock.package].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : null;
  const installed = packages ? packages.map((p) => [p.name, p.version, p.architecture, p.sha256]) : 'unlocked';
  return { key: sha256(JSON.stringify({ prefix, requested, installed })), prefix, parts, requested, packages };
}

/** Reads and checks an entry's manifest; a reason instead when it is damaged or not kiln's. */
function readEntry(dir: string): Layer | string {
  const file = path.join(dir, MANIFEST);
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return fs.existsSync(file) ? `its ${MANIFEST} is not JSON (${(e as Error).message})` : `it has no ${MANIFEST}`;
  }
  const parsed = LayerManifestSchema.safeParse(data);
  if (!parsed.success) return `its ${MANIFEST} is not a kiln layer manifest (${parsed.error.issues[0].path.join('.') || 'format'}: ${parsed.error.issues[0].message})`;
  if (parsed.data.key !== path.basename(dir)) return `its manifest is for key ${parsed.data.key.slice(0, 12)}, not ${path.basename(dir).slice(0, 12)}`;
  const archive = path.join(dir, ARCHIVE);
  if (!fs.existsSync(archive)) return `it has no ${ARCHIVE}`;
  const size = fs.statSync(archive).size;
  if (size !== parsed.data.archive.size) return `${ARCHIVE} has ${size} bytes, its manifest says ${parsed.data.archive.size}`;
  return { dir, manifest: parsed.data };
}

/** Removes an entry by renaming it away first, so a reader never sees half of one. */
async function discard(dir: string): Promise<void> {
  const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir).slice(0, 16)}-${process.pid}-${Date.now()}`);
  try {
    fs.renameSync(dir, trash);
  } catch {
    return; // gone already (another build discarded or evicted it)
  }
  await removeTree(trash);
}

/** The entries of the cache (damaged ones are discarded, with a message). */
async function entries(cacheDir: string, say: (line: string) => void): Promise<Layer[]> {
  const out: Layer[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    if (name.startsWith('.')) continue;
    const dir = path.join(cacheDir, name);
    const entry = readEntry(dir);
    if (typeof entry === 'string') {
      say(`layer: discarding ${dir}: ${entry}`);
      await discard(dir);
    } else out.push(entry);
  }
  return out;
}

/** Whether every package of `layer` is in `wanted` with the same version and checksum. */
function isSubset(layer: LockedPackage[], wanted: LockedPackage[]): boolean {
  const byName = new Map(wanted.map((p) => [p.name, p]));
  return layer.every((p) => {
    const w = byName.get(p.name);
    return !!w && w.version === p.version && w.architecture === p.architecture && w.sha256 === p.sha256;
  });
}

/** The archive's checksum against its manifest; a damaged entry is discarded. */
async function verified(layer: Layer, say: (line: string) => void): Promise<boolean> {
  const sha = await sha256File(path.join(layer.dir, ARCHIVE)).catch(() => null);
  if (sha === layer.manifest.archive.sha256) return true;
  say(`layer: discarding ${layer.dir}: ${ARCHIVE} is damaged (SHA256 ${sha ?? 'unreadable'}, its manifest says ${layer.manifest.archive.sha256})`);
  await discard(layer.dir);
  return false;
}

/**
 * The layer to start from: the entry with this key, else (for a locked preset without prepare
 * scripts) the entry with the same prefix whose packages are the largest subset of the lock's.
 */
export async function findLayer(ctx: BuildContext, k: LayerKey, say: (line: string) => void): Promise<LayerPlan> {
  const all = await entries(layerCacheDir(ctx.preset, ctx.env), say);
  const exact = all.find((l) => l.manifest.key === k.key);
  if (exact && (await verified(exact, say))) return { kind: 'exact', layer: exact };
  if (!k.packages) return { kind: 'none' };
  const wanted = k.packages;
  const candidates = all
    .filter((l) => l !== exact && l.manifest.prefix === k.prefix && l.manifest.packages && isSubset(l.manifest.packages, wanted))
    .filter((l) => l.manifest.requested.every((r) => k.requested.includes(r)))
    .sort((a, b) => b.manifest.packages!.length - a.manifest.packages!.length);
  if (!candidates.length) return { kind: 'none' };
  if (k.parts.prepareScripts) {
    // The cached layer ran them before the new packages would be there: not what a fresh build does.
    say('layer: a cached layer has a subset of the packages, but prepare scripts ran in it, so the packages are installed from scratch');
    return { kind: 'none' };
  }
  for (const layer of candidates) {
    if (!(await verified(layer, say))) continue;
    const have = new Set(layer.manifest.packages!.map((p) => p.name));
    return { kind: 'append', layer, missing: wanted.filter((p) => !have.has(p.name)) };
  }
  return { kind: 'none' };
}

/**
 * Unpacks a layer into the (empty) image root. The archive was checked against its manifest; GNU
 * tar's defaults also refuse members outside the root (leading "/" stripped, ".." refused, symlinks
 * created last), so even a crafted entry cannot write outside it.
 */
export async function restoreLayer(ctx: BuildContext, layer: Layer): Promise<void> {
  const script = 'zstd -q -dc "$1" | tar -C "$2" -xpf - --numeric-owner --same-owner --xattrs --xattrs-include="*"';
  await run(ctx, 'bash', ['-o', 'pipefail', '-c', script, 'restore', path.join(layer.dir, ARCHIVE), ctx.root], { step: `unpacking layer ${layer.manifest.key.slice(0, 12)}` });
  const now = new Date();
  try {
    fs.utimesSync(path.join(layer.dir, MANIFEST), now, now); // its last use, for eviction
  } catch {
    // evicted meanwhile by another build: this one has its copy
  }
}

/** Keeps the image root as the layer for `k` (atomically), then evicts old entries. */
export async function storeLayer(ctx: BuildContext, k: LayerKey, say: (line: string) => void): Promise<void> {
  const cacheDir = ensureDir(layerCacheDir(ctx.preset, ctx.env));
  const final = path.join(cacheDir, k.key);
  if (fs.existsSync(final)) return; // a parallel build stored the same layer
  const tmp = ensureDir(path.join(cacheDir, `.tmp-${k.key.slice(0, 16)}-${process.pid}`));
  try {
    const archive = path.join(tmp, ARCHIVE);
    // pax keeps sub-second mtimes and xattrs; nothing is clamped here: the layer is the tree as it is.
    const script = 'tar -C "$1" --format=pax --sort=name --numeric-owner --xattrs --xattrs-include="*" -cf - . | zstd -q -T0 -3 -c > "$2"';
    await run(ctx, 'bash', ['-o', 'pipefail', '-c', script, 'store', ctx.root, archive], { step: 'writing the layer' });
    const manifest: LayerManifest = {
      format: FORMAT,
      key: k.key,
      prefix: k.prefix,
      preset: ctx.preset.name,
      project: ctx.project.root,
      parts: k.parts,
      requested: k.requested,
      packages: k.packages,
      archive: { size: fs.statSync(archive).size, sha256: await sha256File(archive) },
      created: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      if (!fs.existsSync(final)) throw e; // else: stored by a parallel build meanwhile
    }
    say(`layer: stored ${k.key.slice(0, 12)} (${mib(manifest.archive.size)})`);
  } finally {
    await removeTree(tmp);
  }
  for (const gone of await evictLayers(cacheDir, { maxSize: cfg<number>(ctx, 'CacheMaxSize'), maxAgeDays: cfg<number>(ctx, 'CacheMaxAge'), keep: k.key })) {
    say(`layer: evicted ${gone}`);
  }
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

export interface EvictOptions {
  /** Total size the entries may take. */
  maxSize: number;
  /** Entries unused for longer are removed; 0: never by age. */
  maxAgeDays: number;
  /** An entry never evicted (the one this build uses). */
  keep?: string;
  now?: number;
}

/**
 * Removes entries unused for longer than maxAgeDays, then the least recently used until the rest
 * fit in maxSize, and what killed builds left behind. Returns what went, for the log.
 */
export async function evictLayers(cacheDir: string, opts: EvictOptions): Promise<string[]> {
  const now = opts.now ?? Date.now();
  const removed: string[] = [];
  const live: { dir: string; used: number; size: number }[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    const dir = path.join(cacheDir, name);
    if (name.startsWith('.')) {
      const pid = Number(/^\.(?:tmp|trash)-[0-9a-f]+-(\d+)/.exec(name)?.[1]);
      if (pid && !processAlive(pid)) await removeTree(dir);
      continue;
    }
    let used: number;
    let size = 0;
    try {
      used = fs.statSync(path.join(dir, MANIFEST)).mtimeMs;
      for (const f of fs.readdirSync(dir)) size += fs.statSync(path.join(dir, f)).size;
    } catch {
      continue; // not an entry (findLayer discards those with a message)
    }
    live.push({ dir, used, size });
  }
  const old = (e: { used: number }) => opts.maxAgeDays > 0 && now - e.used > opts.maxAgeDays * 86_400_000;
  live.sort((a, b) => a.used - b.used);
  let total = live.reduce((n, e) => n + e.size, 0);
  for (const e of live) {
    if (path.basename(e.dir) === opts.keep) continue;
    if (!old(e) && total <= opts.maxSize) continue;
    await discard(e.dir);
    total -= e.size;
    removed.push(`${path.basename(e.dir).slice(0, 12)} (${old(e) ? 'unused for over ' + opts.maxAgeDays + ' days' : 'cache over ' + mib(opts.maxSize)})`);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `kiln clean --all`: the entries a project's presets wrote; returns their directories. */
export async function removeLayers(cacheDir: string, projectRoot: string, presets: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    if (name.startsWith('.')) continue;
    const entry = readEntry(path.join(cacheDir, name));
    if (typeof entry === 'string' || entry.manifest.project !== projectRoot || !presets.includes(entry.manifest.preset)) continue;
    await discard(entry.dir);
    removed.push(entry.dir);
  }
  return removed;
}

/** Incremental=strict without a layer for this key: the build must not install packages. */
export function strictMiss(ctx: BuildContext): BuildError {
  return new BuildError(
    `Incremental=strict, and ${layerCacheDir(ctx.preset, ctx.env)} has no layer for this preset's packages and trees: ` +
      'build it once with Incremental=yes (or set Incremental=yes to build without one)',
    ctx.preset.name,
  );
}
