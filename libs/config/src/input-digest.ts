/**
 * The fingerprint of a preset's input trees, for what Nx's own file hashing does not see: file
 * modes, symlink targets, empty directories, device nodes, and files outside the workspace or
 * gitignored. Nx runs it as a `runtime` input on every `nx run`, so it must be fast:
 *
 *  - node builtins only (no zod, no glob library: loading those alone would cost more than the
 *    whole walk), so this module never imports the rest of @kiln/config;
 *  - file contents are hashed once and then found again by (inode, size, mtime, ctime) in a small
 *    cache file, the way git's index avoids rehashing; the fingerprint itself depends only on
 *    contents, names and modes, so it is the same on every machine and a shared cache works.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface CachedHash {
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
  sha: string;
}

type StatCache = Record<string, CachedHash>;

export interface DigestOptions {
  /**
   * Paths in the fingerprint are written relative to this directory (the project), never
   * absolute. The paths to fingerprint themselves are relative to the working directory (Nx runs
   * runtime inputs in the workspace root).
   */
  root: string;
  /** Where content hashes are remembered between runs; none: hash everything every time. */
  cacheFile?: string;
  /** Extra lines folded into the fingerprint (the resolved settings' hash, kiln's version). */
  extra?: string[];
  /** exact: record modes as they are (a tools tree), instead of each path's mode policy. */
  modes?: 'exact';
}

/** One file system entry under the paths described; paths are relative to the root, with "/". */
export type InputEntry =
  | { type: 'file'; path: string; mode: string; size: number; sha256: string; linkOf?: string }
  | { type: 'dir'; path: string; mode: string; empty: boolean }
  | { type: 'link'; path: string; target: string }
  | { type: 'special'; path: string; mode: string; device: 'c' | 'b' | 'p' | 's'; rdev: number }
  | { type: 'missing'; path: string };

/**
 * The git checkout (work tree) holding `dir`: the nearest directory up from it with a `.git`, or
 * null. Not remembered: the plugin's process lives long, and a checkout can appear meanwhile.
 */
export function checkoutOf(dir: string): string | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, '.git'))) return d;
    if (path.dirname(d) === d) return null;
  }
}

/**
 * How a tree's modes reach the image. Git records one permission bit per file (executable or
 * not), so a checkout's modes otherwise depend on the umask it was made under: for trees inside a
 * git checkout, files are 0755 when any execute bit is set and 0644 otherwise, and directories
 * 0755 (GNU tar's --mode=a-st,u=rwX,go=rX, which the copy into the image uses; setuid, setgid and
 * sticky bits are dropped). A mode the image needs (0600 secrets, setuid) comes from a tar
 * archive tree, whose members keep their modes, or from a script. Trees outside any checkout
 * keep their modes as they are.
 */
export type ModePolicy = 'git' | 'exact';

export function modePolicy(p: string): ModePolicy {
  return checkoutOf(path.dirname(path.resolve(p))) ? 'git' : 'exact';
}

export function normalMode(mode: number, isDir: boolean, policy: ModePolicy): number {
  if (policy === 'exact') return mode & 0o7777;
  return isDir || mode & 0o111 ? 0o755 : 0o644;
}

/**
 * Every file system entry under `paths` (modes in octal, without the file type), in a stable
 * order. A path that is a symlink to a directory is walked as that directory (the copy into the
 * image follows it too); inside, symlinks are entries of their own. Files hard-linked to one
 * another within a path name the first of them (the copy keeps hard links).
 */
