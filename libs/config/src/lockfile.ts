/**
 * kiln.lock: the exact packages of a preset, written by `kiln lock` next to the preset's config
 * (DIR/kiln.lock for the main image and mkosi.images/NAME/, mkosi.images/NAME.lock for a
 * NAME.conf preset). TOML, one [[package]] table per package, sorted: a change of one package is
 * a change of a few lines in review.
 *
 * `request` records what the lock was resolved for (the distribution, its repositories and the
 * package lists asked for): when the config no longer asks for the same, the lock is stale, and
 * `staleness` says how.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { z } from 'zod';
import { ConfigError } from './errors';
import type { Preset } from './project';

export const LOCK_VERSION = 1;

/** One package of a lock (and of a build manifest, which records the lock's packages). */
export const LockedPackageSchema = z.strictObject({
  name: z.string().min(1),
  version: z.string().min(1),
  architecture: z.string().min(1),
  /** Where it came from: the mirror URL, the suite and component. */
  repository: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex'),
});
export type LockedPackage = z.infer<typeof LockedPackageSchema>;

const Request = z.strictObject({
  distribution: z.string(),
  release: z.string(),
  architecture: z.string(),
  mirror: z.string(),
  repositories: z.array(z.string()),
  packages: z.array(z.string()),
  'build-packages': z.array(z.string()),
  /** Presets whose images this one is installed on top of (BaseTrees=%O/NAME): their locks come first. */
  base: z.array(z.string()),
});
export type LockRequest = z.infer<typeof Request>;

const LockSchema = z.strictObject({
  'lock-version': z.literal(LOCK_VERSION),
  request: Request,
  package: z.array(LockedPackageSchema).default([]),
  'build-package': z.array(LockedPackageSchema).default([]),
});
export type Lock = z.infer<typeof LockSchema>;

/** Where a preset's lock lives: beside the file or directory that defines the preset. */
export function lockfilePath(preset: Preset): string {
  const source = preset.source;
  if (/\.(conf|toml)$/.test(source) && !(fs.existsSync(source) && fs.statSync(source).isDirectory())) {
    return source.replace(/\.(conf|toml)$/, '.lock');
  }
  return path.join(source, 'kiln.lock');
}

export function readLockfile(file: string): Lock | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`cannot read: ${(e as Error).message}`, { file, line: 0 });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(`invalid TOML: ${e.message.split('\n')[0]}; regenerate it with kiln lock`, { file, line: e.line });
    throw e;
  }
  const r = LockSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ConfigError(`not a kiln lock (${issue.path.join('.') || 'top level'}: ${issue.message}); regenerate it with kiln lock`, { file, line: 0 });
  }
  return r.data;
}

const str = (s: string) => JSON.stringify(s);
const list = (xs: string[]) => `[${xs.map(str).join(', ')}]`;

/** The lock as text: fixed key order, packages sorted by name then architecture. */
export function formatLockfile(lock: Lock, presetName: string): string {
  const order = (a: LockedPackage, b: LockedPackage) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0);
  const r = lock.request;
  const out = [
    `# The exact packages of preset ${presetName}, written by \`kiln lock\`. Regenerate it with kiln lock; do not edit.`,
    `lock-version = ${LOCK_VERSION}`,
    '',
    '[request]',
    `distribution = ${str(r.distribution)}`,
    `release = ${str(r.release)}`,
    `architecture = ${str(r.architecture)}`,
    `mirror = ${str(r.mirror)}`,
    `repositories = ${list(r.repositories)}`,
    `packages = ${list(r.packages)}`,
    `build-packages = ${list(r['build-packages'])}`,
    `base = ${list(r.base)}`,
  ];
  for (const [table, pkgs] of [['package', lock.package], ['build-package', lock['build-package']]] as const) {
    for (const p of [...pkgs].sort(order)) {
      out.push('', `[[${table}]]`, `name = ${str(p.name)}`, `version = ${str(p.version)}`, `architecture = ${str(p.architecture)}`,
        `repository = ${str(p.repository)}`, `size = ${p.size}`, `sha256 = ${str(p.sha256)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * Why a lock no longer fits what the config asks for, one line per difference; [] when it fits.
 */
export function staleness(lock: Lock, wanted: LockRequest): string[] {
  const reasons: string[] = [];
  const have = lock.request;
  for (const key of ['distribution', 'release', 'architecture', 'mirror'] as const) {
    if (have[key] !== wanted[key]) reasons.push(`${key} is ${wanted[key]}, the lock was made for ${have[key]}`);
  }
  for (const key of ['repositories', 'packages', 'build-packages', 'base'] as const) {
    const added = wanted[key].filter((x) => !have[key].includes(x));
    const removed = have[key].filter((x) => !wanted[key].includes(x));
    if (added.length) reasons.push(`${key}: ${added.join(', ')} added since the lock`);
    if (removed.length) reasons.push(`${key}: ${removed.join(', ')} removed since the lock`);
  }
  return reasons;
}
