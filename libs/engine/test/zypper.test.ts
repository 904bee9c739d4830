/**
 * openSUSE images through zypper, for real: the RPM fixture repositories (tools/rpm-fixtures) in
 * openSUSE's mirror layout (tumbleweed/repo/oss, update/tumbleweed) served on 127.0.0.1, Debian's
 * zypper and rpm installing them in kiln's sandbox. What dnf.test.ts covers through the shared
 * code (installers/rpm/) is checked here once: a build, its reproducibility, a lock and a locked
 * build, a layer append, removal, and the refusals of bad input.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { buildIn, failure, lockIn, removeTempDirs, repo as kilnRepo, sha256, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fixtures } = require('../../../tools/rpm-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

let fx: string;
let server: { url: string; close: () => Promise<void> };
let packages: string;

beforeAll(async () => {
  fx = await fixtures();
  server = await serve(fx, { port: 0 });
  packages = tempDir('kiln-zypper-packages-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

type Pkg = { name: string; version: string; architecture: string; repository: string; sha256: string; path: string; size: number };
const lockOf = (dir: string) => (parse(fs.readFileSync(path.join(dir, 'kiln.lock'), 'utf8')) as { package: Pkg[] }).package;

/** An openSUSE Tumbleweed project on the fixture mirror; `content` goes into [Content]. */
function opensuse(content: string, extra = ''): string {
  return tempProject({
    'mkosi.conf':
      `[Distribution]\nDistribution=opensuse\nRelease=tumbleweed\nMirror=${server.url}/opensuse\n` +
      `[Output]\nFormat=directory\n` +
      `[Build]\nSandboxTrees=${fx}/sandbox/opensuse\nPackageCacheDirectory=${packages}\n${extra}` +
      `[Content]\nSourceDateEpoch=1700000000\n${content}`,
  });
}