export function inputEntries(paths: string[], opts: Omit<DigestOptions, 'extra'>): InputEntry[] {
  const cache = readCache(opts.cacheFile);
  const fresh: StatCache = {};
  const entries: InputEntry[] = [];
  const root = path.resolve(opts.root);
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/') || '.';

  const walk = (top: string) => {
    const policy = opts.modes === 'exact' ? 'exact' : modePolicy(top);
    const inodes = new Map<string, string>();
    const visit = (p: string, st: fs.Stats) => {
      if (st.isDirectory()) {
        const names = fs.readdirSync(p).sort();
        entries.push({ type: 'dir', path: rel(p), mode: normalMode(st.mode, true, policy).toString(8), empty: names.length === 0 });
        for (const e of names) visit(path.join(p, e), fs.lstatSync(path.join(p, e)));
      } else if (st.isSymbolicLink()) {
        entries.push({ type: 'link', path: rel(p), target: fs.readlinkSync(p) });
      } else if (st.isFile()) {
        const entry: InputEntry = { type: 'file', path: rel(p), mode: normalMode(st.mode, false, policy).toString(8), size: st.size, sha256: contentHash(p, st, cache, fresh) };
        if (st.nlink > 1) {
          const id = `${st.dev}:${st.ino}`;
          const first = inodes.get(id);
          if (first) entry.linkOf = first;
          else inodes.set(id, entry.path);
        }
        entries.push(entry);
      } else {
        const device = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : 's';
        entries.push({ type: 'special', path: rel(p), mode: (st.mode & 0o7777).toString(8), device, rdev: st.rdev });
      }
    };
    let st: fs.Stats;
    try {
      st = fs.lstatSync(top);
      if (st.isSymbolicLink()) st = fs.statSync(top);
    } catch {
      entries.push({ type: 'missing', path: rel(top) });
      return;
    }
    visit(top, st);
  };
  for (const p of [...new Set(paths.map((x) => path.resolve(x)))].sort()) walk(p);
  writeCache(opts.cacheFile, fresh);
  return entries;
}

/** An entry as one line of `kiln digest --list`: the form the fingerprint hashes. */
export function entryLine(e: InputEntry): string {
  switch (e.type) {
    case 'file':
      return `file ${e.path} ${e.mode} ${e.size} ${e.sha256}${e.linkOf ? ` = ${e.linkOf}` : ''}`;
    case 'dir':
      return `dir ${e.path} ${e.mode}${e.empty ? ' empty' : ''}`;
    case 'link':
      return `link ${e.path} -> ${e.target}`;
    case 'special':
      return `special ${e.path} ${e.mode} ${e.device} ${e.rdev}`;
    case 'missing':
      return `missing ${e.path}`;
  }
}

/** One line per file system entry under `paths`, in a stable order. */
export function describeInputs(paths: string[], opts: DigestOptions): string[] {
  return [...(opts.extra ?? []), ...inputEntries(paths, opts).map(entryLine)];
}

export function digestInputs(paths: string[], opts: DigestOptions): string {
  return createHash('sha256').update(describeInputs(paths, opts).join('\n')).digest('hex');
}

function contentHash(p: string, st: fs.Stats, cache: StatCache, fresh: StatCache): string {
  const hit = cache[p];
  if (hit && hit.ino === st.ino && hit.size === st.size && hit.mtime === st.mtimeMs && hit.ctime === st.ctimeMs) {
    fresh[p] = hit;
    return hit.sha;
  }
  const sha = hashFile(p);
  fresh[p] = { ino: st.ino, size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, sha };
  return sha;
}

/**
 * A file's SHA-256, read in 1 MiB pieces: reading it whole failed past 2 GiB (Node's buffer limit,
 * a stack trace for a 2.5 GB file in an extra tree) and held it all in memory.
 */
export function hashFile(p: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = fs.openSync(p, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function readCache(file?: string): StatCache {
  return (file && readJsonCache<StatCache>(file)) || {};
}

function writeCache(file: string | undefined, cache: StatCache): void {
  if (file) writeJsonCache(file, cache);
}

/**
 * The small caches of kiln-digest (content hashes, project facts, tool versions) are read and
 * written here. Absent or damaged reads as null: the caller computes again.
 */
export function readJsonCache<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/**
 * Written to a temp name and renamed, so a concurrent digest never reads half a file. A cache only
 * saves time: a location that cannot be written does not fail the caller.
 */
export function writeJsonCache(file: string, value: unknown): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(value));
    fs.renameSync(tmp, file);
  } catch {
    // read-only or full: compute again next time
  }
}
