/**
 * Merging a binary package's image into the image root, the way portage's merge does, and
 * recording what it merged as a vdb CONTENTS list.
 *
 * Members are untrusted: absolute names, `..`, device nodes, FIFOs, duplicate names and hard
 * links to members not seen earlier are refused before anything of them is written. Paths are
 * resolved inside the root: a symlink already there (merged-usr's /lib -> usr/lib) is merged
 * through, and an absolute link target means the root's, never the host's.
 *
 * CONTENTS lists every directory (`dir /usr`), file (`obj /usr/bin/x <md5> <mtime>`) and symlink
 * (`sym /usr/bin/y -> x <mtime>`) by the package's own path. Portage unmerges a file only when its
 * md5 and mtime still match, so the mtimes recorded are the ones the files get: the member's,
 * clamped to SOURCE_DATE_EPOCH as the rest of the image is.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BinpkgError, type ImageEntry } from './binpkg';
import { existingDigest, protectedName, type ConfigProtect } from './config-protect';

/** At most this many symlinks are followed resolving one path (Linux's limit). */
const MAX_LINKS = 40;

export interface MergeOptions {
  /** Mtimes newer than this are clamped (SOURCE_DATE_EPOCH). */
  clamp: number;
  /** For messages: the package. */
  label: string;
  /** CONFIG_PROTECT: a different existing file there is kept, the package's goes to ._cfgNNNN_<name>. */
  protect?: ConfigProtect;
  /** Told of each protected file written under a ._cfg name (`real`: where, inside the root). */
  onProtected?: (name: string, real: string) => void;
}

