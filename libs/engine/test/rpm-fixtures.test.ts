/**
 * The RPM fixtures (tools/rpm-fixtures) are REAL repositories: checked here with independent
 * tools only (gpgv, rpm, rpmkeys, zcat, sha256sum, and a real dnf and zypper installing from them over
 * loopback), never with the builder's own code. Built once per machine (fixtures()).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

jest.setTimeout(180_000);

const tools = path.resolve(__dirname, '../../../tools');
// Plain CommonJS without types: the shapes used here are declared below.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fixtures, buildRpm } = require(path.join(tools, 'rpm-fixtures/build.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { REPOS } = require(path.join(tools, 'rpm-fixtures/packages.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require(path.join(tools, 'gentoo-fixtures/serve.js'));

interface Pkg {
  repo: string;
  name: string;
  epoch: number;
  version: string;
  release: string;
  arch: string;
  nevra: string;
  file: string;
  size: number;
  sha256: string;
  unsignedSha256: string;
  signedBy: 'test' | 'other' | null;
}
interface Manifest {
  keys: { test: { fingerprint: string; asc: string; gpg: string }; other: { fingerprint: string; asc: string; gpg: string } };
  repos: { fedora: { release: string; updates: string }; opensuse: { oss: string; update: string }; bad: Record<string, string> };
  sandbox: Record<'fedora' | 'opensuse', { tree: string; key: string }>;
  packages: Pkg[];
}

const temps: string[] = [];
function tempDir(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `kiln-rpm-${name}-`));
  temps.push(d);
  return d;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 26, env });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
function ok(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = run(cmd, args, env);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** gpgv with only the given keyring: an empty homedir, so ~/.gnupg is never read. */
const gpgv = (keyring: string, ...files: string[]) => run('gpgv', ['--homedir', tempDir('gpgv'), '--keyring', keyring, ...files]);

/**
 * rpm and rpmkeys on a root of their own. Debian's rpm keeps its database in ~/.rpmdb
 * (%_dbpath), so HOME is a temporary directory and the dbpath is given as Fedora's.
 */
const rpmEnv = () => ({ PATH: process.env.PATH, HOME: tempDir('home'), LC_ALL: 'C' });
const DBPATH = ['--dbpath', '/usr/lib/sysimage/rpm'];

let out: string;
let manifest: Manifest;
const inRepo = (repo: string) => manifest.packages.filter((p) => p.repo === repo);
const pkg = (repo: string, name: string) => {
  const p = manifest.packages.find((x) => x.repo === repo && x.name === name);
  if (!p) throw new Error(`no ${name} in ${repo} in manifest.json`);
  return p;
};

beforeAll(async () => {
  out = await fixtures();
  manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
});

afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('layout', () => {
  test('the repositories hold the packages the brief lists, at mkosi’s mirror paths', () => {
    const names = (repo: string) => inRepo(repo).map((p) => `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}`).sort();
    expect(manifest.repos.fedora).toEqual({ release: 'fedora/linux/releases/42/Everything/x86_64/os', updates: 'fedora/linux/updates/42/Everything/x86_64' });
    expect(manifest.repos.opensuse).toEqual({ oss: 'opensuse/tumbleweed/repo/oss', update: 'opensuse/update/tumbleweed' });
    expect(names(manifest.repos.fedora.release)).toEqual(
      ['basesystem-11', 'busybox-1.36.1', 'epochy-1:0.9', 'fedora-release-42', 'filesystem-3.18', 'hello-1.0', 'hello-devel-1.0', 'libhello-1.0', 'setup-2.15.0', 'tool-2.0~rc1'].sort(),
    );
    expect(names(manifest.repos.fedora.updates)).toEqual(['epochy-2.0', 'hello-1.1', 'tool-2.0']);
    expect(names(manifest.repos.opensuse.oss)).toEqual(['busybox-1.36.1', 'filesystem-3.18', 'hello-1.0', 'hello-devel-1.0', 'libhello-1.0', 'openSUSE-release-20261101', 'setup-2.15.0']);
    expect(names(manifest.repos.opensuse.update)).toEqual(['hello-1.1']);
    for (const bad of Object.values(manifest.repos.bad)) expect(names(bad)).toEqual(['basesystem-11', 'busybox-1.36.1', 'fedora-release-42', 'filesystem-3.18', 'hello-1.0', 'libhello-1.0', 'setup-2.15.0']);
    expect(Object.keys(manifest.repos.bad).sort()).toEqual(['no-metadata', 'unsigned-metadata', 'unsigned-package', 'wrong-key-metadata', 'wrong-key-package']);
  });

  test('manifest.json agrees with the files (sha256sum), with rpm’s view of each header, and with primary.xml', () => {
    const env = rpmEnv();
    const files = manifest.packages.map((p) => path.join(out, p.file));
    // one sha256sum and one rpm for all files: lines in the order given
    const sums = ok('sha256sum', files).trim().split('\n').map((l) => l.split(/\s+/)[0]);
    const heads = ok('rpm', ['-qp', '--nosignature', '--qf', '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH}\n', ...files], env).trim().split('\n');
    const primaries = new Map<string, string>();
    manifest.packages.forEach((p, i) => {
      expect(fs.statSync(files[i]).size).toBe(p.size);
      expect([p.file, sums[i]]).toEqual([p.file, p.sha256]);
      expect(heads[i]).toBe(`${p.name} ${p.epoch} ${p.version} ${p.release} ${p.arch}`);
      if (p.repo === manifest.repos.bad['no-metadata']) return;
      if (!primaries.has(p.repo)) {
        const repomd = fs.readFileSync(path.join(out, p.repo, 'repodata/repomd.xml'), 'utf8');
        const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
        primaries.set(p.repo, ok('zcat', [path.join(out, p.repo, href)]));
      }
      const entry = primaries
        .get(p.repo)!
        .split('<package ')
        .find((e) => e.includes(`<location href="${p.file.slice(p.repo.length + 1)}"/>`));
      expect(entry).toContain(`<checksum type="sha256" pkgid="YES">${p.sha256}</checksum>`);
      expect(entry).toContain(`<version epoch="${p.epoch}" ver="${p.version}" rel="${p.release}"/>`);
    });
  });

  test('rpm’s own version order: 2.0~rc1 < 2.0, and 1:0.9 > 2.0', () => {
    const cmp = (a: string, b: string) => ok('rpm', ['--eval', `%{lua: print(rpm.vercmp("${a}", "${b}"))}`], rpmEnv()).trim();
    expect(cmp('2.0~rc1-1', '2.0-1')).toBe('-1');
    expect(cmp('1:0.9-1', '0:2.0-1')).toBe('1');
  });

  test('the packages carry the files, modes, flags and scriptlet the brief asks for', () => {
    const env = rpmEnv();
    const release = manifest.repos.fedora.release;
    const lines = (name: string) =>
      ok('rpm', ['-qp', '--nosignature', '--qf', '[%{FILEMODES:perms}|%{FILEFLAGS:fflags}|%{FILENAMES}|%{FILELINKTOS}\n]', path.join(out, pkg(release, name).file)], env)
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
    const fsys = lines('filesystem');
    const entry = (rows: string[][], p: string) => rows.find((r) => r[2] === p);
    expect(entry(fsys, '/root')?.[0]).toBe('dr-xr-x---');
    expect(entry(fsys, '/tmp')?.[0]).toBe('drwxrwxrwt');
    for (const [l, t] of [
      ['/bin', 'usr/bin'],
      ['/sbin', 'usr/bin'],
      ['/lib', 'usr/lib'],
      ['/lib64', 'usr/lib64'],
    ]) {
      expect(entry(fsys, l)?.[3]).toBe(t);
    }
    expect(entry(lines('setup'), '/etc/shadow')?.[0]).toBe('----------');
    const hello = lines('hello');
    expect(entry(hello, '/etc/hello.conf')?.[1]).toBe('cn'); // %config(noreplace)
    expect(entry(hello, '/usr/share/doc/hello/README')?.[1]).toBe('d');
    expect(entry(hello, '/usr/share/man/man1/hello.1')?.[1]).toBe('d');
    expect(entry(hello, '/usr/bin/hello')?.[0]).toBe('-rwxr-xr-x');
    expect(ok('rpm', ['-qp', '--nosignature', '--scripts', path.join(out, pkg(release, 'hello').file)], env)).toContain('/var/lib/hello/post-ran');
    const bb = path.join(out, pkg(release, 'busybox').file);
    expect(ok('rpm', ['-qp', '--nosignature', '--provides', bb], env)).toMatch(/^\/bin\/sh$/m);
    expect(entry(lines('busybox'), '/usr/bin/sh')?.[3]).toBe('busybox');
    const requires = ok('rpm', ['-qp', '--nosignature', '--requires', path.join(out, pkg(release, 'basesystem').file)], env).split('\n');
    expect(requires.filter((r) => r && !r.startsWith('rpmlib('))).toEqual(['filesystem', 'setup', 'system-release']);
    const osSuse = path.join(out, pkg(manifest.repos.opensuse.oss, 'openSUSE-release').file);
    expect(ok('rpm', ['-qp', '--nosignature', '--qf', '%{VENDOR}', osSuse], env)).toBe('openSUSE');
    expect(ok('rpm', ['-qp', '--nosignature', '--provides', osSuse], env)).toMatch(/^system-release$/m);
  });
});

