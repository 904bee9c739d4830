/**
 * Gentoo images from a binhost with kiln's native installer, for real: tools/gentoo-fixtures
 * builds a binhost of real GPKG and XPAK packages with a real `Packages` index and serves it on
 * loopback; the engine's build installs from it. Checked: the files (merged-usr, hard links, symlinks),
 * the vdb (every CONTENTS line against the file it names), the world file, the choices the
 * resolver makes, locks, signatures, and that tampered or malicious packages are refused with
 * nothing left behind.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLockfile } from '@kiln/config';
import { checkContents, md5 } from './gentoo-vdb';
import { buildIn, failure, lockIn, removeTempDirs, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build } = require('../../../tools/gentoo-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const g = require('../../../tools/gentoo-fixtures/gpkg.js');

jest.setTimeout(120_000);

let fx: string;
let server: { url: string; close(): Promise<void> };
let cache: string;

beforeAll(async () => {
  fx = tempDir('kiln-gentoo-fx-');
  await build(fx);
  server = await serve(fx, { port: 0 });
  cache = tempDir('kiln-gentoo-cache-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

/** A project installing `packages` from the fixture binhost (or `binhost`), as a directory image; `files` are added to it. */
function project(packages: string, extra = '', binhost = `${server.url}/binhost`, files: Record<string, string> = {}): string {
  return tempProject({
    'mkosi.conf': `[Distribution]\nDistribution=gentoo\nArchitecture=x86-64\nBinhosts=${binhost}\n\n[Output]\nFormat=directory\nOutput=image\n\n[Content]\nSourceDateEpoch=1700000000\nPackages=${packages}\n\n[Build]\nPackageCacheDirectory=${cache}\n${extra}`,
    ...files,
  });
}

async function buildOk(root: string, opts: Parameters<typeof buildIn>[1] = {}) {
  const r = await buildIn(root, opts);
  if (r.error) throw new Error(`build failed:\n${r.log}\n${failure(r)}`);
  return r;
}

