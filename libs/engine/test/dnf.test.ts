/**
 * Fedora images through dnf, for real: the RPM fixture repositories (tools/rpm-fixtures: signed
 * packages and metadata, built with rpmbuild, rpmsign and createrepo_c) served on 127.0.0.1 in
 * Fedora's mirror layout, Debian's dnf 4 and rpm installing them in kiln's sandbox. A build, its
 * reproducibility, locks and locked builds, explain's rpm version order, the incremental layer,
 * build packages, removal, and the refusals of bad input.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { buildIn, explain, failure, lockIn, removeTempDirs, sha256, tempDir, tempProject } from './kiln';

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
  // A package cache of the suite's own: what it checks in it is its own doing.
  packages = tempDir('kiln-dnf-packages-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

type Pkg = { name: string; version: string; architecture: string; repository: string; sha256: string; path: string; size: number };
const lockOf = (dir: string) => (parse(fs.readFileSync(path.join(dir, 'kiln.lock'), 'utf8')) as { package: Pkg[] }).package;

/** A Fedora 42 project on the fixture mirror; `content` goes into [Content]. */
function fedora(content: string, extra = ''): string {
  return tempProject({
    'mkosi.conf':
      `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=${server.url}/fedora\n` +
      `[Output]\nFormat=directory\n` +
      `[Build]\nSandboxTrees=${fx}/sandbox/fedora\nPackageCacheDirectory=${packages}\n${extra}` +
      `[Content]\nSourceDateEpoch=1700000000\n${content}`,
  });
}

