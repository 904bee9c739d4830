/**
 * File operations on an image tree, with every path resolved inside the image root.
 *
 * An image is a foreign tree on the host's file system: Debian's has `var/run -> /run`, a skeleton
 * tree may bring `etc/escape -> /tmp/x`, usr-merged trees have `lib -> usr/lib`. A plain
 * `path.join(root, "var/run/x")` handed to fs (or to tar -C) follows those links as the host sees
 * them, so an innocent extra file lands in the host's /run. Here a path is resolved the way
 * openat2(2)'s RESOLVE_IN_ROOT (or a chroot) resolves it: component by component, an absolute
 * symlink target starts again at the image root, and `..` never climbs above it. So a file lands
 * where the image itself would see it (`etc/escape/x` -> `<root>/tmp/x/x`), never on the host.
 *
 * Why resolving in JavaScript rather than running each operation in a sandbox whose `/` is the
 * image (bwrap --bind ROOT /): the tools that do the work (tar, cpio) come from the host and need
 * the host's /usr, which a sandbox rooted at the image cannot show without mount points in the
 * image (bwrap creates them in the tree, which changes the image); and the image may have no
 * tools yet (skeleton trees are copied into an empty root). Node has no openat2, so resolving
 * here has the usual time-of-check gap: nothing else writes the image while kiln's own steps run
 * (scripts and package managers run one at a time, never beside these operations).
 *
 * Paths given to these functions are image paths: "/etc/hostname" and "etc/hostname" are the same.
 * The last component is not followed by default (a symlink there is replaced or removed, as
 * mkosi does for /etc/hostname); `follow: true` follows it inside the image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fg from 'fast-glob';

/** As the kernel: more symlinks than this on one path is a loop (ELOOP). */
const MAX_LINKS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default: only the directories on the way). */
  follow?: boolean;
}

const lstat = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false });

/**
 * The real location of image path `rel`, relative to `root` ('' is the root itself), with every
 * symlink on the way resolved inside the image. Components that do not exist are kept as they
 * are (there is no link below them), so the answer is also where a new file would go.
 */
export function resolveIn(root: string, rel: string, opts: ResolveOptions = {}): string {
  const done: string[] = [];
  const todo = rel.split('/');
  let links = 0;
  while (todo.length) {
    const c = todo.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      done.pop(); // clamped at the image root, as RESOLVE_IN_ROOT
      continue;
    }
    const here = [...done, c];
    const last = !todo.some((t) => t !== '' && t !== '.');
    const st = last && !opts.follow ? undefined : lstat(path.join(root, ...here));
    if (!st?.isSymbolicLink()) {
      done.push(c);
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`${path.join(root, rel)}: too many levels of symbolic links in the image`), { code: 'ELOOP' });
    const target = fs.readlinkSync(path.join(root, ...here));
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/'));
  }
  return done.join('/');
}

/** The host path of image path `rel` (see resolveIn). */
export function hostPath(root: string, rel: string, opts: ResolveOptions = {}): string {
  const r = resolveIn(root, rel, opts);
  return r ? path.join(root, r) : root;
}

/** Whether `rel` exists in the image, its last symlink followed inside the image (as fs.existsSync). */
export function exists(root: string, rel: string): boolean {
  return lstat(hostPath(root, rel, { follow: true })) !== undefined;
}

/** Whether `rel` exists in the image itself (a dangling symlink counts: it is not followed). */
export function lexists(root: string, rel: string): boolean {
  return lstat(hostPath(root, rel)) !== undefined;
}

export function isDirectory(root: string, rel: string): boolean {
  return lstat(hostPath(root, rel, { follow: true }))?.isDirectory() ?? false;
}

/** mkdir -p inside the image; returns the directory's real path relative to the root. */
export function mkdirp(root: string, rel: string): string {
  const real = resolveIn(root, rel, { follow: true });
  fs.mkdirSync(real ? path.join(root, real) : root, { recursive: true });
  return real;
}

