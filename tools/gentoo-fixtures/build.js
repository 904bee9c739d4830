#!/usr/bin/env node
'use strict';
/**
 * Builds real-format Gentoo fixtures from small trees, deterministically (the same bytes on every
 * run, except the OpenPGP keys and everything signed: signatures, signed packages and their
 * hashes in Packages / manifest.json):
 *
 *   node tools/gentoo-fixtures/build.js OUTDIR
 *
 *   OUTDIR/keys/       gnupg/ (private GNUPGHOME: both secret keys), test.asc, test.gpg,
 *                      other.asc, other.gpg
 *   OUTDIR/binhost/    Packages, Packages.gz, <cat>/<pn>/<pf>-<BUILD_ID>.gpkg.tar | .xpak
 *   OUTDIR/releases/amd64/autobuilds/
 *                      latest-stage3-amd64-systemd.txt (clear-signed)
 *                      20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz
 *                        + .asc (detached), .DIGESTS (clear-signed), .sha256
 *   OUTDIR/snapshots/  gentoo-20261101.tar.xz, gentoo-latest.tar.xz (the repository's profiles),
 *                        + .gpgsig (detached), .md5sum
 *   OUTDIR/manifest.json  what was built (see README.md)
 *
 * Also a library: `build(outdir) -> Promise<manifest>`.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const g = require('./gpkg.js');

const MTIME = g.DEFAULT_MTIME;
const STAGE3_STAMP = '20261101T000000Z';
const STAGE3_TS = Date.UTC(2026, 10, 1) / 1000; // 1793491200
const STAGE3_NAME = `stage3-amd64-systemd-${STAGE3_STAMP}.tar.xz`;
const CHOST = 'x86_64-pc-linux-gnu';
const TEST_UID = 'kiln test signing key <test@kiln.invalid>';
const OTHER_UID = 'kiln other key <other@kiln.invalid>';

// ---------------------------------------------------------------------------------------------
// keys

function gpg(home, args, input) {
  home = g.realHome(home);
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--no-tty', ...args], { input, env: { ...process.env, GNUPGHOME: home }, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Makes an ed25519 signing key without passphrase; returns its fingerprint. */
function makeKey(home, uid) {
  gpg(home, ['--pinentry-mode', 'loopback', '--passphrase', '', '--quick-generate-key', uid, 'ed25519', 'sign', 'never']);
  const colons = gpg(home, ['--with-colons', '--list-secret-keys', uid]).toString();
  const fpr = colons.split('\n').find((l) => l.startsWith('fpr:'));
  if (!fpr) throw new Error(`no fingerprint for ${uid}`);
  return fpr.split(':')[9];
}

/**
 * OUTDIR/keys/gnupg. gpg-agent's sockets live in the homedir and a socket path must fit in
 * ~107 bytes: for a long OUTDIR, the homedir is a short directory under os.tmpdir() and
 * keys/gnupg a symlink to it (gpkg.js resolves it; build() removes it on the next build).
 */
function makeHome(keysDir) {
  const home = path.join(keysDir, 'gnupg');
  if (Buffer.byteLength(home) + '/S.gpg-agent.browser'.length < 100) {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  } else {
    fs.symlinkSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gnupg-')), home);
  }
  fs.chmodSync(g.realHome(home), 0o700);
  return home;
}

function makeKeys(keysDir) {
  const home = makeHome(keysDir);
  const keys = {};
  for (const [name, uid] of [
    ['test', TEST_UID],
    ['other', OTHER_UID],
  ]) {
    const fingerprint = makeKey(home, uid);
    fs.writeFileSync(path.join(keysDir, `${name}.asc`), gpg(home, ['--armor', '--export', fingerprint]));
    fs.writeFileSync(path.join(keysDir, `${name}.gpg`), gpg(home, ['--export', fingerprint]));
    keys[name] = { fingerprint, uid, asc: `keys/${name}.asc`, gpg: `keys/${name}.gpg` };
  }
  return { home, keys };
}