/** rpm's database of an image: name -> epoch:version-release (gpg-pubkey entries are keys); read from a copy, which rpm may write to. */
function rpmdb(image: string): Map<string, string> {
  const root = tempDir('kiln-dnf-rpmdb-');
  fs.cpSync(path.join(image, 'usr/lib/sysimage/rpm'), path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  const out = execFileSync('rpm', ['--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: root },
  });
  return new Map(
    out
      .split('\n')
      .filter((l) => l && !l.startsWith('gpg-pubkey'))
      .map((l) => {
        const [name, evr] = l.split(' ');
        return [name, evr.replace(/^0:/, '')];
      }),
  );
}

const image = (dir: string) => path.join(dir, 'mkosi.output/image');

describe('a Fedora image from the fixture mirror', () => {
  let dir: string;

  it('installs basesystem and Packages= from both repositories (updates wins), runs scriptlets in the image, keeps the database where Fedora does', async () => {
    dir = fedora('Packages=hello\nCleanPackageMetadata=no\nWithDocs=no\n');
    const r = await buildIn(dir);
    expect(failure(r)).toBe('');
    const root = image(dir);
    const db = rpmdb(root);
    expect([...db.keys()].sort()).toEqual(['basesystem', 'busybox', 'fedora-release', 'filesystem', 'hello', 'libhello', 'setup']);
    expect(db.get('hello')).toBe('1.1-1');
    expect(fs.readFileSync(path.join(root, 'var/lib/hello/post-ran'), 'utf8')).toBe('hello 1.1-1\n');
    expect(fs.readFileSync(path.join(root, 'usr/lib/os-release'), 'utf8')).toContain('ID=fedora');
    // WithDocs=no: rpm's --nodocs leaves the documentation out.
    expect(fs.existsSync(path.join(root, 'usr/share/doc/hello/README'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'usr/bin/hello'))).toBe(true);
    // rpm's database in /usr/lib/sysimage/rpm (not Debian's ~/.rpmdb), without write-ahead logs; no dnf logs or cache notes.
    expect(fs.existsSync(path.join(root, 'root/.rpmdb'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'usr/lib/sysimage/rpm')).filter((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'var/log')).filter((f) => /^(dnf|hawkey)/.test(f))).toEqual([]);
    expect(fs.existsSync(path.join(root, 'var/cache/dnf'))).toBe(false);
  });

  it('is reproducible: a second build from scratch gives the same bytes, databases included', async () => {
    const tar = (d: string) => {
      const file = path.join(tempDir('kiln-dnf-tar-'), 'image.tar');
      execFileSync('tar', ['--sort=name', '--numeric-owner', '--format=pax', '--pax-option=delete=atime,delete=ctime', '-C', image(d), '-cf', file, '.']);
      return sha256(file);
    };
    const first = tar(dir);
    const db = sha256(path.join(image(dir), 'usr/lib/sysimage/rpm/rpmdb.sqlite'));
    const r = await buildIn(dir, { force: true });
    expect(failure(r)).toBe('');
    expect(sha256(path.join(image(dir), 'usr/lib/sysimage/rpm/rpmdb.sqlite'))).toBe(db);
    expect(tar(dir)).toBe(first);
  });

  it('CleanPackageMetadata=auto drops rpm and dnf state when neither is in the image', async () => {
    const d = fedora('Packages=hello\n');
    const r = await buildIn(d);
    expect(failure(r)).toBe('');
    for (const p of ['usr/lib/sysimage/rpm', 'var/lib/dnf', 'var/cache/dnf']) expect(fs.existsSync(path.join(image(d), p))).toBe(false);
    expect(fs.existsSync(path.join(image(d), 'usr/share/doc/hello/README'))).toBe(true);
  });
});

describe('CentOS Stream', () => {
  it('finds its keys in a sandbox tree\'s /etc/pki/rpm-gpg (the tree an archive) and installs from LocalMirror=', async () => {
    const tree = tempDir('kiln-dnf-centos-keys-');
    const pki = path.join(tree, 'etc/pki/rpm-gpg');
    fs.mkdirSync(pki, { recursive: true });
    const key = fs.readFileSync(path.join(fx, 'sandbox/fedora/usr/share/distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-42-primary'));
    for (const name of ['RPM-GPG-KEY-centosofficial-SHA256', 'RPM-GPG-KEY-CentOS-SIG-Extras']) fs.writeFileSync(path.join(pki, name), key);
    // An archive counts as a directory does: the sandbox trees are laid out before dnf looks (sandbox-trees.ts).
    const keys = path.join(tempDir('kiln-dnf-centos-archive-'), 'keys.tar.zst');
    execFileSync('tar', ['--zstd', '-cf', keys, '-C', tree, 'etc']);
    const dir = tempProject({
      'mkosi.conf':
        `[Distribution]\nDistribution=centos\nRelease=10\nLocalMirror=${server.url}/fedora/linux/releases/42/Everything/x86_64/os\n` +
        `[Output]\nFormat=directory\n[Build]\nSandboxTrees=${keys}\nPackageCacheDirectory=${packages}\n[Content]\nPackages=hello\nCleanPackageMetadata=no\n`,
    });
    const r = await buildIn(dir);
    expect(failure(r)).toBe('');
    // The release repository alone: hello 1.0.
    expect(rpmdb(image(dir)).get('hello')).toBe('1.0-1');
    // Without the keys: the error says which key and where it was looked for.
    fs.writeFileSync(path.join(dir, 'mkosi.conf'), fs.readFileSync(path.join(dir, 'mkosi.conf'), 'utf8').replace(`SandboxTrees=${keys}\n`, ''));
    const missing = await buildIn(dir, { force: true });
    expect(failure(missing)).toMatch(/^proj: RPM-GPG-KEY-centosofficial-SHA256 is not in \/usr\/share\/distribution-gpg-keys or \/etc\/pki\/rpm-gpg of the sandbox trees or this host: add the key with SandboxTrees=/);
  });
});

describe('locks', () => {
  const manifest = () => JSON.parse(fs.readFileSync(path.join(fx, 'manifest.json'), 'utf8'));

  it('record exact packages with the repositories\' checksums; a locked build installs exactly those', async () => {
    const dir = fedora('Packages=hello,tool,epochy\nCleanPackageMetadata=no\n');
    const r = await lockIn(dir);
    expect(failure(r)).toBe('');
    const lock = lockOf(dir);
    const by = new Map(lock.map((p) => [p.name, p]));
    // tool 2.0 (updates) over 2.0~rc1; epochy 1:0.9 (fedora) over 2.0 (updates, epoch 0).
    expect(by.get('tool')).toMatchObject({ version: '2.0-1', architecture: 'noarch', repository: 'updates' });
    expect(by.get('epochy')).toMatchObject({ version: '1:0.9-1', repository: 'fedora' });
    expect(by.get('hello')).toMatchObject({ version: '1.1-1', repository: 'updates' });
    // The checksums and sizes are the repository metadata's (the fixture builder's record of them).
    const known = JSON.stringify(manifest());
    for (const p of lock) {
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(known).toContain(p.sha256);
    }
    const b = await buildIn(dir);
    expect(failure(b)).toBe('');
    expect(b.log).toContain('locked: ');
    expect(rpmdb(image(dir))).toEqual(new Map(lock.map((p) => [p.name, p.version])));
  });

  it('explain orders rpm versions as rpm does (2.0~rc1 < 2.0), and a locked build refuses a lock the repositories no longer match', async () => {
    // Locked against the release repository alone, then against both.
    const release = `${server.url}/fedora/linux/releases/42/Everything/x86_64/os`;
    const dir = fedora('Packages=hello,tool\n', `LocalMirror=${release}\n`);
    expect(failure(await lockIn(dir))).toBe('');
    expect(lockOf(dir).find((p) => p.name === 'tool')?.version).toBe('2.0~rc1-1');
    expect(failure(await buildIn(dir))).toBe('');
    const conf = path.join(dir, 'mkosi.conf');
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^LocalMirror=.*\n/m, ''));
    expect(failure(await lockIn(dir))).toBe('');
    const text = explain(dir);
    // A string order would call 2.0~rc1-1 -> 2.0-1 a downgrade ("-" sorts before "~").
    expect(text).toContain('tool:noarch upgraded 2.0~rc1-1 -> 2.0-1');
    expect(text).toContain('hello:noarch upgraded 1.0-1 -> 1.1-1');

    // A checksum the repositories do not have: refused before anything is installed, the old output intact.
    const before = fs.readFileSync(path.join(dir, 'mkosi.output/image.manifest.json'));
    const lock = path.join(dir, 'kiln.lock');
    const bad = fs.readFileSync(lock, 'utf8').replace(/sha256 = "[0-9a-f]{64}"/, `sha256 = "${'0'.repeat(64)}"`);
    fs.writeFileSync(lock, bad);
    const r = await buildIn(dir, { force: true });
    expect(failure(r)).toMatch(/the lock does not match the repositories:\n {2}\S+: the repositories' checksum is not the locked one/);
    expect(fs.readFileSync(path.join(dir, 'mkosi.output/image.manifest.json'))).toEqual(before);
  });
});

