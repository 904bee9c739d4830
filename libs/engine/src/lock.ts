/**
 * `kiln lock` and locked builds. A preset's lock (kiln.lock, see @kiln/config's lockfile.ts) holds
 * the exact packages its install adds: the essential set and Packages= for a fresh root, the
 * packages added on top for a preset built on another's image (whose lock comes first), and
 * BuildPackages= apart. Builds with a lock install exactly those versions; a lock that no longer
 * fits the config stops the build with the reason and the fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareDistributionVersions, ConfigError, formatLockfile, lockfilePath, producerOf, readLockfile, staleness, type Lock, type LockedPackage, type LockRequest, type Preset, type Project } from '@kiln/config';
import { cfg, type BuildContext } from './context';
import { installerOf } from './installers';
import { BuildError } from './errors';
import { writeFileAtomic } from './fsutil';

/** What the preset's config asks to install, as a lock records it. */
export function lockRequest(ctx: BuildContext): LockRequest {
  const sorted = (xs: string[]) => [...new Set(xs)].sort();
  return {
    distribution: cfg(ctx, 'Distribution'),
    release: cfg(ctx, 'Release') ?? '',
    architecture: cfg(ctx, 'Architecture'),
    mirror: installerOf(ctx).sources(ctx),
    repositories: sorted(cfg(ctx, 'Repositories')),
    packages: sorted(cfg(ctx, 'Packages')),
    'build-packages': sorted(cfg(ctx, 'BuildPackages')),
    base: basePresets(ctx.project, ctx.preset).map((p) => p.name),
  };
}

/** The presets whose outputs this preset's BaseTrees= name, in order. */
function basePresets(project: Project, preset: Preset): Preset[] {
  const out: Preset[] = [];
  for (const tree of preset.config.BaseTrees) {
    const producer = producerOf(project, preset, tree);
    if (producer && !out.includes(producer)) out.push(producer);
  }
  return out;
}

function rel(ctx: BuildContext, file: string): string {
  return path.relative(process.cwd(), file) || file;
}

/** Reads a lock; a damaged one is a BuildError naming the file. */
function readLock(ctx: BuildContext, file: string): Lock | null {
  try {
    return readLockfile(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new BuildError(e.message, ctx.preset.name);
    throw e;
  }
}

/**
 * The preset's lock for a build: null when it has none (unlocked: resolved at build time); an
 * error saying what changed when it no longer fits the config.
 */
export function currentLock(ctx: BuildContext): Lock | null {
  const file = lockfilePath(ctx.preset);
  const lock = readLock(ctx, file);
  if (!lock) return null;
  const reasons = staleness(lock, lockRequest(ctx));
  if (reasons.length) {
    throw new BuildError(
      `${rel(ctx, file)} no longer matches the config:\n  ${reasons.join('\n  ')}\n` +
        `Run \`kiln lock -C ${rel(ctx, ctx.project.root)} --preset ${ctx.preset.name}\`, or build with --relock.`,
      ctx.preset.name,
    );
  }
  return lock;
}

/** Resolves the preset's packages against its repositories now. Its base presets must be locked. */
export async function resolveLock(ctx: BuildContext): Promise<Lock> {
  const request = lockRequest(ctx);
  const d = installerOf(ctx);
  const locked = new Map<string, LockedPackage>();
  for (const base of basePresets(ctx.project, ctx.preset)) {
    const file = lockfilePath(base);
    const lock = readLock(ctx, file);
    if (!lock) throw new BuildError(`it is built on preset ${base.name}, which has no lock (${rel(ctx, file)}): lock ${base.name} first (kiln lock without --preset locks every preset)`, ctx.preset.name);
    for (const p of lock.package) locked.set(p.name, p);
  }
  // A base tree that is not a preset's output: the installer reads its own package database in it.
  const bases = cfg(ctx, 'BaseTrees');
  const trees = bases.filter((tree) => !producerOf(ctx.project, ctx.preset, tree));
  const packages = await d.resolve(ctx, request.packages, { locked: [...locked.values()], trees }, bases.length === 0);
  const buildPackages = request['build-packages'].length ? await d.resolve(ctx, request['build-packages'], { locked: [...locked.values(), ...packages], trees }, false) : [];
  const tool = (await d.tools?.(ctx)) ?? [];
  return { 'lock-version': 1, request, package: packages, 'build-package': buildPackages, ...(tool.length ? { tool } : {}) };
}

export interface LockChange {
  added: string[];
  removed: string[];
  /** "name old -> new", newer in the order of the distribution's package manager. */
  upgraded: string[];
  downgraded: string[];
  /** "name old -> new" where kiln knows no order of the versions. */
  changed: string[];
}

/** What differs between two package lists of a `distribution`, for the lock command's report. */
export function lockChanges(old: LockedPackage[], now: LockedPackage[], distribution: string): LockChange {
  const before = new Map(old.map((p) => [p.name, p]));
  const after = new Map(now.map((p) => [p.name, p]));
  const out: LockChange = {
    added: [...after.keys()].filter((n) => !before.has(n)).sort(),
    removed: [...before.keys()].filter((n) => !after.has(n)).sort(),
    upgraded: [],
    downgraded: [],
    changed: [],
  };
  for (const p of [...after.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const was = before.get(p.name)?.version;
    if (was === undefined || was === p.version) continue;
    const order = compareDistributionVersions(distribution, p.version, was);
    out[order === null ? 'changed' : order >= 0 ? 'upgraded' : 'downgraded'].push(`${p.name} ${was} -> ${p.version}`);
  }
  return out;
}

/** Writes the preset's lock (atomically; untouched when nothing changed). */
export async function writeLock(ctx: BuildContext): Promise<{ file: string; lock: Lock; changes: LockChange | null }> {
  const file = lockfilePath(ctx.preset);
  let old: Lock | null = null;
  try {
    old = readLockfile(file);
  } catch {
    old = null; // a damaged lock is replaced
  }
  const lock = await resolveLock(ctx);
  const text = formatLockfile(lock, ctx.preset.name);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text);
  const changes = old ? lockChanges([...old.package, ...old['build-package']], [...lock.package, ...lock['build-package']], lock.request.distribution) : null;
  return { file, lock, changes };
}