// ---------------------------------------------------------------------------------------------
// packages

const sh = (body) => `#!/bin/sh\n${body}\n`;

const OS_RELEASE = ['NAME=Gentoo', 'ID=gentoo', 'PRETTY_NAME="Gentoo Linux"', 'VERSION_ID="2.17"', 'ANSI_COLOR="1;32"', 'HOME_URL="https://www.gentoo.org/"', 'SUPPORT_URL="https://www.gentoo.org/support/"', 'BUG_REPORT_URL="https://bugs.gentoo.org/"', ''].join('\n');
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\n';
const GROUP = 'root:x:0:root\n';

/** The merged-usr skeleton, shared by baselayout and the stage3. @type {import('./gpkg.js').FileSpec[]} */
const MERGED_USR = [
  { path: '/usr/bin', type: 'dir' },
  { path: '/usr/lib', type: 'dir' },
  { path: '/usr/lib64', type: 'dir' },
  { path: '/bin', type: 'symlink', linkname: 'usr/bin' },
  { path: '/sbin', type: 'symlink', linkname: 'usr/bin' },
  { path: '/usr/sbin', type: 'symlink', linkname: 'bin' },
  { path: '/lib', type: 'symlink', linkname: 'usr/lib' },
  { path: '/lib64', type: 'symlink', linkname: 'usr/lib64' },
  { path: '/etc', type: 'dir' },
  { path: '/var', type: 'dir' },
  { path: '/tmp', type: 'dir', mode: 0o1777 },
  { path: '/root', type: 'dir', mode: 0o700 },
  { path: '/home', type: 'dir' },
];

const COMMON_METADATA = {
  EAPI: '8',
  KEYWORDS: 'amd64',
  repository: 'gentoo',
  CHOST,
  CBUILD: CHOST,
  CFLAGS: '-O2 -pipe',
  CXXFLAGS: '-O2 -pipe',
  LDFLAGS: '-Wl,-O1 -Wl,--as-needed',
  LICENSE: 'MIT',
  HOMEPAGE: 'https://kiln.invalid',
  DEFINED_PHASES: 'install',
};

/**
 * Every binhost package. format gpkg (default) or xpak; comp zst unless said.
 * @type {{ category: string, pn: string, pv: string, pf?: string, buildId: number, format?: 'gpkg'|'xpak', comp?: string, signed?: boolean, metadata: Record<string,string>, files: import('./gpkg.js').FileSpec[] }[]}
 */
