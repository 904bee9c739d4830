/**
 * The incremental package layer (Incremental=yes|strict).
 *
 * After base trees, skeleton and sandbox trees, packages and prepare scripts, the image tree is
 * kept as a layer, keyed by everything those steps read. A later build with the same key starts
 * from the layer and skips them; a build whose locked package set only adds packages to a
 * layer's (everything else the same) installs just the new ones on top of it.
 *
 * An entry is a directory CACHE/KEY: tree/ (the image as it was), index (one line per file: path,
 * mode, owner, size, mtime, ctime, inode) and manifest.json (what the key is made of, the
 * packages, the index's SHA256). A build does not copy the tree: it mounts an overlay with the
 * tree as its read-only lower layer, so starting from a layer costs no file creation at all
 * (creating the files is what dominates a copy), and the tree cannot be changed through it. Where
 * overlayfs is not available the tree is copied instead.
 *
 * Entries are written under a temporary name and renamed into place, so an entry is whole or
 * absent. Before use, the tree is checked against its index: any change made to it since (a file
 * written, truncated, removed, chmod-ed) changes a ctime, which nothing can set back, so a damaged
 * or foreign entry is removed with a message and never used. This is a stat walk (tens of
 * milliseconds) rather than rehashing the tree, which would cost more than the rest of a reuse.
 * The manifest's mtime is the entry's last use, for eviction by age and size (CacheMaxAge=,
 * CacheMaxSize=); an entry an overlay is using is never removed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { baseTreeFile, digestInputs, LockedPackageSchema, outputPath, packageDigest, producerOf, SETTINGS, settingValue, type Lock, type LockedPackage, type Preset, type SettingDef, type Tree } from '@kiln/config';
import { cfg, type BuildContext } from './context';
import { installerOf } from './installers';
import { BuildError } from './errors';
import { execa } from 'execa';
import { run } from './exec';
import { ensureDir, mounts, mountsUnder, processAlive, removeTree, sha256File, userCacheDir } from './fsutil';
import { toolsIdentity } from './tools';

// 2: keys derived from the settings table's stages, packages by every digest.
export const LAYER_FORMAT = 'kiln-layer/2';
const FORMAT = LAYER_FORMAT;
const TREE = 'tree';
const INDEX = 'index';
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
  tree: z.strictObject({ entries: z.number().int().nonnegative(), bytes: z.number().int().nonnegative(), index: z.string().regex(HEX64) }),
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
  const configured = preset.config.CacheDirectory;
  if (configured) return configured;
  return userCacheDir(env, 'layers');
}

const relTo = (root: string, p: string) => path.relative(root, p) || '.';

/**
 * A path setting's part: each path (relative to the project) with a digest of its contents; trees
 * with their target. BaseTrees= entries go through baseTreePart (another preset's output).
 */
async function pathPart(ctx: BuildContext, def: SettingDef, baseSource: (base: string) => string): Promise<string> {
  const value = settingValue(ctx.preset.config, def.name);
  if (value === null || (Array.isArray(value) && value.length === 0)) return '';
  const items = (Array.isArray(value) ? value : [value]) as (string | Tree)[];
  const out: unknown[] = [];
  for (const item of items) {
    const source = typeof item === 'string' ? item : item.source;
    if (!path.isAbsolute(source)) out.push(source); // ToolsTree=default and the like: a word, not a path
    else if (def.readsOutputs && typeof item === 'string') out.push(await baseTreePart(ctx, source, baseSource(source)));
    else out.push([relTo(ctx.project.root, source), ...(typeof item === 'string' ? [] : [item.target]), digestInputs([source], { root: ctx.project.root })]);
  }
  return JSON.stringify(out);
}

/**
 * A base tree's content: a preset's directory output by its archive (bit-identical for the same
 * tree, and cheaper to hash than walking the tree), an archive by its bytes, any other directory
 * by a digest of every entry.
 */