/** Splits a member name into checked components; throws on absolute paths, `..` and NULs. */
export function memberPath(name: string, label: string): string[] {
  if (name.startsWith('/')) throw new BinpkgError(`${label}: member "${name}" is an absolute path: refusing the package`);
  if (/[\0\n]/.test(name)) throw new BinpkgError(`${label}: member ${JSON.stringify(name)} has a newline or NUL in its name: refusing the package`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new BinpkgError(`${label}: member "${name}" contains "..": refusing the package`);
  return parts;
}

/**
 * The real location of `parts` under `root`, following symlinks as if `root` were `/`. The last
 * component is followed only when `followLast`. Never leaves `root`.
 */
export function resolveInRoot(root: string, parts: string[], followLast: boolean): string {
  const todo = [...parts];
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = path.join(root, ...done, part);
    let st: fs.Stats | null = null;
    try {
      st = fs.lstatSync(here);
    } catch {
      st = null;
    }
    if (st?.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw new BinpkgError(`too many levels of symbolic links resolving /${parts.join('/')} in the image`);
      const target = fs.readlinkSync(here);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    done.push(part);
  }
  return path.join(root, ...done);
}

/**
 * Reads a package's image once before anything of it is merged: refuses what mergeImage would
 * refuse part-way (bad names, duplicates, device nodes, hard links to members not seen earlier)
 * and a member written through a symlink the package itself installs (`usr/x -> /etc`, then
 * `usr/x/passwd`): a package has no business doing that, and it would write where its CONTENTS
 * do not say. Returns the package's file and symlink paths ("/usr/bin/x"), for collision checks.
 */
export async function planImage(entries: AsyncIterable<ImageEntry>, label: string): Promise<string[]> {
  const seen = new Set<string>();
  const files = new Set<string>();
  const links = new Set<string>();
  const out: string[] = [];
  for await (const entry of entries) {
    const h = entry.header;
    const parts = memberPath(entry.name, label);
    if (parts.length === 0) continue;
    const name = `/${parts.join('/')}`;
    if (seen.has(name)) throw new BinpkgError(`${label}: member ${name} appears twice: refusing the package`);
    seen.add(name);
    for (let i = 1; i < parts.length; i++) {
      const up = `/${parts.slice(0, i).join('/')}`;
      if (links.has(up)) throw new BinpkgError(`${label}: member ${name} would be written through the symlink ${up} the package itself installs: refusing the package`);
      if (files.has(up)) throw new BinpkgError(`${label}: member ${name} is under ${up}, which the package installs as a file: refusing the package`);
    }
    switch (h.type) {
      case 'directory':
        break;
      case 'file':
      case 'contiguous-file':
        files.add(name);
        out.push(name);
        break;
      case 'link': {
        const target = entry.linkname === null ? null : `/${memberPath(entry.linkname, label).join('/')}`;
        if (target === null || !files.has(target)) throw new BinpkgError(`${label}: member ${name} is a hard link to ${entry.linkname ?? '(nothing)'}, which the package has not installed before it: refusing the package`);
        files.add(name);
        out.push(name);
        break;
      }
      case 'symlink':
        if (/[\0\n]/.test(h.linkname ?? '')) throw new BinpkgError(`${label}: symlink ${name} has a newline in its target: refusing the package`);
        links.add(name);
        out.push(name);
        break;
      default:
        throw new BinpkgError(`${label}: member ${name} is a ${h.type}: binary packages may not create device nodes or FIFOs; refusing the package`);
    }
  }
  return out;
}

/** Merges a package's image into `root`; returns its CONTENTS lines. */
export async function mergeImage(entries: AsyncIterable<ImageEntry>, root: string, opts: MergeOptions): Promise<string[]> {
  const { label } = opts;
  const contents: string[] = [];
  const listedDirs = new Set<string>();
  const seen = new Set<string>();
  // Files merged so far: where they landed, their md5 and mtime (hard links point at them).
  const files = new Map<string, { real: string; md5: string; mtime: number }>();

  const listDirs = (parts: string[], upto: number) => {
    for (let i = 1; i <= upto; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (!listedDirs.has(p)) {
        listedDirs.add(p);
        contents.push(`dir ${p}`);
      }
    }
  };
  const mtimeOf = (h: ImageEntry['header']) => Math.min(Math.floor(h.mtime.getTime() / 1000), opts.clamp);
  const replaceable = (real: string, what: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(real);
    } catch {
      return;
    }
    if (st.isDirectory()) throw new BinpkgError(`${label}: ${what} would replace the directory ${path.relative(root, real) || '/'} in the image`);
    fs.unlinkSync(real);
  };

  /** Whether CONFIG_PROTECT applies: a protected path where a file or symlink already is. */
  const protectedHere = (name: string, real: string): boolean => {
    if (!opts.protect?.isProtected(name)) return false;
    const st = fs.lstatSync(real, { throwIfNoEntry: false });
    return !!st && (st.isFile() || st.isSymbolicLink());
  };
  /** Where a protected member goes: its own path when what is there is the same, else a ._cfg name. */
  const placeProtected = (name: string, real: string, md5: string, link: string | null): string => {
    const there = existingDigest(real);
    if (there && there.md5 === md5 && there.link === link) return real;
    const aside = protectedName(real, md5, link);
    opts.onProtected?.(name, aside);
    return aside;
  };

  for await (const entry of entries) {
    const h = entry.header;
    const parts = memberPath(entry.name, label);
    if (parts.length === 0) continue; // the image root itself
    const name = `/${parts.join('/')}`;
    if (seen.has(name)) throw new BinpkgError(`${label}: member ${name} appears twice: refusing the package`);
    seen.add(name);
    const mode = h.mode & 0o7777;
    switch (h.type) {
      case 'directory': {
        const real = resolveInRoot(root, parts, true);
        const st = fs.lstatSync(real, { throwIfNoEntry: false });
        if (st && !st.isDirectory()) throw new BinpkgError(`${label}: directory ${name} would replace a file in the image`);
        if (!st) fs.mkdirSync(real, { recursive: true });
        // Through a symlink (merged-usr) the directory is someone else's: leave its mode alone.
        if (real === path.join(root, ...parts)) {
          fs.lchownSync(real, h.uid, h.gid);
          fs.chmodSync(real, mode);
        }
        listDirs(parts, parts.length);
        break;
      }
      case 'file':
      case 'contiguous-file': {
        listDirs(parts, parts.length - 1);
        const parent = resolveInRoot(root, parts.slice(0, -1), true);
        fs.mkdirSync(parent, { recursive: true });
        let real = path.join(parent, parts[parts.length - 1]);
        // A protected file is written aside first: only its md5 says whether it may replace what is there.
        const guarded = protectedHere(name, real) && !(h.size === 0 && parts[parts.length - 1].startsWith('.keep'));
        const target = guarded ? path.join(parent, `.kiln-merging-${process.pid}-${parts[parts.length - 1]}`) : real;
        if (guarded) fs.rmSync(target, { force: true });
        else replaceable(real, `file ${name}`);
        const md5 = createHash('md5');
        const out = await fs.promises.open(target, 'wx', 0o600);
        try {
          for await (const chunk of entry.stream) {
            md5.update(chunk);
            await out.write(chunk);
          }
        } finally {
          await out.close();
        }
        if (guarded) {
          const digest = md5.copy().digest('hex');
          real = placeProtected(name, real, digest, null);
          fs.renameSync(target, real);
        }
        const mtime = mtimeOf(h);
        fs.lchownSync(real, h.uid, h.gid);
        fs.chmodSync(real, mode); // after chown, which clears set-id bits
        fs.utimesSync(real, mtime, mtime);
        const digest = md5.digest('hex');
        files.set(name, { real, md5: digest, mtime });
        contents.push(`obj ${name} ${digest} ${mtime}`);
        break;
      }
      case 'link': {
        const target = entry.linkname === null ? null : `/${memberPath(entry.linkname, label).join('/')}`;
        const of = target === null ? undefined : files.get(target);
        if (!of) throw new BinpkgError(`${label}: member ${name} is a hard link to ${entry.linkname ?? '(nothing)'}, which the package has not installed before it: refusing the package`);
        listDirs(parts, parts.length - 1);
        const parent = resolveInRoot(root, parts.slice(0, -1), true);
        fs.mkdirSync(parent, { recursive: true });
        let real = path.join(parent, parts[parts.length - 1]);
        if (protectedHere(name, real)) {
          real = placeProtected(name, real, of.md5, null);
          if (real !== path.join(parent, parts[parts.length - 1])) fs.rmSync(real, { force: true });
        }
        replaceable(real, `hard link ${name}`);
        fs.linkSync(of.real, real);
        files.set(name, { ...of, real });
        contents.push(`obj ${name} ${of.md5} ${of.mtime}`);
        break;
      }
      case 'symlink': {
        if (/[\0\n]/.test(h.linkname)) throw new BinpkgError(`${label}: symlink ${name} has a newline in its target: refusing the package`);
        listDirs(parts, parts.length - 1);
        const parent = resolveInRoot(root, parts.slice(0, -1), true);
        fs.mkdirSync(parent, { recursive: true });
        let real = path.join(parent, parts[parts.length - 1]);
        if (protectedHere(name, real)) {
          real = placeProtected(name, real, createHash('md5').update(h.linkname).digest('hex'), h.linkname);
          if (real !== path.join(parent, parts[parts.length - 1])) fs.rmSync(real, { force: true });
        }
        const st = fs.lstatSync(real, { throwIfNoEntry: false });
        // baselayout's /lib -> usr/lib over a /lib a base tree already has as the same link.
        if (st?.isSymbolicLink() && fs.readlinkSync(real) === h.linkname) fs.unlinkSync(real);
        else replaceable(real, `symlink ${name}`);
        fs.symlinkSync(h.linkname, real);
        const mtime = mtimeOf(h);
        fs.lchownSync(real, h.uid, h.gid);
        fs.lutimesSync(real, mtime, mtime);
        contents.push(`sym ${name} -> ${h.linkname} ${mtime}`);
        break;
      }
      default:
        throw new BinpkgError(`${label}: member ${name} is a ${h.type}: binary packages may not create device nodes or FIFOs; refusing the package`);
    }
  }
  return contents;
}