const PACKAGES = [
  {
    category: 'sys-apps',
    pn: 'baselayout',
    pv: '2.17',
    buildId: 1,
    metadata: { SLOT: '0', DESCRIPTION: 'Filesystem baselayout and init scripts', LICENSE: 'GPL-2', DEFINED_PHASES: 'install postinst preinst' },
    files: [
      ...MERGED_USR,
      { path: '/var/empty', type: 'dir' },
      { path: '/usr/lib/os-release', content: OS_RELEASE },
      { path: '/etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { path: '/etc/passwd', content: PASSWD },
      { path: '/etc/group', content: GROUP },
      { path: '/usr/lib/sysusers.d/baselayout.conf', content: 'g kiln-test 950\nu kiln-test 950 "kiln fixture user" /var/empty\n' },
    ],
  },
  {
    category: 'sys-libs',
    pn: 'fakelibc',
    pv: '2.40',
    pf: 'fakelibc-2.40-r1',
    buildId: 1,
    metadata: { SLOT: '2.2', DESCRIPTION: 'A libc-like fixture (installs through the /lib and /lib64 symlinks)', RDEPEND: 'sys-apps/baselayout', IDEPEND: 'sys-apps/locale-gen', DEFINED_PHASES: 'compile configure install postinst preinst prepare' },
    files: [
      { path: '/lib64/ld-fake.so.2', content: 'fake dynamic loader\n', mode: 0o755 },
      { path: '/lib/libfake.so.6', content: 'fake libc\n', mode: 0o755 },
      { path: '/etc/ld.so.conf', content: '# ld.so.conf\ninclude /etc/ld.so.conf.d/*.conf\n' },
    ],
  },
  {
    category: 'app-alt',
    pn: 'one',
    pv: '1.0',
    buildId: 1,
    comp: 'xz',
    metadata: { DESCRIPTION: 'Alternative one (xz-compressed GPKG)' },
    files: [{ path: '/usr/bin/one', content: sh('echo one'), mode: 0o755 }],
  },
  {
    category: 'app-alt',
    pn: 'two',
    pv: '1.0',
    buildId: 1,
    comp: 'gz',
    metadata: { DESCRIPTION: 'Alternative two (gzip-compressed GPKG)' },
    files: [{ path: '/usr/bin/two', content: sh('echo two'), mode: 0o755 }],
  },
  {
    category: 'app-misc',
    pn: 'hello',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Says hello', RDEPEND: 'sys-libs/fakelibc || ( app-alt/two app-alt/one )', PDEPEND: 'app-misc/hello-data' },
    files: [
      { path: '/usr/bin/hello', content: sh('cat /usr/share/hello/greeting'), mode: 0o755 },
      { path: '/usr/bin/hello-again', type: 'hardlink', linkname: '/usr/bin/hello' },
      { path: '/usr/bin/hi', type: 'symlink', linkname: 'hello' },
      { path: '/usr/share/hello/greeting', content: 'Hello from kiln fixtures\n' },
    ],
  },
  {
    category: 'app-misc',
    pn: 'hello-data',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Data for hello', RDEPEND: 'app-misc/hello' },
    files: [{ path: '/usr/share/hello-data/words.txt', content: 'hello\nworld\n' }],
  },
  {
    category: 'app-misc',
    pn: 'conflict',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Blocks hello', RDEPEND: '!app-misc/hello' },
    files: [{ path: '/usr/share/conflict/README', content: 'I block app-misc/hello\n' }],
  },
  {
    category: 'app-misc',
    pn: 'multi',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Multi-instance package, USE=foo build', IUSE: 'foo', USE: 'foo' },
    files: [{ path: '/usr/share/multi/flavour', content: 'foo\n' }],
  },
  {
    category: 'app-misc',
    pn: 'multi',
    pv: '1.0',
    buildId: 2,
    metadata: { DESCRIPTION: 'Multi-instance package, USE=-foo build', IUSE: 'foo', USE: '' },
    files: [{ path: '/usr/share/multi/flavour', content: 'plain\n' }],
  },
  {
    category: 'app-misc',
    pn: 'wants-multi',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Needs multi built with USE=foo', RDEPEND: 'app-misc/multi[foo]' },
    files: [{ path: '/usr/share/wants-multi/README', content: 'needs app-misc/multi[foo]\n' }],
  },
  {
    category: 'app-misc',
    pn: 'signed',
    pv: '1.0',
    buildId: 1,
    signed: true,
    metadata: { DESCRIPTION: 'A signed GPKG (kiln test signing key)' },
    files: [{ path: '/usr/share/signed/README', content: 'signed by the kiln test key\n' }],
  },
  // Portage's masks and merge rules (issue 14): what a default portage refuses or protects.
  {
    category: 'app-misc',
    pn: 'testing',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Keyworded for testing only (~amd64)', KEYWORDS: '~amd64' },
    files: [{ path: '/usr/share/testing/README', content: 'a ~amd64 package\n' }],
  },
  {
    category: 'app-misc',
    pn: 'unkeyworded',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'No KEYWORDS at all', KEYWORDS: '' },
    files: [{ path: '/usr/share/unkeyworded/README', content: 'no keywords\n' }],
  },
  {
    category: 'app-misc',
    pn: 'future-eapi',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'An EAPI no portage supports yet', EAPI: '10' },
    files: [{ path: '/usr/share/future-eapi/README', content: 'EAPI 10\n' }],
  },
  {
    category: 'app-misc',
    pn: 'musl-built',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Built for another CHOST', CHOST: 'x86_64-pc-linux-musl', CBUILD: 'x86_64-pc-linux-musl' },
    files: [{ path: '/usr/share/musl-built/README', content: 'musl\n' }],
  },
  {
    category: 'app-misc',
    pn: 'collide',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Installs files hello and fakelibc own (a file collision)', RDEPEND: 'app-misc/hello' },
    files: [
      { path: '/usr/bin/hello', content: sh('echo not the real hello'), mode: 0o755 },
      { path: '/usr/lib/libfake.so.6', content: 'another libc\n', mode: 0o755 },
    ],
  },
  {
    category: 'app-misc',
    pn: 'confd',
    pv: '1.0',
    buildId: 1,
    metadata: { DESCRIPTION: 'Configuration files (CONFIG_PROTECT)' },
    files: [
      { path: '/etc/confd.conf', content: 'setting = package\n' },
      { path: '/etc/confd-same.conf', content: 'same = yes\n' },
      { path: '/etc/env.d/50confd', content: 'CONFD=package\n' },
      { path: '/etc/confd.d/.keep_confd', content: '' },
      { path: '/usr/share/confd/README', content: 'confd\n' },
    ],
  },
  {
    category: 'app-misc',
    pn: 'legacy',
    pv: '1.0',
    buildId: 1,
    format: 'xpak',
    metadata: { DESCRIPTION: 'A legacy XPAK package' },
    files: [{ path: '/usr/share/legacy/README', content: 'from a tbz2/xpak package\n' }],
  },
];

