/**
 * File collisions between packages, refused as a default portage refuses them (make.globals'
 * FEATURES=protect-owned; vartree.py `_collision_protect`): before anything of a package is
 * merged, every file and symlink it would put where something already is (not a directory) is a
 * collision, unless it is config-protected (it will go to a ._cfg name instead) or matches
 * CollisionIgnore= (COLLISION_IGNORE; a pattern naming a directory of the image means everything
 * under it). A collision with a file an installed package owns stops the merge, naming the package;
 * one with a file nobody owns (a skeleton or base tree put it there) is overwritten, and said so.
 *
 * Ownership is by the real location inside the root, as portage's owners lookup resolves parent
 * directories: with merged-usr, /lib/libc.so.6 of one package and /usr/lib/libc.so.6 of another
 * are the same file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInRoot } from './merge';
import type { ConfigProtect } from './config-protect';
import { VDB } from './vdb';

/** Python's fnmatch (what portage matches COLLISION_IGNORE with): `*` also matches "/". */
export function fnmatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(name);
}

/** Where a package path really is inside the root (its parents' symlinks followed), root-relative. */
function realKey(root: string, name: string): string {
  const parts = name.split('/').filter(Boolean);
  if (!parts.length) return '/';
  return `/${path.relative(root, path.join(resolveInRoot(root, parts.slice(0, -1), true), parts[parts.length - 1]))}`;
}

export class Owners {
  /** Real path -> the installed packages (cat/pf) whose CONTENTS list a file or symlink there. */
  private readonly byPath = new Map<string, string[]>();

  constructor(private readonly root: string) {
    const vdb = path.join(root, VDB);
    for (const cat of fs.existsSync(vdb) ? fs.readdirSync(vdb) : []) {
      if (!fs.statSync(path.join(vdb, cat)).isDirectory()) continue;
      for (const pf of fs.readdirSync(path.join(vdb, cat))) {
        if (pf.startsWith('-MERGING-')) continue;
        const file = path.join(vdb, cat, pf, 'CONTENTS');
        if (fs.existsSync(file)) this.add(`${cat}/${pf}`, fs.readFileSync(file, 'utf8').split('\n'));
      }
    }
  }

  /** Records a package's CONTENTS lines ("obj /x md5 mtime", "sym /y -> x mtime"). */
  add(cpv: string, contents: string[]): void {
    for (const line of contents) {
      const m = /^(obj|sym) (.+?)(?: [0-9a-f]{32} \d+| -> .* \d+)$/.exec(line);
      if (!m) continue;
      const key = realKey(this.root, m[2]);
      const owners = this.byPath.get(key) ?? [];
      if (!owners.includes(cpv)) this.byPath.set(key, [...owners, cpv]);
    }
  }

  owners(name: string): string[] {
    return this.byPath.get(realKey(this.root, name)) ?? [];
  }
}

export class CollisionError extends Error {}

export interface CollisionCheck {
  /** For messages: the package. */
  label: string;
  /** The files and symlinks a package would merge, by its own paths ("/usr/bin/x"). */
  paths: string[];
  ignore: string[];
  protect: ConfigProtect;
}

/**
 * The collisions of a package about to be merged: those with files other packages own (these
 * stop the merge) and those with files nobody owns (overwritten).
 */
export function findCollisions(root: string, owners: Owners, check: CollisionCheck): { owned: Map<string, string[]>; unowned: string[] } {
  const ignore = check.ignore.map((x) => {
    const st = fs.statSync(resolveInRoot(root, x.split('/').filter(Boolean), true), { throwIfNoEntry: false });
    return st?.isDirectory() ? `${path.posix.normalize(x).replace(/\/$/, '')}/*` : x;
  });
  const owned = new Map<string, string[]>();
  const unowned: string[] = [];
  for (const name of check.paths) {
    const parts = name.split('/').filter(Boolean);
    const real = path.join(resolveInRoot(root, parts.slice(0, -1), true), parts[parts.length - 1]);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(real, { throwIfNoEntry: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
      // A parent is a file in the image: portage reports that file as the collision.
      throw new CollisionError(`${check.label}: ${name} would be written under a path that is a file in the image (${path.relative(root, path.dirname(real))}): refusing to merge it`);
    }
    if (!st || st.isDirectory()) continue; // a symlink over a directory is merge.ts's refusal
    if (check.protect.isProtected(name)) continue;
    if (ignore.some((p) => fnmatch(p, name))) continue;
    const who = owners.owners(name);
    if (who.length) for (const o of who) owned.set(o, [...(owned.get(o) ?? []), name]);
    else unowned.push(name);
  }
  return { owned, unowned };
}