describe('a native install from the fixture binhost', () => {
  let root: string;
  let image: string;
  let log: string;

  beforeAll(async () => {
    root = project('app-misc/hello,app-misc/wants-multi,app-misc/legacy');
    log = (await buildOk(root)).log;
    image = path.join(root, 'mkosi.output/image');
  });

  it('installs the atoms with their runtime dependencies, and nothing else', () => {
    const vdb = fs.readdirSync(path.join(image, 'var/db/pkg')).flatMap((c) => fs.readdirSync(path.join(image, 'var/db/pkg', c)).map((p) => `${c}/${p}`));
    // hello: || ( app-alt/two app-alt/one ) takes the first; PDEPEND hello-data; fakelibc; baselayout.
    expect(vdb.sort()).toEqual(['app-alt/two-1.0', 'app-misc/hello-1.0', 'app-misc/hello-data-1.0', 'app-misc/legacy-1.0', 'app-misc/multi-1.0', 'app-misc/wants-multi-1.0', 'sys-apps/baselayout-2.17', 'sys-libs/fakelibc-2.40-r1']);
    expect(fs.readFileSync(path.join(image, 'var/lib/portage/world'), 'utf8')).toBe('app-misc/hello\napp-misc/legacy\napp-misc/wants-multi\n');
  });

  it('merges through merged-usr symlinks, keeps hard links and symlinks', () => {
    expect(fs.readlinkSync(path.join(image, 'lib'))).toBe('usr/lib');
    expect(fs.readFileSync(path.join(image, 'usr/lib/libfake.so.6')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(image, 'usr/lib64/ld-fake.so.2'))).toBe(true);
    expect(fs.statSync(path.join(image, 'usr/bin/hello')).ino).toBe(fs.statSync(path.join(image, 'usr/bin/hello-again')).ino);
    expect(fs.readlinkSync(path.join(image, 'usr/bin/hi'))).toBe('hello');
    expect(fs.statSync(path.join(image, 'usr/bin/hello')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(image, 'usr/share/legacy/README'), 'utf8')).toBe('from a tbz2/xpak package\n');
  });

  it('picks the instance of a multi-instance CPV whose USE the dependency asks for', () => {
    expect(fs.readFileSync(path.join(image, 'usr/share/multi/flavour'), 'utf8')).toBe('foo\n');
    expect(fs.readFileSync(path.join(image, 'var/db/pkg/app-misc/multi-1.0/BUILD_ID'), 'utf8').trim()).toBe('1');
    expect(fs.readFileSync(path.join(image, 'var/db/pkg/app-misc/multi-1.0/USE'), 'utf8').trim()).toBe('foo');
  });

  it('writes a vdb portage accepts: CONTENTS matching every file, COUNTER, BINPKGMD5', () => {
    expect(checkContents(image)).toBeGreaterThan(30);
    const hello = path.join(image, 'var/db/pkg/app-misc/hello-1.0');
    expect(fs.readFileSync(path.join(hello, 'CONTENTS'), 'utf8')).toContain('dir /usr/bin\n');
    expect(fs.readFileSync(path.join(hello, 'COUNTER'), 'utf8')).toMatch(/^\d+$/);
    const counters = fs.readdirSync(path.join(image, 'var/db/pkg')).flatMap((c) => fs.readdirSync(path.join(image, 'var/db/pkg', c)).map((p) => Number(fs.readFileSync(path.join(image, 'var/db/pkg', c, p, 'COUNTER'), 'utf8'))));
    expect(new Set(counters).size).toBe(counters.length);
    const pkg = path.join(fx, 'binhost/app-misc/hello/hello-1.0-1.gpkg.tar');
    expect(fs.readFileSync(path.join(hello, 'BINPKGMD5'), 'utf8').trim()).toBe(md5(pkg));
    for (const f of ['CATEGORY', 'PF', 'SLOT', 'EAPI', 'environment.bz2', 'hello-1.0.ebuild']) expect(fs.existsSync(path.join(hello, f))).toBe(true);
    // The vdb lists /lib as the package does (merged through baselayout's symlink).
    expect(fs.readFileSync(path.join(image, 'var/db/pkg/sys-libs/fakelibc-2.40-r1/CONTENTS'), 'utf8')).toMatch(/^obj \/lib\/libfake\.so\.6 [0-9a-f]{32} 1700000000$/m);
  });

  it("does what skipped phases would have done: system users and the linker cache, and says so", () => {
    expect(fs.readFileSync(path.join(image, 'etc/passwd'), 'utf8')).toMatch(/^kiln-test:x:950:950:/m);
    expect(fs.existsSync(path.join(image, 'etc/ld.so.cache'))).toBe(true);
    expect(log).toContain('skipped pkg_preinst/pkg_postinst (native installer)');
    expect(log).toMatch(/IDEPEND belongs to the building root.*sys-apps\/locale-gen/);
    // Portage's config goes only into images that have portage (CleanPackageMetadata=auto).
    expect(fs.existsSync(path.join(image, 'etc/portage'))).toBe(false);
  });

  it('the lock (kiln lock) records CPV, BUILD_ID, PATH, SIZE and checksums; the locked build is the same image', async () => {
    const r = await lockIn(root);
    expect(r.error).toBeUndefined();
    const lock = fs.readFileSync(path.join(root, 'kiln.lock'), 'utf8');
    const multi = fs.readFileSync(path.join(fx, 'binhost/app-misc/multi/multi-1.0-1.gpkg.tar'));
    expect(lock).toContain(
      `name = "app-misc/multi"\nversion = "1.0"\narchitecture = "amd64"\nrepository = "${server.url}/binhost"\nsize = ${multi.length}\nbuild-id = 1\npath = "app-misc/multi/multi-1.0-1.gpkg.tar"\nsha1 = "${createHash('sha1').update(multi).digest('hex')}"\nmd5 = "${createHash('md5').update(multi).digest('hex')}"\n`,
    );
    const before = fs.readFileSync(path.join(image, 'var/db/pkg/app-misc/hello-1.0/CONTENTS'), 'utf8');
    const b = await buildOk(root, { force: true });
    expect(b.log).not.toContain('unlocked');
    expect(fs.readFileSync(path.join(image, 'var/db/pkg/app-misc/hello-1.0/CONTENTS'), 'utf8')).toBe(before);
  });

  it("kiln lock on a base directory reads what its vdb says is installed (not a dpkg database it does not have)", async () => {
    const base = tempDir('kiln-gentoo-base-');
    fs.cpSync(image, base, { recursive: true, verbatimSymlinks: true });
    const top = project('app-misc/hello,app-alt/one', '\n[Content]\nBaseTrees=' + base + '\n');
    const r = await lockIn(top);
    expect(r.error).toBeUndefined();
    const lock = readLockfile(path.join(top, 'kiln.lock'))!;
    // hello and its dependencies are in the base's vdb: only what is new is locked.
    expect(lock.package.map((p) => p.name)).toEqual(['app-alt/one']);
  });
});