describe('signatures', () => {
  test('gpgv accepts every repomd.xml.asc with the test key; wrong-key-metadata only with the other key', () => {
    const test = path.join(out, manifest.keys.test.gpg);
    const other = path.join(out, manifest.keys.other.gpg);
    const signed = [...Object.values(manifest.repos.fedora), ...Object.values(manifest.repos.opensuse), manifest.repos.bad['unsigned-package'], manifest.repos.bad['wrong-key-package']];
    for (const repo of signed) {
      const repomd = path.join(out, repo, 'repodata/repomd.xml');
      expect([repo, gpgv(test, `${repomd}.asc`, repomd).status]).toEqual([repo, 0]);
      expect([repo, gpgv(other, `${repomd}.asc`, repomd).status]).not.toEqual([repo, 0]);
      expect(fs.readFileSync(`${repomd}.key`, 'utf8')).toBe(fs.readFileSync(path.join(out, manifest.keys.test.asc), 'utf8'));
    }
    const wrong = path.join(out, manifest.repos.bad['wrong-key-metadata'], 'repodata/repomd.xml');
    expect(gpgv(test, `${wrong}.asc`, wrong).status).not.toBe(0);
    expect(gpgv(other, `${wrong}.asc`, wrong).status).toBe(0);
    expect(fs.existsSync(path.join(out, manifest.repos.bad['unsigned-metadata'], 'repodata/repomd.xml'))).toBe(true);
    expect(fs.existsSync(path.join(out, manifest.repos.bad['unsigned-metadata'], 'repodata/repomd.xml.asc'))).toBe(false);
    expect(fs.existsSync(path.join(out, manifest.repos.bad['no-metadata'], 'repodata'))).toBe(false);
  });

  test('rpmkeys -K: signatures OK with the test key imported, NOT OK for the unsigned and wrong-key hello', () => {
    const env = rpmEnv();
    const root = tempDir('rpmkeys');
    ok('rpmkeys', ['--root', root, ...DBPATH, '--import', path.join(out, manifest.keys.test.asc)], env);
    expect(fs.existsSync(path.join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'))).toBe(true);
    // unsigned packages pass -K with digests only unless signatures are required
    const r = run('rpmkeys', ['--root', root, ...DBPATH, '--define', '_pkgverify_level signature', '-K', ...manifest.packages.map((p) => path.join(out, p.file))], env);
    expect(r.status).toBe(2); // rpmkeys exits with the number of packages that failed
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual(manifest.packages.map((p) => `${path.join(out, p.file)}: digests ${p.signedBy === 'test' ? 'signatures OK' : 'SIGNATURES NOT OK'}`));
    // each bad one alone fails, each good one alone passes
    for (const p of manifest.packages.filter((x) => x.name === 'hello')) {
      expect([p.file, run('rpmkeys', ['--root', root, ...DBPATH, '--define', '_pkgverify_level signature', '-K', path.join(out, p.file)], env).status]).toEqual([p.file, p.signedBy === 'test' ? 0 : 1]);
    }
    expect(manifest.packages.filter((p) => p.signedBy !== 'test').map((p) => `${p.repo} ${p.nevra} ${p.signedBy}`)).toEqual([
      'bad/unsigned-package hello-1.0-1.noarch null',
      'bad/wrong-key-package hello-1.0-1.noarch other',
    ]);
  });

  test('the sandbox trees hold the test public key where mkosi looks for it', () => {
    const home = tempDir('gpg');
    for (const [flavour, rel] of [
      ['fedora', 'sandbox/fedora/usr/share/distribution-gpg-keys/fedora/RPM-GPG-KEY-fedora-42-primary'],
      ['opensuse', 'sandbox/opensuse/usr/share/distribution-gpg-keys/opensuse/RPM-GPG-KEY-openSUSE-Tumbleweed'],
    ] as const) {
      expect(manifest.sandbox[flavour].key).toBe(rel);
      const shown = ok('gpg', ['--homedir', home, '--batch', '--with-colons', '--show-keys', path.join(out, rel)]);
      expect(shown).toContain(`fpr:::::::::${manifest.keys.test.fingerprint}:`);
    }
  });
});

describe('determinism', () => {
  test('rebuilding a package gives the same bytes as the unsigned build the repositories were made from', async () => {
    const work = tempDir('rebuild');
    const release = REPOS.find((r: { path: string }) => r.path === manifest.repos.fedora.release);
    for (const name of ['hello', 'busybox']) {
      const file: string = await buildRpm(
        release.packages.find((p: { name: string }) => p.name === name),
        'fedora',
        work,
      );
      expect([name, ok('sha256sum', [file]).split(/\s+/)[0]]).toEqual([name, pkg(release.path, name).unsignedSha256]);
    }
    // ...and the unsigned hello in bad/unsigned-package is that build, byte for byte
    const unsigned = pkg(manifest.repos.bad['unsigned-package'], 'hello');
    expect(unsigned.sha256).toBe(pkg(release.path, 'hello').unsignedSha256);
  });

  test('fixtures() reuses the per-machine build', async () => {
    expect(await fixtures()).toBe(out);
    expect(path.basename(out)).toMatch(/^rpm-[0-9a-f]{16}$/);
  });
});

describe('a real dnf installs from the fixtures over loopback', () => {
  let server: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    server = await serve(out, { port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Runs dnf (asynchronously: the server answers from this process) as root, or in a user namespace as root. */
  function dnf(repos: Record<string, string>, args: string[]) {
    const dir = tempDir('dnf');
    const root = path.join(dir, 'root');
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(dir, 'repos'), { recursive: true });
    fs.mkdirSync(root);
    fs.mkdirSync(home);
    // Debian's rpm would put the image's rpmdb in <root>/$HOME/.rpmdb: the dbpath is set as mkosi does
    fs.writeFileSync(path.join(home, '.rpmmacros'), '%_dbpath /usr/lib/sysimage/rpm\n');
    const conf = Object.entries(repos)
      .map(([id, rel]) => `[${id}]\nname=${id}\nbaseurl=${server.url}/${rel}/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://${path.join(out, manifest.sandbox.fedora.key)}\n`)
      .join('\n');
    fs.writeFileSync(path.join(dir, 'repos', 'kiln.repo'), conf);
    const cmd = ['dnf', `--installroot=${root}`, '--releasever=42', `--setopt=reposdir=${path.join(dir, 'repos')}`, '--setopt=skip_if_unavailable=0', '--setopt=install_weak_deps=0', '-y', ...args];
    const argv = process.getuid?.() === 0 ? cmd : ['unshare', '--user', '--map-root-user', ...cmd];
    return new Promise<{ root: string; status: number | null; output: string }>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { env: { PATH: process.env.PATH, HOME: home, LC_ALL: 'C.UTF-8', RPM_FORCE_DEBIAN: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (status) => {
        // librepo's gpgme leaves a gpg-agent running in each repository's pubring: stop them
        const cache = path.join(root, 'var/cache/dnf');
        for (const d of fs.existsSync(cache) ? fs.readdirSync(cache) : []) {
          const ring = path.join(cache, d, 'pubring');
          if (fs.existsSync(ring)) spawnSync('gpgconf', ['--homedir', ring, '--kill', 'all']);
        }
        resolve({ root, status, output });
      });
    });
  }
  const rpmQa = (root: string) => ok('rpm', ['--root', root, ...DBPATH, '-qa', '--qf', '%{NEVRA}\n'], rpmEnv()).trim().split('\n').sort();

  test('Fedora: basesystem hello tool epochy from releases + updates; updates win, ~ and epochs order, scriptlets run', async () => {
    const r = await dnf({ fedora: manifest.repos.fedora.release, updates: manifest.repos.fedora.updates }, ['install', 'basesystem', 'hello', 'tool', 'epochy']);
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: expect.stringContaining('Complete!') });
    // dnf imported the key into the image's rpmdb: gpg-pubkey-<short key id>-<creation time>
    const keyId = manifest.keys.test.fingerprint.slice(-8).toLowerCase();
    expect(rpmQa(r.root)).toEqual([
      'basesystem-11-1.noarch',
      'busybox-1.36.1-1.x86_64',
      'epochy-1:0.9-1.noarch', // 1:0.9 from the release beats 2.0 (epoch 0) from updates
      'fedora-release-42-1.noarch',
      'filesystem-3.18-1.noarch',
      expect.stringMatching(new RegExp(`^gpg-pubkey-${keyId}-[0-9a-f]{8}$`)),
      'hello-1.1-1.noarch', // updates win
      'libhello-1.0-1.noarch',
      'setup-2.15.0-1.noarch',
      'tool-2.0-1.noarch', // 2.0 from updates beats 2.0~rc1
    ]);
    expect(fs.existsSync(path.join(r.root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'))).toBe(true);
    expect(fs.readFileSync(path.join(r.root, 'usr/bin/hello'), 'utf8')).toBe('#!/bin/sh\necho "hello 1.1"\n');
    expect(fs.readFileSync(path.join(r.root, 'var/lib/hello/post-ran'), 'utf8')).toBe('hello 1.1-1\n');
    expect(fs.readFileSync(path.join(r.root, 'etc/os-release'), 'utf8')).toMatch(/^ID=fedora$/m);
    expect(fs.readlinkSync(path.join(r.root, 'bin'))).toBe('usr/bin');
    expect(fs.statSync(path.join(r.root, 'root')).mode & 0o7777).toBe(0o550);
    expect(fs.existsSync(path.join(r.root, 'usr/share/doc/hello/README'))).toBe(true);
    // the busybox in the image runs the image's script
    expect(ok(path.join(r.root, 'usr/bin/busybox'), ['sh', path.join(r.root, 'usr/bin/hello')])).toBe('hello 1.1\n');
  });

  /**
   * zypper as mkosi runs it (--installroot, our own repos.d and cache, --download in-advance so
   * that a refused package leaves nothing installed). pkg_gpgcheck=1: by default libzypp does not
   * check package signatures when the repository's metadata is signed (its checksums cover them).
   */
  function zypper(repos: Record<string, string>, packages: string[]) {
    const dir = tempDir('zypper');
    const root = path.join(dir, 'root');
    const home = path.join(dir, 'home');
    for (const d of ['repos', 'cache', 'root', 'home']) fs.mkdirSync(path.join(dir, d));
    fs.writeFileSync(path.join(home, '.rpmmacros'), '%_dbpath /usr/lib/sysimage/rpm\n');
    const conf = Object.entries(repos)
      .map(([id, rel]) => `[${id}]\nname=${id}\nbaseurl=${server.url}/${rel}/\ngpgcheck=1\nrepo_gpgcheck=1\npkg_gpgcheck=1\nautorefresh=0\ngpgkey=file://${path.join(out, manifest.sandbox.opensuse.key)}\n`)
      .join('\n');
    fs.writeFileSync(path.join(dir, 'repos', 'kiln.repo'), conf);
    const cmd = ['zypper', `--installroot=${root}`, `--reposd-dir=${path.join(dir, 'repos')}`, `--cache-dir=${path.join(dir, 'cache')}`, '--non-interactive', '--gpg-auto-import-keys', 'install', '--no-recommends', '--download', 'in-advance', ...packages];
    const argv = process.getuid?.() === 0 ? cmd : ['unshare', '--user', '--map-root-user', ...cmd];
    return new Promise<{ root: string; status: number | null; output: string }>((resolve, reject) => {
      // libzypp logs to the host's /var/log/zypper.log whatever the installroot: ZYPP_LOGFILE moves it
      const env = { PATH: process.env.PATH, HOME: home, LC_ALL: 'C.UTF-8', RPM_FORCE_DEBIAN: '1', ZYPP_LOGFILE: path.join(dir, 'zypper.log') };
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (status) => resolve({ root, status, output }));
    });
  }

  test('openSUSE with zypper: installs from oss + update; refuses the unsigned hello and installs nothing', async () => {
    const good = await zypper({ 'repo-oss': manifest.repos.opensuse.oss, 'repo-update': manifest.repos.opensuse.update }, ['filesystem', 'openSUSE-release', 'hello']);
    expect({ status: good.status, output: good.output }).toEqual({ status: 0, output: expect.stringContaining('Installing: hello-1.1-1.noarch') });
    expect(fs.readFileSync(path.join(good.root, 'var/lib/hello/post-ran'), 'utf8')).toBe('hello 1.1-1\n');
    expect(rpmQa(good.root)).toEqual(expect.arrayContaining(['hello-1.1-1.noarch', 'openSUSE-release-20261101-1.noarch', 'busybox-1.36.1-1.x86_64']));
    expect(fs.readFileSync(path.join(good.root, 'etc/os-release'), 'utf8')).toMatch(/^ID=opensuse-tumbleweed$/m);
    expect(fs.existsSync(path.join(good.root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'))).toBe(true);

    const bad = await zypper({ bad: manifest.repos.bad['unsigned-package'] }, ['basesystem', 'hello']);
    expect(bad.status).toBe(8);
    expect(bad.output).toMatch(/hello-1\.0-1\.noarch \(bad\): Signature verification failed \[6-File is unsigned\]/);
    expect(rpmQa(bad.root).filter((p) => !p.startsWith('gpg-pubkey-'))).toEqual([]);
  });

  test.each([
    ['unsigned-package', /Package hello-1\.0-1\.noarch\.rpm is not signed[\s\S]*Error: GPG check FAILED/],
    ['wrong-key-package', /Public key for hello-1\.0-1\.noarch\.rpm is not installed\. Failing package is: hello-1\.0-1\.noarch[\s\S]*Error: GPG check FAILED/],
    ['unsigned-metadata', /GPG verification is enabled, but GPG signature is not available[\s\S]*repomd\.xml\.asc/],
    ['wrong-key-metadata', /repomd\.xml GPG signature verification error: Bad GPG signature/],
    ['no-metadata', /Cannot download repomd\.xml/],
  ])('bad/%s: dnf refuses', async (bad, message) => {
    const r = await dnf({ bad: manifest.repos.bad[bad] }, ['install', 'basesystem', 'hello']);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(message);
    expect(fs.existsSync(path.join(r.root, 'usr/bin/hello'))).toBe(false);
  });
});