describe('layers, build packages and removal', () => {
  it('Incremental=yes appends a new locked package to the cached layer, giving what a build from scratch gives', async () => {
    const layers = tempDir('kiln-dnf-layers-');
    const dir = fedora('Packages=hello\nCleanPackageMetadata=no\n', `Incremental=yes\nCacheDirectory=${layers}\n`);
    expect(failure(await lockIn(dir))).toBe('');
    const first = await buildIn(dir);
    expect(failure(first)).toBe('');
    expect(first.log).toContain('layer: none cached for these packages and trees; building one');
    const conf = path.join(dir, 'mkosi.conf');
    fs.appendFileSync(conf, 'Packages=hello-devel\n');
    expect(failure(await lockIn(dir))).toBe('');
    const second = await buildIn(dir, { force: true });
    expect(failure(second)).toBe('');
    expect(second.log).toMatch(/layer: adding hello-devel to layer [0-9a-f]{12}, which has the rest of the lock/);
    const appended = rpmdb(image(dir));
    expect(appended.get('hello-devel')).toBe('1.0-1');
    // From scratch, the same packages.
    fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('Incremental=yes', 'Incremental=no'));
    const scratch = await buildIn(dir, { force: true });
    expect(failure(scratch)).toBe('');
    expect(rpmdb(image(dir))).toEqual(appended);
  });

  it('BuildPackages= are in the build overlay only; RemovePackages= takes a package out', async () => {
    const script = '#!/bin/sh\nset -e\ntest -f "$BUILDROOT/usr/include/hello.h"\nmkdir -p "$DESTDIR/usr/share/built"\necho ok > "$DESTDIR/usr/share/built/by-script"\n';
    const dir = tempProject({
      'mkosi.conf':
        `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=${server.url}/fedora\n[Output]\nFormat=directory\n` +
        `[Build]\nSandboxTrees=${fx}/sandbox/fedora\nPackageCacheDirectory=${packages}\n` +
        `[Content]\nSourceDateEpoch=1700000000\nPackages=hello,tool\nBuildPackages=hello-devel\nRemovePackages=tool\nCleanPackageMetadata=no\n`,
      'mkosi.build': { text: script, mode: 0o755 },
    });
    const r = await buildIn(dir);
    expect(failure(r)).toBe('');
    const root = image(dir);
    expect(fs.readFileSync(path.join(root, 'usr/share/built/by-script'), 'utf8')).toBe('ok\n');
    expect(fs.existsSync(path.join(root, 'usr/include/hello.h'))).toBe(false);
    const db = rpmdb(root);
    expect(db.has('hello-devel')).toBe(false);
    expect(db.has('tool')).toBe(false);
    expect(db.get('hello')).toBe('1.1-1');
  });
});

