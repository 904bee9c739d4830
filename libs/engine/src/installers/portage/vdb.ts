/**
 * Portage's installed-package database in the image: `/var/db/pkg/<category>/<PF>/` holds the
 * package's metadata files as its binary package carried them, plus CONTENTS, COUNTER (no
 * newline; `/var/cache/edb/counter` keeps the last one handed out) and BINPKGMD5; the requested
 * packages are listed in `/var/lib/portage/world`. Written so that emerge in the finished image
 * sees the packages as installed, can unmerge them, and does not reinstall them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../fsutil';
import { resolveInRoot } from './merge';
import { parsePackagesIndex, type BinPackage } from './packages-index';

export const VDB = 'var/db/pkg';
const COUNTER = 'var/cache/edb/counter';
const WORLD = 'var/lib/portage/world';

export interface VdbEntry {
  category: string;
  pf: string;
  metadata: Map<string, Buffer>;
  contents: string[];
  binpkgMd5: string;
}


/** Records an installed package; replaces an older record of the same category/PF. */
export function writeVdbEntry(root: string, e: VdbEntry): void {
  const counterFile = path.join(root, COUNTER);
  const last = fs.existsSync(counterFile) ? Number(fs.readFileSync(counterFile, 'utf8').trim()) || 0 : 0;
  const counter = last + 1;
  const dir = path.join(root, VDB, e.category, e.pf);
  const tmp = path.join(root, VDB, e.category, `-MERGING-${e.pf}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true, mode: 0o755 });
  for (const [key, value] of e.metadata) {
    if (!/^[A-Za-z0-9_.+-]+$/.test(key) || key === '.' || key === '..' || key === 'CONTENTS' || key === 'COUNTER') continue;
    fs.writeFileSync(path.join(tmp, key), value, { mode: 0o644 });
  }
  fs.writeFileSync(path.join(tmp, 'CONTENTS'), e.contents.map((l) => `${l}\n`).join(''), { mode: 0o644 });
  fs.writeFileSync(path.join(tmp, 'COUNTER'), String(counter), { mode: 0o644 });
  fs.writeFileSync(path.join(tmp, 'BINPKGMD5'), `${e.binpkgMd5}\n`, { mode: 0o644 });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  writeFileAtomic(counterFile, String(counter));
}

/** Adds `cat/pn` entries to the world file (sorted, one per line). */
export function addToWorld(root: string, atoms: string[]): void {
  const file = path.join(root, WORLD);
  const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const all = [...new Set([...have, ...atoms])].sort();
  writeFileAtomic(file, all.length ? `${all.join('\n')}\n` : '');
}

/**
 * The packages installed in a root, as index entries (to satisfy dependencies without
 * reinstalling them): the vdb's metadata files read as the fields of a `Packages` entry.
 */
export function readVdb(root: string): BinPackage[] {
  const base = path.join(root, VDB);
  const blocks: string[] = [];
  for (const category of fs.existsSync(base) ? fs.readdirSync(base).sort() : []) {
    const cdir = path.join(base, category);
    if (!fs.statSync(cdir).isDirectory()) continue;
    for (const pf of fs.readdirSync(cdir).sort()) {
      if (pf.startsWith('-MERGING-')) continue;
      const dir = path.join(cdir, pf);
      const read = (key: string) => {
        try {
          return fs.readFileSync(path.join(dir, key), 'utf8').replace(/\s+/g, ' ').trim();
        } catch {
          return '';
        }
      };
      const fields: [string, string][] = [['CPV', `${category}/${pf}`]];
      for (const key of ['SLOT', 'USE', 'IUSE', 'EAPI', 'RDEPEND', 'PDEPEND', 'BUILD_ID', 'repository']) {
        const v = read(key);
        if (v) fields.push([key === 'repository' ? 'REPO' : key, v]);
      }
      blocks.push(fields.map(([k, v]) => `${k}: ${v}`).join('\n'));
    }
  }
  if (!blocks.length) return [];
  return parsePackagesIndex(`\n\n${blocks.join('\n\n')}\n`, `file://${root}`, path.join(base, '*')).packages;
}

/** Removes a package recorded in the vdb: its files whose md5 and mtime still match, then its record. */
export function unmergePackage(root: string, category: string, pf: string, md5: (file: string) => string): void {
  const dir = path.join(root, VDB, category, pf);
  const lines = fs.readFileSync(path.join(dir, 'CONTENTS'), 'utf8').split('\n').filter(Boolean);
  const dirs: string[] = [];
  // Inside the root: an absolute link in the image (/lib -> /usr/lib) means the image's /usr/lib.
  const inRoot = (p: string, followLast: boolean) => resolveInRoot(root, p.split('/').filter(Boolean), followLast);
  for (const line of lines) {
    const obj = /^obj (.+) ([0-9a-f]{32}) (\d+)$/.exec(line);
    const sym = /^sym (.+) -> (.+) (\d+)$/.exec(line);
    const d = /^dir (.+)$/.exec(line);
    if (obj) {
      const real = inRoot(obj[1], false);
      const st = fs.lstatSync(real, { throwIfNoEntry: false });
      if (st?.isFile() && Math.floor(st.mtimeMs / 1000) === Number(obj[3]) && md5(real) === obj[2]) fs.unlinkSync(real);
    } else if (sym) {
      const real = inRoot(sym[1], false);
      const st = fs.lstatSync(real, { throwIfNoEntry: false });
      if (st?.isSymbolicLink() && fs.readlinkSync(real) === sym[2]) fs.unlinkSync(real);
    } else if (d) {
      dirs.push(d[1]);
    }
  }
  // Deepest first; only directories left empty go, like portage.
  for (const d of dirs.sort((a, b) => b.length - a.length)) {
    const real = inRoot(d, false);
    const st = fs.lstatSync(real, { throwIfNoEntry: false });
    if (st?.isDirectory() && fs.readdirSync(real).length === 0) fs.rmdirSync(real);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Clamps the mtimes CONTENTS records to `epoch`, as the build clamps the files themselves
 * (SOURCE_DATE_EPOCH): portage records a symlink's merge time, and an entry whose mtime does not
 * match its file is left behind on unmerge. The mtime is a line's last field (paths may hold spaces).
 */
export function clampContents(root: string, epoch: number): void {
  const vdb = path.join(root, VDB);
  if (!fs.existsSync(vdb)) return;
  for (const cat of fs.readdirSync(vdb)) {
    for (const pf of fs.readdirSync(path.join(vdb, cat))) {
      const file = path.join(vdb, cat, pf, 'CONTENTS');
      if (!fs.existsSync(file)) continue;
      const text = fs.readFileSync(file, 'utf8');
      const clamped = text.replace(/^((?:obj|sym) .* )(\d+)$/gm, (line, head: string, mtime: string) => (Number(mtime) > epoch ? `${head}${epoch}` : line));
      if (clamped !== text) fs.writeFileSync(file, clamped);
    }
  }
}
