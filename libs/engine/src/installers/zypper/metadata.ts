/**
 * The repositories' package records as zypper downloaded them: each repository's raw metadata in
 * zypper's cache (raw/<alias>/repodata/: repomd.xml naming primary.xml.gz, whose records carry each
 * package's checksum, size and path). zypper prints what it would install (--xmlout --dry-run) but
 * not these; the metadata zypper verified (repo_gpgcheck) is read instead of asking the mirror again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import type { RepoRecord } from '../rpm';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // Versions, names and digests stay strings ("1.0" is not 1).
  parseTagValue: false,
  parseAttributeValue: false,
  // One element is an array all the same: a repository of one package, a package of one checksum.
  isArray: (name) => ['package', 'data', 'solvable', 'message'].includes(name),
});

type Attr = Record<string, string>;

interface PrimaryPackage {
  type: string;
  name: string;
  arch: string;
  version: Attr;
  checksum: Attr & { '#text': string };
  size: Attr;
  location: Attr;
}

/** name-[epoch:]version-release.arch -> the records of it, in the order of `aliases` (the first one is zypper's pick of equals). */
export type RepoIndex = Map<string, RepoRecord[]>;

const evr = (v: Attr) => `${v.epoch && v.epoch !== '0' ? `${v.epoch}:` : ''}${v.ver}-${v.rel}`;

/** Reads primary.xml of each repository in `aliases` from zypper's cache directory; a repository not refreshed (disabled) has none and is skipped. */
export function readRepoIndex(cacheDir: string, aliases: string[]): RepoIndex {
  const out: RepoIndex = new Map();
  for (const alias of aliases) {
    const repodata = path.join(cacheDir, 'raw', alias, 'repodata');
    const repomd = path.join(repodata, 'repomd.xml');
    if (!fs.existsSync(repomd)) continue;
    const md = parser.parse(fs.readFileSync(repomd, 'utf8')) as { repomd: { data: (Attr & { location: Attr })[] } };
    const primary = md.repomd.data.find((d) => d.type === 'primary');
    if (!primary) continue;
    let xml = fs.readFileSync(path.join(cacheDir, 'raw', alias, primary.location.href));
    if (primary.location.href.endsWith('.gz')) xml = gunzipSync(xml);
    const doc = parser.parse(xml.toString('utf8')) as { metadata: { package?: PrimaryPackage[] } };
    for (const p of doc.metadata.package ?? []) {
      if (p.type !== 'rpm') continue;
      const rec: RepoRecord = {
        name: String(p.name),
        version: evr(p.version),
        architecture: p.arch,
        repository: alias,
        size: Number(p.size.package),
        checksum: [p.checksum.type, p.checksum['#text']],
        path: p.location.href,
      };
      const key = `${rec.name}-${rec.version}.${rec.architecture}`;
      const list = out.get(key) ?? [];
      list.push(rec);
      out.set(key, list);
    }
  }
  return out;
}

/** What `zypper --xmlout install --dry-run` would install: name, [epoch:]version-release (zypper's "edition"), arch. */
export function dryRunInstalls(xml: string): { name: string; version: string; architecture: string }[] {
  const doc = parser.parse(xml) as { stream?: { 'install-summary'?: { 'to-install'?: { solvable?: Attr[] } } } };
  const list = doc.stream?.['install-summary']?.['to-install']?.solvable ?? [];
  return list.filter((s) => s.type === 'package').map((s) => ({ name: String(s.name), version: String(s.edition), architecture: s.arch }));
}