/** The file list of a package as manifest.json records it (auto-created parent dirs included). */
function fileList(entries, prefix) {
  return entries.map((e) => {
    const p = e.name === prefix || e.name === `${prefix}/` ? '/' : e.name.slice(prefix.length).replace(/\/$/, '');
    const type = { file: 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink', 'character-device': 'chardev', 'block-device': 'blockdev', fifo: 'fifo' }[e.type ?? 'file'];
    /** @type {any} */
    const out = { path: p, type, mode: (e.mode ?? 0).toString(8).padStart(4, '0') };
    if (type === 'file') out.size = Buffer.byteLength(e.content ?? '');
    if (type === 'symlink') out.linkname = e.linkname;
    if (type === 'hardlink') out.linkname = e.linkname.slice(prefix.length);
    return out;
  });
}

async function buildBinhost(dir, sign) {
  const index = [];
  const built = [];
  for (const p of PACKAGES) {
    const pf = p.pf ?? `${p.pn}-${p.pv}`;
    const format = p.format ?? 'gpkg';
    const cpv = `${p.category}/${pf}`;
    const rel = g.binpkgPath({ category: p.category, pn: p.pn, pf, buildId: p.buildId, format });
    const spec = { category: p.category, pf, buildId: p.buildId, metadata: { ...COMMON_METADATA, ...p.metadata }, files: p.files, mtime: MTIME };
    let buffer, metadata, entries, comp;
    if (format === 'xpak') {
      comp = 'bz2';
      const parts = await g.makeXpakParts({ ...spec, comp });
      ({ buffer, metadata } = parts);
      entries = g.imageEntries(p.files, { prefix: '.', mtime: MTIME });
    } else {
      comp = p.comp ?? 'zst';
      const parts = await g.makeGpkgParts({ ...spec, comp, sign: p.signed ? sign : null });
      ({ buffer, metadata } = parts);
      entries = g.imageEntries(p.files, { prefix: 'image', mtime: MTIME });
    }
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, buffer);
    fs.utimesSync(file, MTIME, MTIME);
    const entry = g.packageIndexEntry({ buffer, cpv, path: rel, metadata, mtime: MTIME });
    index.push(entry);
    built.push({
      cpv,
      category: p.category,
      pn: p.pn,
      pv: p.pv,
      pf,
      buildId: p.buildId,
      format,
      comp,
      signed: !!p.signed,
      path: `binhost/${rel}`,
      binhostPath: rel,
      basename: format === 'gpkg' ? `${pf}-${p.buildId}` : null,
      size: buffer.length,
      sha256: g.hash('sha256', buffer),
      md5: entry.MD5,
      sha1: entry.SHA1,
      metadata: Object.fromEntries(Object.entries(metadata).filter(([k]) => !k.endsWith('.bz2') && !k.endsWith('.ebuild')).map(([k, v]) => [k, g.metadataValue(v)])),
      files: fileList(entries, format === 'xpak' ? '.' : 'image'),
    });
  }
  const header = { ACCEPT_KEYWORDS: 'amd64', ARCH: 'amd64', CBUILD: CHOST, CHOST, PROFILE: 'default/linux/amd64/23.0/systemd', TIMESTAMP: MTIME, VERSION: 0 };
  g.writePackagesIndex(dir, header, index);
  return built;
}

