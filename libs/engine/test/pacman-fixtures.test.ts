/**
 * The Arch fixtures (tools/pacman-fixtures), checked with tools that are not kiln's: gpgv on every
 * detached signature, bsdtar on the packages, and a real `pacman -Sy` from the served mirror with
 * signatures required, after pacman-key --init/--populate from the fixtures' keyring tree.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pacmanFixtures, type PacmanManifest } from './pacman-fixtures';
import { removeTempDirs, tempDir } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

let dir: string;
let m: PacmanManifest;
let server: { url: string; close(): Promise<void> };
let gpgdir: string;

beforeAll(async () => {
  ({ dir, manifest: m } = await pacmanFixtures());
  server = await serve(dir, { port: 0 });
  gpgdir = tempDir('kiln-pacman-gpg-');
  execFileSync('pacman-key', ['--gpgdir', gpgdir, '--init'], { stdio: 'pipe' });
  // Debian's pacman-key reads /usr/share/keyrings, Arch's /usr/share/pacman/keyrings: the fixtures' keyrings stand in for both.
  const keyrings = path.join(dir, m.keyrings);
  const over = ['/usr/share/keyrings', '/usr/share/pacman/keyrings'].filter((d) => fs.existsSync(d)).flatMap((d) => ['--ro-bind', keyrings, d]);
  execFileSync('bwrap', ['--dev-bind', '/', '/', ...over, 'pacman-key', '--gpgdir', gpgdir, '--populate', 'archlinux'], { stdio: 'pipe' });
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

const repoDir = (mirror: string, repo: string) => path.join(dir, mirror, repo, 'os/x86_64');
const gpgv = (keyring: string, file: string) => spawnSync('gpgv', ['--keyring', keyring, `${file}.sig`, file], { encoding: 'utf8' });

/** pacman -Sy into a fresh root (asynchronously: the mirror is served by this process). */
async function pacman(mirror: string, packages: string[]) {
  const t = tempDir('kiln-pacman-root-');
  const root = path.join(t, 'root');
  fs.mkdirSync(path.join(root, 'var/lib/pacman'), { recursive: true });
  const conf = path.join(t, 'pacman.conf');
  const server = `${serverUrl()}/${mirror}/$repo/os/$arch`;
  fs.writeFileSync(conf, `[options]\nArchitecture = x86_64\nSigLevel = Required DatabaseRequired\n\n[core]\nServer = ${server}\n\n[extra]\nServer = ${server}\n`);
  const args = ['--root', root, '--dbpath', path.join(root, 'var/lib/pacman'), '--cachedir', path.join(t, 'cache'), '--gpgdir', gpgdir, '--config', conf, '--logfile', '/dev/null', '--noconfirm', '-Sy', ...packages];
  return new Promise<{ status: number; stderr: string; root: string }>((resolve) => {
    execFile('pacman', args, { encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stderr, root }));
  });
}
const serverUrl = () => server.url;

