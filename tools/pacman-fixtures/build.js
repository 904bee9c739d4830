#!/usr/bin/env node
'use strict';
/**
 * Builds Arch Linux test repositories with Arch's own tools: packages made by makepkg from
 * generated PKGBUILDs, signed with gpg (detached .sig), indexed by repo-add --sign. Deterministic
 * (the same package bytes on every run) except the keys and everything signed: signatures, and the
 * sync databases, which carry the packages' signatures (%PGPSIG%) and repo-add's clock.
 *
 *   node tools/pacman-fixtures/build.js OUTDIR
 *
 * Also a library: `build(outdir) -> Promise<manifest>`. See README.md for the layout.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, spawnSync } = require('node:child_process');
const { clearOutputs, makeKeys } = require('../gentoo-fixtures/build.js');
const { gpgKillAgent, realHome } = require('../gentoo-fixtures/gpkg.js');

const SOURCE_DATE_EPOCH = 1700000000;
const ARCH = 'x86_64';
const PKGEXT = '.pkg.tar.zst';

const OS_RELEASE = 'NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\nHOME_URL="https://archlinux.org/"\n';

/**
 * Every package: where it goes, its version and what it holds. `files` maps a path to its content
 * (a string or Buffer, mode 0644), `{ content, mode }`, `{ dir: mode }` or `{ link: target }`.
 * Packages of one version are built by one makepkg run (a split PKGBUILD): makepkg's own start-up
 * is seconds on a busy machine, its packaging is milliseconds.
 */
const PACKAGES = [
  {
    name: 'filesystem', version: '1.0-1', repos: ['core'], desc: 'Base filesystem (merged /usr)',
    files: {
      'usr/bin': { dir: 0o755 }, 'usr/lib': { dir: 0o755 }, 'usr/share': { dir: 0o755 },
      bin: { link: 'usr/bin' }, sbin: { link: 'usr/bin' }, 'usr/sbin': { link: 'bin' }, lib: { link: 'usr/lib' },
      lib64: { link: 'usr/lib' }, 'usr/lib64': { link: 'lib' }, var: { dir: 0o755 }, 'var/lib': { dir: 0o755 },
      root: { dir: 0o750 }, tmp: { dir: 0o1777 }, home: { dir: 0o755 },
      'etc/passwd': 'root:x:0:0::/root:/usr/bin/sh\n', 'etc/group': 'root:x:0:root\n',
      'usr/lib/os-release': OS_RELEASE, 'etc/os-release': { link: '../usr/lib/os-release' },
    },
    backup: ['etc/passwd', 'etc/group'],
  },
  {
    name: 'busybox', version: '1.0-1', repos: ['core'], desc: 'The host\'s static busybox', depends: ['filesystem'], provides: ['sh'],
    files: { 'usr/bin/busybox': { host: '/bin/busybox', mode: 0o755 }, 'usr/bin/sh': { link: 'busybox' } },
  },
  { name: 'libhello', version: '1.0-1', repos: ['core'], desc: 'Library of hello', depends: ['filesystem'], files: { 'usr/lib/libhello.so.1': 'not really a library\n' } },
  {
    name: 'hello', version: '1.0-1', repos: ['core'], desc: 'Says hello', depends: ['libhello', 'busybox'], backup: ['etc/hello.conf'], install: 'post_install() {\n  mkdir -p /var/lib/hello\n  echo ran > /var/lib/hello/post-ran\n}\n',
    files: {
      'usr/bin/hello': { content: '#!/usr/bin/sh\necho "hello 1.0"\n', mode: 0o755 },
      'etc/hello.conf': 'greeting=hello\n',
      'usr/share/doc/hello/README': 'hello, the fixture\n',
      'usr/share/man/man1/hello.1.gz': zlib.gzipSync('.TH HELLO 1\n.SH NAME\nhello \\- says hello\n', { level: 9 }),
    },
  },
  { name: 'hello-devel', version: '1.0-1', repos: ['core'], desc: 'Headers of hello', depends: ['hello'], files: { 'usr/include/hello.h': 'int hello(void);\n' } },
  { name: 'tool', version: '2.0rc1-1', repos: ['core'], desc: 'A release candidate', depends: ['filesystem'], files: { 'usr/bin/tool': { content: '#!/usr/bin/sh\necho 2.0rc1\n', mode: 0o755 } } },
  { name: 'tool', version: '2.0-1', repos: ['extra', 'core-testing'], desc: 'The release', depends: ['filesystem'], files: { 'usr/bin/tool': { content: '#!/usr/bin/sh\necho 2.0\n', mode: 0o755 } } },
  {
    name: 'hello', version: '1.1-1', repos: ['extra', 'core-testing'], desc: 'Says hello, newer', depends: ['libhello', 'busybox'], backup: ['etc/hello.conf'],
    files: { 'usr/bin/hello': { content: '#!/usr/bin/sh\necho "hello 1.1"\n', mode: 0o755 }, 'etc/hello.conf': 'greeting=hello\n' },
  },
  { name: 'epochy', version: '1:0.9-1', repos: ['core'], desc: 'An epoch makes 0.9 newer than 2.0', depends: ['filesystem'], files: { 'usr/share/epochy/version': '1:0.9\n' } },
  { name: 'epochy', version: '2.0-1', repos: ['extra'], desc: 'Older than 1:0.9', depends: ['filesystem'], files: { 'usr/share/epochy/version': '2.0\n' } },
];