// ---------------------------------------------------------------------------------------------
// stage3

const MAKE_GLOBALS = [
  '# Copyright 1999-2026 Gentoo Authors',
  '# System-wide defaults for the Portage system (kiln test fixture)',
  'DISTDIR="/var/cache/distfiles"',
  'PKGDIR="/var/cache/binpkgs"',
  'PORTAGE_TMPDIR="/var/tmp"',
  'BINPKG_FORMAT="gpkg"',
  'BINPKG_COMPRESS="zstd"',
  'FEATURES="binpkg-multi-instance compress-index"',
  '',
].join('\n');

/** @type {import('./gpkg.js').FileSpec[]} */
const STAGE3_FILES = [
  ...MERGED_USR,
  { path: '/usr/lib/os-release', content: OS_RELEASE },
  { path: '/etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
  { path: '/etc/passwd', content: PASSWD },
  { path: '/etc/group', content: GROUP },
  { path: '/etc/portage', type: 'dir' },
  { path: '/etc/portage/make.conf', content: '' },
  { path: '/etc/portage/make.profile', type: 'symlink', linkname: '../../var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd' },
  { path: '/usr/bin/emerge', content: sh('echo "emerge: kiln stage3 fixture" >&2; exit 1'), mode: 0o755 },
  { path: '/usr/share/portage/config/make.globals', content: MAKE_GLOBALS },
  { path: '/var/tmp', type: 'dir', mode: 0o1777 },
];
// Like a real stage3, no repository: emerge needs a snapshot's profiles (below).

async function buildStage3(dir, sign) {
  const entries = g.imageEntries(STAGE3_FILES, { prefix: '.', mtime: STAGE3_TS });
  const tar = await g.packTar(entries);
  const xz = g.compress(tar, 'xz');
  const rel = `${STAGE3_STAMP}/${STAGE3_NAME}`;
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, xz);
  const sha256 = g.hash('sha256', xz);
  const sha512 = g.hash('sha512', xz);
  const blake2b = g.hash('blake2b512', xz);
  fs.writeFileSync(`${file}.asc`, g.gpgSign(xz, sign, 'detach'));
  const digests = `# BLAKE2B HASH\n${blake2b}  ${STAGE3_NAME}\n# SHA512 HASH\n${sha512}  ${STAGE3_NAME}\n`;
  fs.writeFileSync(`${file}.DIGESTS`, g.gpgSign(digests, sign, 'clear'));
  fs.writeFileSync(`${file}.sha256`, `${sha256}  ${STAGE3_NAME}\n`);
  const date = new Date(STAGE3_TS * 1000).toUTCString().replace('GMT', '+0000');
  const latest = `# Latest as of ${date}\n# ts=${STAGE3_TS}\n${rel} ${xz.length}\n`;
  fs.writeFileSync(path.join(dir, 'latest-stage3-amd64-systemd.txt'), g.gpgSign(latest, sign, 'clear'));
  for (const f of [file, `${file}.asc`, `${file}.DIGESTS`, `${file}.sha256`, path.join(dir, 'latest-stage3-amd64-systemd.txt')]) fs.utimesSync(f, STAGE3_TS, STAGE3_TS);
  return {
    dir: 'releases/amd64/autobuilds',
    latest: 'releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt',
    latestPath: rel,
    path: `releases/amd64/autobuilds/${rel}`,
    file: STAGE3_NAME,
    timestamp: STAGE3_TS,
    size: xz.length,
    sha256,
    sha512,
    blake2b,
    files: fileList(entries, '.'),
  };
}