describe('the pacman fixtures', () => {
  it('lists every package the mirror has, with the size and SHA-256 of its file', () => {
    const names = m.packages.map((p) => `${p.repo}/${p.name}-${p.version}`).sort();
    expect(names).toEqual([
      'core-testing/hello-1.1-1', 'core-testing/tool-2.0-1',
      'core/busybox-1.0-1', 'core/epochy-1:0.9-1', 'core/filesystem-1.0-1', 'core/hello-1.0-1', 'core/hello-devel-1.0-1', 'core/libhello-1.0-1', 'core/tool-2.0rc1-1',
      'extra/epochy-2.0-1', 'extra/hello-1.1-1', 'extra/tool-2.0-1',
    ]);
    for (const p of m.packages) {
      const file = fs.readFileSync(path.join(repoDir('arch', p.repo), p.file));
      expect([p.file, file.length, createHash('sha256').update(file).digest('hex')]).toEqual([p.file, p.csize, p.sha256]);
      expect(p.arch).toBe('x86_64');
    }
  });

  it('signs every package and database with the test key (gpgv), and the bad mirrors as they say', () => {
    const test = path.join(dir, m.keys.test.gpg);
    for (const repo of m.repositories) {
      for (const f of fs.readdirSync(repoDir('arch', repo)).filter((f) => f.endsWith('.pkg.tar.zst') || f.endsWith('.db'))) {
        expect([f, gpgv(test, path.join(repoDir('arch', repo), f)).status]).toEqual([f, 0]);
      }
    }
    const hello = 'hello-1.0-1-x86_64.pkg.tar.zst';
    expect(fs.existsSync(path.join(repoDir('bad/unsigned-package', 'core'), `${hello}.sig`))).toBe(false);
    expect(gpgv(test, path.join(repoDir('bad/wrong-key-package', 'core'), hello)).status).not.toBe(0);
    expect(gpgv(path.join(dir, m.keys.other.gpg), path.join(repoDir('bad/wrong-key-package', 'core'), hello)).status).toBe(0);
    expect(fs.existsSync(path.join(repoDir('bad/unsigned-db', 'core'), 'core.db.sig'))).toBe(false);
    expect(fs.existsSync(path.join(repoDir('bad/no-db', 'core'), 'core.db'))).toBe(false);
  });

  it('builds hello with makepkg as Arch packages it: .PKGINFO, .INSTALL, backup, merged /usr in filesystem', () => {
    const pkg = path.join(repoDir('arch', 'core'), 'hello-1.0-1-x86_64.pkg.tar.zst');
    const list = execFileSync('bsdtar', ['-tf', pkg], { encoding: 'utf8' }).split('\n');
    expect(list).toEqual(expect.arrayContaining(['.PKGINFO', '.BUILDINFO', '.MTREE', '.INSTALL', 'usr/bin/hello', 'etc/hello.conf', 'usr/share/doc/hello/README', 'usr/share/man/man1/hello.1.gz']));
    const info = execFileSync('bsdtar', ['-xOf', pkg, '.PKGINFO'], { encoding: 'utf8' });
    expect(info).toMatch(/^pkgver = 1\.0-1$/m);
    expect(info).toMatch(/^backup = etc\/hello\.conf$/m);
    expect(info).toMatch(/^depend = libhello$/m);
    expect(info).toMatch(/^builddate = 1700000000$/m);
    const fsList = execFileSync('bsdtar', ['-tvf', path.join(repoDir('arch', 'core'), 'filesystem-1.0-1-x86_64.pkg.tar.zst')], { encoding: 'utf8' });
    expect(fsList).toMatch(/ bin -> usr\/bin$/m);
    expect(fsList).toMatch(/ lib64 -> usr\/lib$/m);
    expect(fsList).toMatch(/^drwxrwxrwt .* tmp\/?$/m);
  });

  it('installs with a real pacman, signatures required, running the install script', async () => {
    const r = await pacman('arch', ['filesystem', 'hello']);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(r.root, 'var/lib/hello/post-ran'), 'utf8')).toBe('ran\n');
    expect(fs.readlinkSync(path.join(r.root, 'usr/bin/sh'))).toBe('busybox');
    expect(fs.readFileSync(path.join(r.root, 'usr/lib/os-release'), 'utf8')).toMatch(/^ID=arch$/m);
    expect(fs.readdirSync(path.join(r.root, 'var/lib/pacman/local')).sort()).toEqual(['ALPM_DB_VERSION', 'busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.0-1', 'libhello-1.0-1']);
  });

  it.each([
    ['unsigned-package', /hello-1\.0-1-x86_64\.pkg\.tar\.zst\.sig/],
    ['wrong-key-package', /required key missing from keyring/],
    ['unsigned-db', /core\.db\.sig/],
    ['no-db', /core\.db/],
  ])('pacman refuses bad/%s before installing anything', async (kind, why) => {
    const r = await pacman(`bad/${kind}`, ['filesystem', 'hello']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(why);
    expect(fs.readdirSync(r.root)).toEqual(['var']);
  });
});
