/**
 * The package cache's .debs, checked against the signed repository index before apt or
 * mmdebstrap may use them.
 *
 * apt trusts a file already in its archives directory when its size matches the index: a cached
 * .deb damaged on disk (or replaced by a same-size one with another binary) would be handed to
 * dpkg on every build, its maintainer scripts run, and never fetched again. So before each install
 * every cached .deb the indexes list is compared with the index's SHA256 (the indexes were
 * verified by apt against the signed InRelease); one that differs is removed from the cache, so
 * that apt fetches it again (and checks what it fetches), and the log says so.
 *
 * Hashing the whole cache on every build would cost seconds: a file once found good is recorded in
 * a record file of the package cache (`record`), keyed by its device, inode, size and mtime, and hashed again
 * only when one of them changes (any write to the file changes its mtime).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordKey, type IndexRecord } from './deb-index';


interface Verified {
  id: string;
  sha256: string;
}

/** What identifies one version of a file's contents, short of reading it. */
const identity = (st: fs.Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;

/** "name_version_arch.deb" (apt's naming, "epoch:" as "epoch%3a") -> the record key; null for other names. */
export function debKey(file: string): string | null {
  const m = file.match(/^([^_/]+)_([^_/]+)_([^_/]+)\.deb$/);
  return m ? recordKey(m[1], decodeURIComponent(m[2]), m[3]) : null;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function readRecord(file: string): Record<string, Verified> {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8'));
    return r && typeof r === 'object' ? r : {};
  } catch {
    return {}; // none yet, or damaged: everything is hashed again
  }
}

/**
 * Checks every .deb of `dir` the indexes list; removes those whose size or SHA256 differs from the
 * index, telling `say` about each. Returns the names removed. .debs no index lists are left alone:
 * apt cannot install them (it names a cached file after a version the index has).
 */
export async function verifyDebCache(dir: string, record: string, records: Map<string, IndexRecord>, say: (line: string) => void): Promise<string[]> {
  const before = readRecord(record);
  const after: Record<string, Verified> = {};
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.deb')).sort()) {
    const key = debKey(name);
    const rec = key ? records.get(key) : undefined;
    if (!rec || !rec.sha256) continue;
    const file = path.join(dir, name);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    const known = before[name];
    let reason: string | null = null;
    if (st.size !== rec.size) reason = `${st.size} bytes, the index says ${rec.size}`;
    else if (known && known.id === identity(st) && known.sha256 === rec.sha256) {
      after[name] = known;
      continue;
    } else {
      const sha = await sha256(file);
      if (sha === rec.sha256) after[name] = { id: identity(st), sha256: sha };
      else reason = `SHA256 ${sha}, the signed index says ${rec.sha256}`;
    }
    if (reason) {
      fs.rmSync(file, { force: true });
      removed.push(name);
      say(`package cache: ${name} is damaged (${reason}): removed, apt fetches it again`);
    }
  }
  // Written whole and renamed, so that a build killed here leaves the old record or the new one.
  const tmp = `${record}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(after));
  fs.renameSync(tmp, record);
  return removed;
}