describe('portage config in the image', () => {
  it('CleanPackageMetadata=no keeps a make.profile, make.conf and binrepos.conf for emerge in the image', async () => {
    const root = project('app-misc/hello-data', '\n[Content]\nCleanPackageMetadata=no\n');
    await buildOk(root);
    const etc = path.join(root, 'mkosi.output/image/etc/portage');
    expect(fs.readlinkSync(path.join(etc, 'make.profile'))).toBe('../../var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd');
    expect(fs.readFileSync(path.join(etc, 'make.conf'), 'utf8')).toContain('FEATURES="getbinpkg"');
    expect(fs.readFileSync(path.join(etc, 'binrepos.conf/kiln.conf'), 'utf8')).toBe(`# Written by kiln from Binhosts=.\n[kiln-1]\npriority = 100\nsync-uri = ${server.url}/binhost\n`);
  });
});

describe('refusals', () => {
  it('a blocker in the final set names both packages', async () => {
    const root = project('app-misc/hello,app-misc/conflict');
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(failure(r)).toMatch(/app-misc\/conflict-1\.0[\s\S]*app-misc\/hello|app-misc\/hello[\s\S]*app-misc\/conflict-1\.0/);
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
  });

  it('a profile without a stage3 is an error listing those that exist, before any download', async () => {
    const root = project('app-misc/hello', '', 'http://127.0.0.1:9/nothing-listens-here');
    fs.appendFileSync(path.join(root, 'mkosi.conf'), '\n[Distribution]\nPortageProfile=default/linux/amd64/23.0/no-such\n');
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(failure(r)).toContain('profile default/linux/amd64/23.0/no-such has no stage3');
    expect(failure(r)).toContain('default/linux/amd64/23.0/systemd');
  });

  it('a signed package installs with the right key and is refused with another', async () => {
    const ok = project('app-misc/signed', `\n[Distribution]\nGentooKeyring=${fx}/keys/test.gpg\n`);
    await buildOk(ok);
    expect(fs.readFileSync(path.join(ok, 'mkosi.output/image/usr/share/signed/README'), 'utf8')).toContain('signed');
    const armoured = project('app-misc/signed', `\n[Distribution]\nGentooKeyring=${fx}/keys/test.asc\n`);
    await buildOk(armoured);
    const bad = project('app-misc/signed', `\n[Distribution]\nGentooKeyring=${fx}/keys/other.gpg\n`);
    const r = await buildIn(bad);
    expect(r.error).toBeDefined();
    expect(failure(r)).toMatch(/signed-1\.0-1\.gpkg\.tar: the OpenPGP signature does not verify/);
    expect(fs.existsSync(path.join(bad, 'mkosi.output/image'))).toBe(false);
  });

  it('BinpkgSignatures=required refuses unsigned packages', async () => {
    const root = project('app-misc/hello', `\n[Distribution]\nBinpkgSignatures=required\nGentooKeyring=${fx}/keys/test.gpg\n`);
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(failure(r)).toMatch(/is not signed, and BinpkgSignatures=required/);
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
  });
});

