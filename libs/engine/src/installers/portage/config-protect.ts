/**
 * CONFIG_PROTECT as portage applies it when merging (portage.util.ConfigProtect, vartree.py
 * `_protect`, new_protect_filename): a package's file or symlink under a protected path
 * (ConfigProtect=, default /etc, less ConfigProtectMask=, default /etc/env.d; the longest match
 * wins) that would replace an existing, different file there is written beside it as
 * `._cfg0000_<name>` (the next free number; an earlier ._cfg file with the same contents is
 * reused) and the existing file is kept. Empty `.keep*` files are never protected. The vdb records
 * the package's path and contents, as portage does. (Portage's confmem, which remembers updates
 * the admin already rejected, has nothing to remember in a fresh image.)
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInRoot } from './merge';

export class ConfigProtect {
  constructor(
    private readonly root: string,
    private readonly protect: string[],
    private readonly mask: string[],
  ) {}

  private isDir(p: string): boolean {
    return !!fs.statSync(resolveInRoot(this.root, p.split('/').filter(Boolean), true), { throwIfNoEntry: false })?.isDirectory();
  }

  /** Whether `name` (the package's path, "/etc/foo.conf") is protected (ConfigProtect.isprotected). */
  isProtected(name: string): boolean {
    const norm = (p: string) => `/${p.split('/').filter(Boolean).join('/')}`;
    const under = (base: string) => (this.isDir(base) ? name === base || name.startsWith(base === '/' ? '/' : `${base}/`) : name === base);
    let protectedBy = 0;
    for (const p of this.protect.map(norm)) if (p.length > protectedBy && under(p)) protectedBy = p.length;
    if (!protectedBy) return false;
    return !this.mask.map(norm).some((m) => m.length >= protectedBy && under(m));
  }
}

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

/** What is at `real`, as `_protect` compares it: a regular file's md5, a symlink's target's md5. */
export function existingDigest(real: string): { md5: string; link: string | null } | null {
  const st = fs.lstatSync(real, { throwIfNoEntry: false });
  if (!st) return null;
  if (st.isSymbolicLink()) {
    const link = fs.readlinkSync(real);
    return { md5: md5(link), link };
  }
  if (st.isFile()) return { md5: md5(fs.readFileSync(real)), link: null };
  return null;
}

/**
 * Where a protected file goes instead of `real` (new_protect_filename): `._cfgNNNN_<name>` with
 * the next number, or the last one when it already has these contents (`newMd5`: a file's md5,
 * or for a symlink its target).
 */
export function protectedName(real: string, newMd5: string, newLink: string | null): string {
  const dir = path.dirname(real);
  const base = path.basename(real);
  let last = -1;
  let lastName = '';
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith('._cfg') || f.slice(10) !== base || f[9] !== '_') continue;
    const n = Number(f.slice(5, 9));
    if (/^\d{4}$/.test(f.slice(5, 9)) && n > last) {
      last = n;
      lastName = f;
    }
  }
  if (lastName) {
    const old = existingDigest(path.join(dir, lastName));
    if (old && (newLink !== null ? old.link === newLink : old.link === null && old.md5 === newMd5)) return path.join(dir, lastName);
  }
  return path.join(dir, `._cfg${String(last + 1).padStart(4, '0')}_${base}`);
}