async function baseTreePart(ctx: BuildContext, base: string, source: string): Promise<[string, string]> {
  const name = relTo(ctx.project.root, base);
  if (fs.statSync(source).isFile()) return [name, await sha256File(source)];
  const producer = producerOf(ctx.project, ctx.preset, base);
  const file = producer && outputPath(producer) === base ? baseTreeFile(producer.config) : null;
  if (file && fs.existsSync(file)) return [name, await sha256File(file)];
  return [name, digestInputs([source], { root: source })];
}

/** The settings the steps before the layer read. */
// Settings scripts see in their environment count when a prepare script runs, whatever their stage.
const BEFORE_LAYER = (SETTINGS as readonly SettingDef[]).filter((d) => d.stage === 'install' || d.scriptEnv);

/** Whether a script runs before the layer (PrepareScripts=). */
function runsScriptsBeforeLayer(ctx: BuildContext): boolean {
  return BEFORE_LAYER.some((d) => d.stage === 'install' && d.cache === 'script' && (settingValue(ctx.preset.config, d.name) as string[]).length > 0);
}

/** What identifies a locked package's bytes: every checksum the lock has (Gentoo locks often have no SHA-256) and its build id. */
const packageIdentity = (p: LockedPackage) => [p.name, p.version, p.architecture, packageDigest(p)];

/**
 * The layer's key: everything the steps up to the layer read. The settings are those the table
 * marks stage `install` (so a new setting read before the layer cannot be forgotten here); a
 * setting that reaches the image only through the scripts' environment counts when the preset
 * runs a script before the layer. Packages= (stage `packages`) is keyed by the locked packages
 * instead, apart from the prefix, so that a layer with fewer packages can be appended to.
 * `baseSource` maps each BaseTrees= entry to what is copied (a directory, or an archive standing
 * in for it).
 */
export async function layerKey(ctx: BuildContext, lock: Lock | null, identity: string, baseSource: (base: string) => string): Promise<LayerKey> {
  const c = ctx.preset.config;
  const runsScripts = runsScriptsBeforeLayer(ctx);
  const parts: Record<string, string> = {
    format: FORMAT,
    kiln: identity,
    mirror: installerOf(ctx).sources(ctx).join(' '),
    tools: JSON.stringify(toolsIdentity(ctx.project, ctx.preset, { outputTools: false })),
    // The time the build clamps to, from SourceDateEpoch= or $SOURCE_DATE_EPOCH.
    sourceDateEpoch: String(ctx.sourceDateEpoch),
  };
  for (const def of BEFORE_LAYER) {
    if ((def.cache === 'scripts' || def.cache === 'environment' || def.scriptEnv) && !runsScripts) continue;
    if (def.cache === 'tools') continue; // parts.tools: what the installer runs, by its identity
    parts[def.name] = def.cache === 'path' || def.cache === 'script' ? await pathPart(ctx, def, baseSource) : JSON.stringify(settingValue(c, def.name));
  }
  const prefix = sha256(JSON.stringify(parts));
  const requested = [...new Set(cfg(ctx, 'Packages'))].sort();
  const packages = lock ? [...lock.package].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : null;
  const installed = packages ? packages.map(packageIdentity) : 'unlocked';
  return { key: sha256(JSON.stringify({ prefix, requested, installed })), prefix, parts, requested, packages };
}

/**
 * One line per entry of a tree, sorted: what any change made through the file system alters.
 * Returns the lines and the bytes the files take.
 */