const REPOS = ['core', 'extra', 'core-testing'];

function run(cmd, args, opts = {}) {
  const t = Date.now();
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 28, ...opts });
  if (process.env.KILN_FIXTURES_TIMES) process.stderr.write(`${Date.now() - t} ms: ${cmd} ${args.filter((a) => !a.startsWith('/')).slice(-3).join(' ')}\n`);
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const bashArray = (xs) => `(${(xs ?? []).map(q).join(' ')})`;

/** epoch, pkgver, pkgrel of `[epoch:]pkgver-pkgrel`. */
function splitVersion(v) {
  const m = /^(?:(\d+):)?([^-:]+)-(\d+)$/.exec(v);
  if (!m) throw new Error(`bad version ${v}`);
  return { epoch: m[1] ?? '', pkgver: m[2], pkgrel: m[3] };
}

/** Writes a package's files under dir (modes as given: makepkg packs what it finds, fakeroot makes root own it). */
function writeTree(dir, files) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) fs.writeFileSync(p, spec, { mode: 0o644 });
    else if (spec.dir !== undefined) {
      fs.mkdirSync(p, { recursive: true });
      fs.chmodSync(p, spec.dir);
    } else if (spec.link) fs.symlinkSync(spec.link, p);
    else if (spec.host) fs.copyFileSync(spec.host, p);
    else fs.writeFileSync(p, spec.content);
    if (spec.mode) fs.chmodSync(p, spec.mode);
  }
}

