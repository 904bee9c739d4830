/**
 * The Gentoo fixtures (tools/gentoo-fixtures) are REAL formats: checked here with independent
 * tools only (GNU tar, zstd, xz, gzip, bzip2, b2sum, sha*sum, md5sum, gpgv), never with the
 * writers' own code. Also checks the loopback server, the build's determinism, and that the
 * tamper hooks make the malicious and broken packages they promise.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

jest.setTimeout(120_000);

const tools = path.resolve(__dirname, '../../../tools/gentoo-fixtures');
// Plain CommonJS without types: the shapes used here are declared below.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const g = require(path.join(tools, 'gpkg.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build } = require(path.join(tools, 'build.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require(path.join(tools, 'serve.js'));

interface BuiltPackage {
  cpv: string;
  pf: string;
  buildId: number;
  format: 'gpkg' | 'xpak';
  comp: string;
  signed: boolean;
  path: string;
  binhostPath: string;
  basename: string | null;
  size: number;
  sha256: string;
  md5: string;
  sha1: string;
  metadata: Record<string, string>;
  files: { path: string; type: string; mode: string; size?: number; linkname?: string }[];
}
interface Manifest {
  keys: { gnupghome: string; test: { fingerprint: string }; other: { fingerprint: string } };
  binhost: { packages: BuiltPackage[] };
  stage3: { path: string; file: string; latest: string; latestPath: string; size: number; sha256: string; sha512: string; blake2b: string };
  snapshot: { profile: string; files: { name: string; top: string; size: number; sha256: string }[] };
}

const temps: string[] = [];
function tempDir(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `kiln-gentoo-${name}-`));
  temps.push(d);
  return d;
}

/** Runs a real tool; input is piped to stdin. */
function run(cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}
function ok(cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}): Buffer {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
/** `<hex>  <file>` -> hex, from b2sum / sha512sum / md5sum / sha1sum / sha256sum */
const sum = (tool: string, file: string) => ok(tool, [file]).toString().split(/\s+/)[0];

/** gpgv with only the given keyring: an empty homedir, so ~/.gnupg is never read. */
function gpgv(keyring: string, ...files: string[]) {
  const home = tempDir('gpgv');
  return run('gpgv', ['--homedir', home, '--keyring', keyring, ...files]);
}

/** GNU tar -tf names of an archive (file or stdin). */
const tarNames = (args: string[], input?: Buffer) => ok('tar', ['-tf', ...args], { input }).toString().split('\n').filter(Boolean);
const tarVerbose = (args: string[], input?: Buffer) => ok('tar', ['-tvf', ...args], { input }).toString();

let out: string;
let manifest: Manifest;
const pkg = (cpv: string, buildId = 1) => {
  const p = manifest.binhost.packages.find((x) => x.cpv === cpv && x.buildId === buildId);
  if (!p) throw new Error(`no ${cpv}-${buildId} in manifest.json`);
  return p;
};

/** Extracts a GPKG's container with GNU tar; returns its `<basename>/` directory. */
function extractGpkg(file: string): string {
  const dir = tempDir('x');
  ok('tar', ['-xf', file, '-C', dir]);
  const [base] = fs.readdirSync(dir);
  return path.join(dir, base);
}
function decompressTool(comp: string): [string, string[]] {
  return { zst: ['zstd', ['-q', '-d', '--long=31', '-c']], xz: ['xz', ['-d', '-c']], gz: ['gzip', ['-d', '-c']], bz2: ['bzip2', ['-d', '-c']] }[comp] as [string, string[]];
}
function decompressFile(file: string, comp: string): Buffer {
  const [cmd, args] = decompressTool(comp);
  return ok(cmd, [...args, file]);
}

beforeAll(async () => {
  out = tempDir('out');
  await build(out);
  manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
});

afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('OUTDIR layout', () => {
  test('keys, binhost, releases and manifest.json are there', () => {
    for (const f of ['keys/test.asc', 'keys/test.gpg', 'keys/other.asc', 'keys/other.gpg', 'binhost/Packages', 'binhost/Packages.gz', 'releases/amd64/autobuilds/latest-stage3-amd64-systemd.txt', 'manifest.json']) {
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    expect(manifest.binhost.packages.map((p) => `${p.cpv}-${p.buildId}`).sort()).toEqual(
      [
        'app-alt/one-1.0-1',
        'app-alt/two-1.0-1',
        'app-misc/collide-1.0-1',
        'app-misc/confd-1.0-1',
        'app-misc/conflict-1.0-1',
        'app-misc/future-eapi-1.0-1',
        'app-misc/hello-1.0-1',
        'app-misc/hello-data-1.0-1',
        'app-misc/legacy-1.0-1',
        'app-misc/multi-1.0-1',
        'app-misc/multi-1.0-2',
        'app-misc/musl-built-1.0-1',
        'app-misc/signed-1.0-1',
        'app-misc/testing-1.0-1',
        'app-misc/unkeyworded-1.0-1',
        'app-misc/wants-multi-1.0-1',
        'sys-apps/baselayout-2.17-1',
        'sys-libs/fakelibc-2.40-r1-1',
      ].sort(),
    );
    for (const p of manifest.binhost.packages) {
      expect(fs.statSync(path.join(out, p.path)).size).toBe(p.size);
      expect(sum('sha256sum', path.join(out, p.path))).toBe(p.sha256);
    }
  });

  test('the public keys are real OpenPGP keys with the right user ids', () => {
    const home = tempDir('gpg');
    const show = (f: string) => ok('gpg', ['--homedir', home, '--batch', '--with-colons', '--show-keys', path.join(out, f)]).toString();
    for (const f of ['keys/test.asc', 'keys/test.gpg']) {
      const c = show(f);
      expect(c).toContain(`fpr:::::::::${manifest.keys.test.fingerprint}:`);
      expect(c).toContain('kiln test signing key <test@kiln.invalid>');
      expect(c).toMatch(/^pub:[^:]*:255:22:/m); // EdDSA (22) ed25519
    }
    expect(show('keys/other.gpg')).toContain(manifest.keys.other.fingerprint);
    expect(manifest.keys.other.fingerprint).not.toBe(manifest.keys.test.fingerprint);
  });
});

describe('GPKG', () => {
  test('the container: ustar, members in GLEP 78 order under <PF>-<BUILD_ID>/', () => {
    const p = pkg('app-misc/hello-1.0');
    const file = path.join(out, p.path);
    expect(p.path).toBe('binhost/app-misc/hello/hello-1.0-1.gpkg.tar');
    expect(tarNames([file])).toEqual(['hello-1.0-1/gpkg-1', 'hello-1.0-1/metadata.tar.zst', 'hello-1.0-1/image.tar.zst', 'hello-1.0-1/Manifest']);
    const head = fs.readFileSync(file).subarray(0, 512);
    expect(head.subarray(257, 265).toString('latin1')).toBe('ustar\u000000'); // POSIX ustar, not GNU
    const dir = extractGpkg(file);
    expect(fs.statSync(path.join(dir, 'gpkg-1')).size).toBe(0);
  });

  test('the image: real files, modes, a hardlink and a symlink (zstd -d --long=31, GNU tar)', () => {
    const p = pkg('app-misc/hello-1.0');
    const dir = extractGpkg(path.join(out, p.path));
    const image = decompressFile(path.join(dir, 'image.tar.zst'), 'zst');
    expect(tarNames(['-'], image)).toEqual(['image/', 'image/usr/', 'image/usr/bin/', 'image/usr/bin/hello', 'image/usr/bin/hello-again', 'image/usr/bin/hi', 'image/usr/share/', 'image/usr/share/hello/', 'image/usr/share/hello/greeting']);
    const v = tarVerbose(['-'], image);
    expect(v).toMatch(/^-rwxr-xr-x root\/root .* image\/usr\/bin\/hello$/m);
    expect(v).toMatch(/^h.* image\/usr\/bin\/hello-again link to image\/usr\/bin\/hello$/m);
    expect(v).toMatch(/^l.* image\/usr\/bin\/hi -> hello$/m);
    expect(v).toMatch(/ 2023-11-14 22:13 image\/usr\/share\/hello\/greeting$/m);
    // plain zstd -d decodes it too
    expect(ok('zstd', ['-q', '-d', '-c', path.join(dir, 'image.tar.zst')]).equals(image)).toBe(true);

    const root = tempDir('img');
    ok('tar', ['-xf', '-', '-C', root], { input: image });
    const bin = path.join(root, 'image/usr/bin');
    expect(fs.readFileSync(path.join(root, 'image/usr/share/hello/greeting'), 'utf8')).toBe('Hello from kiln fixtures\n');
    expect(fs.statSync(path.join(bin, 'hello')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(bin, 'hello-again')).ino).toBe(fs.statSync(path.join(bin, 'hello')).ino);
    expect(fs.readlinkSync(path.join(bin, 'hi'))).toBe('hello');
  });

  test('the metadata: one file per key, as portage writes build-info', () => {
    const p = pkg('app-misc/hello-1.0');
    const dir = extractGpkg(path.join(out, p.path));
    const meta = decompressFile(path.join(dir, 'metadata.tar.zst'), 'zst');
    const names = tarNames(['-'], meta);
    for (const k of ['CATEGORY', 'PF', 'SLOT', 'EAPI', 'KEYWORDS', 'RDEPEND', 'PDEPEND', 'BUILD_ID', 'BUILD_TIME', 'SIZE', 'repository', 'environment.bz2', 'hello-1.0.ebuild', 'DEFINED_PHASES', 'USE']) {
      expect(names).toContain(`metadata/${k}`);
    }
    expect(names.every((n) => /^metadata\/[^/]+$/.test(n))).toBe(true);
    const root = tempDir('meta');
    ok('tar', ['-xf', '-', '-C', root], { input: meta });
    const read = (k: string) => fs.readFileSync(path.join(root, 'metadata', k), 'utf8');
    expect(read('CATEGORY')).toBe('app-misc\n');
    expect(read('PF')).toBe('hello-1.0\n');
    expect(read('BUILD_ID')).toBe('1'); // echo -n in misc-functions.sh
    expect(read('RDEPEND')).toBe('sys-libs/fakelibc || ( app-alt/two app-alt/one )\n');
    expect(read('PDEPEND')).toBe('app-misc/hello-data\n');
    expect(read('EAPI')).toBe('8\n');
    expect(read('repository')).toBe('gentoo\n');
    expect(read('SIZE')).toBe(`${'#!/bin/sh\ncat /usr/share/hello/greeting\n'.length + 'Hello from kiln fixtures\n'.length}\n`);
    expect(ok('bzip2', ['-dc', path.join(root, 'metadata/environment.bz2')]).toString()).toContain('CATEGORY="app-misc"');
  });

  test('the Manifest: every member but itself, sizes and hashes match b2sum and sha512sum', () => {
    for (const p of manifest.binhost.packages.filter((x) => x.format === 'gpkg')) {
      const dir = extractGpkg(path.join(out, p.path));
      const text = fs.readFileSync(path.join(dir, 'Manifest'), 'utf8');
      const lines = p.signed ? text.split('\n').filter((l) => l.startsWith('DATA ')) : text.split('\n').filter(Boolean);
      const members = fs.readdirSync(dir).filter((f) => f !== 'Manifest').sort();
      expect(lines.map((l) => l.split(' ')[1]).sort()).toEqual(members);
      for (const l of lines) {
        const [kw, name, size, b2, b2hex, sha, shahex, ...rest] = l.split(' ');
        expect([kw, b2, sha, rest.length]).toEqual(['DATA', 'BLAKE2B', 'SHA512', 0]);
        const f = path.join(dir, name);
        expect(fs.statSync(f).size).toBe(Number(size));
        expect(sum('b2sum', f)).toBe(b2hex);
        expect(sum('sha512sum', f)).toBe(shahex);
      }
    }
  });

  test.each([
    ['app-alt/one-1.0', 'xz', 'usr/bin/one'],
    ['app-alt/two-1.0', 'gz', 'usr/bin/two'],
  ])('%s is %s-compressed and decodes with the real tool', (cpv, comp, file) => {
    const p = pkg(cpv);
    expect(p.comp).toBe(comp);
    const dir = extractGpkg(path.join(out, p.path));
    expect(fs.readdirSync(dir).sort()).toEqual(['Manifest', 'gpkg-1', `image.tar.${comp}`, `metadata.tar.${comp}`]);
    const image = decompressFile(path.join(dir, `image.tar.${comp}`), comp);
    expect(tarNames(['-'], image)).toContain(`image/${file}`);
    expect(tarVerbose(['-'], image)).toMatch(new RegExp(`^-rwxr-xr-x .* image/${file}$`, 'm'));
    expect(tarNames(['-'], decompressFile(path.join(dir, `metadata.tar.${comp}`), comp))).toContain('metadata/CATEGORY');
  });

  test('merged usr: baselayout has the symlinks, fakelibc installs through /lib and /lib64', () => {
    const base = extractGpkg(path.join(out, pkg('sys-apps/baselayout-2.17').path));
    const v = tarVerbose(['-'], decompressFile(path.join(base, 'image.tar.zst'), 'zst'));
    for (const [link, target] of [
      ['bin', 'usr/bin'],
      ['sbin', 'usr/bin'],
      ['usr/sbin', 'bin'],
      ['lib', 'usr/lib'],
      ['lib64', 'usr/lib64'],
      ['etc/os-release', '../usr/lib/os-release'],
    ]) {
      expect(v).toMatch(new RegExp(`^l.* image/${link} -> ${target.replace(/\./g, '\\.')}$`, 'm'));
    }
    expect(v).toMatch(/^drwxrwxrwt .* image\/tmp\/$/m);
    expect(v).toMatch(/^drwx------ .* image\/root\/$/m);
    const root = tempDir('base');
    ok('tar', ['-xf', '-', '-C', root], { input: decompressFile(path.join(base, 'image.tar.zst'), 'zst') });
    expect(fs.readFileSync(path.join(root, 'image/usr/lib/os-release'), 'utf8')).toMatch(/^ID=gentoo$/m);
    expect(fs.readFileSync(path.join(root, 'image/usr/lib/sysusers.d/baselayout.conf'), 'utf8')).toContain('u kiln-test 950');

    const libc = extractGpkg(path.join(out, pkg('sys-libs/fakelibc-2.40-r1').path));
    const names = tarNames(['-'], decompressFile(path.join(libc, 'image.tar.zst'), 'zst'));
    expect(names).toEqual(expect.arrayContaining(['image/lib/libfake.so.6', 'image/lib64/ld-fake.so.2', 'image/etc/ld.so.conf']));
    expect(pkg('sys-libs/fakelibc-2.40-r1').metadata).toMatchObject({ SLOT: '2.2', RDEPEND: 'sys-apps/baselayout', IDEPEND: 'sys-apps/locale-gen' });
  });

  test('the signed package: gpgv accepts its Manifest and .sig files with test.gpg, refuses them with other.gpg', () => {
    const p = pkg('app-misc/signed-1.0');
    const file = path.join(out, p.path);
    expect(tarNames([file])).toEqual(['gpkg-1', 'metadata.tar.zst', 'metadata.tar.zst.sig', 'image.tar.zst', 'image.tar.zst.sig', 'Manifest'].map((f) => `signed-1.0-1/${f}`));
    const dir = extractGpkg(file);
    const test = path.join(out, 'keys/test.gpg');
    const other = path.join(out, 'keys/other.gpg');
    const manifestText = fs.readFileSync(path.join(dir, 'Manifest'), 'utf8');
    expect(manifestText).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nDATA gpkg-1 0 /);
    // .sig members are in the Manifest like any other member
    expect(manifestText).toMatch(/^DATA metadata\.tar\.zst\.sig \d+ /m);
    expect(manifestText).toMatch(/^DATA image\.tar\.zst\.sig \d+ /m);
    for (const s of ['metadata.tar.zst.sig', 'image.tar.zst.sig']) {
      expect(fs.readFileSync(path.join(dir, s), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    }
    const checks: string[][] = [['Manifest'], ['metadata.tar.zst.sig', 'metadata.tar.zst'], ['image.tar.zst.sig', 'image.tar.zst']];
    for (const files of checks) {
      const args = files.map((f) => path.join(dir, f));
      const good = gpgv(test, ...args);
      expect({ files, status: good.status }).toEqual({ files, status: 0 });
      expect(good.stderr).toContain('Good signature from "kiln test signing key <test@kiln.invalid>"');
      expect(gpgv(other, ...args).status).not.toBe(0);
    }
    // a detached signature does not fit another member
    expect(gpgv(test, path.join(dir, 'metadata.tar.zst.sig'), path.join(dir, 'image.tar.zst')).status).not.toBe(0);
  });

  test('multi-instance: two builds of app-misc/multi with different USE', () => {
    const a = pkg('app-misc/multi-1.0', 1);
    const b = pkg('app-misc/multi-1.0', 2);
    expect([a.path, b.path]).toEqual(['binhost/app-misc/multi/multi-1.0-1.gpkg.tar', 'binhost/app-misc/multi/multi-1.0-2.gpkg.tar']);
    expect(tarNames([path.join(out, b.path)])[0]).toBe('multi-1.0-2/gpkg-1');
    const flavour = (p: BuiltPackage) => {
      const root = tempDir('multi');
      ok('tar', ['-xf', '-', '-C', root], { input: decompressFile(path.join(extractGpkg(path.join(out, p.path)), 'image.tar.zst'), 'zst') });
      return fs.readFileSync(path.join(root, 'image/usr/share/multi/flavour'), 'utf8');
    };
    expect([flavour(a), flavour(b)]).toEqual(['foo\n', 'plain\n']);
    expect([a.metadata.USE, b.metadata.USE, a.metadata.IUSE, b.metadata.IUSE]).toEqual(['foo', '', 'foo', 'foo']);
  });
});

describe('XPAK', () => {
  test('the trailer parses (len + STOP) and the leading part is a bzip2 tar', () => {
    const p = pkg('app-misc/legacy-1.0');
    expect(p.path).toBe('binhost/app-misc/legacy/legacy-1.0-1.xpak');
    const buf = fs.readFileSync(path.join(out, p.path));
    expect(buf.subarray(-4).toString('latin1')).toBe('STOP');
    const len = buf.readUInt32BE(buf.length - 8);
    const xpak = buf.subarray(buf.length - 8 - len, buf.length - 8);
    expect(xpak.subarray(0, 8).toString('latin1')).toBe('XPAKPACK');
    expect(xpak.subarray(-8).toString('latin1')).toBe('XPAKSTOP');
    const indexLen = xpak.readUInt32BE(8);
    const dataLen = xpak.readUInt32BE(12);
    expect(16 + indexLen + dataLen + 8).toBe(xpak.length);
    const index = xpak.subarray(16, 16 + indexLen);
    const data = xpak.subarray(16 + indexLen, 16 + indexLen + dataLen);
    const items: Record<string, string> = {};
    for (let i = 0; i < index.length; ) {
      const n = index.readUInt32BE(i);
      const name = index.subarray(i + 4, i + 4 + n).toString();
      const off = index.readUInt32BE(i + 4 + n);
      const l = index.readUInt32BE(i + 8 + n);
      items[name] = data.subarray(off, off + l).toString('latin1');
      i += 12 + n;
    }
    expect(items).toMatchObject({ CATEGORY: 'app-misc\n', PF: 'legacy-1.0\n', SLOT: '0\n', EAPI: '8\n', BUILD_ID: '1', repository: 'gentoo\n', KEYWORDS: 'amd64\n' });
    expect(Object.keys(items)).toEqual(expect.arrayContaining(['environment.bz2', 'legacy-1.0.ebuild', 'BUILD_TIME', 'SIZE']));
    const tar = ok('bzip2', ['-dc'], { input: buf.subarray(0, buf.length - 8 - len) });
    expect(tarNames(['-'], tar)).toEqual(['./', './usr/', './usr/share/', './usr/share/legacy/', './usr/share/legacy/README']);
  });
});

describe('Packages index', () => {
  const parse = (text: string) => text.split(/\n\n/).filter(Boolean).map((b) => Object.fromEntries(b.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)])));

  test('header, one block per package instance, SIZE/MD5/SHA1 match the files', () => {
    const text = fs.readFileSync(path.join(out, 'binhost/Packages'), 'utf8');
    expect(ok('gzip', ['-dc', path.join(out, 'binhost/Packages.gz')]).toString()).toBe(text);
    const [header, ...blocks] = parse(text);
    expect(header).toMatchObject({ ARCH: 'amd64', VERSION: '0', PACKAGES: '18', TIMESTAMP: '1700000000', PROFILE: 'default/linux/amd64/23.0/systemd' });
    expect(blocks).toHaveLength(18);
    const cpvs = blocks.map((b) => b.CPV);
    expect(cpvs).toEqual([...cpvs].sort());
    for (const b of blocks) {
      const f = path.join(out, 'binhost', b.PATH);
      expect({ path: b.PATH, size: fs.statSync(f).size, md5: sum('md5sum', f), sha1: sum('sha1sum', f) }).toEqual({ path: b.PATH, size: Number(b.SIZE), md5: b.MD5, sha1: b.SHA1 });
      // The mask fixtures differ on purpose; the CHOST they share is the header's (left out).
      const own: Record<string, Record<string, string | undefined>> = {
        'app-misc/future-eapi-1.0': { EAPI: '10' },
        'app-misc/testing-1.0': { KEYWORDS: '~amd64' },
        'app-misc/unkeyworded-1.0': { KEYWORDS: undefined },
        'app-misc/musl-built-1.0': { CHOST: 'x86_64-pc-linux-musl' },
      };
      expect({ EAPI: b.EAPI, KEYWORDS: b.KEYWORDS, CHOST: b.CHOST }).toEqual({ EAPI: '8', KEYWORDS: 'amd64', CHOST: undefined, ...own[b.CPV] });
      expect(b).toMatchObject({ REPO: 'gentoo', MTIME: '1700000000', BUILD_ID: expect.stringMatching(/^\d+$/) });
      expect(fs.statSync(f).mtimeMs / 1000).toBe(Number(b.MTIME));
    }
    const multi = blocks.filter((b) => b.CPV === 'app-misc/multi-1.0');
    expect(multi.map((b) => [b.BUILD_ID, b.USE, b.IUSE, b.PATH])).toEqual([
      ['1', 'foo', 'foo', 'app-misc/multi/multi-1.0-1.gpkg.tar'],
      ['2', undefined, 'foo', 'app-misc/multi/multi-1.0-2.gpkg.tar'],
    ]);
    const by = (cpv: string) => blocks.find((b) => b.CPV === cpv)!;
    expect(by('app-misc/hello-1.0')).toMatchObject({ RDEPEND: 'sys-libs/fakelibc || ( app-alt/two app-alt/one )', PDEPEND: 'app-misc/hello-data' });
    expect(by('app-misc/conflict-1.0').RDEPEND).toBe('!app-misc/hello');
    expect(by('app-misc/wants-multi-1.0').RDEPEND).toBe('app-misc/multi[foo]');
    expect(by('sys-libs/fakelibc-2.40-r1')).toMatchObject({ SLOT: '2.2', IDEPEND: 'sys-apps/locale-gen' });
    expect(by('sys-apps/baselayout-2.17').SLOT).toBeUndefined(); // SLOT 0 is portage's default: not written
    expect(by('app-misc/legacy-1.0').PATH).toBe('app-misc/legacy/legacy-1.0-1.xpak');
  });
});