// ---------------------------------------------------------------------------------------------
// repository snapshot (what emerge-webrsync fetches): only what a binary install reads

const SNAPSHOT_DATE = '20261101';
const PROFILE = 'default/linux/amd64/23.0/systemd';

/** @type {import('./gpkg.js').FileSpec[]} */
const SNAPSHOT_FILES = [
  { path: '/metadata/layout.conf', content: 'masters =\nprofile-formats = portage-2 profile-default-eapi\nprofile_eapi_when_unspecified = 5\nthin-manifests = true\n' },
  { path: '/metadata/timestamp.x', content: `${STAGE3_TS} Sun Nov  1 00:00:00 2026 UTC\n` },
  { path: '/metadata/md5-cache/app-misc/hello-1.0', content: 'EAPI=8\n' }, // left out when unpacked
  { path: '/app-misc/hello/hello-1.0.ebuild', content: 'EAPI=8\n' }, // left out when unpacked
  { path: '/profiles/repo_name', content: 'gentoo\n' },
  { path: '/profiles/eapi', content: '8\n' },
  { path: '/profiles/arch.list', content: 'amd64\narm64\n' },
  { path: '/profiles/categories', content: 'acct-group\nacct-user\napp-alt\napp-misc\nsys-apps\nsys-libs\n' },
  { path: '/profiles/profiles.desc', content: `amd64 ${PROFILE} stable\n` },
  { path: '/profiles/base/eapi', content: '8\n' },
  { path: '/profiles/base/packages', content: '*sys-apps/baselayout\n' },
  {
    path: '/profiles/base/make.defaults',
    content: [
      'USE_EXPAND="ABI_X86 ELIBC KERNEL USERLAND"', 'USE_EXPAND_HIDDEN="ELIBC KERNEL USERLAND"', 'USE_EXPAND_IMPLICIT="ARCH ELIBC KERNEL USERLAND"',
      'USE_EXPAND_UNPREFIXED="ARCH"', 'USE_EXPAND_VALUES_ARCH="amd64 arm64"', 'USE_EXPAND_VALUES_ELIBC="glibc musl"', 'USE_EXPAND_VALUES_KERNEL="linux"',
      'USE_EXPAND_VALUES_USERLAND="GNU"', 'IUSE_IMPLICIT="prefix prefix-guest prefix-stack"', 'ELIBC="glibc"', 'KERNEL="linux"', 'USERLAND="GNU"',
      'CONFIG_PROTECT="/etc"', 'CONFIG_PROTECT_MASK="/etc/env.d"', '',
    ].join('\n'),
  },
  { path: `/profiles/${PROFILE}/eapi`, content: '8\n' },
  { path: `/profiles/${PROFILE}/parent`, content: '../../../../../base\n' },
  {
    path: `/profiles/${PROFILE}/make.defaults`,
    content: ['ARCH="amd64"', 'ACCEPT_KEYWORDS="amd64"', `CHOST="${CHOST}"`, `CHOST_amd64="${CHOST}"`, 'ABI="amd64"', 'DEFAULT_ABI="amd64"', 'MULTILIB_ABIS="amd64"', 'LIBDIR_amd64="lib64"', 'USE="systemd"', 'ABI_X86="64"', ''].join('\n'),
  },
];

