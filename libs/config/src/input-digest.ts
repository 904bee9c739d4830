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

/** One line per file system entry under `paths`, in a stable order. */
export function describeInputs(paths: string[], opts: DigestOptions): string[] {
  const cache = readCache(opts.cacheFile);
  const fresh: StatCache = {};
  const lines: string[] = [];
  const root = path.resolve(opts.root);
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/') || '.';

  const visit = (p: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      lines.push(`missing ${rel(p)}`);
      return;
    }
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      const entries = fs.readdirSync(p).sort();
      lines.push(`dir ${rel(p)} ${mode}${entries.length ? '' : ' empty'}`);
      for (const e of entries) visit(path.join(p, e));
    } else if (st.isSymbolicLink()) {
      lines.push(`link ${rel(p)} -> ${fs.readlinkSync(p)}`);
    } else if (st.isFile()) {
      lines.push(`file ${rel(p)} ${mode} ${st.size} ${contentHash(p, st, cache, fresh)}`);
    } else {
      lines.push(`special ${rel(p)} ${mode} ${st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : 's'} ${st.rdev}`);
    }
  };
  for (const p of [...new Set(paths.map((x) => path.resolve(x)))].sort()) visit(p);
  writeCache(opts.cacheFile, fresh);
  return [...(opts.extra ?? []), ...lines];
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
