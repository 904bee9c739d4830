/**
 * pacman's databases, read by kiln: a sync database (REPO.db: a gzip'd tar of NAME-VERSION/desc
 * files, as repo-add writes it) for what a repository has, with each file's size and SHA-256, and
 * the local database (var/lib/pacman/local/NAME-VERSION/desc) for what an image has installed.
 * A desc file is `%KEY%` followed by its values, one a line, fields separated by a blank line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

export type Desc = Record<string, string[]>;

export function parseDesc(text: string): Desc {
  const out: Desc = {};
  for (const block of text.split(/\n\n+/)) {
    const [head, ...values] = block.split('\n').filter((l) => l !== '');
    const m = /^%([A-Z0-9]+)%$/.exec(head ?? '');
    if (m) out[m[1]] = values;
  }
  return out;
}

export interface SyncPackage {
  repository: string;
  name: string;
  version: string;
  architecture: string;
  filename: string;
  csize: number;
  sha256: string;
  /** Names it provides (without versions), and its groups: what a Packages= entry may name instead. */
  provides: string[];
  groups: string[];
  desc: Desc;
}

const first = (d: Desc, k: string) => d[k]?.[0] ?? '';

/** The packages of a sync database file. */
export async function readSyncDb(file: string, repository: string): Promise<SyncPackage[]> {
  let data = fs.readFileSync(file);
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
  else if (data.readUInt32LE(0) === 0xfd2fb528) throw new Error(`${file} is zstd-compressed: kiln reads gzip'd databases only (as repo-add writes them)`);
  const out: SyncPackage[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file' && header.name.endsWith('/desc')) {
          const d = parseDesc(Buffer.concat(chunks).toString('utf8'));
          out.push({
            repository,
            name: first(d, 'NAME'),
            version: first(d, 'VERSION'),
            architecture: first(d, 'ARCH'),
            filename: first(d, 'FILENAME'),
            csize: Number(first(d, 'CSIZE')),
            sha256: first(d, 'SHA256SUM'),
            provides: (d.PROVIDES ?? []).map((p) => p.split(/[<>=]/)[0]),
            groups: d.GROUPS ?? [],
            desc: d,
          });
        }
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(data);
  await done;
  return out;
}

/** The installed packages of a root (name -> version), from its local database; empty when it has none. */
export function localPackages(dbpath: string): Map<string, { version: string; dir: string }> {
  const local = path.join(dbpath, 'local');
  const out = new Map<string, { version: string; dir: string }>();
  if (!fs.existsSync(local)) return out;
  for (const dir of fs.readdirSync(local).sort()) {
    const desc = path.join(local, dir, 'desc');
    if (!fs.existsSync(desc)) continue;
    const d = parseDesc(fs.readFileSync(desc, 'utf8'));
    out.set(first(d, 'NAME'), { version: first(d, 'VERSION'), dir: path.join(local, dir) });
  }
  return out;
}

/** A local database entry (desc) for a package of a sync database: what pacman would have written installing it, minus files. */
export function localDesc(p: SyncPackage, installDate: number): string {
  const keep = ['NAME', 'VERSION', 'BASE', 'DESC', 'URL', 'ARCH', 'BUILDDATE', 'PACKAGER', 'ISIZE', 'LICENSE', 'GROUPS', 'REPLACES', 'DEPENDS', 'OPTDEPENDS', 'CONFLICTS', 'PROVIDES'];
  const fields = keep.filter((k) => p.desc[k]?.length).map((k) => `%${k === 'ISIZE' ? 'SIZE' : k}%\n${p.desc[k].join('\n')}\n`);
  return [...fields, `%INSTALLDATE%\n${installDate}\n`, '%REASON%\n1\n'].join('\n');
}
