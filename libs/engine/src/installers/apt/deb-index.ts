/**
 * apt's view of the repositories, for locking: which index files apt downloaded (`apt-get
 * indextargets`) and the package records in them (deb822 `Packages` files: Package, Version,
 * Architecture, Size, SHA256, Essential...). apt keeps the indexes uncompressed in its lists
 * directory; their integrity was checked by apt against the signed InRelease when downloaded.
 */
import * as fs from 'node:fs';

/** One deb822 paragraph as field -> value (continuation lines joined with "\n"). */
export type Stanza = Map<string, string>;

export function parseDeb822(text: string): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza | null = null;
  let last = '';
  for (const line of text.split('\n')) {
    if (line === '') {
      if (cur) out.push(cur);
      cur = null;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && cur) {
      cur.set(last, `${cur.get(last)}\n${line}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    cur ??= new Map();
    last = line.slice(0, colon);
    cur.set(last, line.slice(colon + 1).trim());
  }
  if (cur) out.push(cur);
  return out;
}

export interface IndexTarget {
  /** The local copy of the Packages file. */
  file: string;
  /** "http://deb.debian.org/debian bookworm/main": the repository, as the lock records it. */
  repository: string;
}

/** Parses `apt-get indextargets` output (deb822) into the binary Packages indexes. */
export function packageTargets(output: string): IndexTarget[] {
  return parseDeb822(output)
    .filter((s) => s.get('Created-By') === 'Packages' && s.get('Filename'))
    .map((s) => ({ file: s.get('Filename') as string, repository: `${(s.get('Site') ?? '').replace(/\/$/, '')} ${s.get('Release') ?? ''}/${s.get('Component') ?? ''}` }));
}

export interface IndexRecord {
  name: string;
  version: string;
  architecture: string;
  size: number;
  sha256: string;
  essential: boolean;
  repository: string;
  /** The whole paragraph, for writing a dpkg status entry of an installed package. */
  stanza: string;
}

export const recordKey = (name: string, version: string, architecture: string) => `${name} ${version} ${architecture}`;

/**
 * Every package record of the indexes, by "name version architecture". The first index listing
 * a version wins, as in apt's own order of sources.
 */
export function readIndexes(targets: IndexTarget[]): Map<string, IndexRecord> {
  const records = new Map<string, IndexRecord>();
  for (const t of targets) {
    if (!fs.existsSync(t.file)) continue;
    const text = fs.readFileSync(t.file, 'utf8');
    // Paragraph by paragraph without building maps for fields nobody reads: indexes are ~50 MB.
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n\n', start);
      if (end < 0) end = text.length;
      const para = text.slice(start, end);
      start = end + 2;
      const field = (name: string) => {
        const m = para.match(new RegExp(`^${name}: *(.*)$`, 'm'));
        return m ? m[1].trim() : '';
      };
      const name = field('Package');
      if (!name) continue;
      const rec: IndexRecord = {
        name,
        version: field('Version'),
        architecture: field('Architecture'),
        size: Number(field('Size')),
        sha256: field('SHA256'),
        essential: field('Essential') === 'yes',
        repository: t.repository,
        stanza: para,
      };
      const key = recordKey(rec.name, rec.version, rec.architecture);
      if (!records.has(key)) records.set(key, rec);
    }
  }
  return records;
}

/** "Inst NAME [OLD] (VERSION ARCHIVES [ARCH])" lines of `apt-get install --simulate`. */
export function simulatedInstalls(output: string): { name: string; version: string; architecture: string }[] {
  const out: { name: string; version: string; architecture: string }[] = [];
  for (const line of output.split('\n')) {
    const m = line.match(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([^\]]+)\]\)/);
    if (m) out.push({ name: m[1].replace(/:[^:]+$/, ''), version: m[2], architecture: m[3] });
  }
  return out;
}

/** What dpkg says is installed in a root: "name version architecture" keys. */
export function installedPackages(root: string): Map<string, { name: string; version: string; architecture: string }> {
  const out = new Map<string, { name: string; version: string; architecture: string }>();
  let text = '';
  try {
    text = fs.readFileSync(`${root}/var/lib/dpkg/status`, 'utf8');
  } catch {
    return out;
  }
  for (const s of parseDeb822(text)) {
    if (!/ installed$/.test(s.get('Status') ?? '')) continue;
    const p = { name: s.get('Package') as string, version: s.get('Version') as string, architecture: s.get('Architecture') as string };
    out.set(p.name, p);
  }
  return out;
}

/** apt's file name for a downloaded package ("epoch:" is written "epoch%3a"). */
export function debFileName(p: { name: string; version: string; architecture: string }): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.architecture}.deb`;
}