describe('stage3 release', () => {
  const auto = () => path.join(out, 'releases/amd64/autobuilds');

  test('latest-stage3-amd64-systemd.txt is clear-signed and points at the tarball with its size', () => {
    const latest = path.join(auto(), 'latest-stage3-amd64-systemd.txt');
    expect(gpgv(path.join(out, 'keys/test.gpg'), latest).status).toBe(0);
    expect(gpgv(path.join(out, 'keys/other.gpg'), latest).status).not.toBe(0);
    const text = fs.readFileSync(latest, 'utf8');
    expect(text).toMatch(/^# Latest as of \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/m);
    expect(text).toMatch(/^# ts=\d+$/m);
    const m = /^(\d{8}T\d{6}Z\/stage3-amd64-systemd-\d{8}T\d{6}Z\.tar\.xz) (\d+)$/m.exec(text);
    expect(m).not.toBeNull();
    expect(m![1]).toBe('20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz');
    expect(fs.statSync(path.join(auto(), m![1])).size).toBe(Number(m![2]));
  });

  test('.asc, .DIGESTS and .sha256 check out with gpgv, b2sum, sha512sum and sha256sum -c', () => {
    const tarball = path.join(out, manifest.stage3.path);
    const dir = path.dirname(tarball);
    const name = manifest.stage3.file;
    expect(gpgv(path.join(out, 'keys/test.gpg'), `${tarball}.asc`, tarball).status).toBe(0);
    expect(gpgv(path.join(out, 'keys/other.gpg'), `${tarball}.asc`, tarball).status).not.toBe(0);
    expect(gpgv(path.join(out, 'keys/test.gpg'), `${tarball}.DIGESTS`).status).toBe(0);
    const digests = fs.readFileSync(`${tarball}.DIGESTS`, 'utf8');
    expect(digests).toContain(`# BLAKE2B HASH\n${sum('b2sum', tarball)}  ${name}\n# SHA512 HASH\n${sum('sha512sum', tarball)}  ${name}\n`);
    expect(sum('sha512sum', tarball)).toBe(manifest.stage3.sha512);
    expect(sum('sha256sum', tarball)).toBe(manifest.stage3.sha256);
    expect(run('sha256sum', ['-c', `${name}.sha256`], { cwd: dir }).status).toBe(0);
  });

  test('the tarball is an xz tar of a merged-usr root with portage config and, as a real stage3, no repository', () => {
    const tar = ok('xz', ['-dc', path.join(out, manifest.stage3.path)]);
    const v = tarVerbose(['-'], tar);
    expect(v).toMatch(/^l.* \.\/bin -> usr\/bin$/m);
    expect(v).toMatch(/^l.* \.\/lib64 -> usr\/lib64$/m);
    expect(v).toMatch(/^l.* \.\/usr\/sbin -> bin$/m);
    expect(v).toMatch(/^drwxrwxrwt root\/root .* \.\/tmp\/$/m);
    const names = tarNames(['-'], tar);
    expect(names).toEqual(expect.arrayContaining(['./', './etc/os-release', './etc/portage/make.conf', './usr/bin/', './usr/lib/', './usr/share/portage/config/make.globals']));
    expect(names.filter((n) => n.includes('repos'))).toEqual([]);
    const root = tempDir('stage3');
    ok('tar', ['-xf', '-', '-C', root], { input: tar });
    expect(fs.readlinkSync(path.join(root, 'etc/portage/make.profile'))).toBe('../../var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd');
    expect(fs.readFileSync(path.join(root, 'etc/os-release'), 'utf8')).toMatch(/^PRETTY_NAME="Gentoo Linux"$/m);
    expect(fs.readFileSync(path.join(root, 'etc/portage/make.conf'), 'utf8')).toBe('');
  });
});

describe('repository snapshots', () => {
  test('each is an xz tar of one top directory with the profile chain, signed (.gpgsig) and with its .md5sum', () => {
    for (const { name, top } of manifest.snapshot.files) {
      const file = path.join(out, 'snapshots', name);
      expect(gpgv(path.join(out, 'keys/test.gpg'), `${file}.gpgsig`, file).status).toBe(0);
      expect(gpgv(path.join(out, 'keys/other.gpg'), `${file}.gpgsig`, file).status).not.toBe(0);
      expect(run('md5sum', ['-c', `${name}.md5sum`], { cwd: path.dirname(file) }).status).toBe(0);
      const names = tarNames([file]);
      expect(new Set(names.map((n) => n.split('/')[0]))).toEqual(new Set([top]));
      const profile = `${top}/profiles/${manifest.snapshot.profile}`;
      expect(names).toEqual(expect.arrayContaining([`${top}/profiles/repo_name`, `${top}/metadata/layout.conf`, `${profile}/parent`, `${profile}/make.defaults`, `${top}/profiles/base/make.defaults`]));
      const root = tempDir('snapshot');
      ok('tar', ['-xJf', file, '-C', root]);
      // The profile's parent resolves inside the repository.
      const parent = fs.readFileSync(path.join(root, profile, 'parent'), 'utf8').trim();
      expect(fs.existsSync(path.join(root, profile, parent, 'make.defaults'))).toBe(true);
    }
  });
});

describe('determinism', () => {
  test('a second build gives the same bytes, except what is signed', async () => {
    const again = tempDir('again');
    const m2: Manifest = await build(again);
    for (const p of manifest.binhost.packages) {
      const q = m2.binhost.packages.find((x) => x.cpv === p.cpv && x.buildId === p.buildId)!;
      if (p.signed) expect(q.sha256).not.toBe(p.sha256);
      else expect(q.sha256).toBe(p.sha256);
    }
    expect(m2.stage3.sha512).toBe(manifest.stage3.sha512);
  });
});

describe('tampered packages (the hooks tests use to make malicious ones)', () => {
  const base = { category: 'app-misc', pf: 'evil-1.0', buildId: 1, metadata: { KEYWORDS: 'amd64' } };

  /** Writes a GPKG, extracts it with GNU tar, returns the dir and the Manifest's DATA lines. */
  async function open(spec: object) {
    const dir = tempDir('evil');
    const file = path.join(dir, 'evil.gpkg.tar');
    fs.writeFileSync(file, await g.makeGpkg({ ...base, ...spec }));
    const x = extractGpkg(file);
    const lines = fs.readFileSync(path.join(x, 'Manifest'), 'utf8').split('\n').filter((l) => l.startsWith('DATA '));
    return { file, x, lines };
  }
  /** every DATA line's hashes are right (b2sum / sha512sum) */
  const hashesMatch = (x: string, lines: string[]) =>
    lines.every((l) => {
      const [, name, size, , b2, , sha] = l.split(' ');
      const f = path.join(x, name);
      return fs.existsSync(f) && fs.statSync(f).size === Number(size) && sum('b2sum', f) === b2 && sum('sha512sum', f) === sha;
    });

  test('traversal, absolute, device, dangling hardlink and duplicate entries, under a valid Manifest', async () => {
    const { x, lines } = await open({
      files: [
        { path: '/usr/bin/ok', content: 'ok\n' },
        { path: '../../etc/evil', content: 'evil\n' },
        { name: '/etc/evil-absolute', content: 'evil\n' },
        { path: '/dev/evil', type: 'chardev', devmajor: 1, devminor: 3 },
        { path: '/usr/bin/hl', type: 'hardlink', linkname: '/usr/bin/not-seen-yet' },
        { path: '/usr/bin/ok', content: 'second copy\n' },
      ],
    });
    expect(hashesMatch(x, lines)).toBe(true);
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['gpkg-1', 'metadata.tar.zst', 'image.tar.zst']);
    const image = decompressFile(path.join(x, 'image.tar.zst'), 'zst');
    const v = tarVerbose(['-'], image);
    expect(v).toMatch(/ image\/\.\.\/\.\.\/etc\/evil$/m);
    expect(v).toMatch(/ \/etc\/evil-absolute$/m);
    expect(v).toMatch(/^c.* 1,3 .* image\/dev\/evil$/m);
    expect(v).toMatch(/^h.* image\/usr\/bin\/hl link to image\/usr\/bin\/not-seen-yet$/m);
    expect(tarNames(['-'], image).filter((n) => n === 'image/usr/bin/ok')).toHaveLength(2);
  });

  test('raw image entries are written verbatim', async () => {
    const { x } = await open({ files: [], parents: false, rawImageEntries: [{ name: 'image/x', type: 'symlink', linkname: '/etc/shadow' }] });
    expect(tarVerbose(['-'], decompressFile(path.join(x, 'image.tar.zst'), 'zst'))).toMatch(/^l.* image\/x -> \/etc\/shadow$/m);
  });

  test('a Manifest missing an entry, a wrong hash, an extra member', async () => {
    const missing = await open({ tamper: { manifest: (l: string[]) => l.filter((s) => !s.startsWith('DATA image.')) } });
    expect(missing.lines.map((l) => l.split(' ')[1])).toEqual(['gpkg-1', 'metadata.tar.zst']);
    expect(tarNames([missing.file])).toContain('evil-1.0-1/image.tar.zst');

    const wrong = await open({ tamper: { manifest: (l: string[]) => l.map((s) => (s.startsWith('DATA image.') ? s.replace(/BLAKE2B [0-9a-f]{8}/, 'BLAKE2B 00000000') : s)) } });
    expect(hashesMatch(wrong.x, wrong.lines)).toBe(false);
    expect(hashesMatch(wrong.x, wrong.lines.filter((s) => !s.startsWith('DATA image.')))).toBe(true);

    const extra = await open({ tamper: { container: (m: { name: string; content: Buffer }[]) => [...m, { name: 'payload.sh', content: Buffer.from('#!/bin/sh\n') }] } });
    expect(tarNames([extra.file]).at(-1)).toBe('evil-1.0-1/payload.sh');
    expect(extra.lines.some((l) => l.includes('payload.sh'))).toBe(false);
    expect(hashesMatch(extra.x, extra.lines)).toBe(true);
  });

  test('signed by the wrong key: gpgv with test.gpg refuses it', async () => {
    const home = path.join(out, manifest.keys.gnupghome);
    try {
      const { x } = await open({ sign: { gnupghome: home, keyid: manifest.keys.other.fingerprint } });
      expect(gpgv(path.join(out, 'keys/other.gpg'), path.join(x, 'Manifest')).status).toBe(0);
      expect(gpgv(path.join(out, 'keys/test.gpg'), path.join(x, 'Manifest')).status).not.toBe(0);
      expect(gpgv(path.join(out, 'keys/test.gpg'), path.join(x, 'image.tar.zst.sig'), path.join(x, 'image.tar.zst')).status).not.toBe(0);
    } finally {
      g.gpgKillAgent(home);
    }
  });
});

describe('serve.js', () => {
  /** a raw request: fetch() would normalise /../ away before sending it */
  const raw = (url: string, p: string, method = 'GET') =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const u = new URL(url);
      const req = http.request({ host: u.hostname, port: u.port, path: p, method }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });

  test('in process: serves files byte-identically, 404s missing ones, refuses escapes', async () => {
    const s = await serve(path.join(out, 'binhost'), { port: 0 });
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const p = pkg('app-misc/hello-1.0');
      const res = await fetch(`${s.url}/${p.binhostPath}`);
      expect(res.status).toBe(200);
      expect(Number(res.headers.get('content-length'))).toBe(p.size);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(fs.readFileSync(path.join(out, p.path)))).toBe(true);
      const head = await fetch(`${s.url}/Packages`, { method: 'HEAD' });
      expect([head.status, Number(head.headers.get('content-length'))]).toEqual([200, fs.statSync(path.join(out, 'binhost/Packages')).size]);
      const range = await fetch(`${s.url}/Packages`, { headers: { Range: 'bytes=0-9' } });
      expect([range.status, await range.text()]).toEqual([206, fs.readFileSync(path.join(out, 'binhost/Packages'), 'utf8').slice(0, 10)]);
      expect((await fetch(`${s.url}/no/such/file`)).status).toBe(404);
      expect((await fetch(`${s.url}/app-misc/`)).status).toBe(404);
      for (const p2 of ['/../manifest.json', '/app-misc/../../manifest.json', '/%2e%2e/manifest.json', '/..%2fmanifest.json']) {
        expect([p2, (await raw(s.url, p2)).status]).toEqual([p2, 403]);
      }
    } finally {
      await s.close();
    }
  });

  test('the CLI prints its URL, serves, and exits on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(tools, 'serve.js'), out, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          const m = /^listening (http:\/\/127\.0\.0\.1:\d+)\n/m.exec(buf);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`serve.js exited ${code}`)));
      });
      const latest = await fetch(`${url}/${manifest.stage3.latest}`);
      expect(Buffer.from(await latest.arrayBuffer()).equals(fs.readFileSync(path.join(out, manifest.stage3.latest)))).toBe(true);
      expect((await raw(url, '/../../etc/passwd')).status).toBe(403);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('refuses to listen beyond loopback', async () => {
    await expect(serve(out, { host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });
});
