/**
 * The repositories' package records as zypper downloaded them: each repository's raw metadata in
 * zypper's cache (raw/<alias>/repodata/: repomd.xml naming primary.xml.gz, whose records carry each
 * package's checksum, size and path). zypper prints what it would install (--xmlout --dry-run) but
 * not these; the metadata zypper verified (repo_gpgcheck) is read instead of asking the mirror again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
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

/** The decompressed text of a metadata file, as a stream: gzip in-process, zstd and xz (Tumbleweed's metadata is zstd) by their tools. */
function decompressed(file: string): Readable {
  let out: Readable;
  if (file.endsWith('.gz')) out = fs.createReadStream(file).pipe(createGunzip());
  else if (file.endsWith('.zst') || file.endsWith('.xz')) {
    const child = spawn(file.endsWith('.zst') ? 'zstd' : 'xz', ['-dcq', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('close', (code) => {
      if (code) child.stdout.destroy(new Error(`${path.basename(file)}: ${file.endsWith('.zst') ? 'zstd' : 'xz'} exited with ${code}`));
    });
    out = child.stdout;
  } else out = fs.createReadStream(file);
  out.setEncoding('utf8');
  return out;
}

/**
 * Reads primary.xml of each repository in `aliases` from zypper's cache directory; a repository
 * not refreshed (disabled) has none and is skipped; only the packages called `names` are kept. A distribution's primary.xml is hundreds of
 * megabytes (every package's dependencies and files): it is read as a stream, one <package> at a
 * time, each parsed without its <format> (dependencies, files), which a lock does not record.
 */
export async function readRepoIndex(cacheDir: string, aliases: string[], names: Set<string>): Promise<RepoIndex> {
  const out: RepoIndex = new Map();
  const add = (xml: string, alias: string) => {
    // Only the packages asked about are parsed (a lock's few dozen of a repository's tens of thousands).
    const name = xml.match(/<name>([^<]*)<\/name>/)?.[1];
    if (name === undefined || !names.has(name)) return;
    const f = xml.indexOf('<format>');
    const p = (parser.parse(f < 0 ? xml : `${xml.slice(0, f)}</package>`) as { package: PrimaryPackage[] }).package[0];
    if (p.type !== 'rpm') return;
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
  };
  for (const alias of aliases) {
    const repomd = path.join(cacheDir, 'raw', alias, 'repodata', 'repomd.xml');
    if (!fs.existsSync(repomd)) continue;
    const md = parser.parse(fs.readFileSync(repomd, 'utf8')) as { repomd: { data: (Attr & { location: Attr })[] } };
    const primary = md.repomd.data.find((d) => d.type === 'primary');
    if (!primary) continue;
    let buf = '';
    // A <package> holds no nested <package> and no raw "<" in its text: each one ends at the first "</package>".
    for await (const chunk of decompressed(path.join(cacheDir, 'raw', alias, primary.location.href))) {
      buf += chunk as string;
      let end: number;
      while ((end = buf.indexOf('</package>')) >= 0) {
        const start = buf.indexOf('<package ');
        add(buf.slice(start, end + '</package>'.length), alias);
        buf = buf.slice(end + '</package>'.length);
      }
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