/** A split PKGBUILD for packages of one version; each package_NAME copies its tree from files/NAME. */
function pkgbuild(group) {
  const { epoch, pkgver, pkgrel } = splitVersion(group[0].version);
  const lines = [
    `pkgbase=kiln-fixture-${group.map((p) => p.name).join('-')}`,
    `pkgname=${bashArray(group.map((p) => p.name))}`,
    ...(epoch ? [`epoch=${epoch}`] : []),
    `pkgver=${pkgver}`,
    `pkgrel=${pkgrel}`,
    `arch=(${ARCH})`,
    "url='https://kiln.invalid'",
    'license=(MIT)',
  ];
  for (const p of group) {
    lines.push(
      // makepkg calls package_NAME: bash allows the dash in a function's name.
      `package_${p.name}() {`,
      `  pkgdesc=${q(p.desc)}`,
      `  depends=${bashArray(p.depends)}`,
      `  provides=${bashArray(p.provides)}`,
      `  backup=${bashArray(p.backup)}`,
      ...(p.install ? [`  install=${p.name}.install`] : []),
      `  cp -a "$startdir/files/${p.name}/." "$pkgdir/"`,
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

/** makepkg's configuration: no stripping or compressing of man pages (the files are as given), zstd packages. */
const MAKEPKG_CONF = [
  `CARCH="${ARCH}"`,
  'CHOST="x86_64-pc-linux-gnu"',
  'BUILDENV=(!distcc !color !ccache !check !sign)',
  'OPTIONS=(!strip docs !libtool !staticlibs emptydirs !zipman !purge !debug !lto)',
  'INTEGRITY_CHECK=(sha256)',
  'COMPRESSZST=(zstd -c -z -q -19 --single-thread -)',
  `PKGEXT='${PKGEXT}'`,
  "SRCEXT='.src.tar.gz'",
  '',
].join('\n');

/**
 * Runs makepkg for each group. makepkg refuses to run as root: here it runs as nobody (setpriv)
 * under its usual fakeroot, in a mount namespace (bwrap) where the build directory is always
 * /tmp/kiln-makepkg, so that .BUILDINFO (which records builddir and startdir) is the same on
 * every machine. Packages land in `out`.
 */
/** Runs a command, resolving with its stdout; rejects with its output when it fails. */
function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (process.env.KILN_FIXTURES_TIMES) process.stderr.write(`${Date.now() - t} ms: ${cmd} ${args.slice(-3).join(' ')}\n`);
      if (code === 0) resolve(output);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${output}`));
    });
  });
}

async function makepkg(work, groups, out) {
  const nobody = { uid: 65534, gid: 65534 };
  fs.mkdirSync(work, { recursive: true });
  const conf = path.join(work, 'makepkg.conf');
  fs.writeFileSync(conf, MAKEPKG_CONF);
  for (const [i, group] of groups.entries()) {
    const dir = path.join(work, `g${i}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'PKGBUILD'), pkgbuild(group));
    for (const p of group) {
      writeTree(path.join(dir, 'files', p.name), p.files);
      if (p.install) fs.writeFileSync(path.join(dir, `${p.name}.install`), p.install);
    }
  }
  fs.mkdirSync(path.join(work, 'pkgs'));
  run('chown', ['-R', `${nobody.uid}:${nobody.gid}`, work]);
  const inner = '/tmp/kiln-makepkg';
  const one = (i) =>
    runAsync('bwrap', [
      '--dev-bind', '/', '/', '--tmpfs', '/tmp', '--bind', work, inner, '--chdir', `${inner}/g${i}`, '--die-with-parent',
      'setpriv', `--reuid=${nobody.uid}`, `--regid=${nobody.gid}`, '--clear-groups', '--inh-caps=-all',
      'env', '-i', 'PATH=/usr/bin:/bin', `HOME=${inner}`, 'LC_ALL=C.UTF-8', `SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}`,
      `MAKEPKG_CONF=${inner}/makepkg.conf`, `BUILDDIR=${inner}/build`, `PKGDEST=${inner}/pkgs`, 'PACKAGER=kiln fixtures <test@kiln.invalid>',
      'makepkg', '--nodeps', '--nocheck', '--force',
    ]);
  // Two at a time: makepkg is a shell script that spends its time starting processes.
  const queue = groups.map((_, i) => i);
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) await one(i);
  };
  await Promise.all([worker(), worker()]);
  for (const f of fs.readdirSync(path.join(work, 'pkgs'))) fs.copyFileSync(path.join(work, 'pkgs', f), path.join(out, f));
}

const fileName = (p) => `${p.name}-${p.version}-${ARCH}${PKGEXT}`;

/** A binary detached signature (what pacman reads as FILE.sig and repo-add embeds as %PGPSIG%). */
function detachSign(file, home, keyid) {
  run('gpg', ['--homedir', realHome(home), '--batch', '--no-tty', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '',
    '--local-user', keyid, '--detach-sign', '--output', `${file}.sig`, file], { env: { ...process.env, GNUPGHOME: realHome(home) } });
}

/**
 * repo-add over the packages in dir (with their .sig files: repo-add embeds them), signing the
 * database when `keyid`; its symlinks (REPO.db -> REPO.db.tar.gz, ...) become plain copies, as a
 * cache keeps regular files only.
 */
