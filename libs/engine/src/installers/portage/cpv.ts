/**
 * Gentoo package names and CPVs ("category/name-version"), as the Package Manager Specification
 * defines them (PMS "Names and Versions"). Binhost indexes name packages by CPV; the version part
 * is @kiln/config's (gentoo-version.ts), where `kiln explain` orders versions too.
 */
import { isValidGentooVersion as isValidVersion } from '@kiln/config';

export interface Cpv {
  category: string;
  /** The package name; may contain hyphens and digits ("libfoo-utils", "gtk+", "python3"). */
  pn: string;
  /** The version including its revision as written ("1.0-r2"), as portage's cpv.version. */
  version: string;
  /** The revision number, 0 without "-rN". */
  revision: number;
  /** Name and version: "libfoo-1.0-r2". */
  pf: string;
}

// PMS "Category names" and "Package names": no leading hyphen, dot (categories) or plus.
export const CATEGORY_RE = /^[A-Za-z0-9_][A-Za-z0-9+_.-]*$/;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9+_-]*$/;

/**
 * PMS: a package name "must not end in a hyphen followed by anything matching the version
 * syntax", so "foo-2" is never a name and "cat/foo-2-1.0" is no CPV: the version is what follows
 * the last hyphen (or the one before "-rN"), and the name must be valid on its own.
 */
export function isValidPackageName(pn: string): boolean {
  if (!NAME_RE.test(pn)) return false;
  // Every "-..." tail, so that "foo-1-r1" (a version with revision) is caught too.
  for (let i = pn.indexOf('-'); i >= 0; i = pn.indexOf('-', i + 1)) if (isValidVersion(pn.slice(i + 1))) return false;
  return true;
}

/** Splits "category/name-version[-rN]"; null when it is no valid CPV. */
export function splitCpv(cpv: string): Cpv | null {
  const slash = cpv.indexOf('/');
  if (slash < 0 || cpv.indexOf('/', slash + 1) >= 0) return null;
  const category = cpv.slice(0, slash);
  const pf = cpv.slice(slash + 1);
  if (!CATEGORY_RE.test(category)) return null;
  const rev = /-r(\d+)$/.exec(pf);
  const body = rev ? pf.slice(0, rev.index) : pf;
  const dash = body.lastIndexOf('-');
  if (dash <= 0) return null;
  const pn = body.slice(0, dash);
  const version = pf.slice(dash + 1);
  if (!isValidVersion(version) || !isValidPackageName(pn)) return null;
  return { category, pn, version, revision: rev ? Number(rev[1]) : 0, pf };
}