describe('tampered and malicious packages are refused, nothing left behind', () => {
  /** A binhost holding one package, app-misc/evil-1.0, made by the fixture writer with `spec`. */
  let evil = 0;
  /** Served from inside the fixture root (the server refuses anything outside it). */
  async function evilBinhost(spec: Record<string, unknown>): Promise<string> {
    const dir = path.join(fx, `evil-${++evil}`);
    // `xpak`: a legacy XPAK package instead of a GPKG.
    const { mangle, xpak, ...rest } = spec as { mangle?: (b: Buffer, parts: { tar: Buffer; xpak: Buffer }) => Buffer; xpak?: boolean };
    const rel = `app-misc/evil/evil-1.0-1.${xpak ? 'xpak' : 'gpkg.tar'}`;
    const base = { category: 'app-misc', pf: 'evil-1.0', buildId: 1, metadata: { EAPI: '8', SLOT: '0', KEYWORDS: 'amd64', DESCRIPTION: 'evil' }, files: [{ path: '/usr/share/evil/ok', content: 'fine\n' }] };
    const parts = xpak ? await g.makeXpakParts({ ...base, ...rest }) : await g.makeGpkgParts({ ...base, comp: 'zst', sign: null, ...rest });
    // `mangle`: the binhost serves (and indexes) other bytes than the writer made, e.g. a truncated file.
    const buffer: Buffer = mangle ? mangle(parts.buffer, parts) : parts.buffer;
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), buffer);
    g.writePackagesIndex(dir, { ARCH: 'amd64', TIMESTAMP: 1700000000, VERSION: 0 }, [g.packageIndexEntry({ buffer, cpv: 'app-misc/evil-1.0', path: rel, metadata: parts.metadata, mtime: 1700000000 })]);
    return dir;
  }

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['a path escape', { files: [{ path: '../../../../../../tmp/kiln-evil-escape', content: 'x\n' }] }, /contains "\.\.": refusing the package/],
    ['an absolute member', { files: [{ name: '/tmp/kiln-evil-absolute', content: 'x\n' }] }, /is an absolute path: refusing the package|is not under image\//],
    ['a device node', { files: [{ path: '/dev/evil', type: 'chardev', devmajor: 1, devminor: 3 }] }, /binary packages may not create device nodes/],
    ['a hard link to an unseen member', { order: 'given', files: [{ path: '/usr/bin/link', type: 'hardlink', linkname: 'image/etc/shadow' }] }, /hard link to .*which the package has not installed before it/],
    ['a symlink, then a file written through it', { rawImageEntries: [{ name: 'image/usr/share/evil/link', type: 'symlink', linkname: '/tmp' }, { name: 'image/usr/share/evil/link/kiln-evil-through', content: 'x\n' }] }, /app-misc\/evil-1\.0: member \/usr\/share\/evil\/link\/kiln-evil-through would be written through the symlink \/usr\/share\/evil\/link the package itself installs: refusing the package/],
    ['a device node after a file (nothing of the package is merged)', { rawImageEntries: [{ name: 'image/usr/share/evil/zz-null', type: 'character-device', devmajor: 1, devminor: 3 }] }, /app-misc\/evil-1\.0: member \/usr\/share\/evil\/zz-null is a character-device/],
    ['a metadata/.. member', { tamper: { metadataTar: (t: object[]) => [...t, { name: 'metadata/..', content: 'x\n' }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "metadata\/\.\." is not a file under metadata\/: refusing the package/],
    ['a metadata/../ member', { tamper: { metadataTar: (t: object[]) => [...t, { name: 'metadata/../../../tmp/kiln-evil-escape', content: 'x\n' }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "metadata\/\.\.\/.*" is not a file under metadata\//],
    ['an absolute metadata member', { tamper: { metadataTar: (t: object[]) => [...t, { name: '/tmp/kiln-evil-absolute', content: 'x\n' }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "\/tmp\/kiln-evil-absolute" is not a file under metadata\//],
    ['a device node in the metadata', { tamper: { metadataTar: (t: object[]) => [...t, { name: 'metadata/null', type: 'character-device', devmajor: 1, devminor: 3 }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "metadata\/null" is not a file under metadata\//],
    ['a hard link in the metadata', { tamper: { metadataTar: (t: object[]) => [...t, { name: 'metadata/link', type: 'link', linkname: 'metadata/nowhere' }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "metadata\/link" is not a file under metadata\//],
    ['a symlink in the metadata', { tamper: { metadataTar: (t: object[]) => [...t, { name: 'metadata/sym', type: 'symlink', linkname: '/etc/shadow' }] } }, /evil-1\.0-1\.gpkg\.tar: metadata member "metadata\/sym" is not a file under metadata\//],
    ['a truncated package its index describes', { mangle: (b: Buffer) => b.subarray(0, b.length - 1536 - 700) }, /evil-1\.0-1\.gpkg\.tar: the package is truncated \(its tar ends inside a member\); refusing the package/],
    ['a truncated image inside a package whose Manifest describes it', { tamper: { members: (m: { name: string; content: Buffer }[]) => m.map((x) => (x.name.startsWith('image.tar') ? { ...x, content: x.content.subarray(0, Math.floor(x.content.length / 2)) } : x)) } }, /evil-1\.0-1\.gpkg\.tar: image\.tar\.zst is damaged: zstd failed .*; refusing the package|evil-1\.0-1\.gpkg\.tar: the package is truncated/],
    ['a truncated XPAK package its index describes', { xpak: true, mangle: (b: Buffer) => b.subarray(0, b.length - 100) }, /evil-1\.0-1\.xpak: has no XPAK trailer \(it is truncated, or not a binary package\): refusing it/],
    ['an XPAK package whose image is cut short before an intact XPAK block', { xpak: true, mangle: (b: Buffer, p: { xpak: Buffer }) => { const trailer = b.subarray(b.length - p.xpak.length - 8); return Buffer.concat([b.subarray(0, Math.floor((b.length - trailer.length) / 2)), trailer]); } }, /evil-1\.0-1\.xpak: its image is damaged: bzip2 failed .*; refusing the package/],
    ['a wrong hash in the Manifest', { tamper: { manifest: (lines: string[]) => lines.map((l) => (l.startsWith('DATA image') ? l.replace(/BLAKE2B [0-9a-f]{8}/, 'BLAKE2B 00000000') : l)) } }, /does not match its Manifest BLAKE2B/],
    ['a member missing from the Manifest', { tamper: { manifest: (lines: string[]) => lines.filter((l) => !l.startsWith('DATA metadata')) } }, /has no Manifest entry/],
  ];

  it.each(cases)('%s', async (_what, spec, message) => {
    const host = await evilBinhost(spec);
    const root = project('app-misc/evil', '', `${server.url}/${path.basename(host)}`);
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(failure(r)).toMatch(message);
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
    expect(fs.existsSync('/tmp/kiln-evil-escape')).toBe(false);
    expect(fs.existsSync('/tmp/kiln-evil-absolute')).toBe(false);
    expect(fs.existsSync('/tmp/kiln-evil-through')).toBe(false);
    // One line naming the package, never a bare "Unexpected end of data" or a stack trace.
    expect(failure(r)).not.toMatch(/\n\s+at |^Unexpected end of data/m);
    expect(failure(r).trim().split('\n')).toHaveLength(1);
    // The refused package does not stay in the package cache.
    const cached = fs.readdirSync(path.join(cache, 'gentoo'), { recursive: true }).map(String).filter((f) => /evil-1\.0-1\.(gpkg\.tar|xpak)$/.test(f));
    expect(cached).toEqual([]);
  });

  it('a truncated package in the cache is fetched again', async () => {
    const host = await evilBinhost({});
    const root = project('app-misc/evil', '', `${server.url}/${path.basename(host)}`);
    await buildOk(root);
    const cached = fs.readdirSync(path.join(cache, 'gentoo'), { recursive: true }).map(String).filter((f) => f.endsWith('evil-1.0-1.gpkg.tar'));
    expect(cached).toHaveLength(1);
    const file = path.join(cache, 'gentoo', cached[0]);
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 4096));
    await buildOk(root, { force: true });
    expect(fs.readFileSync(file).equals(whole)).toBe(true);
    fs.rmSync(file);
  });

  it('a package that does not match its index is refused before it is opened', async () => {
    const host = await evilBinhost({});
    const file = path.join(host, 'app-misc/evil/evil-1.0-1.gpkg.tar');
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 2000] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const r = await buildIn(project('app-misc/evil', '', `${server.url}/${path.basename(host)}`));
    expect(r.error).toBeDefined();
    expect(failure(r)).toMatch(/does not match its index or lock \((SIZE|MD5|SHA1) mismatch\)/i);
  });
});

describe("portage's masks: KEYWORDS against ACCEPT_KEYWORDS, EAPI, CHOST", () => {
  /** The error of a build that must fail before anything is installed. */
  async function refused(root: string): Promise<string> {
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
    return failure(r);
  }

  it('a ~amd64 package is masked on amd64, naming the keyword and AcceptKeywords=~amd64; accepting it installs it', async () => {
    expect(await refused(project('app-misc/testing'))).toContain(
      'cannot satisfy "app-misc/testing" (requested): every build that could is masked: app-misc/testing-1.0::gentoo (build 1) (masked by: ~amd64 keyword): it is in testing on amd64: accept it with AcceptKeywords=~amd64',
    );
    const ok = project('app-misc/testing', '\n[Distribution]\nAcceptKeywords=~amd64\n');
    await buildOk(ok);
    expect(fs.readFileSync(path.join(ok, 'mkosi.output/image/usr/share/testing/README'), 'utf8')).toBe('a ~amd64 package\n');
  });

  it('ACCEPT_KEYWORDS is incremental as portage reads it: -* drops the profile\'s keyword, ~* and ** accept more', async () => {
    // "-* ~amd64": only testing packages, so the stable ones are masked ("missing keyword").
    expect(await refused(project('app-misc/hello-data', '\n[Distribution]\nAcceptKeywords=-*,~amd64\n'))).toMatch(/app-misc\/hello-data-1\.0::gentoo \(build 1\) \(masked by: missing keyword\)/);
    // ~* accepts any testing keyword; nothing accepts an empty KEYWORDS but **.
    await buildOk(project('app-misc/testing', '\n[Distribution]\nAcceptKeywords=~*\n'));
    expect(await refused(project('app-misc/unkeyworded', '\n[Distribution]\nAcceptKeywords=~amd64\n'))).toContain('app-misc/unkeyworded-1.0::gentoo (build 1) (masked by: missing keyword): its KEYWORDS (none) do not name amd64: accept it with AcceptKeywords=**');
    await buildOk(project('app-misc/unkeyworded', '\n[Distribution]\nAcceptKeywords=**\n'));
  });

  it('an EAPI portage does not support is masked, and no AcceptKeywords= lifts it', async () => {
    expect(await refused(project('app-misc/future-eapi', '\n[Distribution]\nAcceptKeywords=**\n'))).toContain('app-misc/future-eapi-1.0::gentoo (build 1) (masked by: EAPI 10): kiln installs packages of EAPI 0 to 9');
  });

  it('a package built for another CHOST than the profile\'s is masked', async () => {
    expect(await refused(project('app-misc/musl-built'))).toContain('app-misc/musl-built-1.0::gentoo (build 1) (masked by: CHOST: x86_64-pc-linux-musl): it was built for another system type than the profile\'s CHOST x86_64-pc-linux-gnu');
  });

  it('a lock is no way around a mask: the locked package is masked as its index entry was', async () => {
    const root = project('app-misc/testing', '\n[Distribution]\nAcceptKeywords=~amd64\n');
    expect((await lockIn(root)).error).toBeUndefined();
    fs.writeFileSync(path.join(root, 'mkosi.conf'), fs.readFileSync(path.join(root, 'mkosi.conf'), 'utf8').replace('AcceptKeywords=~amd64', ''));
    expect(await refused(root)).toContain('the lock installs masked packages: app-misc/testing-1.0::gentoo (build 1) (masked by: ~amd64 keyword): it is in testing on amd64: accept it with AcceptKeywords=~amd64; or run kiln lock to choose others');
  });
});

describe('file collisions (FEATURES=protect-owned) and CONFIG_PROTECT, as a default portage merges', () => {
  it('a file another installed package owns stops the merge before anything of the package is written, naming both', async () => {
    const root = project('app-misc/collide');
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    // /usr/lib/libfake.so.6 is fakelibc's /lib/libfake.so.6 through the merged-usr symlink.
    expect(failure(r)).toContain('app-misc/collide-1.0 would overwrite files another installed package owns: /usr/bin/hello (owned by app-misc/hello-1.0); /usr/lib/libfake.so.6 (owned by sys-libs/fakelibc-2.40-r1). Package app-misc/collide-1.0 NOT merged');
    expect(failure(r)).toContain('add the paths to CollisionIgnore=');
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
  });

  it('CollisionIgnore= lets a package overwrite them (a directory means everything under it)', async () => {
    const root = project('app-misc/collide', '\n[Distribution]\nCollisionIgnore=/usr/bin/hello,/usr/lib\n');
    await buildOk(root);
    expect(fs.readFileSync(path.join(root, 'mkosi.output/image/usr/bin/hello'), 'utf8')).toContain('not the real hello');
  });

  it('a file nobody owns (a skeleton tree\'s) is overwritten, and the log says so', async () => {
    const root = project('app-misc/hello-data', '', undefined, { 'mkosi.skeleton/usr/share/hello-data/words.txt': 'from the skeleton\n' });
    const { log } = await buildOk(root);
    expect(fs.readFileSync(path.join(root, 'mkosi.output/image/usr/share/hello-data/words.txt'), 'utf8')).toBe('hello\nworld\n');
    expect(log).toContain('app-misc/hello-data-1.0 overwrites files no installed package owns: /usr/share/hello-data/words.txt');
  });

  it('a file where the package needs a directory is a clear refusal, not an ENOTDIR from deep inside', async () => {
    const root = project('app-misc/hello-data', '', undefined, { 'mkosi.skeleton/usr/share/hello-data': 'a file, not a directory\n' });
    const r = await buildIn(root);
    expect(r.error).toBeDefined();
    expect(failure(r)).toContain('app-misc/hello-data-1.0: /usr/share/hello-data/words.txt would be written under a path that is a file in the image (usr/share/hello-data): refusing to merge it');
  });

  describe('CONFIG_PROTECT over a skeleton tree\'s /etc', () => {
    let image: string;
    let log: string;
    beforeAll(async () => {
      const root = project('app-misc/confd', '', undefined, {
        'mkosi.skeleton/etc/confd.conf': 'setting = mine\n',
        'mkosi.skeleton/etc/confd-same.conf': 'same = yes\n',
        'mkosi.skeleton/etc/env.d/50confd': 'CONFD=mine\n',
        'mkosi.skeleton/etc/confd.d/.keep_confd': '',
        // An earlier update already waiting, with other contents: the next number is taken.
        'mkosi.skeleton/etc/._cfg0000_confd.conf': 'setting = older update\n',
      });
      log = (await buildOk(root)).log;
      image = path.join(root, 'mkosi.output/image');
    });

    it("keeps the existing file and puts the package's beside it as ._cfgNNNN_<name>", () => {
      expect(fs.readFileSync(path.join(image, 'etc/confd.conf'), 'utf8')).toBe('setting = mine\n');
      expect(fs.readFileSync(path.join(image, 'etc/._cfg0000_confd.conf'), 'utf8')).toBe('setting = older update\n');
      expect(fs.readFileSync(path.join(image, 'etc/._cfg0001_confd.conf'), 'utf8')).toBe('setting = package\n');
      expect(log).toContain('app-misc/confd-1.0: /etc/confd.conf differs from the file already there, which is kept (CONFIG_PROTECT): the package\'s is /etc/._cfg0001_confd.conf');
    });

    it('replaces a file with the same contents, and files under CONFIG_PROTECT_MASK or empty .keep files', () => {
      expect(fs.readdirSync(path.join(image, 'etc')).filter((f) => f.startsWith('._cfg')).sort()).toEqual(['._cfg0000_confd.conf', '._cfg0001_confd.conf']);
      expect(fs.readFileSync(path.join(image, 'etc/env.d/50confd'), 'utf8')).toBe('CONFD=package\n');
      expect(fs.readdirSync(path.join(image, 'etc/confd.d'))).toEqual(['.keep_confd']);
    });

    it("records the package's path and contents in CONTENTS, as portage does", () => {
      const contents = fs.readFileSync(path.join(image, 'var/db/pkg/app-misc/confd-1.0/CONTENTS'), 'utf8');
      expect(contents).toMatch(new RegExp(`^obj /etc/confd\\.conf ${createHash('md5').update('setting = package\n').digest('hex')} 1700000000$`, 'm'));
      expect(contents).not.toContain('._cfg');
    });
  });
});
