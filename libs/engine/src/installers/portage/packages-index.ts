/**
 * A binhost's `Packages` index, the file portage's binary package trees publish (written and read
 * by portage's PackageIndex in getbinpkg.py, interpreted by dbapi/bintree.py): a header block,
 * then one block per binary package, blocks separated by blank lines, lines "KEY: value". It is
 * all a resolver needs to choose packages without downloading any.
 */
import { splitCpv } from './cpv';

export interface BinPackage {
  cpv: string;
  category: string;
  pn: string;
  pf: string;
  /** The version including its revision, "1.0-r1". */
  version: string;
  /** Several builds of one CPV (other USE, newer build) live side by side, told apart by BUILD_ID. */
  buildId: number | null;
  /** SLOT "2/2.1" is slot "2", subslot "2.1"; without "/" the subslot is the slot. */
  slot: string;
  subslot: string;
  /** The enabled flags. */
  use: Set<string>;
  /** IUSE without the +/- default markers. */
  iuse: string[];
  rdepend: string;
  pdepend: string;
  idepend: string;
  depend: string;
  bdepend: string;
  eapi: string;
  /** The ebuild repository it was built from (REPO), "" when unknown. */
  repo: string;
  /** Where the file is, relative to the binhost. */
  path: string;
  size: number;
  md5?: string;
  sha1?: string;
  sha256?: string;
  blake2b?: string;
  sha512?: string;
  buildTime: number | null;
  mtime: number | null;
  /** The binhost base URL this entry came from, without trailing "/". */
  binhost: string;
  /** The file's URL. */
  url: string;
  /** Every field of the entry as written, plus the header fields portage lets entries inherit. */
  raw: Record<string, string>;
}

/**
 * Header fields portage copies into entries that lack them (bintree.py `_pkgindex_inherited_keys`,
 * "CHOST" and "repository", which the file spells REPO). Nothing else is inherited: the header's
 * USE is the building system's USE, not any package's.
 */
const INHERITED = ['CHOST', 'REPO'];

/** Index versions portage reads (bintree.py `_pkgindex_version`: it accepts VERSION <= 0). */
const MAX_INDEX_VERSION = 0;

const LINE_RE = /^([A-Za-z0-9_]+):(.*)$/;

interface Block {
  fields: Record<string, string>;
  /** Line number of each field, and of the block's first line under "". */
  lines: Record<string, number>;
}

function blocks(text: string, source: string): Block[] {
  const out: Block[] = [];
  let cur: Block | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line.trim()) {
      cur = null;
      continue;
    }
    const m = LINE_RE.exec(line);
    if (!m) throw new Error(`${source}:${i + 1}: malformed line "${line}"; expected "KEY: value" lines in blocks separated by blank lines`);
    if (!cur) {
      cur = { fields: {}, lines: { '': i + 1 } };
      out.push(cur);
    }
    // A repeated key overrides, as in portage's reader.
    cur.fields[m[1]] = m[2].trim().replace(/\s+/g, ' ');
    cur.lines[m[1]] = i + 1;
  }
  return out;
}

/**
 * Parses a `Packages` index fetched from `binhost`; `source` names it in errors ("URL" or file).
 * Stricter than portage, which skips what it cannot read: a binhost index that does not parse is
 * an error here, not a silently smaller set of packages.
 */