/** snapshots/gentoo-<date>.tar.xz and gentoo-latest.tar.xz, each with .gpgsig and .md5sum. */
async function buildSnapshot(dir, sign) {
  fs.mkdirSync(dir, { recursive: true });
  const out = { dir: 'snapshots', date: SNAPSHOT_DATE, profile: PROFILE, files: [] };
  for (const [name, top] of [[`gentoo-${SNAPSHOT_DATE}.tar.xz`, `gentoo-${SNAPSHOT_DATE}`], ['gentoo-latest.tar.xz', 'gentoo']]) {
    const entries = g.imageEntries(SNAPSHOT_FILES, { prefix: top, mtime: STAGE3_TS });
    const xz = g.compress(await g.packTar(entries), 'xz');
    const file = path.join(dir, name);
    fs.writeFileSync(file, xz);
    fs.writeFileSync(`${file}.gpgsig`, g.gpgSign(xz, sign, 'detach'));
    fs.writeFileSync(`${file}.md5sum`, `${g.hash('md5', xz)}  ${name}\n`);
    out.files.push({ name, top, size: xz.length, sha256: g.hash('sha256', xz) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

/**
 * Builds everything into outdir (its keys/, binhost/, releases/ and manifest.json are replaced).
 * @param {string} outdir
 */
async function build(outdir) {
  outdir = path.resolve(outdir);
  fs.mkdirSync(outdir, { recursive: true });
  const oldHome = path.join(outdir, 'keys', 'gnupg');
  if (fs.existsSync(oldHome)) g.gpgKillAgent(oldHome);
  if (fs.lstatSync(oldHome, { throwIfNoEntry: false })?.isSymbolicLink()) {
    const target = fs.readlinkSync(oldHome);
    if (path.basename(target).startsWith('kiln-gnupg-')) fs.rmSync(target, { recursive: true, force: true });
  }
  for (const d of ['keys', 'binhost', 'releases', 'snapshots', 'manifest.json']) fs.rmSync(path.join(outdir, d), { recursive: true, force: true });
  const keysDir = path.join(outdir, 'keys');
  fs.mkdirSync(keysDir, { recursive: true });
  const { home, keys } = makeKeys(keysDir);
  try {
    const sign = { gnupghome: home, keyid: keys.test.fingerprint };
    const packages = await buildBinhost(path.join(outdir, 'binhost'), sign);
    const stage3 = await buildStage3(path.join(outdir, 'releases', 'amd64', 'autobuilds'), sign);
    const snapshot = await buildSnapshot(path.join(outdir, 'snapshots'), sign);
    const manifest = {
      version: 1,
      mtime: MTIME,
      keys: { gnupghome: 'keys/gnupg', ...keys },
      binhost: { dir: 'binhost', index: 'binhost/Packages', indexGz: 'binhost/Packages.gz', timestamp: MTIME, packages },
      stage3,
      snapshot,
    };
    fs.writeFileSync(path.join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    g.gpgKillAgent(home);
  }
}

module.exports = { build, makeKeys, PACKAGES, SNAPSHOT_FILES, STAGE3_FILES, STAGE3_NAME, STAGE3_STAMP, STAGE3_TS, TEST_UID, OTHER_UID };

if (require.main === module) {
  const outdir = process.argv[2];
  if (!outdir) {
    process.stderr.write('usage: node tools/gentoo-fixtures/build.js OUTDIR\n');
    process.exit(2);
  }
  build(outdir).then(
    (m) => process.stdout.write(`built ${m.binhost.packages.length} packages and ${m.stage3.file} in ${path.resolve(outdir)}\n`),
    (err) => {
      process.stderr.write(`${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