function repoAdd(dir, repo, files, home, keyid) {
  const db = path.join(dir, `${repo}.db.tar.gz`);
  const env = { ...process.env, GNUPGHOME: realHome(home), LC_ALL: 'C.UTF-8' };
  run('repo-add', ['--quiet', ...(keyid ? ['--sign', '--key', keyid] : []), db, ...files.map((f) => path.join(dir, f))], { env });
  for (const f of fs.readdirSync(dir)) {
    const p = path.join(dir, f);
    if (fs.lstatSync(p).isSymbolicLink()) {
      const target = path.resolve(dir, fs.readlinkSync(p));
      fs.rmSync(p);
      fs.copyFileSync(target, p);
    }
  }
  // repo-add keeps the previous database as *.old.
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.old') || f.endsWith('.old.sig')) fs.rmSync(path.join(dir, f));
}

/** The entries of a sync database: { NAME: value or [values] } per package, from its desc files. */
function readDb(dbFile) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-pacman-db-'));
  try {
    run('bsdtar', ['-xf', dbFile, '-C', tmp]);
    return fs.readdirSync(tmp).sort().map((d) => parseDesc(fs.readFileSync(path.join(tmp, d, 'desc'), 'utf8')));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** pacman's desc format: `%KEY%` then value lines, blank line between fields. */
function parseDesc(text) {
  const out = {};
  for (const block of text.split(/\n\n+/)) {
    const [head, ...values] = block.split('\n').filter((l) => l !== '');
    const m = /^%([A-Z0-9]+)%$/.exec(head ?? '');
    if (m) out[m[1]] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/**
 * Builds everything into outdir (its keys/, arch/, bad/, sandbox/ and manifest.json are replaced).
 * @param {string} outdir
 */
async function build(outdir) {
  outdir = path.resolve(outdir);
  fs.mkdirSync(outdir, { recursive: true });
  clearOutputs(outdir, ['keys', 'arch', 'bad', 'sandbox', 'manifest.json']);
  const keysDir = path.join(outdir, 'keys');
  fs.mkdirSync(keysDir, { recursive: true });
  const { home, keys } = makeKeys(keysDir);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-pacman-fx-'));
  try {
    const test = keys.test.fingerprint;
    // Packages, one makepkg run per version, then signed.
    const pkgs = path.join(work, 'out');
    fs.mkdirSync(pkgs);
    const groups = new Map();
    for (const p of PACKAGES) groups.set(p.version, [...(groups.get(p.version) ?? []), p]);
    await makepkg(path.join(work, 'make'), [...groups.values()], pkgs);
    for (const p of PACKAGES) detachSign(path.join(pkgs, fileName(p)), home, test);

    const repoDir = (mirror, repo) => path.join(outdir, mirror, repo, 'os', ARCH);
    const place = (mirror, repo, list) => {
      const dir = repoDir(mirror, repo);
      fs.mkdirSync(dir, { recursive: true });
      for (const p of list) for (const f of [fileName(p), `${fileName(p)}.sig`]) fs.copyFileSync(path.join(pkgs, f), path.join(dir, f));
      return dir;
    };
    const inRepo = (repo) => PACKAGES.filter((p) => p.repos.includes(repo));

    // The good mirror: arch/{core,extra,core-testing}/os/x86_64.
    const manifestPackages = [];
    for (const repo of REPOS) {
      const dir = place('arch', repo, inRepo(repo));
      repoAdd(dir, repo, inRepo(repo).map(fileName), home, test);
      for (const d of readDb(path.join(dir, `${repo}.db`))) {
        manifestPackages.push({ repo, name: d.NAME, version: d.VERSION, arch: d.ARCH, file: d.FILENAME, csize: Number(d.CSIZE), sha256: d.SHA256SUM });
      }
    }

    // Bad mirrors: each has core and extra (pacman syncs both), core spoilt one way.
    const other = keys.other.fingerprint;
    const hello = PACKAGES.find((p) => p.name === 'hello' && p.version === '1.0-1');
    const bad = {
      'unsigned-package': 'hello 1.0-1 has no signature (neither a .sig file nor %PGPSIG% in the signed database)',
      'wrong-key-package': 'hello 1.0-1 is signed by the other key (.sig and %PGPSIG%)',
      'unsigned-db': 'core.db has no .sig; its packages are signed',
      'no-db': 'core has its packages but no core.db',
    };
    // Only the spoilt packages' databases are made again (repo-add is a slow shell script); the
    // rest is copied from the good mirror.
    const copyDir = (from, to, skip = () => false) => {
      fs.mkdirSync(to, { recursive: true });
      for (const f of fs.readdirSync(from)) if (!skip(f)) fs.copyFileSync(path.join(from, f), path.join(to, f));
    };
    const isDb = (f) => /\.(db|files)(\.tar\.gz)?(\.sig)?$/.test(f);
    for (const kind of Object.keys(bad)) {
      const dir = repoDir(`bad/${kind}`, 'core');
      copyDir(repoDir('arch', 'extra'), repoDir(`bad/${kind}`, 'extra'));
      if (kind === 'unsigned-db') copyDir(repoDir('arch', 'core'), dir, (f) => /\.(db|files)(\.tar\.gz)?\.sig$/.test(f));
      else if (kind === 'no-db') copyDir(repoDir('arch', 'core'), dir, isDb);
      else {
        copyDir(repoDir('arch', 'core'), dir, isDb);
        if (kind === 'unsigned-package') fs.rmSync(path.join(dir, `${fileName(hello)}.sig`));
        else detachSign(path.join(dir, fileName(hello)), home, other);
        repoAdd(dir, 'core', inRepo('core').map(fileName), home, test);
      }
    }

    // The keyring where mkosi's sandbox tree has it (what pacman-key --populate archlinux reads).
    const keyrings = path.join(outdir, 'sandbox/arch/usr/share/pacman/keyrings');
    fs.mkdirSync(keyrings, { recursive: true });
    fs.copyFileSync(path.join(outdir, keys.test.gpg), path.join(keyrings, 'archlinux.gpg'));
    fs.writeFileSync(path.join(keyrings, 'archlinux-trusted'), `${test}:4:\n`);
    fs.writeFileSync(path.join(keyrings, 'archlinux-revoked'), '');

    const manifest = {
      version: 1,
      sourceDateEpoch: SOURCE_DATE_EPOCH,
      architecture: ARCH,
      keys: { gnupghome: 'keys/gnupg', ...keys },
      mirror: 'arch',
      repositories: REPOS,
      sandboxTree: 'sandbox/arch',
      keyrings: 'sandbox/arch/usr/share/pacman/keyrings',
      packages: manifestPackages,
      bad: Object.fromEntries(Object.entries(bad).map(([k, what]) => [k, { mirror: `bad/${k}`, what }])),
    };
    fs.writeFileSync(path.join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    gpgKillAgent(home);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A hash of what the fixtures are made from: these sources and the pacman tools' version. */
function sourcesHash() {
  const h = crypto.createHash('sha256');
  for (const f of [__filename, require.resolve('../gentoo-fixtures/build.js'), require.resolve('../gentoo-fixtures/gpkg.js')]) h.update(fs.readFileSync(f));
  h.update(run('pacman', ['--version']));
  h.update(fs.readFileSync('/bin/busybox'));
  return h.digest('hex').slice(0, 16);
}

module.exports = { build, sourcesHash, parseDesc, readDb, PACKAGES, REPOS, ARCH, SOURCE_DATE_EPOCH };

if (require.main === module) {
  const outdir = process.argv[2];
  if (!outdir) {
    process.stderr.write('usage: node tools/pacman-fixtures/build.js OUTDIR\n');
    process.exit(2);
  }
  build(outdir).then(
    (m) => process.stdout.write(`built ${m.packages.length} packages in ${path.resolve(outdir)}\n`),
    (err) => {
      process.stderr.write(`${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
