/**
 * Locks of the RPM family (dnf, zypper): a package as the repositories' metadata records it, the
 * check of a lock against the repositories before a locked install, the check of the image (rpm's
 * database, the downloaded files) after it, and the one-line refusals both installers give.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LockedPackage } from '@kiln/config';
import type { BuildContext } from '../../context';
import { BuildError } from '../../errors';
import type { RpmInstalled } from './database';
import { lockDifferences } from '../lock-check';

/** A package as a repository's primary metadata records it. */
export interface RepoRecord {
  name: string;
  /** [epoch:]version-release */
  version: string;
  architecture: string;
  repository: string;
  size: number;
  /** [type as the metadata names it (sha256, sha, ...), hex digest] */
  checksum: [string, string];
  /** The package's path in the repository (location href). */
  path: string;
}

const CHECKSUM_FIELDS: Record<string, 'sha256' | 'sha512' | 'sha1'> = { sha256: 'sha256', sha512: 'sha512', sha1: 'sha1', sha: 'sha1' };

export function toLocked(r: RepoRecord): LockedPackage {
  const field = CHECKSUM_FIELDS[r.checksum[0]];
  if (!field) throw new BuildError(`${r.name}: the repository's checksum type ${r.checksum[0]} is not one a lock records (sha256, sha512, sha1)`);
  return { name: r.name, version: r.version, architecture: r.architecture, repository: r.repository, size: r.size, path: r.path, [field]: r.checksum[1] };
}

/** name-[epoch:]version-release.arch, as dnf takes it and rpm prints it. */
export const nevra = (p: { name: string; version: string; architecture: string }) => `${p.name}-${p.version}.${p.architecture}`;

const digestOf = (p: LockedPackage) => p.sha256 ?? p.sha512 ?? p.sha1;

/**
 * Before installing from a lock: each locked package is still in the repositories with the locked
 * checksum. `found[i]` are the repositories' records of `locked[i]` (same name, version, arch).
 */
export function checkLockAvailable(ctx: BuildContext, locked: LockedPackage[], found: RepoRecord[][]): void {
  const problems: string[] = [];
  locked.forEach((p, i) => {
    const hits = found[i].map(toLocked);
    if (!hits.length) problems.push(`${nevra(p)} is gone from the repositories`);
    else if (!hits.some((h) => digestOf(h) === digestOf(p))) problems.push(`${nevra(p)}: the repositories' checksum is not the locked one`);
  });
  if (problems.length) {
    throw new BuildError(
      `the lock does not match the repositories:\n  ${problems.join('\n  ')}\nRun \`kiln lock\` to lock what they have now (or build with --relock), or point Mirror= at a snapshot that has the locked versions.`,
      ctx.preset.name,
    );
  }
}

/**
 * After installing from a lock: rpm's database (`after`) has exactly the locked versions on top of
 * `before`, and the downloaded package files (`files`, by file name) have the locked checksums.
 */
export function checkLockInstalled(ctx: BuildContext, locked: LockedPackage[], before: RpmInstalled, after: RpmInstalled, files: Map<string, string>): void {
  const problems = lockDifferences(locked, before, after);
  for (const l of locked) {
    const file = l.path ? files.get(path.basename(l.path)) : undefined;
    if (!file) continue;
    const algo = l.sha256 ? 'sha256' : l.sha512 ? 'sha512' : 'sha1';
    const sum = createHash(algo).update(fs.readFileSync(file)).digest('hex');
    if (sum !== l[algo]) problems.push(`${path.basename(file)} has ${algo} ${sum}, the lock says ${l[algo]}`);
  }
  if (problems.length) throw new BuildError(`the installed packages are not the locked ones:\n  ${problems.join('\n  ')}\nRun \`kiln lock\` (or build with --relock).`, ctx.preset.name);
}

/** "id (url), id (url)": the repositories a build searches, for messages. */
export function searchedText(repositories: { id: string; url: string; enabled: boolean }[], enabled: string[]): string {
  return repositories.filter((r) => r.enabled || enabled.includes(r.id)).map((r) => `${r.id} (${r.url})`).join(', ');
}

/** Packages in none of the repositories searched. */
export function missingError(ctx: BuildContext, names: string[], searched: string): BuildError {
  return new BuildError(`${names.join(', ')}: in none of the repositories searched: ${searched}`, ctx.preset.name);
}

/** Packages whose signature fails, refused by name (nothing was installed). */
export function refusedError(ctx: BuildContext, why: { unsigned: string[]; unknownKey: string[]; bad: string[] }): BuildError | null {
  const refused = [
    ...why.unsigned.map((p) => `${p} is not signed`),
    ...why.unknownKey.map((p) => `${p} is signed by a key the configuration does not name`),
    ...why.bad.map((p) => `${p} has a bad signature`),
  ];
  if (!refused.length) return null;
  return new BuildError(`refused: ${refused.join('; ')} (RepositoryKeyCheck=yes; the keys are the distribution's, found in SandboxTrees=); nothing was installed`, ctx.preset.name);
}

/** A repository whose metadata fails to load: unreachable, or its signature does not verify. */
export function repositoryError(ctx: BuildContext, id: string, url: string | undefined, signature: boolean): BuildError {
  const why = signature ? 'its metadata signature does not verify with the configured keys' : 'it cannot be reached or has no repository metadata (repodata/repomd.xml)';
  return new BuildError(`repository ${id}${url ? ` (${url})` : ''}: ${why}; nothing was installed. Check Mirror= and the keys (SandboxTrees=)`, ctx.preset.name);
}
