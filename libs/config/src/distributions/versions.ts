/**
 * Version order by scheme: each package manager orders its versions its own way (dpkg's
 * epoch:upstream-revision with "~", Gentoo's _rc/_p suffixes and -rN revisions, rpm's EVRs with
 * "~" and "^", pacman's variant of rpm's order), and what `kiln explain` and `kiln lock` call an
 * upgrade must be what that package manager calls one.
 */
import { versionSchemeOf, type VersionScheme } from './index';
import { compareDebianVersions } from './dpkg-version';
import { compareVersions as compareGentooVersions } from './gentoo-version';
import { compareRpmVersions } from './rpm-version';
import { comparePacmanVersions } from './pacman-version';

const COMPARE: Record<VersionScheme, (a: string, b: string) => number> = {
  dpkg: compareDebianVersions,
  gentoo: compareGentooVersions,
  rpm: compareRpmVersions,
  pacman: comparePacmanVersions,
};

/**
 * Compares two versions of a package of `distribution` (negative, zero, positive); null when
 * they cannot be ordered: no scheme is known for the distribution, or a version is not one of
 * its versions.
 */
export function compareDistributionVersions(distribution: string, a: string, b: string): number | null {
  const scheme = versionSchemeOf(distribution);
  if (!scheme) return null;
  try {
    return Math.sign(COMPARE[scheme](a, b));
  } catch {
    return null;
  }
}
