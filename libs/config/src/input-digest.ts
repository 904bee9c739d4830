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
}

/** One file system entry under the paths described; paths are relative to the root, with "/". */
export type InputEntry =
  | { type: 'file'; path: string; mode: string; size: number; sha256: string }
  | { type: 'dir'; path: string; mode: string; empty: boolean }
  | { type: 'link'; path: string; target: string }
  | { type: 'special'; path: string; mode: string; device: 'c' | 'b' | 'p' | 's'; rdev: number }
  | { type: 'missing'; path: string };

/** Every file system entry under `paths` (modes in octal, without the file type), in a stable order. */
export function inputEntries(paths: string[], opts: Omit<DigestOptions, 'extra'>): InputEntry[] {
  const cache = readCache(opts.cacheFile);
  const fresh: StatCache = {};
  const entries: InputEntry[] = [];
  const root = path.resolve(opts.root);
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/') || '.';

  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      entries.push({ type: 'missing', path: rel(p) });
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      const names = fs.readdirSync(p).sort();
      entries.push({ type: 'dir', path: rel(p), mode, empty: names.length === 0 });
      for (const e of names) visit(path.join(p, e));
    } else if (st.isSymbolicLink()) {
      entries.push({ type: 'link', path: rel(p), target: fs.readlinkSync(p) });
    } else if (st.isFile()) {
      entries.push({ type: 'file', path: rel(p), mode, size: st.size, sha256: contentHash(p, st, cache, fresh) });
    } else {
      const device = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : 's';
      entries.push({ type: 'special', path: rel(p), mode, device, rdev: st.rdev });
    }
  };
  for (const p of [...new Set(paths.map((x) => path.resolve(x)))].sort()) visit(p);
  writeCache(opts.cacheFile, fresh);
  return entries;
}

/** An entry as one line of `kiln digest --list`: the form the fingerprint hashes. */
export function entryLine(e: InputEntry): string {
  switch (e.type) {
    case 'file':
      return `file ${e.path} ${e.mode} ${e.size} ${e.sha256}`;
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
  const sha = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  fresh[p] = { ino: st.ino, size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, sha };
  return sha;
}

function readCache(file?: string): StatCache {
  if (!file) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as StatCache;
  } catch {
    return {}; // absent or damaged: hash again
  }
}

/** Written to a temp name and renamed, so a concurrent digest never reads half a file. */
function writeCache(file: string | undefined, cache: StatCache): void {
  if (!file) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(cache));
    fs.renameSync(tmp, file);
  } catch {
    // The cache only saves time; a read-only location must not fail the digest.
  }
}
