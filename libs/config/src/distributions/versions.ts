/**
 * Version order by scheme: each package manager orders its versions its own way (dpkg's
 * epoch:upstream-revision with "~", Gentoo's _rc/_p suffixes and -rN revisions), and what
 * `kiln explain` and `kiln lock` call an upgrade must be what that package manager calls one.
 */
import { versionSchemeOf, type VersionScheme } from './index';
import { compareDebianVersions } from './dpkg-version';
import { compareVersions as compareGentooVersions } from './gentoo-version';

const COMPARE: Record<VersionScheme, (a: string, b: string) => number> = {
  dpkg: compareDebianVersions,
  gentoo: compareGentooVersions,
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
