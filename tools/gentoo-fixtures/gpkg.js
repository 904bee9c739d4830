'use strict';
/**
 * Writers for Gentoo's binary package formats, for test fixtures: GPKG (GLEP 78, `*.gpkg.tar`),
 * legacy XPAK (`*.xpak` / `*.tbz2`) and the binhost `Packages` index. Written from GLEP 78 and
 * portage's lib/portage/gpkg.py, xpak.py, dbapi/bintree.py and getbinpkg.py; every layout choice
 * below says which portage behaviour it copies.
 *
 * Everything is deterministic (fixed mtimes, sorted entries, single-threaded compressors) except
 * OpenPGP signatures. The building blocks are exported too, and `tamper` hooks let a test make
 * packages that are malicious but otherwise valid (a Manifest whose hashes match) or broken.
 *
 * Compression uses the real CLIs (zstd, xz, bzip2) through child_process; gzip uses zlib.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');

/** kiln's own dependency is tar-stream 3 (libs/engine); the hoisted copy may be an older major. */
function loadTarStream() {
  const candidates = [path.resolve(__dirname, '../../libs/engine'), __dirname];
  for (const from of candidates) {
    try {
      const main = require.resolve('tar-stream', { paths: [from] });
      let dir = path.dirname(main);
      while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
      const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (Number(version.split('.')[0]) >= 3) return require(main);
    } catch {
      // try the next place
    }
  }
  return require('tar-stream');
}
const tarStream = loadTarStream();

/** The default mtime of every entry and of BUILD_TIME: 2023-11-14T22:13:20Z. */
const DEFAULT_MTIME = 1700000000;

/** comp name -> [file extension, portage's BINPKG_COMPRESS name] */
const COMPRESSIONS = {
  zst: ['.zst', 'zstd'],
  xz: ['.xz', 'xz'],
  gz: ['.gz', 'gzip'],
  bz2: ['.bz2', 'bzip2'],
  none: ['', null],
};
const COMP_ALIASES = { zstd: 'zst', gzip: 'gz', bzip2: 'bz2', '': 'none' };

/** @param {string} comp */
function normComp(comp) {
  const c = COMP_ALIASES[comp] ?? comp;
  if (!(c in COMPRESSIONS)) throw new Error(`unknown compression ${comp}`);
  return c;
}

/** '.zst' for 'zst', '' for 'none'. @param {string} comp */
function compExt(comp) {
  return COMPRESSIONS[normComp(comp)][0];
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {Buffer} input
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Buffer}
 */
