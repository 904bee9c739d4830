#!/usr/bin/env node
'use strict';
/**
 * Builds real RPM repositories (Fedora and openSUSE layouts) from the small packages in
 * packages.js, with the host's rpmbuild, rpmsign and createrepo_c; deterministic except keys
 * and signatures (the unsigned packages are the same bytes on every build):
 *
 *   node tools/rpm-fixtures/build.js OUTDIR
 *
 * Layout and manifest.json: README.md. Also a library: `build(outdir) -> Promise<manifest>`,
 * `fixtures() -> OUTDIR` (built once per machine under ~/.cache/kiln/test-fixtures/), and
 * `buildRpm(pkg, flavour, workdir)` (one unsigned package, for the determinism test).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawn, spawnSync } = require('node:child_process');
const g = require('../gentoo-fixtures/gpkg.js');
const { clearOutputs, makeKeys } = require('../gentoo-fixtures/build.js');
const P = require('./packages.js');

/** SOURCE_DATE_EPOCH of every package, the mtime of every published file, repomd's revision. */
const MTIME = 1700000000;
const BUILDHOST = 'build.kiln.invalid';

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 26, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** run() without blocking: rpmbuild runs two at a time. */
function runAsync(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${Buffer.concat(err)}`))));
  });
}

/** Runs the jobs, at most `limit` at a time; resolves to their results in order. */
async function pool(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// packages

const evr = (p) => `${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
const arch = (p) => p.arch ?? 'noarch';
const rpmName = (p) => `${p.name}-${p.version}-${p.release}.${arch(p)}.rpm`;
const octal = (m) => m.toString(8).padStart(4, '0');

/** The spec file for a package; %install copies the tree build.js wrote next to it. */
function specText(p, flavour, tree) {
  const f = P.FLAVOURS[flavour];
  const lines = [
    // no debuginfo, build-id links, stripping or man page compression: the files stay as given
    '%global debug_package %{nil}',
    '%global _build_id_links none',
    '%global __os_install_post %{nil}',
    `Name: ${p.name}`,
    ...(p.epoch ? [`Epoch: ${p.epoch}`] : []),
    `Version: ${p.version}`,
    `Release: ${p.release}`,
    `Summary: ${p.summary}`,
    'License: MIT',
    'URL: https://kiln.invalid/',
    `Distribution: ${f.distribution}`,
    `Vendor: ${f.vendor}`,
    `Packager: ${f.packager}`,
    `BuildArch: ${arch(p)}`,
    ...(p.autoReqProv === false ? ['AutoReqProv: no'] : []),
    ...(p.requires ?? []).map((r) => `Requires: ${r}`),
    ...(p.provides ?? []).map((r) => `Provides: ${r}`),
    '',
    '%description',
    `${p.summary} (kiln test fixture).`,
    '',
    '%install',
    `cp -a '${tree}/.' %{buildroot}/`,
    '',
  ];
  if (p.post) lines.push('%post', p.post, '');
  lines.push('%files');
  for (const e of p.files) {
    if (e.type === 'symlink') lines.push(e.path);
    else if (e.type === 'dir') lines.push(`%dir %attr(${octal(e.mode ?? 0o755)},root,root) ${e.path}`);
    else lines.push(`${e.config ? '%config(noreplace) ' : ''}${e.doc ? '%doc ' : ''}%attr(${octal(e.mode ?? 0o644)},root,root) ${e.path}`);
  }
  return lines.join('\n') + '\n';
}

/** Writes the package's files under tree (modes come from the spec's %attr). */
function writeTree(p, tree) {
  fs.mkdirSync(tree, { recursive: true });
  for (const e of p.files) {
    const file = path.join(tree, e.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (e.type === 'dir') fs.mkdirSync(file, { recursive: true });
    else if (e.type === 'symlink') fs.symlinkSync(e.linkname, file);
    else if (e.source) fs.copyFileSync(e.source, file);
    else fs.writeFileSync(file, e.content);
  }
}

/**
 * Builds one unsigned package with rpmbuild into workdir; returns the .rpm's path. The same
 * bytes every time: SOURCE_DATE_EPOCH as build time and mtime clamp, a fixed build host, and
 * HOME pointing at workdir so that no ~/.rpmmacros takes part.
 */
async function buildRpm(p, flavour, workdir) {
  const dir = path.join(workdir, flavour, `${p.name}-${evr(p).replace(/[:~]/g, '_')}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const tree = path.join(dir, 'tree');
  writeTree(p, tree);
  const spec = path.join(dir, `${p.name}.spec`);
  fs.writeFileSync(spec, specText(p, flavour, tree));
  const defines = {
    _topdir: path.join(dir, 'top'),
    _buildhost: BUILDHOST,
    use_source_date_epoch_as_buildtime: '1',
    clamp_mtime_to_source_date_epoch: '1',
    source_date_epoch_from_changelog: '0',
    _binary_payload: 'w3.zstdio',
    _target_cpu: arch(p) === 'noarch' ? 'x86_64' : arch(p),
  };
  const args = ['-bb', '--quiet', ...Object.entries(defines).flatMap(([k, v]) => ['--define', `${k} ${v}`]), spec];
  await runAsync('rpmbuild', args, { env: { PATH: process.env.PATH, HOME: workdir, SOURCE_DATE_EPOCH: String(MTIME), LC_ALL: 'C', TZ: 'UTC' } });
  return path.join(dir, 'top', 'RPMS', arch(p), rpmName(p));
}

/** Adds a header signature by the key to each file, in place (rpmsign runs gpg in GNUPGHOME). */
function rpmSign(files, home, fingerprint) {
  if (files.length === 0) return;
  const real = g.realHome(home);
  // Debian's rpm names /usr/bin/gpg2, which Debian does not ship.
  run('rpmsign', ['--addsign', '--define', `_gpg_name ${fingerprint}`, '--define', '__gpg /usr/bin/gpg', ...files], {
    env: { ...process.env, GNUPGHOME: real },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

// ---------------------------------------------------------------------------------------------
// repositories

/** Fedora keeps packages in Packages/<first letter>/, openSUSE in <arch>/. */
const packagePath = (p, flavour) => (flavour === 'fedora' ? `Packages/${p.name[0].toLowerCase()}/${rpmName(p)}` : `${arch(p)}/${rpmName(p)}`);

/** createrepo_c with a fixed revision and timestamps, no sqlite databases (dnf and zypper read the XML). */
function createrepo(dir) {
  run('createrepo_c', ['--quiet', '--no-database', '--revision', String(MTIME), '--set-timestamp-to-revision', dir]);
}

/** repomd.xml.asc (detached, armored) by the key, and repomd.xml.key = the test public key. */
function signRepomd(dir, sign, testAsc) {
  const repomd = path.join(dir, 'repodata', 'repomd.xml');
  fs.writeFileSync(`${repomd}.asc`, g.gpgSign(fs.readFileSync(repomd), sign, 'detach'));
  fs.copyFileSync(testAsc, `${repomd}.key`);
}

/** location href -> sha256 from createrepo_c's primary.xml. */
function primaryChecksums(dir) {
  const repomd = fs.readFileSync(path.join(dir, 'repodata', 'repomd.xml'), 'utf8');
  const m = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd);
  if (!m) throw new Error(`${dir}: no primary in repomd.xml`);
  const xml = zlib.gunzipSync(fs.readFileSync(path.join(dir, m[1]))).toString();
  const out = {};
  for (const pkg of xml.split('<package ').slice(1)) {
    const sum = /<checksum type="sha256" pkgid="YES">([0-9a-f]+)</.exec(pkg);
    const href = /<location href="([^"]+)"/.exec(pkg);
    if (sum && href) out[href[1]] = sum[1];
  }
  return out;
}

/**
 * Writes one repository: the given packages (copied from the unsigned builds, then signed),
 * metadata, and its signature. Returns the manifest entries of its packages.
 * @param {{ outdir: string, rel: string, flavour: string, items: { p: object, unsigned: string, signedBy: string|null }[],
 *           metadata: 'test'|'other'|'unsigned'|'none', keys: object, home: string }} o
 */
function writeRepo(o) {
  const dir = path.join(o.outdir, o.rel);
  fs.mkdirSync(dir, { recursive: true });
  const bySigner = { test: [], other: [] };
  const placed = o.items.map((it) => {
    const rel = packagePath(it.p, o.flavour);
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(it.unsigned, file);
    if (it.signedBy) bySigner[it.signedBy].push(file);
    return { ...it, rel, file };
  });
  for (const [name, files] of Object.entries(bySigner)) rpmSign(files, o.home, o.keys[name].fingerprint);
  for (const it of placed) fs.utimesSync(it.file, MTIME, MTIME); // primary.xml records the mtime
  let sums = null;
  if (o.metadata !== 'none') {
    createrepo(dir);
    if (o.metadata === 'test' || o.metadata === 'other') signRepomd(dir, { gnupghome: o.home, keyid: o.keys[o.metadata].fingerprint }, path.join(o.outdir, o.keys.test.asc));
    sums = primaryChecksums(dir);
  }
  return placed.map((it) => {
    const content = fs.readFileSync(it.file);
    const sha256 = crypto.createHash('sha256').update(content).digest('hex');
    if (sums && sums[it.rel] !== sha256) throw new Error(`${o.rel}/${it.rel}: primary.xml says ${sums[it.rel]}, the file is ${sha256}`);
    return {
      repo: o.rel,
      name: it.p.name,
      epoch: it.p.epoch ?? 0,
      version: it.p.version,
      release: it.p.release,
      arch: arch(it.p),
      nevra: `${it.p.name}-${evr(it.p)}.${arch(it.p)}`,
      file: `${o.rel}/${it.rel}`,
      size: content.length,
      sha256,
      unsignedSha256: crypto.createHash('sha256').update(fs.readFileSync(it.unsigned)).digest('hex'),
      signedBy: it.signedBy,
    };
  });
}

const BAD = [
  // [dir, how hello is signed, how the metadata is signed]
  ['bad/unsigned-package', null, 'test'],
  ['bad/wrong-key-package', 'other', 'test'],
  ['bad/unsigned-metadata', 'test', 'unsigned'],
  ['bad/wrong-key-metadata', 'test', 'other'],
  ['bad/no-metadata', 'test', 'none'],
];

const SANDBOX_KEYS = {
  fedora: 'sandbox/fedora/usr/share/distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-42-primary',
  opensuse: 'sandbox/opensuse/usr/share/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE-Tumbleweed',
};

// ---------------------------------------------------------------------------------------------

const OUTPUTS = ['keys', 'fedora', 'opensuse', 'bad', 'sandbox', 'manifest.json'];

/**
 * Builds everything into outdir (its keys/, fedora/, opensuse/, bad/, sandbox/ and
 * manifest.json are replaced).
 * @param {string} outdir
 */
async function build(outdir) {
  outdir = path.resolve(outdir);
  fs.mkdirSync(outdir, { recursive: true });
  clearOutputs(outdir, OUTPUTS);
  const keysDir = path.join(outdir, 'keys');
  fs.mkdirSync(keysDir, { recursive: true });
  const { home, keys } = makeKeys(keysDir);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-rpmbuild-'));
  try {
    // every unsigned package first (by flavour and NEVRA), two rpmbuilds at a time
    const keyOf = (p, flavour) => `${flavour}/${p.name}-${evr(p)}.${arch(p)}`;
    const wanted = new Map(P.REPOS.flatMap((r) => r.packages.map((p) => [keyOf(p, r.flavour), [p, r.flavour]])));
    const built = await pool([...wanted.values()].map(([p, flavour]) => () => buildRpm(p, flavour, work)), 2);
    const unsigned = new Map([...wanted.keys()].map((k, i) => [k, built[i]]));
    const unsignedOf = (p, flavour) => unsigned.get(keyOf(p, flavour));
    const packages = [];
    for (const r of P.REPOS) {
      const items = r.packages.map((p) => ({ p, unsigned: unsignedOf(p, r.flavour), signedBy: 'test' }));
      packages.push(...writeRepo({ outdir, rel: r.path, flavour: r.flavour, items, metadata: 'test', keys, home }));
    }
    const release = P.REPOS.find((r) => r.path === P.FEDORA_RELEASE_REPO);
    for (const [rel, helloSigner, metadata] of BAD) {
      const items = P.BAD_BASE.map((name) => release.packages.find((p) => p.name === name)).map((p) => ({
        p,
        unsigned: unsignedOf(p, 'fedora'),
        signedBy: p.name === 'hello' ? helloSigner : 'test',
      }));
      packages.push(...writeRepo({ outdir, rel, flavour: 'fedora', items, metadata, keys, home }));
    }
    const sandbox = {};
    for (const [flavour, rel] of Object.entries(SANDBOX_KEYS)) {
      fs.mkdirSync(path.dirname(path.join(outdir, rel)), { recursive: true });
      fs.copyFileSync(path.join(outdir, keys.test.asc), path.join(outdir, rel));
      sandbox[flavour] = { tree: rel.split('/usr/')[0], key: rel };
    }
    const manifest = {
      version: 1,
      mtime: MTIME,
      keys: { gnupghome: 'keys/gnupg', ...keys },
      repos: {
        fedora: { release: P.FEDORA_RELEASE_REPO, updates: P.FEDORA_UPDATES_REPO },
        opensuse: { oss: P.OPENSUSE_OSS_REPO, update: P.OPENSUSE_UPDATE_REPO },
        bad: Object.fromEntries(BAD.map(([rel]) => [path.basename(rel), rel])),
      },
      sandbox,
      packages,
    };
    fs.writeFileSync(path.join(outdir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  } finally {
    g.gpgKillAgent(home);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// per-machine cache

/** Key of a cached build: these sources (and the gentoo helpers they load) and the host's rpm. */
function sourceHash() {
  const h = crypto.createHash('sha256');
  const files = [...fs.readdirSync(__dirname).filter((f) => f.endsWith('.js')).map((f) => path.join(__dirname, f)), require.resolve('../gentoo-fixtures/gpkg.js'), require.resolve('../gentoo-fixtures/build.js')];
  for (const f of files.sort()) h.update(`${path.relative(path.dirname(__dirname), f)}\0`).update(fs.readFileSync(f)).update('\0');
  h.update(run('rpm', ['--version'])).update(run('createrepo_c', ['--version']));
  return h.digest('hex').slice(0, 16);
}

const cacheRoot = () => path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln');

/**
 * OUTDIR of a build kept per machine, ~/.cache/kiln/test-fixtures/rpm-<hash>: built once (into
 * a temporary directory renamed into place, so a reader never sees half of one) and reused.
 * @returns {Promise<string>}
 */
async function fixtures() {
  const parent = path.join(cacheRoot(), 'test-fixtures');
  const dir = path.join(parent, `rpm-${sourceHash()}`);
  if (fs.existsSync(path.join(dir, 'manifest.json'))) return dir;
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    await build(tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // another process renamed its build into place first: use that one
      if (!fs.existsSync(path.join(dir, 'manifest.json'))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

module.exports = { build, fixtures, buildRpm, specText, MTIME, SANDBOX_KEYS };

if (require.main === module) {
  const outdir = process.argv[2];
  if (!outdir) {
    process.stderr.write('usage: node tools/rpm-fixtures/build.js OUTDIR\n');
    process.exit(2);
  }
  build(outdir).then(
    (m) => process.stdout.write(`built ${m.packages.length} packages in ${new Set(m.packages.map((p) => p.repo)).size} repositories in ${path.resolve(outdir)}\n`),
    (err) => {
      process.stderr.write(`${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