export function parsePackagesIndex(text: string, binhost: string, source: string): { header: Record<string, string>; packages: BinPackage[] } {
  const all = blocks(text, source);
  // The header is what comes before the first blank line, so text starting with a blank line has
  // an empty header and only entries (portage's readHeader stops at the first blank line).
  const headerBlock = all[0]?.lines[''] === 1 ? all.shift() : undefined;
  const header = headerBlock?.fields ?? {};
  const at = (b: Block, key: string) => `${source}:${b.lines[key] ?? b.lines['']}`;
  if (headerBlock && 'CPV' in header) {
    throw new Error(`${at(headerBlock, 'CPV')}: the first block is the index header, but it has a CPV; start the index with a header block (VERSION: 0, TIMESTAMP: ...) or a blank line`);
  }
  // Portage also ignores an index without VERSION; here its absence is accepted, as entries made
  // from installed packages' metadata have no header at all.
  if (headerBlock && header.VERSION !== undefined && !(/^\d+$/.test(header.VERSION) && Number(header.VERSION) <= MAX_INDEX_VERSION)) {
    throw new Error(`${at(headerBlock, 'VERSION')}: index VERSION "${header.VERSION}" is not supported; expected ${MAX_INDEX_VERSION}, as portage writes`);
  }
  const base = binhost.replace(/\/+$/, '');
  // The header's URI moves the files elsewhere (bintree.py: remote_base_uri = header URI or the binhost).
  const fileBase = (header.URI || base).replace(/\/+$/, '');

  const packages = all.map((b): BinPackage => {
    const f = b.fields;
    const raw = { ...f };
    for (const k of INHERITED) if (!raw[k] && header[k]) raw[k] = header[k];
    if (!f.CPV) throw new Error(`${at(b, 'CPV')}: package entry without CPV; every block after the header needs a "CPV: category/name-version" line`);
    const cpv = splitCpv(f.CPV);
    if (!cpv) throw new Error(`${at(b, 'CPV')}: invalid CPV "${f.CPV}"; expected category/name-version[-rN], e.g. app-misc/hello-2.12-r1`);
    const integer = (key: string, what: string): number | null => {
      const v = f[key];
      if (v === undefined || v === '') return null;
      if (!/^\d+$/.test(v)) throw new Error(`${at(b, key)}: ${key} "${v}" is not a number; expected ${what}`);
      return Number(v);
    };
    const slotField = f.SLOT || '0';
    if (!/^[A-Za-z0-9_][A-Za-z0-9+_.-]*(\/[A-Za-z0-9_][A-Za-z0-9+_.-]*)?$/.test(slotField)) {
      throw new Error(`${at(b, 'SLOT')}: invalid SLOT "${slotField}" of ${f.CPV}; expected slot or slot/subslot`);
    }
    const [slot, subslot = slot] = slotField.split('/');
    // Without PATH the file is "<CPV>.tbz2", the layout before PATH existed (bintree.py gettbz2).
    const path = f.PATH || `${f.CPV}.tbz2`;
    const words = (key: string) => (f[key] ? f[key].split(' ') : []);
    return {
      cpv: f.CPV,
      category: cpv.category,
      pn: cpv.pn,
      pf: cpv.pf,
      version: cpv.version,
      buildId: integer('BUILD_ID', 'the build number of this instance of the CPV'),
      slot,
      subslot,
      use: new Set(words('USE')),
      iuse: words('IUSE').map((flag) => flag.replace(/^[+-]/, '')),
      rdepend: f.RDEPEND ?? '',
      pdepend: f.PDEPEND ?? '',
      idepend: f.IDEPEND ?? '',
      depend: f.DEPEND ?? '',
      bdepend: f.BDEPEND ?? '',
      eapi: f.EAPI || '0',
      repo: raw.REPO ?? '',
      path,
      // Entries made from an installed package's metadata (the vdb) have no file and no SIZE.
      size: integer('SIZE', 'the size of the package file in bytes') ?? 0,
      md5: f.MD5,
      sha1: f.SHA1,
      sha256: f.SHA256,
      blake2b: f.BLAKE2B,
      sha512: f.SHA512,
      buildTime: integer('BUILD_TIME', 'the build time in seconds since the epoch'),
      mtime: integer('MTIME', 'the file modification time in seconds since the epoch'),
      binhost: base,
      url: `${fileBase}/${path.replace(/^\/+/, '')}`,
      raw,
    };
  });
  return { header, packages };
}