function treeIndex(tree: string): { lines: string[]; bytes: number } {
  const lines: string[] = [];
  let bytes = 0;
  const visit = (rel: string) => {
    const p = rel ? path.join(tree, rel) : tree;
    const st = fs.lstatSync(p, { bigint: true });
    const link = st.isSymbolicLink() ? `\t-> ${fs.readlinkSync(p)}` : '';
    lines.push(`${rel || '.'}\t${st.mode.toString(8)}\t${st.uid}:${st.gid}\t${st.size}\t${st.mtimeNs}\t${st.ctimeNs}\t${st.ino}${link}`);
    bytes += Number(st.blocks) * 512;
    if (st.isDirectory()) for (const name of fs.readdirSync(p).sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return { lines, bytes };
}

/**
 * Files of the tree that are hard links to files outside it (a package cache's, say) get their own
 * copy: through such a link the tree could change after it is stored. Returns how many.
 */
async function detachOutsideLinks(ctx: BuildContext, tree: string): Promise<number> {
  const byInode = new Map<number, { paths: string[]; nlink: number }>();
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    else if (st.isFile() && st.nlink > 1) {
      const e = byInode.get(st.ino) ?? { paths: [], nlink: st.nlink };
      e.paths.push(p);
      byInode.set(st.ino, e);
    }
  };
  visit(tree);
  let n = 0;
  for (const { paths, nlink } of byInode.values()) {
    if (paths.length === nlink) continue;
    for (const p of paths) {
      await run(ctx, 'cp', ['-a', p, `${p}.kiln-detach`], { step: `copying ${p}` });
      fs.renameSync(`${p}.kiln-detach`, p);
      n++;
    }
  }
  return n;
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
  if (!fs.existsSync(path.join(dir, TREE))) return `it has no ${TREE}/`;
  return { dir, manifest: parsed.data };
}

/** Why the entry's tree is not as it was stored (null: it is): compared with its index. */
function treeChanged(layer: Layer): string | null {
  let stored: string[];
  try {
    const text = fs.readFileSync(path.join(layer.dir, INDEX), 'utf8');
    if (sha256(text) !== layer.manifest.tree.index) return `its ${INDEX} is not the one its manifest records`;
    stored = text.split('\n').filter(Boolean);
  } catch {
    return `it has no ${INDEX}`;
  }
  const now = treeIndex(path.join(layer.dir, TREE)).lines;
  const before = new Map(stored.map((l) => [l.split('\t')[0], l]));
  const after = new Map(now.map((l) => [l.split('\t')[0], l]));
  for (const [p, line] of after) {
    if (!before.has(p)) return `${p} was added to its tree`;
    if (before.get(p) !== line) return `${p} was changed in its tree (${describeChange(before.get(p)!, line)})`;
  }
  for (const p of before.keys()) if (!after.has(p)) return `${p} was removed from its tree`;
  return null;
}

function describeChange(a: string, b: string): string {
  const names = ['path', 'mode', 'owner', 'size', 'mtime', 'ctime', 'inode', 'target'];
  const x = a.split('\t');
  const y = b.split('\t');
  return names.filter((_, i) => x[i] !== y[i]).join(', ');
}

/** Overlay mounts' lower directories: trees some build is using. */
function treesInUse(): Set<string> {
  const used = new Set<string>();
  for (const m of mounts()) {
    if (m.type !== 'overlay') continue;
    const lower = /(?:^|,)lowerdir=([^,]*)/.exec(m.options)?.[1];
    for (const dir of lower ? lower.split(':') : []) used.add(path.resolve(dir));
  }
  return used;
}

const inUse = (dir: string) => treesInUse().has(path.join(dir, TREE));

/** Removes an entry by renaming it away first, so that no reader sees half of one; never one in use. */
async function discard(dir: string): Promise<boolean> {
  if (inUse(dir)) return false;
  const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir).slice(0, 16)}-${process.pid}-${Date.now()}`);
  try {
    fs.renameSync(dir, trash);
  } catch {
    return true; // gone already (another build discarded or evicted it)
  }
  await removeTree(trash);
  return true;
}

async function discardWithMessage(dir: string, why: string, say: (line: string) => void): Promise<void> {
  const gone = await discard(dir);
  say(`layer: ${gone ? 'discarding' : 'not using (another build has it mounted)'} ${dir}: ${why}`);
}

/** The entries of the cache (damaged ones are discarded, with a message). */
async function entries(cacheDir: string, say: (line: string) => void): Promise<Layer[]> {
  const out: Layer[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    if (name.startsWith('.')) continue;
    const dir = path.join(cacheDir, name);
    const entry = readEntry(dir);
    if (typeof entry === 'string') await discardWithMessage(dir, entry, say);
    else out.push(entry);
  }
  return out;
}

/** Whether every package of `layer` is in `wanted` with the same version and checksum. */
function isSubset(layer: LockedPackage[], wanted: LockedPackage[]): boolean {
  const byName = new Map(wanted.map((p) => [p.name, p]));
  return layer.every((p) => {
    const w = byName.get(p.name);
    return !!w && JSON.stringify(packageIdentity(w)) === JSON.stringify(packageIdentity(p));
  });
}

/** The tree against its index; a damaged entry is discarded. */
async function verified(layer: Layer, say: (line: string) => void): Promise<boolean> {
  const why = treeChanged(layer);
  if (!why) return true;
  await discardWithMessage(layer.dir, `${why} since it was stored`, say);
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
  if (runsScriptsBeforeLayer(ctx)) {
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

/** Copies a tree with everything an image has (owners, modes, device nodes, xattrs, hard links). */
async function copyImage(ctx: BuildContext, from: string, to: string, step: string): Promise<void> {
  await run(ctx, 'cp', ['-a', '--reflink=auto', '--no-target-directory', from, to], { step });
}

/**
 * Makes the (empty) image root start as the layer's tree: an overlay mount with the tree as its
 * read-only lower layer and the build's own upper layer, or a copy where overlays cannot be had.
 */
export async function restoreLayer(ctx: BuildContext, layer: Layer, say: (line: string) => void): Promise<void> {
  const tree = path.join(layer.dir, TREE);
  const now = new Date();
  try {
    fs.utimesSync(path.join(layer.dir, MANIFEST), now, now); // its last use, for eviction
  } catch {
    // not ours to touch (a read-only shared cache): eviction goes by its age then
  }
  const why = await mountOverlay(ctx, tree);
  if (!why) return;
  say(`layer: copying it (no overlay: ${why})`);
  fs.rmSync(ctx.root, { recursive: true, force: true });
  await copyImage(ctx, tree, ctx.root, `copying layer ${layer.manifest.key.slice(0, 12)}`);
}

/** Mounts the overlay on ctx.root; the reason when it cannot. */
async function mountOverlay(ctx: BuildContext, lower: string): Promise<string | null> {
  const upper = ensureDir(path.join(ctx.work, 'layer-upper'));
  const work = ensureDir(path.join(ctx.work, 'layer-work'));
  // Mount options are split on "," and lower layers on ":".
  if ([lower, upper, work].some((p) => /[,:\\]/.test(p))) return 'a path has "," ":" or "\\" in it';
  const r = await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, ctx.root], { reject: false, all: true });
  return r.exitCode === 0 ? null : String(r.all).trim() || `mount exited with ${r.exitCode}`;
}

/** Whether the image root is an overlay on a layer (it cannot be renamed into an output then). */
export function isLayered(ctx: BuildContext): boolean {
  return mountsUnder(ctx.root).includes(path.resolve(ctx.root));
}

/** Turns an overlay root into a plain tree (for a format whose output is the tree itself: Format=directory). */
export async function flattenRoot(ctx: BuildContext): Promise<void> {
  if (!isLayered(ctx)) return;
  const flat = path.join(ctx.work, 'flat');
  await copyImage(ctx, ctx.root, flat, 'copying the image out of the layer overlay');
  await removeTree(ctx.root);
  fs.renameSync(flat, ctx.root);
}

/**
 * Keeps the image root as the layer for `k`, atomically. A plain root is moved into the cache and
 * the build goes on in an overlay on it (nothing copied); an overlay root (a layer with packages
 * appended) is copied. Then old entries are evicted.
 */
export async function storeLayer(ctx: BuildContext, k: LayerKey, say: (line: string) => void): Promise<void> {
  const cacheDir = ensureDir(layerCacheDir(ctx.preset, ctx.env));
  const final = path.join(cacheDir, k.key);
  if (fs.existsSync(final)) return; // a parallel build stored the same layer
  const tmp = ensureDir(path.join(cacheDir, `.tmp-${k.key.slice(0, 16)}-${process.pid}`));
  const tree = path.join(tmp, TREE);
  let moved = false;
  try {
    if (!isLayered(ctx)) {
      try {
        fs.renameSync(ctx.root, tree);
        moved = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e; // another file system: copied below
      }
    }
    if (!moved) await copyImage(ctx, ctx.root, tree, 'copying the image into the layer cache');
    const detached = await detachOutsideLinks(ctx, tree);
    if (detached) say(`layer: ${detached} files were hard links to files outside the image; the layer has copies`);
    const index = treeIndex(tree);
    const indexText = index.lines.join('\n') + '\n';
    fs.writeFileSync(path.join(tmp, INDEX), indexText);
    const manifest: LayerManifest = {
      format: FORMAT,
      key: k.key,
      prefix: k.prefix,
      preset: ctx.preset.name,
      project: ctx.project.root,
      parts: k.parts,
      requested: k.requested,
      packages: k.packages,
      tree: { entries: index.lines.length, bytes: index.bytes, index: sha256(indexText) },
      created: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    let stored = true;
    try {
      fs.renameSync(tmp, final);
    } catch (e) {
      if (!fs.existsSync(final)) throw e;
      stored = false; // stored by a parallel build meanwhile: ours goes
    }
    if (moved) {
      // The build goes on over the tree it just stored (or, having lost the race, over its own).
      ensureDir(ctx.root);
      const lower = stored ? path.join(final, TREE) : tree;
      if (!stored || (await mountOverlay(ctx, lower))) {
        fs.rmSync(ctx.root, { recursive: true, force: true });
        if (stored) await copyImage(ctx, lower, ctx.root, 'copying the layer back (no overlay)');
        else fs.renameSync(tree, ctx.root);
      }
    }
    if (stored) say(`layer: stored ${k.key.slice(0, 12)} (${manifest.tree.entries} files, ${mib(index.bytes)})`);
  } finally {
    await removeTree(tmp);
  }
  for (const gone of await evictLayers(cacheDir, { maxSize: cfg(ctx, 'CacheMaxSize'), maxAgeDays: cfg(ctx, 'CacheMaxAge'), keep: k.key })) {
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
 * fit in maxSize, and what killed builds left behind; never an entry an overlay is using. Returns
 * what went, for the log.
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
    const entry = readEntry(dir);
    if (typeof entry === 'string') continue; // findLayer discards those, with a message
    live.push({ dir, used: fs.statSync(path.join(dir, MANIFEST)).mtimeMs, size: entry.manifest.tree.bytes });
  }
  const old = (e: { used: number }) => opts.maxAgeDays > 0 && now - e.used > opts.maxAgeDays * 86_400_000;
  live.sort((a, b) => a.used - b.used);
  let total = live.reduce((n, e) => n + e.size, 0);
  for (const e of live) {
    if (path.basename(e.dir) === opts.keep) continue;
    if (!old(e) && total <= opts.maxSize) continue;
    if (!(await discard(e.dir))) continue; // in use: it goes another time
    total -= e.size;
    removed.push(`${path.basename(e.dir).slice(0, 12)} (${old(e) ? 'unused for over ' + opts.maxAgeDays + ' days' : 'cache over ' + mib(opts.maxSize)})`);
  }
  return removed;
}

/** `kiln clean --all`: the entries a project's presets wrote; returns their directories. */
export async function removeLayers(cacheDir: string, projectRoot: string, presets: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const name of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    if (name.startsWith('.')) continue;
    const entry = readEntry(path.join(cacheDir, name));
    if (typeof entry === 'string' || entry.manifest.project !== projectRoot || !presets.includes(entry.manifest.preset)) continue;
    if (await discard(entry.dir)) removed.push(entry.dir);
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