export interface WriteOptions {
  mode?: number;
  /** Write through a symlink at `rel` (inside the image) instead of replacing it. */
  follow?: boolean;
}

/**
 * Writes a file in the image, its directory made first. A symlink at `rel` is replaced, never
 * written through, unless `follow`: then its target inside the image is written.
 */
export function writeFile(root: string, rel: string, data: string | Buffer, opts: WriteOptions = {}): void {
  mkdirp(root, path.posix.dirname(`/${rel}`));
  const p = hostPath(root, rel, { follow: opts.follow });
  if (!opts.follow) fs.rmSync(p, { force: true });
  fs.writeFileSync(p, data, { mode: opts.mode });
}

/** Reads a file of the image, its symlinks followed inside the image. */
export function readFile(root: string, rel: string): string {
  return fs.readFileSync(hostPath(root, rel, { follow: true }), 'utf8');
}

/** rm -rf inside the image: a symlink at `rel` is removed itself, never what it points to. */
export function remove(root: string, rel: string): void {
  const p = hostPath(root, rel);
  if (p === root) throw new Error(`refusing to remove the image root ${root}`);
  fs.rmSync(p, { recursive: true, force: true });
}

/** ln -sfn inside the image: whatever is at `rel` (a file, a symlink) is replaced. */
export function symlink(root: string, rel: string, target: string): void {
  mkdirp(root, path.posix.dirname(`/${rel}`));
  const p = hostPath(root, rel);
  fs.rmSync(p, { force: true });
  fs.symlinkSync(target, p);
}

export function chmod(root: string, rel: string, mode: number): void {
  fs.chmodSync(hostPath(root, rel, { follow: true }), mode);
}

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

/**
 * fast-glob's file system, as seen from inside the image: every path it asks about is resolved
 * in the root (lstat leaves the last component alone, stat and readdir follow it).
 */
function inImage(root: string) {
  const map = (p: string, follow: boolean) => {
    const abs = path.resolve(p);
    if (abs !== root && !abs.startsWith(`${root}/`)) return abs;
    return hostPath(root, abs.slice(root.length), { follow });
  };
  return {
    lstat: (p: string, cb: Callback<fs.Stats>) => fs.lstat(map(p, false), cb),
    lstatSync: (p: string) => fs.lstatSync(map(p, false)),
    stat: (p: string, cb: Callback<fs.Stats>) => fs.stat(map(p, true), cb),
    statSync: (p: string) => fs.statSync(map(p, true)),
    readdir: (p: string, ...rest: unknown[]) => (fs.readdir as (...a: unknown[]) => void)(map(p, true), ...rest),
    readdirSync: (p: string, ...rest: unknown[]) => (fs.readdirSync as (...a: unknown[]) => unknown)(map(p, true), ...rest),
  };
}

export interface GlobOptions {
  onlyFiles?: boolean;
}

/**
 * Image paths (relative, without a leading slash) matching the globs, as a shell chrooted into
 * the image would expand them: a link on the way is followed inside the image, `**` does not
 * descend into symlinked directories. Matching itself is fast-glob's (dot files included).
 */
export async function glob(root: string, patterns: string[], opts: GlobOptions = {}): Promise<string[]> {
  const abs = path.resolve(root);
  return fg(
    patterns.map((g) => g.replace(/^\/+/, '')),
    { cwd: abs, dot: true, onlyFiles: opts.onlyFiles ?? false, followSymbolicLinks: false, markDirectories: false, fs: inImage(abs) as unknown as fg.Options['fs'] },
  );
}

/** A symlink's target, or null when `rel` (its directories resolved in the image) is not one. */
export function readlink(root: string, rel: string): string | null {
  const p = hostPath(root, rel);
  return lstat(p)?.isSymbolicLink() ? fs.readlinkSync(p) : null;
}
