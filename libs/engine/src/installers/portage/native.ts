/**
 * kiln's own Gentoo installer: no portage, no stage3. It reads the binhosts' `Packages` indexes,
 * resolves the requested atoms (resolve.ts), downloads the packages in parallel into the package
 * cache, verifies every one (SIZE and the index's or lock's checksums on download; the GPKG
 * Manifest and signatures on open), and only then merges them into the image in dependency order
 * with a vdb record each. What pkg_postinst phases would have done that a bootable image needs is
 * done afterwards by the field's tools (ldconfig, systemd-sysusers, systemd-hwdb), and the log
 * says which phases were skipped.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { architectureName, type LockedPackage } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { toolEnv } from '../../exec';
import { hostTools, runIn } from '../../sandbox';
import { fetchBytes, fetchToFile } from './fetch';
import { BinpkgError, openBinpkg, type Binpkg, type SignaturePolicy } from './binpkg';
import { describeMasked, maskReasons, profileChost, type MaskPolicy } from './masks';
import { ConfigProtect } from './config-protect';
import { CollisionError, findCollisions, Owners } from './collisions';
import { mergeImage, planImage } from './merge';
import { parsePackagesIndex, type BinPackage } from './packages-index';
import { idependsOf, resolve } from './resolve';
import { addToWorld, readVdb, writeVdbEntry } from './vdb';
import { gentooProfile } from './profile';

/** Downloads at once: enough to hide latency, few enough for a small binhost. */
const PARALLEL = 4;
/** Index checksums (Packages keys) by Node hash name. */
const INDEX_HASHES = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512', blake2b: 'blake2b512' } as const;

export function binhosts(ctx: BuildContext): string[] {
  const hosts = cfg(ctx, 'Binhosts').map((b) => b.replace(/\/+$/, ''));
  if (!hosts.length) throw new BuildError('Distribution=gentoo needs Binhosts= (the binary package repositories to install from)', ctx.preset.name);
  for (const h of hosts) if (!/^(https?|file):\/\//.test(h)) throw new BuildError(`Binhosts=${h} is not an http(s):// or file:// URL`, ctx.preset.name);
  return hosts;
}

export function gentooArch(ctx: BuildContext): string {
  const a = architectureName('gentoo', cfg(ctx, 'Architecture'));
  if (!a) throw new BuildError(`Architecture=${cfg(ctx, 'Architecture')} has no Gentoo keyword`, ctx.preset.name);
  return a;
}

export function signaturePolicy(ctx: BuildContext): SignaturePolicy {
  return {
    keyring: cfg(ctx, 'GentooKeyring'),
    required: cfg(ctx, 'BinpkgSignatures') === 'required',
    skip: !cfg(ctx, 'RepositoryKeyCheck'),
  };
}

/** What portage would mask here: the profile's keyword and CHOST, AcceptKeywords= on top. */
export function maskPolicy(ctx: BuildContext): MaskPolicy {
  const arch = gentooArch(ctx);
  return { arch, acceptKeywords: cfg(ctx, 'AcceptKeywords'), chost: profileChost(arch, gentooProfile(ctx).path) };
}

/** Every binhost's index, in Binhosts= order (`Packages.gz` first, as portage does). */
export async function fetchIndexes(ctx: BuildContext): Promise<BinPackage[]> {
  const all: BinPackage[] = [];
  for (const host of binhosts(ctx)) {
    let text: string | null = null;
    const gz = await fetchBytes(ctx, `${host}/Packages.gz`);
    if (gz) {
      try {
        text = gunzipSync(gz).toString('utf8');
      } catch (e) {
        throw new BuildError(`${host}/Packages.gz is not gzip data (${(e as Error).message})`, ctx.preset.name);
      }
    } else {
      const plain = await fetchBytes(ctx, `${host}/Packages`);
      if (!plain) throw new BuildError(`${host} has no Packages index (Packages.gz or Packages): is Binhosts= right?`, ctx.preset.name);
      text = plain.toString('utf8');
    }
    try {
      all.push(...parsePackagesIndex(text, host, `${host}/Packages`).packages);
    } catch (e) {
      throw new BuildError((e as Error).message, ctx.preset.name);
    }
  }
  return all;
}

/** A resolved index entry as a lock records it. */
export function lockedOf(ctx: BuildContext, p: BinPackage): LockedPackage {
  const out: LockedPackage = {
    name: `${p.category}/${p.pn}`,
    version: p.version,
    architecture: gentooArch(ctx),
    repository: p.binhost,
    size: p.size,
    path: p.path,
  };
  if (p.buildId !== null) out['build-id'] = p.buildId;
  for (const k of Object.keys(INDEX_HASHES) as (keyof typeof INDEX_HASHES)[]) if (p[k]) out[k] = p[k]!.toLowerCase();
  if (!(out.sha256 ?? out.sha512 ?? out.blake2b ?? out.sha1)) {
    throw new BuildError(`${p.binhost}/Packages gives ${p.cpv} no SHA1, SHA256, SHA512 or BLAKE2B: it cannot be verified`, ctx.preset.name);
  }
  return out;
}

/** Resolves `atoms` against the binhosts on top of what `root` (or `installed`) already has. */
export async function resolveNative(ctx: BuildContext, atoms: string[], installed: BinPackage[]): Promise<LockedPackage[]> {
  const available = await fetchIndexes(ctx);
  try {
    const policy = maskPolicy(ctx);
    return resolve({ atoms, available, installed, masked: (p) => maskReasons(p, policy) }).install.map((p) => lockedOf(ctx, p));
  } catch (e) {
    throw new BuildError((e as Error).message, ctx.preset.name);
  }
}

function cacheFile(ctx: BuildContext, p: LockedPackage): string {
  const rel = p.path ?? '';
  const parts = rel.split('/');
  if (!rel || rel.startsWith('/') || parts.some((x) => x === '..' || x === '.' || x === '') || /[\0\n\\]/.test(rel)) {
    throw new BuildError(`${p.repository}: package path "${rel}" of ${p.name}-${p.version} is not a relative path inside the binhost: refusing it`, ctx.preset.name);
  }
  const host = createHash('sha256').update(p.repository).digest('hex').slice(0, 16);
  return path.join(ctx.packageCache, 'gentoo', host, ...parts);
}

/** Whether `file` has the lock's size and checksums; the MD5 of the file too (vdb BINPKGMD5). */
async function checkFile(file: string, p: LockedPackage): Promise<{ ok: boolean; why: string; md5: string }> {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) return { ok: false, why: 'missing', md5: '' };
  const hashes = Object.fromEntries(Object.entries(INDEX_HASHES).map(([k, alg]) => [k, createHash(alg)]));
  for await (const chunk of fs.createReadStream(file)) for (const h of Object.values(hashes)) h.update(chunk as Buffer);
  const got = Object.fromEntries(Object.entries(hashes).map(([k, h]) => [k, h.digest('hex')]));
  if (st.size !== p.size) return { ok: false, why: `${st.size} bytes, expected ${p.size}`, md5: got.md5 };
  for (const k of Object.keys(INDEX_HASHES) as (keyof typeof INDEX_HASHES)[]) {
    if (p[k] && p[k] !== got[k]) return { ok: false, why: `${k.toUpperCase()} mismatch`, md5: got.md5 };
  }
  return { ok: true, why: '', md5: got.md5 };
}