function run(cmd, args, input, env) {
  const r = spawnSync(cmd, args, { input, env: env ?? process.env, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Compresses with the real tools. zst: `zstd -19 --single-thread` (decodes with plain `zstd -d`
 * and with portage's `zstd -d --long=31`; pass {zstdLong: true} for a `--long=31` frame, as
 * portage makes with BINPKG_COMPRESS_FLAGS_ZSTD="--long=31", which `zstd -d` alone refuses).
 * @param {Buffer} buf
 * @param {string} comp zst | xz | gz | bz2 | none (or portage's names zstd, gzip, bzip2)
 * @param {{ zstdLong?: boolean }} [opts]
 * @returns {Buffer}
 */
function compress(buf, comp, opts = {}) {
  switch (normComp(comp)) {
    case 'zst':
      return run('zstd', ['-q', '-19', '--single-thread', ...(opts.zstdLong ? ['--long=31'] : []), '-c'], buf);
    case 'xz':
      return run('xz', ['-q', '-6', '-T1', '-c'], buf);
    case 'gz':
      return zlib.gzipSync(buf, { level: 9 });
    case 'bz2':
      return run('bzip2', ['-9', '-c'], buf);
    default:
      return buf;
  }
}

/** @param {Buffer} buf @param {string} comp @returns {Buffer} */
function decompress(buf, comp) {
  switch (normComp(comp)) {
    case 'zst':
      return run('zstd', ['-q', '-d', '--long=31', '-c'], buf);
    case 'xz':
      return run('xz', ['-q', '-d', '-c'], buf);
    case 'gz':
      return zlib.gunzipSync(buf);
    case 'bz2':
      return run('bzip2', ['-d', '-c'], buf);
    default:
      return buf;
  }
}

/** @param {string} algo node crypto name @param {Buffer|string} data */
function hash(algo, data) {
  return crypto.createHash(algo).update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// tar

/**
 * A raw tar entry, given to tar-stream's pack as it is (names are NOT checked or prefixed).
 * @typedef {object} TarEntry
 * @property {string} name
 * @property {'file'|'directory'|'symlink'|'link'|'character-device'|'block-device'|'fifo'} [type]
 * @property {Buffer|string} [content]
 * @property {number} [mode]
 * @property {number} [uid]
 * @property {number} [gid]
 * @property {string} [uname]
 * @property {string} [gname]
 * @property {number} [mtime] seconds
 * @property {string} [linkname]
 * @property {number} [devmajor]
 * @property {number} [devminor]
 */

/**
 * Packs entries, in the order given, into an uncompressed ustar archive (pax headers only for
 * names too long for ustar). Directory names get a trailing '/' as GNU tar and Python write them.
 * @param {TarEntry[]} entries
 * @param {{ mtime?: number }} [opts]
 * @returns {Promise<Buffer>}
 */
function packTar(entries, opts = {}) {
  return new Promise((resolve, reject) => {
    const pack = tarStream.pack();
    /** @type {Buffer[]} */
    const chunks = [];
    pack.on('data', (c) => chunks.push(Buffer.from(c)));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
    try {
      for (const e of entries) {
        const type = e.type ?? 'file';
        let name = e.name;
        if (type === 'directory' && !name.endsWith('/')) name += '/';
        const uid = e.uid ?? 0;
        const gid = e.gid ?? 0;
        /** @type {any} */
        const header = {
          name,
          type,
          mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
          uid,
          gid,
          uname: e.uname ?? (uid === 0 ? 'root' : ''),
          gname: e.gname ?? (gid === 0 ? 'root' : ''),
          mtime: new Date((e.mtime ?? opts.mtime ?? DEFAULT_MTIME) * 1000),
        };
        if (e.linkname !== undefined) header.linkname = e.linkname;
        if (e.devmajor !== undefined) header.devmajor = e.devmajor;
        if (e.devminor !== undefined) header.devminor = e.devminor;
        const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
        if (body) {
          header.size = body.length;
          pack.entry(header, body, (err) => err && reject(err));
        } else {
          pack.entry(header, (err) => err && reject(err)).end();
        }
      }
      pack.finalize();
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * A file of a package's image, described by its path in the installed system.
 * @typedef {object} FileSpec
 * @property {string} path path in the image, e.g. '/usr/bin/hello' (not normalised: '../x' stays)
 * @property {'file'|'dir'|'symlink'|'hardlink'|'chardev'|'blockdev'|'fifo'} [type] default file
 * @property {Buffer|string} [content] regular files
 * @property {number} [mode] default 0644 files, 0755 dirs, 0777 symlinks, 0600 devices
 * @property {string} [linkname] symlink: the target as is; hardlink: the IMAGE path of the target
 *   ('/usr/bin/hello'), written as the archive name ('image/usr/bin/hello'), as Python's tarfile
 *   and GNU tar do
 * @property {number} [mtime]
 * @property {number} [uid]
 * @property {number} [gid]
 * @property {string} [uname]
 * @property {string} [gname]
 * @property {number} [devmajor]
 * @property {number} [devminor]
 * @property {string} [name] the verbatim tar name (no prefix added): for absolute or odd names
 */

const TYPE_MAP = {
  file: 'file',
  dir: 'directory',
  directory: 'directory',
  symlink: 'symlink',
  hardlink: 'link',
  link: 'link',
  chardev: 'character-device',
  blockdev: 'block-device',
  fifo: 'fifo',
};

/** @param {string} p */
function relPath(p) {
  return p.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** byte-wise comparison of path components: Python's sorted(os.listdir()) walk order */
function compareTreeOrder(a, b) {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]), Buffer.from(pb[i]));
  }
  return pa.length - pb.length;
}

/**
 * Turns FileSpecs into tar entries under `prefix` ('image' for GPKG, '.' for XPAK / stage3).
 * order 'tree' (default) sorts like Python's tarfile.add(root, 'image', recursive=True): the root
 * directory first, then depth-first with names sorted; 'given' keeps the order. parents (default
 * true) adds the root entry ('image/', './') and every missing parent directory (mode 0755).
 * Entries with `name`, or whose path has a '..' component, are left out of parent creation.
 * @param {FileSpec[]} files
 * @param {{ prefix?: string, order?: 'tree'|'given', parents?: boolean, mtime?: number, uid?: number, gid?: number, rootMode?: number }} [opts]
 * @returns {TarEntry[]}
 */
function imageEntries(files, opts = {}) {
  const prefix = opts.prefix ?? 'image';
  const mtime = opts.mtime ?? DEFAULT_MTIME;
  const order = opts.order ?? 'tree';
  const parents = opts.parents ?? true;
  /** @type {{ rel: string|null, entry: TarEntry }[]} */
  const list = [];
  const join = (rel) => (rel === '' ? prefix : `${prefix}/${rel}`);
  for (const f of files) {
    const type = TYPE_MAP[f.type ?? 'file'];
    if (!type) throw new Error(`unknown file type ${f.type} for ${f.path}`);
    const rel = f.name !== undefined ? null : relPath(f.path);
    /** @type {TarEntry} */
    const entry = {
      name: f.name ?? join(/** @type {string} */ (rel)),
      type: /** @type {any} */ (type),
      mode: f.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : type.endsWith('device') ? 0o600 : 0o644),
      uid: f.uid ?? opts.uid ?? 0,
      gid: f.gid ?? opts.gid ?? 0,
      uname: f.uname,
      gname: f.gname,
      mtime: f.mtime ?? mtime,
    };
    if (type === 'file') entry.content = f.content ?? '';
    if (type === 'symlink') entry.linkname = f.linkname;
    if (type === 'link') {
      entry.linkname = f.linkname?.startsWith('/') ? join(relPath(f.linkname)) : f.linkname;
      // a hardlink shares its target's inode, so its header carries the target's mode
      const target = list.find((x) => x.entry.name === entry.linkname);
      if (f.mode === undefined && target) entry.mode = target.entry.mode;
    }
    if (type.endsWith('device')) {
      entry.devmajor = f.devmajor ?? 1;
      entry.devminor = f.devminor ?? 3;
    }
    list.push({ rel, entry });
  }
  if (parents) {
    const have = new Set(list.filter((x) => x.rel !== null).map((x) => x.rel));
    const add = (rel) => {
      if (have.has(rel)) return;
      have.add(rel);
      list.push({ rel, entry: { name: join(rel), type: 'directory', mode: rel === '' ? (opts.rootMode ?? 0o755) : 0o755, uid: opts.uid ?? 0, gid: opts.gid ?? 0, mtime } });
    };
    add('');
    for (const x of [...list]) {
      if (x.rel === null || x.rel === '' || x.rel.split('/').includes('..')) continue;
      const parts = x.rel.split('/');
      for (let i = 1; i < parts.length; i++) add(parts.slice(0, i).join('/'));
    }
  }
  if (order === 'tree') {
    // Stable: duplicates keep their relative order; verbatim names go last, in given order.
    const indexed = list.map((x, i) => ({ ...x, i }));
    indexed.sort((a, b) => {
      if (a.rel === null || b.rel === null) return a.rel === null && b.rel === null ? a.i - b.i : a.rel === null ? 1 : -1;
      return compareTreeOrder(a.rel, b.rel) || a.i - b.i;
    });
    return indexed.map((x) => x.entry);
  }
  return list.map((x) => x.entry);
}

/** Installed size as portage records it in SIZE: the sum of the regular files' sizes. */
function installedSize(files) {
  return files.filter((f) => (f.type ?? 'file') === 'file').reduce((n, f) => n + Buffer.byteLength(f.content ?? ''), 0);
}

// ---------------------------------------------------------------------------------------------
// metadata

/** A tiny saved ebuild environment, as portage keeps in environment.bz2 (bzip2 -9). */
function defaultEnvironment(category, pf, metadata) {
  const lines = ['declare -x CATEGORY="' + category + '"', 'declare -x PF="' + pf + '"'];
  for (const k of ['EAPI', 'SLOT', 'USE', 'IUSE', 'KEYWORDS', 'CHOST']) {
    if (typeof metadata[k] === 'string') lines.push(`declare -x ${k}="${metadata[k].trim()}"`);
  }
  lines.push('declare -- PORTAGE_REPO_NAME="gentoo"', 'src_install () ', '{ ', '    default', '}', '');
  return lines.join('\n');
}

/** A small ebuild matching the metadata, stored as metadata/${PF}.ebuild. */
function defaultEbuild(metadata) {
  const v = (k) => (typeof metadata[k] === 'string' ? metadata[k].trim() : '');
  const lines = ['# Copyright 2026 kiln test fixtures', '# Distributed under the terms of the GNU General Public License v2', '', `EAPI=${v('EAPI') || '8'}`, ''];
  lines.push(`DESCRIPTION="${v('DESCRIPTION') || 'kiln test fixture'}"`, 'HOMEPAGE="https://kiln.invalid"', '', `LICENSE="${v('LICENSE') || 'MIT'}"`, `SLOT="${v('SLOT') || '0'}"`, `KEYWORDS="${v('KEYWORDS')}"`);
  if (v('IUSE')) lines.push(`IUSE="${v('IUSE')}"`);
  for (const k of ['RDEPEND', 'PDEPEND', 'IDEPEND', 'DEPEND', 'BDEPEND']) if (v(k)) lines.push(`${k}="${v(k)}"`);
  lines.push('', 'S=${WORKDIR}', '');
  return lines.join('\n');
}

/**
 * The metadata files of a package (GPKG metadata/ or the XPAK index), as portage writes the
 * build-info directory: one file per key, values ending in a newline; keys whose value is empty
 * are left out (portage skips them) except USE, which portage always writes; BUILD_ID is written
 * WITHOUT a newline (misc-functions.sh: `echo -n "${BUILD_ID}" > build-info/BUILD_ID`).
 * Added unless given: CATEGORY, PF, BUILD_ID (when buildId), EAPI 8, SLOT 0, USE, BUILD_TIME,
 * SIZE (installed size), repository gentoo, environment.bz2 and ${PF}.ebuild.
 * A Buffer value is written byte for byte; null leaves the key out.
 * @param {{ category: string, pf: string, buildId?: number|null, metadata?: Record<string, string|Buffer|null>, files?: FileSpec[], mtime?: number }} desc
 * @returns {Record<string, Buffer>} sorted by key
 */
function metadataFiles(desc) {
  const md = { ...(desc.metadata ?? {}) };
  const mtime = desc.mtime ?? DEFAULT_MTIME;
  /** @type {Record<string, string|Buffer|null>} */
  const all = {
    CATEGORY: desc.category,
    PF: desc.pf,
    EAPI: '8',
    SLOT: '0',
    USE: '',
    BUILD_TIME: String(mtime),
    SIZE: String(installedSize(desc.files ?? [])),
    repository: 'gentoo',
    ...md,
  };
  if (desc.buildId != null && !('BUILD_ID' in md)) all.BUILD_ID = Buffer.from(String(desc.buildId));
  if (!('environment.bz2' in md)) all['environment.bz2'] = compress(Buffer.from(defaultEnvironment(desc.category, desc.pf, all)), 'bz2');
  if (!(`${desc.pf}.ebuild` in md)) all[`${desc.pf}.ebuild`] = defaultEbuild(all);
  /** @type {Record<string, Buffer>} */
  const out = {};
  for (const k of Object.keys(all).sort()) {
    const v = all[k];
    if (v === null || v === undefined) continue;
    if (Buffer.isBuffer(v)) out[k] = v;
    else if (v === '' && k !== 'USE') continue;
    else out[k] = Buffer.from(v.endsWith('\n') || k.endsWith('.ebuild') ? v : v + '\n');
  }
  return out;
}

/** Strips the trailing newline portage adds: metadata file -> value. @param {Buffer} b */
function metadataValue(b) {
  return b.toString('utf8').replace(/\n$/, '');
}

// ---------------------------------------------------------------------------------------------
// OpenPGP

/**
 * @typedef {object} SignSpec
 * @property {string} gnupghome a private GNUPGHOME holding the secret key (never ~/.gnupg)
 * @property {string} keyid fingerprint or key id of the signing key
 * @property {string} [digestAlgo] default SHA512 (portage's BINPKG_GPG_SIGNING_DIGEST)
 */

/**
 * Signs with gpg as portage does: `gpg --sign --armor --homedir H --digest-algo SHA512
 * --local-user K --detach-sig|--clear-sign --batch --no-tty`.
 * @param {Buffer|string} data
 * @param {SignSpec} sign
 * @param {'detach'|'clear'} mode
 * @returns {Buffer} an armoured detached signature, or the clear-signed text
 */
function gpgSign(data, sign, mode) {
  const home = realHome(sign.gnupghome);
  const args = ['--homedir', home, '--batch', '--no-tty', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--sign', '--armor', '--digest-algo', sign.digestAlgo ?? 'SHA512', '--local-user', sign.keyid, mode === 'clear' ? '--clear-sign' : '--detach-sig', '--output', '-'];
  return run('gpg', args, Buffer.from(data), { ...process.env, GNUPGHOME: home });
}

/**
 * The GNUPGHOME path handed to gpg: symlinks resolved, as build.js links OUTDIR/keys/gnupg to a
 * short directory when OUTDIR is too long for gpg-agent's socket path (~107 bytes).
 * @param {string} gnupghome
 */
function realHome(gnupghome) {
  try {
    return fs.realpathSync(gnupghome);
  } catch {
    return gnupghome;
  }
}

/** Stops the gpg-agent (and other daemons) a GNUPGHOME started; safe if none runs. */
function gpgKillAgent(gnupghome) {
  const home = realHome(gnupghome);
  spawnSync('gpgconf', ['--homedir', home, '--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
}

// ---------------------------------------------------------------------------------------------
// GPKG

/**
 * A Manifest line as portage's _record_checksum writes it: the member's name WITHOUT the
 * `<basename>/` directory, its size, then BLAKE2B and SHA512 (MANIFEST2_HASH_DEFAULTS; portage
 * iterates a frozenset, so the pair's order is not fixed there; readers look hashes up by name).
 * @param {string} name
 * @param {Buffer} content
 */
function manifestLine(name, content) {
  return `DATA ${name} ${content.length} BLAKE2B ${hash('blake2b512', content)} SHA512 ${hash('sha512', content)}`;
}

/**
 * @typedef {object} Member a member of the GPKG container
 * @property {string} name name inside `<basename>/`, e.g. 'image.tar.zst'
 * @property {Buffer} content
 * @property {string} [rawName] the verbatim container name, instead of `<basename>/<name>`
 * @property {number} [mode]
 * @property {number} [mtime]
 * @property {TarEntry['type']} [type]
 * @property {string} [linkname]
 */

/**
 * @typedef {object} GpkgSpec
 * @property {string} category
 * @property {string} pf  e.g. 'hello-1.0-r1'
 * @property {number|null} [buildId] basename is `${pf}-${buildId}` when set, as
 *   misc-functions.sh passes "${PF}${BUILD_ID:+-${BUILD_ID}}"
 * @property {string} [basename] overrides the basename
 * @property {Record<string, string|Buffer|null>} [metadata] see metadataFiles()
 * @property {FileSpec[]} [files]
 * @property {TarEntry[]} [rawImageEntries] appended verbatim after the image entries
 * @property {'tree'|'given'} [order] image entry order (see imageEntries)
 * @property {boolean} [parents] add image/ and missing parent dirs (default true)
 * @property {string} [comp] zst (default) | xz | gz | bz2 | none
 * @property {boolean} [zstdLong]
 * @property {SignSpec|null} [sign]
 * @property {number} [mtime] default 1700000000, for every entry and BUILD_TIME
 * @property {{ members?: (m: Member[]) => Member[], manifest?: (lines: string[]) => string[], manifestText?: (text: string) => string|Buffer, container?: (m: Member[]) => Member[], metadataTar?: (t: TarEntry[]) => TarEntry[], imageTar?: (t: TarEntry[]) => TarEntry[] }} [tamper]
 *   hooks, in build order: metadataTar / imageTar get the inner entries before packing;
 *   members gets [gpkg-1, metadata.tar.X, (.sig), image.tar.X, (.sig)] before the Manifest is
 *   computed (so anything added is hashed); manifest gets the DATA lines (drop one, change a hash);
 *   manifestText gets the unsigned text; container gets the final list, Manifest included (add an
 *   unlisted member, duplicate or reorder).
 */

/**
 * Builds a GPKG: an uncompressed ustar tar whose members are all `<basename>/<file>`, no directory
 * entries, in order: gpkg-1 (empty), metadata.tar.X [+ .sig], image.tar.X [+ .sig], Manifest.
 * Signed (sign set): metadata and image get armoured detached signatures, the .sig members are
 * listed in the Manifest like any member, and the Manifest is clear-signed (gpkg-1 is never
 * signed). Unsigned: no .sig members, a plain Manifest.
 * @param {GpkgSpec} spec
 * @returns {Promise<Buffer>}
 */
async function makeGpkg(spec) {
  const parts = await makeGpkgParts(spec);
  return parts.buffer;
}

/**
 * makeGpkg, also returning its parts (for tests and the build's manifest.json).
 * @param {GpkgSpec} spec
 */
async function makeGpkgParts(spec) {
  const comp = normComp(spec.comp ?? 'zst');
  const ext = compExt(comp);
  const mtime = spec.mtime ?? DEFAULT_MTIME;
  const tamper = spec.tamper ?? {};
  const basename = spec.basename ?? (spec.buildId != null ? `${spec.pf}-${spec.buildId}` : spec.pf);
  const files = spec.files ?? [];

  const metadata = metadataFiles({ ...spec, mtime });
  // portage's _add_metadata: addfile() per key, no directory entry, default TarInfo (0644, uid 0)
  let metaEntries = Object.entries(metadata).map(([k, v]) => /** @type {TarEntry} */ ({ name: `metadata/${k}`, content: v, mode: 0o644, uname: '', gname: '', mtime }));
  if (tamper.metadataTar) metaEntries = tamper.metadataTar(metaEntries);
  const metadataTar = await packTar(metaEntries);

  let imgEntries = imageEntries(files, { prefix: 'image', order: spec.order, parents: spec.parents, mtime });
  if (spec.rawImageEntries) imgEntries = imgEntries.concat(spec.rawImageEntries);
  if (tamper.imageTar) imgEntries = tamper.imageTar(imgEntries);
  const imageTar = await packTar(imgEntries);

  const metadataComp = compress(metadataTar, comp, spec);
  const imageComp = compress(imageTar, comp, spec);

  /** @type {Member[]} */
  let members = [{ name: 'gpkg-1', content: Buffer.alloc(0) }];
  members.push({ name: `metadata.tar${ext}`, content: metadataComp });
  if (spec.sign) members.push({ name: `metadata.tar${ext}.sig`, content: gpgSign(metadataComp, spec.sign, 'detach') });
  members.push({ name: `image.tar${ext}`, content: imageComp });
  if (spec.sign) members.push({ name: `image.tar${ext}.sig`, content: gpgSign(imageComp, spec.sign, 'detach') });
  if (tamper.members) members = tamper.members(members);

  let lines = members.map((m) => manifestLine(m.name, m.content));
  if (tamper.manifest) lines = tamper.manifest(lines);
  /** @type {string|Buffer} */
  let manifestText = lines.map((l) => l + '\n').join('');
  if (tamper.manifestText) manifestText = tamper.manifestText(manifestText);
  const manifest = spec.sign ? gpgSign(manifestText, spec.sign, 'clear') : Buffer.from(manifestText);

  let container = [...members, { name: 'Manifest', content: manifest }];
  if (tamper.container) container = tamper.container(container);

  const buffer = await packTar(
    container.map((m) => ({ name: m.rawName ?? `${basename}/${m.name}`, type: m.type ?? 'file', content: m.content, mode: m.mode ?? 0o644, uname: '', gname: '', mtime: m.mtime ?? mtime, linkname: m.linkname })),
  );
  return { buffer, basename, comp, metadata, metadataTar, imageTar, members: container, manifest };
}

// ---------------------------------------------------------------------------------------------
// XPAK

/** @param {number} n */
function u32be(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * portage's xpak_mem(): "XPAKPACK" u32 index_len u32 data_len index data "XPAKSTOP", index
 * entries `u32 name_len, name, u32 data_offset, u32 data_len`, in the map's order (portage's
 * xpak() sorts the file names; pass a sorted map for that).
 * @param {Record<string, Buffer|string>} map
 */
function xpakMem(map) {
  const index = [];
  const data = [];
  let pos = 0;
  for (const [k, v] of Object.entries(map)) {
    const name = Buffer.from(k);
    const body = Buffer.from(v);
    index.push(u32be(name.length), name, u32be(pos), u32be(body.length));
    data.push(body);
    pos += body.length;
  }
  const indexBuf = Buffer.concat(index);
  const dataBuf = Buffer.concat(data);
  return Buffer.concat([Buffer.from('XPAKPACK'), u32be(indexBuf.length), u32be(dataBuf.length), indexBuf, dataBuf, Buffer.from('XPAKSTOP')]);
}

/**
 * The tbz2 trailer portage's recompose_mem() writes after the compressed tar:
 * xpak + u32be(len(xpak)) + "STOP".
 * @param {Buffer} xpak
 */
function xpakTrailer(xpak) {
  return Buffer.concat([xpak, u32be(xpak.length), Buffer.from('STOP')]);
}

/**
 * Parses a tbz2/xpak file the way portage's tbz2.scan() does. Returns null if not one.
 * @param {Buffer} buf
 * @returns {{ tar: Buffer, xpak: Buffer, entries: Record<string, Buffer> } | null}
 */
function parseXpak(buf) {
  if (buf.length < 16 || buf.subarray(-4).toString('latin1') !== 'STOP') return null;
  const trailer = buf.subarray(-16);
  if (trailer.subarray(0, 8).toString('latin1') !== 'XPAKSTOP') return null;
  const infosize = trailer.readUInt32BE(8);
  const start = buf.length - 8 - infosize;
  if (start < 0) return null;
  const xpak = buf.subarray(start, buf.length - 8);
  if (xpak.subarray(0, 8).toString('latin1') !== 'XPAKPACK') return null;
  const indexLen = xpak.readUInt32BE(8);
  const dataLen = xpak.readUInt32BE(12);
  const index = xpak.subarray(16, 16 + indexLen);
  const data = xpak.subarray(16 + indexLen, 16 + indexLen + dataLen);
  /** @type {Record<string, Buffer>} */
  const entries = {};
  for (let p = 0; p + 8 < index.length; ) {
    const nl = index.readUInt32BE(p);
    const name = index.subarray(p + 4, p + 4 + nl).toString('utf8');
    const off = index.readUInt32BE(p + 4 + nl);
    const len = index.readUInt32BE(p + 8 + nl);
    entries[name] = data.subarray(off, off + len);
    p += 12 + nl;
  }
  return { tar: buf.subarray(0, start), xpak, entries };
}

/**
 * @typedef {object} XpakSpec
 * @property {string} category
 * @property {string} pf
 * @property {number|null} [buildId]
 * @property {Record<string, string|Buffer|null>} [metadata]
 * @property {FileSpec[]} [files]
 * @property {TarEntry[]} [rawImageEntries]
 * @property {'tree'|'given'} [order]
 * @property {boolean} [parents]
 * @property {string} [comp] the tar's compression: bz2 (default; portage's historical choice), or zst, xz, gz
 * @property {number} [mtime]
 * @property {{ tar?: (t: TarEntry[]) => TarEntry[], xpak?: (map: Record<string, Buffer>) => Record<string, Buffer|string>, trailer?: (b: Buffer) => Buffer }} [tamper]
 */

/**
 * Builds a legacy binary package: `<compressed tar of the image><xpak><u32be len(xpak)>STOP`.
 * The tar is what misc-functions.sh makes with `tar -cf - -C "${D}" .`: names `./`, `./usr/`,
 * `./usr/bin/hello`..., hardlink targets `./usr/bin/hello`. The xpak holds the metadata files.
 * @param {XpakSpec} spec
 * @returns {Promise<Buffer>}
 */
async function makeXpak(spec) {
  return (await makeXpakParts(spec)).buffer;
}

/** @param {XpakSpec} spec */
async function makeXpakParts(spec) {
  const mtime = spec.mtime ?? DEFAULT_MTIME;
  const tamper = spec.tamper ?? {};
  let entries = imageEntries(spec.files ?? [], { prefix: '.', order: spec.order, parents: spec.parents, mtime });
  if (spec.rawImageEntries) entries = entries.concat(spec.rawImageEntries);
  if (tamper.tar) entries = tamper.tar(entries);
  const tar = await packTar(entries);
  const tarComp = compress(tar, spec.comp ?? 'bz2');
  const metadata = metadataFiles({ ...spec, mtime });
  /** @type {Record<string, Buffer|string>} */
  const map = tamper.xpak ? tamper.xpak(metadata) : metadata;
  const xpak = xpakMem(map);
  /** @type {Buffer} */
  let trailer = xpakTrailer(xpak);
  if (tamper.trailer) trailer = tamper.trailer(trailer);
  return { buffer: Buffer.concat([tarComp, trailer]), tar, metadata, xpak };
}

// ---------------------------------------------------------------------------------------------
// Packages index

/** portage's _pkgindex_translated_keys: internal name <-> name written in Packages */
const TRANSLATED = [
  ['DESCRIPTION', 'DESC'],
  ['_mtime_', 'MTIME'],
  ['repository', 'REPO'],
];
/** portage's _pkgindex_default_pkg_data: a value equal to its default is not written */
const DEFAULT_PKG_DATA = {
  BDEPEND: '',
  BUILD_ID: '',
  BUILD_TIME: '',
  DEFINED_PHASES: '',
  DEPEND: '',
  EAPI: '0',
  IDEPEND: '',
  IUSE: '',
  KEYWORDS: '',
  LICENSE: '',
  PATH: '',
  PDEPEND: '',
  PROPERTIES: '',
  PROVIDES: '',
  RDEPEND: '',
  REQUIRES: '',
  RESTRICT: '',
  SLOT: '0',
  USE: '',
};
/** portage's _pkgindex_inherited_keys: not written when equal to the header's value */
const INHERITED = ['CHOST', 'repository'];
/**
 * metadata keys portage copies from a package into its Packages entry: bindbapi._aux_cache_keys
 * (DESCRIPTION is not one, so portage-made indexes have no DESC lines)
 */
const INDEX_METADATA_KEYS = ['BDEPEND', 'BUILD_ID', 'BUILD_TIME', 'CHOST', 'DEFINED_PHASES', 'DEPEND', 'EAPI', 'IDEPEND', 'IUSE', 'KEYWORDS', 'LICENSE', 'PDEPEND', 'PROPERTIES', 'PROVIDES', 'RDEPEND', 'repository', 'REQUIRES', 'RESTRICT', 'SLOT', 'USE'];

/**
 * The Packages entry portage's _pkgindex_entry() makes for a package file: its metadata, MD5 and
 * SHA1 of the file (_pkgindex_hashes), SIZE = the FILE's size (not the installed SIZE), PATH
 * relative to the binhost root, CPV, MTIME = the file's mtime.
 * @param {{ buffer: Buffer, cpv: string, path: string, metadata: Record<string, Buffer|string>, mtime?: number }} pkg
 * @returns {Record<string, string>} internal key names (repository, _mtime_)
 */
function packageIndexEntry(pkg) {
  /** @type {Record<string, string>} */
  const d = {};
  for (const k of INDEX_METADATA_KEYS) {
    const v = pkg.metadata[k];
    if (v !== undefined && v !== null) d[k] = (Buffer.isBuffer(v) ? metadataValue(v) : String(v).replace(/\n$/, '')).trim();
  }
  d.CPV = pkg.cpv;
  d.MD5 = hash('md5', pkg.buffer);
  d.SHA1 = hash('sha1', pkg.buffer);
  d.SIZE = String(pkg.buffer.length);
  d.PATH = pkg.path;
  d._mtime_ = String(pkg.mtime ?? DEFAULT_MTIME);
  return d;
}

/**
 * The text of a Packages file, as portage's PackageIndex.write(): the header's keys sorted, empty
 * values left out; a blank line; then one block per package sorted by CPV (plain string order,
 * stable, so instances of one CPV keep their order), keys sorted by portage's INTERNAL names and
 * written translated (so MTIME and REPO come last, after USE), values equal to portage's defaults
 * (EAPI 0, SLOT 0, empty) or to the header's CHOST/repository left out; each block ends with a
 * blank line. TIMESTAMP defaults to 1700000000, PACKAGES is the count, VERSION is 0.
 * @param {Record<string, string|number>} header
 * @param {Record<string, string|number>[]} entries keys may be internal (repository, _mtime_,
 *   DESCRIPTION) or as written (REPO, MTIME, DESC)
 */
function packagesIndexText(header, entries) {
  const fromWritten = Object.fromEntries(TRANSLATED.map(([a, b]) => [b, a]));
  const toWritten = Object.fromEntries(TRANSLATED);
  /** @type {Record<string, string>} */
  const h = { VERSION: '0', TIMESTAMP: String(DEFAULT_MTIME) };
  for (const [k, v] of Object.entries(header)) h[k] = String(v);
  h.PACKAGES = String(entries.length);
  const block = (pairs) => pairs.map(([k, v]) => `${k}: ${v}\n`).join('') + '\n';
  let out = block(
    Object.keys(h)
      .sort()
      .filter((k) => h[k])
      .map((k) => [k, h[k]]),
  );
  const pkgs = entries.map((e) => {
    /** @type {Record<string, string>} */
    const d = {};
    for (const [k, v] of Object.entries(e)) d[fromWritten[k] ?? k] = String(v);
    return d;
  });
  const sorted = pkgs.map((d, i) => ({ d, i })).sort((a, b) => (a.d.CPV < b.d.CPV ? -1 : a.d.CPV > b.d.CPV ? 1 : a.i - b.i));
  for (const { d } of sorted) {
    for (const k of INHERITED) if (h[k] && h[k] === d[k]) delete d[k];
    for (const [k, v] of Object.entries(DEFAULT_PKG_DATA)) if (d[k] === v) delete d[k];
    out += block(
      Object.keys(d)
        .sort()
        .filter((k) => d[k])
        .map((k) => [toWritten[k] ?? k, d[k]]),
    );
  }
  return out;
}

/**
 * Writes `Packages` and `Packages.gz` (FEATURES=compress-index; gzip with its MTIME field set to
 * TIMESTAMP, as portage's GzipFile(mtime=TIMESTAMP)) into dir, both with mtime TIMESTAMP.
 * @param {string} dir
 * @param {Record<string, string|number>} header
 * @param {Record<string, string|number>[]} entries
 * @returns {{ text: string, gz: Buffer }}
 */
function writePackagesIndex(dir, header, entries) {
  const text = packagesIndexText(header, entries);
  const ts = Number(header.TIMESTAMP ?? DEFAULT_MTIME);
  const gz = zlib.gzipSync(Buffer.from(text), { level: 9 });
  gz.writeUInt32LE(ts >>> 0, 4);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Packages'), text);
  fs.writeFileSync(path.join(dir, 'Packages.gz'), gz);
  for (const f of ['Packages', 'Packages.gz']) fs.utimesSync(path.join(dir, f), ts, ts);
  return { text, gz };
}

/**
 * Where portage puts a package in a binhost (binpkg-multi-instance, on by default):
 * GPKG `cat/pn/pf-BUILDID.gpkg.tar`, XPAK `cat/pn/pf-BUILDID.xpak`; without a build id:
 * `cat/pf.gpkg.tar` / `cat/pf.tbz2`.
 * @param {{ category: string, pn: string, pf: string, buildId?: number|null, format?: 'gpkg'|'xpak' }} p
 */
function binpkgPath(p) {
  const format = p.format ?? 'gpkg';
  if (p.buildId != null) return `${p.category}/${p.pn}/${p.pf}-${p.buildId}.${format === 'xpak' ? 'xpak' : 'gpkg.tar'}`;
  return `${p.category}/${p.pf}.${format === 'xpak' ? 'tbz2' : 'gpkg.tar'}`;
}

module.exports = {
  DEFAULT_MTIME,
  binpkgPath,
  compExt,
  compress,
  decompress,
  gpgKillAgent,
  gpgSign,
  hash,
  realHome,
  imageEntries,
  installedSize,
  makeGpkg,
  makeGpkgParts,
  makeXpak,
  makeXpakParts,
  manifestLine,
  metadataFiles,
  metadataValue,
  packTar,
  packageIndexEntry,
  packagesIndexText,
  parseXpak,
  writePackagesIndex,
  xpakMem,
  xpakTrailer,
};