describe('bad input', () => {
  it('a package in no repository names the repositories searched', async () => {
    const r = await buildIn(fedora('Packages=no-such-package\n'));
    expect(failure(r)).toMatch(/no-such-package: in none of the repositories searched: fedora \(http:\/\/127\.0\.0\.1:\d+\/fedora\/linux\/releases\/42\/Everything\/x86_64\/os\), updates \(/);
  });

  it('an unreachable mirror is one clear line', async () => {
    const d = tempProject({
      'mkosi.conf': `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=http://127.0.0.1:9/fedora\n[Output]\nFormat=directory\n[Build]\nSandboxTrees=${fx}/sandbox/fedora\nPackageCacheDirectory=${packages}\n`,
    });
    const r = await buildIn(d);
    expect(failure(r).split('\n')[0]).toMatch(/^proj: repository fedora \(http:\/\/127\.0\.0\.1:9\/fedora\/linux\/releases\/42\/Everything\/x86_64\/os\): it cannot be reached or has no repository metadata/);
  });

  describe('refused before anything is installed, the previous output intact', () => {
    let dir: string;
    let manifest: Buffer;
    let conf: string;
    beforeAll(async () => {
      dir = fedora('Packages=hello\n');
      expect(failure(await buildIn(dir))).toBe('');
      manifest = fs.readFileSync(path.join(dir, 'mkosi.output/image.manifest.json'));
      conf = fs.readFileSync(path.join(dir, 'mkosi.conf'), 'utf8');
    });

    it.each([
      ['unsigned-package', /^proj: refused: hello-1\.0-1\.noarch is not signed \(RepositoryKeyCheck=yes/],
      ['wrong-key-package', /^proj: refused: hello-1\.0-1\.noarch is signed by a key the configuration does not name/],
      ['wrong-key-metadata', /^proj: repository fedora \(\S+\/bad\/wrong-key-metadata\): its metadata signature does not verify with the configured keys; nothing was installed/],
      ['no-metadata', /^proj: repository fedora \(\S+\/bad\/no-metadata\): it cannot be reached or has no repository metadata/],
    ])('%s', async (bad, why) => {
      fs.writeFileSync(path.join(dir, 'mkosi.conf'), `${conf}[Distribution]\nLocalMirror=${server.url}/bad/${bad}\n`);
      const r = await buildIn(dir, { force: true });
      expect(failure(r)).toMatch(why);
      expect(fs.readFileSync(path.join(dir, 'mkosi.output/image.manifest.json'))).toEqual(manifest);
      expect(fs.existsSync(path.join(image(dir), 'usr/bin/hello'))).toBe(true);
    });
  });
});