/** Brings one package into the cache (or finds it there); verified against the lock. */
async function download(ctx: BuildContext, p: LockedPackage): Promise<{ file: string; md5: string }> {
  const file = cacheFile(ctx, p);
  const cached = await checkFile(file, p);
  if (cached.ok) return { file, md5: cached.md5 };
  if (fs.existsSync(file)) fs.rmSync(file, { force: true }); // damaged or replaced upstream
  const url = `${p.repository}/${p.path}`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.part`;
  try {
    await fetchToFile(ctx, url, tmp, { maxSize: p.size, missing: 'the binhost no longer has it: run kiln lock' });
    const got = await checkFile(tmp, p);
    if (!got.ok) throw new BuildError(`${url} does not match its index or lock (${got.why}): the package is damaged or was replaced; refusing it`, ctx.preset.name);
    fs.renameSync(tmp, file);
    return { file, md5: got.md5 };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

async function inParallel<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Downloads (or finds in the cache) every locked package, verified against the lock. */
export async function downloadLocked(ctx: BuildContext, locked: LockedPackage[]): Promise<{ p: LockedPackage; file: string; md5: string }[]> {
  ctx.log(`Downloading ${locked.length} binary packages`);
  const got = await inParallel(locked, PARALLEL, (p) => download(ctx, p));
  return got.map((g, i) => ({ p: locked[i], ...g }));
}

/** The Packages-index fields of a package, from its own metadata (for ordering a lock's packages). */
function entryOf(p: LockedPackage, pkg: Binpkg): BinPackage {
  const meta = (k: string) => (pkg.metadata.get(k)?.toString('utf8') ?? '').replace(/\s+/g, ' ').trim();
  const fields: [string, string][] = [['CPV', `${p.name}-${p.version}`], ['SIZE', String(p.size)], ['PATH', p.path ?? '']];
  if (p['build-id'] !== undefined) fields.push(['BUILD_ID', String(p['build-id'])]);
  for (const k of ['SLOT', 'USE', 'IUSE', 'EAPI', 'KEYWORDS', 'CHOST', 'RDEPEND', 'PDEPEND', 'IDEPEND', 'DEFINED_PHASES']) if (meta(k)) fields.push([k, meta(k)]);
  if (meta('repository')) fields.push(['REPO', meta('repository')]);
  if (p.sha1) fields.push(['SHA1', p.sha1]);
  const text = `\n\n${fields.map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
  return parsePackagesIndex(text, p.repository, `${p.name}-${p.version} metadata`).packages[0];
}

export interface VerifiedPackage {
  p: LockedPackage;
  pkg: Binpkg;
  md5: string;
  /** The package in the cache. */
  file: string;
  entry: BinPackage;
}

/**
 * Downloads every locked package and verifies it as the signature policy says (GPKG Manifest,
 * signatures, that it is the package the lock names). A refused package leaves the cache.
 */
export async function verifyLocked(ctx: BuildContext, locked: LockedPackage[]): Promise<VerifiedPackage[]> {
  const label = ctx.preset.name;
  const policy = signaturePolicy(ctx);
  const files = await downloadLocked(ctx, locked);
  const opened: VerifiedPackage[] = [];
  for (const [i, p] of locked.entries()) {
    const work = path.join(ctx.work, 'binpkgs', String(i));
    const pkg = await openBinpkg(files[i].file, work, policy).catch((e: Error) => {
      fs.rmSync(files[i].file, { force: true });
      throw new BuildError(e.message, label);
    });
    const category = pkg.metadata.get('CATEGORY')?.toString().trim();
    const pf = pkg.metadata.get('PF')?.toString().trim();
    if (category && pf && `${category}/${pf}` !== `${p.name}-${p.version}`) {
      fs.rmSync(files[i].file, { force: true });
      throw new BuildError(`${path.basename(files[i].file)} says it is ${category}/${pf}, its index says ${p.name}-${p.version}: refusing it`, label);
    }
    opened.push({ p, pkg, md5: files[i].md5, file: files[i].file, entry: entryOf(p, pkg) });
  }
  return opened;
}

/**
 * Installs exactly `locked` into the image root, `atoms` being what the config asked for (they
 * go into the world file). Everything is downloaded and verified before the first file is merged.
 */
export async function installNative(ctx: BuildContext, atoms: string[], locked: LockedPackage[]): Promise<void> {
  const label = ctx.preset.name;
  const opened = await verifyLocked(ctx, locked);

  // The lock's packages in dependency order, on top of what the root already has.
  // A package's own metadata is masked as its index entry would be: a lock is no way around a mask,
  // not even for a locked package the atoms no longer need (those are installed too).
  const policy = maskPolicy(ctx);
  const masked = opened.map((o) => ({ o, reasons: maskReasons(o.entry, policy) })).filter((m) => m.reasons.length);
  if (masked.length) {
    throw new BuildError(`the lock installs masked packages: ${masked.map((m) => describeMasked(m.o.entry, m.reasons)).join('; ')}; or run kiln lock to choose others`, label);
  }
  const installed = readVdb(ctx.root);
  let order: BinPackage[];
  try {
    order = resolve({ atoms, available: opened.map((o) => o.entry), installed }).install;
  } catch (e) {
    throw new BuildError(`the lock does not satisfy Packages= (${(e as Error).message}); run kiln lock`, label);
  }
  const byCpv = new Map(opened.map((o) => [`${o.entry.cpv}:${o.entry.buildId}`, o]));
  const rest = new Set(opened);
  const sequence = order.map((e) => byCpv.get(`${e.cpv}:${e.buildId}`)!).filter(Boolean);
  for (const o of sequence) rest.delete(o);
  sequence.push(...rest); // locked but not needed by the atoms (a lock made for more): still installed, last

  const owners = new Owners(ctx.root);
  const protect = new ConfigProtect(ctx.root, cfg(ctx, 'ConfigProtect'), cfg(ctx, 'ConfigProtectMask'));
  for (const { p, pkg, md5, file } of sequence) {
    const [category, pf] = [p.name.split('/')[0], `${p.name.split('/')[1]}-${p.version}`];
    const cpv = `${category}/${pf}`;
    // A package refused for what it is (a path escape, a device node, a truncated stream) leaves the cache too.
    const refused = (e: Error): never => {
      if (e instanceof BinpkgError) fs.rmSync(file, { force: true });
      throw new BuildError(e.message, label);
    };
    // Read whole and checked before a file of it is written; then the collisions, as portage does.
    const paths = await planImage(pkg.image(), cpv).catch(refused);
    let found: ReturnType<typeof findCollisions>;
    try {
      found = findCollisions(ctx.root, owners, { label: cpv, paths, ignore: cfg(ctx, 'CollisionIgnore'), protect });
    } catch (e) {
      if (e instanceof CollisionError) throw new BuildError(e.message, label);
      throw e;
    }
    const { owned, unowned } = found;
    if (owned.size) throw new BuildError(collisionMessage(cpv, owned), label);
    if (unowned.length) (ctx.note ?? ctx.log)(`${cpv} overwrites files no installed package owns: ${unowned.join(', ')}`);
    ctx.log(`Merging ${cpv}${p['build-id'] !== undefined ? ` (build ${p['build-id']})` : ''}`);
    const onProtected = (name: string, real: string) => (ctx.note ?? ctx.log)(`${cpv}: ${name} differs from the file already there, which is kept (CONFIG_PROTECT): the package's is /${path.relative(ctx.root, real)}`);
    const contents = await mergeImage(pkg.image(), ctx.root, { clamp: ctx.sourceDateEpoch, label: cpv, protect, onProtected }).catch(refused);
    writeVdbEntry(ctx.root, { category, pf, metadata: pkg.metadata, contents, binpkgMd5: md5 });
    owners.add(cpv, contents);
  }
  addToWorld(ctx.root, atoms.map((a) => worldAtom(a)));
  fs.rmSync(path.join(ctx.work, 'binpkgs'), { recursive: true, force: true });

  const idepend = idependsOf(sequence.map((o) => o.entry));
  if (idepend.length) (ctx.note ?? ctx.log)(`not installed (IDEPEND belongs to the building root, not the image): ${idepend.join(', ')}`);
  await afterMerge(ctx, sequence.map((o) => o.entry));
}

/** Portage's "Detected file collision(s)" with protect-owned, on one line, and how to allow them. */
function collisionMessage(cpv: string, owned: Map<string, string[]>): string {
  const list = [...owned].map(([owner, files]) => `${files.slice(0, 5).join(', ')}${files.length > 5 ? ` and ${files.length - 5} more` : ''} (owned by ${owner})`);
  const first = [...owned.values()][0][0];
  return `${cpv} would overwrite files another installed package owns: ${list.join('; ')}. Package ${cpv} NOT merged (file collision, as portage's FEATURES=protect-owned refuses it); if the packages may share them, add the paths to CollisionIgnore= (e.g. CollisionIgnore=${first})`;
}

/** The cat/pn a world file lists for a requested atom. */
function worldAtom(atom: string): string {
  const m = /^[<>=~!]*([A-Za-z0-9+_.-]+\/[A-Za-z0-9+_-]+?)(-\d[^:[\s]*)?(\*)?(:.*|\[.*)?$/.exec(atom.trim());
  return m ? m[1] : atom;
}

const has = (ctx: BuildContext, rel: string) => fs.existsSync(path.join(ctx.root, rel));

/** What skipped pkg_postinst phases would have done that a bootable image needs. */
async function afterMerge(ctx: BuildContext, merged: BinPackage[]): Promise<void> {
  const phases = merged.filter((p) => /\b(preinst|postinst|config)\b/.test(p.raw.DEFINED_PHASES ?? '')).map((p) => p.cpv);
  if (phases.length) (ctx.note ?? ctx.log)(`skipped pkg_preinst/pkg_postinst (native installer): ${phases.join(', ')}; kiln runs ldconfig, systemd-sysusers and systemd-hwdb instead, and no locale-gen or env-update`);
  // The host's tools, seeing the host read-only: they can write the image and nothing else.
  // Not the tools tree's, on purpose: ToolsTree=default is a Debian tree made for the output steps
  // and the Debian install (it has no systemd-hwdb, and a Gentoo image's ld.so.conf and sysusers.d
  // are read the same by any glibc and systemd), and a ToolsTree=PATH Gentoo tree is emerge's
  // (GentooInstaller=emerge). So with any ToolsTree=, the native install is kiln plus these three
  // host tools, which the tools identity names by version (@kiln/config tools-identity.ts); the
  // output steps (disk, UKI, ...) run from the tree as for every distribution.
  const box = hostTools(toolEnv(), [ctx.root]);
  if (has(ctx, 'etc/ld.so.conf') || has(ctx, 'etc/ld.so.conf.d')) {
    await runIn(ctx, box, ['ldconfig', '-X', '-r', ctx.root], { step: 'updating the image\'s ld.so.cache (ldconfig)' });
  }
  if (has(ctx, 'usr/lib/sysusers.d')) {
    await runIn(ctx, box, ['systemd-sysusers', `--root=${ctx.root}`], { step: 'creating system users (systemd-sysusers)' });
  }
  if (has(ctx, 'usr/lib/udev/hwdb.d')) {
    await runIn(ctx, box, ['systemd-hwdb', 'update', `--root=${ctx.root}`, '--usr'], { step: 'building the hardware database (systemd-hwdb)' });
  }
}