/** `rpm -qa` of an image's database, read from a copy (rpm writes to a database it reads). */
function rpmQa(image: string): string[] {
  const root = tempDir('kiln-zypper-rpmdb-');
  fs.cpSync(path.join(image, 'usr/lib/sysimage/rpm'), path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  const out = execFileSync('rpm', ['--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: root },
  });
  return out.split('\n').filter(Boolean);
}

/** rpm's database of an image: name -> [epoch:]version-release (gpg-pubkey entries are keys). */
function rpmdb(image: string): Map<string, string> {
  return new Map(
    rpmQa(image)
      .filter((l) => l && !l.startsWith('gpg-pubkey'))
      .map((l) => {
        const [name, evr] = l.split(' ');
        return [name, evr.replace(/^0:/, '')];
      }),
  );
}

const image = (dir: string) => path.join(dir, 'mkosi.output/image');

describe('an openSUSE Tumbleweed image from the fixture mirror', () => {
  let dir: string;

  it('installs filesystem, openSUSE-release and Packages= from both repositories (the update wins), runs scriptlets in the image', async () => {
    dir = opensuse('Packages=hello,hello-devel\nRemovePackages=hello-devel\nCleanPackageMetadata=no\nWithDocs=no\n');
    const r = await buildIn(dir);
    expect(failure(r)).toBe('');
    const root = image(dir);
    const db = rpmdb(root);
    expect([...db.keys()].sort()).toEqual(['busybox', 'filesystem', 'hello', 'libhello', 'openSUSE-release']);
    expect(db.get('hello')).toBe('1.1-1');
    expect(fs.readFileSync(path.join(root, 'var/lib/hello/post-ran'), 'utf8')).toBe('hello 1.1-1\n');
    expect(fs.readFileSync(path.join(root, 'usr/lib/os-release'), 'utf8')).toContain('ID=opensuse-tumbleweed');
    // WithDocs=no: zypp.conf's rpm.install.excludedocs.
    expect(fs.existsSync(path.join(root, 'usr/share/doc/hello/README'))).toBe(false);
    // The keys are in the image's database, where rpm on the running system checks packages with them.
    expect(rpmQa(root).filter((l) => l.startsWith('gpg-pubkey '))).toHaveLength(1);
    // zypper's state, settled: no history, no pid file, AutoInstalled without a date.
    expect(fs.existsSync(path.join(root, 'var/log/zypp/history'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'run/zypp.pid'))).toBe(false);
    expect(fs.readFileSync(path.join(root, 'var/lib/zypp/AutoInstalled'), 'utf8')).toBe('# AutoInstalled\n#\nbusybox\nlibhello\n#\n');
    expect(fs.existsSync(path.join(root, 'var/cache/zypp'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'usr/lib/sysimage/rpm')).filter((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toEqual([]);
  });

  it('CleanPackageMetadata=auto drops zypper\'s state and rpm\'s database when neither tool is in the image', async () => {
    const d = opensuse('Packages=hello\n');
    expect(failure(await buildIn(d))).toBe('');
    for (const p of ['usr/lib/sysimage/rpm', 'var/lib/rpm', 'var/lib/zypp', 'var/cache/zypp']) expect(fs.existsSync(path.join(image(d), p))).toBe(false);
    expect(fs.existsSync(path.join(image(d), 'usr/share/doc/hello/README'))).toBe(true);
  });

  it('is reproducible: a second build from scratch gives the same bytes, databases included', async () => {
    const tar = (d: string) => {
      const file = path.join(tempDir('kiln-zypper-tar-'), 'image.tar');
      execFileSync('tar', ['--sort=name', '--numeric-owner', '--format=pax', '--pax-option=delete=atime,delete=ctime', '-C', image(d), '-cf', file, '.']);
      return sha256(file);
    };
    const first = tar(dir);
    const r = await buildIn(dir, { force: true });
    expect(failure(r)).toBe('');
    expect(tar(dir)).toBe(first);
  });
});

describe('locks and layers', () => {
  it('a lock records exact packages with the repositories\' checksums; a locked build installs exactly those; a layer gets a new package appended', async () => {
    const layers = tempDir('kiln-zypper-layers-');
    const dir = opensuse('Packages=hello\nCleanPackageMetadata=no\n', `Incremental=yes\nCacheDirectory=${layers}\n`);
    expect(failure(await lockIn(dir))).toBe('');
    const lock = lockOf(dir);
    const by = new Map(lock.map((p) => [p.name, p]));
    expect(by.get('hello')).toMatchObject({ version: '1.1-1', architecture: 'noarch', repository: 'oss-update' });
    expect(by.get('busybox')).toMatchObject({ version: '1.36.1-1', architecture: 'x86_64', repository: 'oss' });
    expect([...by.keys()].sort()).toEqual(['busybox', 'filesystem', 'hello', 'libhello', 'openSUSE-release']);
    // The checksums and sizes are the repository metadata's (the fixture builder's record of them).
    const known = fs.readFileSync(path.join(fx, 'manifest.json'), 'utf8');
    for (const p of lock) {
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(known).toContain(p.sha256);
      expect(p.path).toMatch(/\.rpm$/);
    }
    const first = await buildIn(dir);
    expect(failure(first)).toBe('');
    expect(first.log).toContain('locked: ');
    expect(rpmdb(image(dir))).toEqual(new Map(lock.map((p) => [p.name, p.version])));

    // A new package: appended to the cached layer, as a build from scratch would install it.
    const conf = path.join(dir, 'mkosi.conf');
    fs.appendFileSync(conf, 'Packages=hello-devel\n');
    expect(failure(await lockIn(dir))).toBe('');
    const second = await buildIn(dir, { force: true });
    expect(failure(second)).toBe('');
    expect(second.log).toMatch(/layer: adding hello-devel to layer [0-9a-f]{12}, which has the rest of the lock/);
    const appended = rpmdb(image(dir));
    expect(appended.get('hello-devel')).toBe('1.0-1');
    const auto = fs.readFileSync(path.join(image(dir), 'var/lib/zypp/AutoInstalled'), 'utf8');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('Incremental=yes', 'Incremental=no'));
    const scratch = await buildIn(dir, { force: true });
    expect(failure(scratch)).toBe('');
    expect(rpmdb(image(dir))).toEqual(appended);
    expect(fs.readFileSync(path.join(image(dir), 'var/lib/zypp/AutoInstalled'), 'utf8')).toBe(auto);

    // A checksum the repositories do not have: refused before anything is installed.
    const lockFile = path.join(dir, 'kiln.lock');
    fs.writeFileSync(lockFile, fs.readFileSync(lockFile, 'utf8').replace(/sha256 = "[0-9a-f]{64}"/, `sha256 = "${'0'.repeat(64)}"`));
    const bad = await buildIn(dir, { force: true });
    expect(failure(bad)).toMatch(/the lock does not match the repositories:\n {2}\S+: the repositories' checksum is not the locked one/);
  });
});

describe('bad input', () => {
  it('a package in no repository names the repositories searched, building and locking', async () => {
    const dir = opensuse('Packages=no-such-package\n');
    const why = /^proj: no-such-package: in none of the repositories searched: oss \(http:\/\/127\.0\.0\.1:\d+\/opensuse\/tumbleweed\/repo\/oss\), oss-update \(/;
    expect(failure(await buildIn(dir))).toMatch(why);
    expect(failure(await lockIn(dir))).toMatch(why);
  });

  it('an unreachable mirror is one clear line', async () => {
    const d = tempProject({
      'mkosi.conf': `[Distribution]\nDistribution=opensuse\nRelease=tumbleweed\nMirror=http://127.0.0.1:9/opensuse\n[Output]\nFormat=directory\n[Build]\nSandboxTrees=${fx}/sandbox/opensuse\nPackageCacheDirectory=${packages}\n`,
    });
    const r = await buildIn(d);
    expect(failure(r).split('\n')[0]).toMatch(/^proj: repository oss \(http:\/\/127\.0\.0\.1:9\/opensuse\/tumbleweed\/repo\/oss\): it cannot be reached or has no repository metadata/);
  });

  // The bad repositories hold the Fedora base set: fedora-release in Packages= stands in for openSUSE-release (mkosi's rule: a *-release named replaces it).
  it.each([
    ['unsigned-package', /^proj: refused: hello-1\.0-1\.noarch is not signed \(RepositoryKeyCheck=yes/],
    ['wrong-key-package', /^proj: refused: hello-1\.0-1\.noarch is signed by a key the configuration does not name/],
    ['unsigned-metadata', /^proj: repository opensuse \(\S+\/bad\/unsigned-metadata\): its metadata signature does not verify with the configured keys; nothing was installed/],
    ['no-metadata', /^proj: repository opensuse \(\S+\/bad\/no-metadata\): it cannot be reached or has no repository metadata/],
    ['wrong-key-metadata', /^proj: repository opensuse \(\S+\/bad\/wrong-key-metadata\): its metadata signature does not verify with the configured keys; nothing was installed/],
  ])('%s is refused before anything is installed', async (bad, why) => {
    const dir = opensuse('Packages=fedora-release,hello\n', '');
    fs.appendFileSync(path.join(dir, 'mkosi.conf'), `[Distribution]\nLocalMirror=${server.url}/bad/${bad}\n`);
    const r = await buildIn(dir);
    expect(failure(r)).toMatch(why);
    expect(fs.existsSync(path.join(image(dir), 'usr/bin/hello'))).toBe(false);
  });

  it('RepositoryKeyCheck=no installs what the checks refuse (zypper --no-gpg-checks)', async () => {
    const dir = opensuse('Packages=fedora-release,hello\n');
    fs.appendFileSync(path.join(dir, 'mkosi.conf'), `[Distribution]\nLocalMirror=${server.url}/bad/unsigned-package\nRepositoryKeyCheck=no\n`);
    expect(failure(await buildIn(dir))).toBe('');
    expect(fs.readFileSync(path.join(image(dir), 'usr/bin/hello'), 'utf8')).toContain('hello 1.0');
  });

  it('a mirror that signs the metadata with a key of its own and publishes that key (repomd.xml.key) is refused; the key is not imported', async () => {
    const served = tempDir('kiln-zypper-mitm-');
    const repo = path.join(served, 'oss');
    fs.cpSync(path.join(fx, 'opensuse/tumbleweed/repo/oss'), repo, { recursive: true });
    const repomd = path.join(repo, 'repodata/repomd.xml');
    const gnupg = fs.realpathSync(path.join(fx, 'keys/gnupg'));
    execFileSync('gpg', ['--batch', '--yes', '--local-user', 'other@kiln.invalid', '--armor', '--detach-sign', '-o', `${repomd}.asc`, repomd], { env: { ...process.env, GNUPGHOME: gnupg }, stdio: 'ignore' });
    execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent']);
    fs.copyFileSync(path.join(fx, 'keys/other.asc'), `${repomd}.key`);
    const mitm = await serve(served, { port: 0 });
    try {
      const dir = opensuse('Packages=hello\nCleanPackageMetadata=no\n', '');
      fs.appendFileSync(path.join(dir, 'mkosi.conf'), `[Distribution]\nLocalMirror=${mitm.url}/oss\n`);
      const r = await buildIn(dir);
      expect(failure(r)).toMatch(/^proj: repository opensuse \(\S+\/oss\): its metadata signature does not verify with the configured keys; nothing was installed/);
      expect(fs.existsSync(path.join(image(dir), 'usr/bin/hello'))).toBe(false);
    } finally {
      await mitm.close();
    }
  });
});

describe('examples/opensuse', () => {
  it('builds from the fixture mirror with a mkosi.local.conf naming it and the key tree', async () => {
    const root = tempDir('kiln-zypper-example-');
    fs.cpSync(path.join(kilnRepo, 'examples/opensuse'), root, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
    fs.writeFileSync(path.join(root, 'mkosi.local.conf'), `[Distribution]\nMirror=${server.url}/opensuse\n[Build]\nSandboxTrees=${fx}/sandbox/opensuse\nPackageCacheDirectory=${packages}\n`);
    const r = await buildIn(root);
    expect(failure(r)).toBe('');
    const tree = tempDir('kiln-zypper-example-tree-');
    execFileSync('tar', ['-xf', path.join(root, 'mkosi.output/opensuse.tar.zst'), '-C', tree]);
    expect(fs.readFileSync(path.join(tree, 'usr/lib/os-release'), 'utf8')).toMatch(/^ID="?opensuse-tumbleweed"?$/m);
    expect(fs.readFileSync(path.join(tree, 'etc/hostname'), 'utf8')).toBe('kiln-opensuse\n');
    expect(fs.readFileSync(path.join(tree, 'usr/bin/hello'), 'utf8')).toContain('hello 1.1');
  });
});
