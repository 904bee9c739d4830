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
import { NotAConfigFile, readText } from './probe';
import type { Preset } from './project';

export const LOCK_VERSION = 1;

const hex = (bits: number, what: string) => z.string().regex(new RegExp(`^[0-9a-f]{${bits / 4}}$`), `${what} in hex`);

/**
 * One package of a lock (and of a build manifest, which records the lock's packages). Debian's
 * indexes give a SHA-256; a Gentoo binhost's `Packages` gives what portage wrote (MD5 and SHA1 by
 * default, sometimes more), and a binary package is one instance of a CPV: its BUILD_ID and its
 * PATH on the binhost name it exactly.
 */
export const LockedPackageSchema = z
  .strictObject({
    name: z.string().min(1),
    version: z.string().min(1),
    architecture: z.string().min(1),
    /** Where it came from: the mirror URL, the suite and component; a binhost URL. */
    repository: z.string(),
    size: z.number().int().nonnegative(),
    sha256: hex(256, 'a SHA-256').optional(),
    'build-id': z.number().int().nonnegative().optional(),
    path: z.string().min(1).optional(),
    md5: hex(128, 'an MD5').optional(),
    sha1: hex(160, 'a SHA-1').optional(),
    sha512: hex(512, 'a SHA-512').optional(),
    blake2b: hex(512, 'a BLAKE2B').optional(),
  })
  .refine((p) => p.sha256 ?? p.sha512 ?? p.blake2b ?? p.sha1, { message: 'a package needs a checksum (sha256, sha512, blake2b or sha1)' });
export type LockedPackage = z.infer<typeof LockedPackageSchema>;

/**
 * A file a build runs from rather than installs: for Gentoo's emerge path, the stage3 of the
 * tools tree and the repository snapshot of its profiles. `path` is relative to Mirror=; the
 * SHA-512 names the bytes (and the cached, unpacked tree).
 */
export const LockedToolSchema = z.strictObject({
  name: z.string().min(1),
  path: z.string().min(1).refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a path inside the mirror'),
  size: z.number().int().nonnegative(),
  sha512: hex(512, 'a SHA-512'),
});
export type LockedTool = z.infer<typeof LockedToolSchema>;

/** What identifies a package's exact bytes, for comparing two locks or manifests. */
export function packageDigest(p: LockedPackage): string {
  return [p.sha256, p.sha512, p.blake2b, p.sha1, p.md5, p['build-id']].map((x) => x ?? '').join(':');
}

/** The optional fields of a locked package, in the order a lock writes them. */
const OPTIONAL_FIELDS = ['build-id', 'path', 'sha256', 'sha512', 'blake2b', 'sha1', 'md5'] as const;

const Request = z.strictObject({
  distribution: z.string(),
  release: z.string(),
  architecture: z.string(),
  /**
   * Where the packages come from (the installer's sources: Debian's mirror, Gentoo's binhosts in
   * order). Written as a string when there is one, else as an array; locks of kiln versions that
   * joined Gentoo's binhosts with spaces read back as the same list (URLs hold no spaces).
   */
  mirror: z.union([z.string().transform((s) => s.split(/\s+/).filter(Boolean)), z.array(z.string())]),
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
  tool: z.array(LockedToolSchema).optional(),
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
    // Bounded, and only a regular file: a FIFO or /dev/zero as kiln.lock must not hang or fill memory.
    text = readText(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (!fs.lstatSync(file, { throwIfNoEntry: false })) return null;
      throw new ConfigError('is a symlink to a file that does not exist (fix the link, or remove it and run kiln lock)', { file, line: 0 });
    }
    if (e instanceof NotAConfigFile) throw new ConfigError(`${e.message}; regenerate it with kiln lock`, { file, line: 0 });
    throw new ConfigError(`cannot be read: ${(e as Error).message}`, { file, line: 0 });
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
    const where = issue.path.join('.') || 'top level';
    const what = /received undefined$/.test(issue.message) ? 'missing' : issue.message;
    throw new ConfigError(`not a kiln lock (${where}: ${what}); regenerate it with kiln lock`, { file, line: issueLine(text, issue.path) });
  }
  return r.data;
}

/**
 * The line a schema issue points at: the key inside its [request] table or its Nth
 * [[package]]/[[tool]] table (or that table's header when the key is missing); 0 when unknown.
 * smol-toml gives no positions, so the text is scanned, as toml.ts does for kiln.toml.
 */
function issueLine(text: string, at: PropertyKey[]): number {
  const lines = text.split(/\r?\n/);
  const keyAt = (from: number, key: PropertyKey | undefined): number => {
    if (typeof key !== 'string') return from + 1;
    for (let i = from + 1; i < lines.length && !/^\s*\[/.test(lines[i]); i++) {
      if (new RegExp(`^\\s*"?${key.replace(/[-]/g, '\\-')}"?\\s*=`).test(lines[i])) return i + 1;
    }
    return from + 1;
  };
  const [table, index, key] = at;
  if (typeof table !== 'string') return 0;
  if (typeof index === 'number') {
    let seen = -1;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() === `[[${table}]]` && ++seen === index) return keyAt(i, key);
    }
    return 0;
  }
  const header = lines.findIndex((l) => l.trim() === `[${table}]`);
  if (header >= 0) return keyAt(header, index);
  return keyAt(-1, table) || 0;
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
    `mirror = ${r.mirror.length === 1 ? str(r.mirror[0]) : list(r.mirror)}`,
    `repositories = ${list(r.repositories)}`,
    `packages = ${list(r.packages)}`,
    `build-packages = ${list(r['build-packages'])}`,
    `base = ${list(r.base)}`,
  ];
  for (const [table, pkgs] of [['package', lock.package], ['build-package', lock['build-package']]] as const) {
    for (const p of [...pkgs].sort(order)) {
      out.push('', `[[${table}]]`, `name = ${str(p.name)}`, `version = ${str(p.version)}`, `architecture = ${str(p.architecture)}`,
        `repository = ${str(p.repository)}`, `size = ${p.size}`);
      for (const key of OPTIONAL_FIELDS) {
        const v = p[key];
        if (v !== undefined) out.push(`${key} = ${typeof v === 'number' ? v : str(v)}`);
      }
    }
  }
  for (const t of [...(lock.tool ?? [])].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    out.push('', '[[tool]]', `name = ${str(t.name)}`, `path = ${str(t.path)}`, `size = ${t.size}`, `sha512 = ${str(t.sha512)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Why a lock no longer fits what the config asks for, one line per difference; [] when it fits.
 */
export function staleness(lock: Lock, wanted: LockRequest): string[] {
  const reasons: string[] = [];
  const have = lock.request;
  for (const key of ['distribution', 'release', 'architecture'] as const) {
    if (have[key] !== wanted[key]) reasons.push(`${key} is ${wanted[key]}, the lock was made for ${have[key]}`);
  }
  if (have.mirror.join(' ') !== wanted.mirror.join(' ')) reasons.push(`mirror is ${wanted.mirror.join(', ')}, the lock was made for ${have.mirror.join(', ')}`);
  for (const key of ['repositories', 'packages', 'build-packages', 'base'] as const) {
    const added = wanted[key].filter((x) => !have[key].includes(x));
    const removed = have[key].filter((x) => !wanted[key].includes(x));
    if (added.length) reasons.push(`${key}: ${added.join(', ')} added since the lock`);
    if (removed.length) reasons.push(`${key}: ${removed.join(', ')} removed since the lock`);
  }
  return reasons;
}
