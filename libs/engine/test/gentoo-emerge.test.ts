/**
 * The emerge path, by what it generates and downloads: the stage3 flow against the fixture
 * release mirror (clear-signed latest-*.txt verified with gpgv, the tarball checked against its
 * signed DIGESTS, unpacked once into the cache and reused), and the portage config, namespace and
 * command line handed to bwrap. (Real portage was run with this config by hand; see the issue's
 * closing note.)
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { readLockfile } from '@kiln/config';
import * as path from 'node:path';
import type { BuildContext } from '../src/context';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchBytes } from '../src/installers/portage/fetch';
import { runIn } from '../src/sandbox';
import { emergeCommand, IN, NAMESPACE_FEATURES, portageConfig } from '../src/installers/portage/emerge';
import { trustedHome } from '../src/installers/portage/openpgp';
import { repoSnapshot } from '../src/installers/portage/snapshot';
import { stage3Tree } from '../src/installers/portage/stage3';
import { lockIn, removeTempDirs, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build } = require('../../../tools/gentoo-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { makeToolsTree, toolsTreeParent } = require('../../../tools/gentoo-fixtures/tools-tree.js');

jest.setTimeout(120_000);

let fx: string;
let server: { url: string; close(): Promise<void> };

beforeAll(async () => {
  fx = tempDir('kiln-gentoo-stage3-');
  await build(fx);
  server = await serve(fx, { port: 0 });
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

function context(config: Record<string, unknown>): BuildContext & { lines: string[] } {
  const work = tempDir('kiln-gentoo-work-');
  fs.mkdirSync(path.join(work, 'root'));
  const lines: string[] = [];
  return {
    lines,
    log: (l: string) => lines.push(l),
    project: {} as BuildContext['project'],
    preset: {
      name: 't',
      config: {
        Distribution: 'gentoo', Release: '23.0', Architecture: 'x86-64', PortageProfile: null, SandboxTrees: [], Binhosts: ['http://127.0.0.1:1/binhost'],
        RepositoryKeyCheck: true, BinpkgSignatures: 'auto', GentooKeyring: `${fx}/keys/test.gpg`, Mirror: server.url, ToolsTree: null,
        PackageCacheDirectory: path.join(work, 'cache'), PortageSnapshot: 'latest',
        AcceptKeywords: [], CollisionIgnore: ['/lib/modules/*', '*.py[co]', '*$py.class'], ConfigProtect: ['/etc'], ConfigProtectMask: ['/etc/env.d'], ...config,
      },
    } as unknown as BuildContext['preset'],
    root: path.join(work, 'root'),
    work,
    packageCache: path.join(work, 'cache'),
    sourceDateEpoch: 1700000000,
    env: {},
  };
}

describe('the stage3 tools tree', () => {
  it('is downloaded, verified, unpacked once and reused', async () => {
    const ctx = context({});
    const s = await stage3Tree(ctx);
    expect(s.name).toBe('stage3-amd64-systemd-20261101T000000Z.tar.xz');
    expect(fs.readFileSync(path.join(s.tree, '.kiln-stage3'), 'utf8')).toContain(s.sha512);
    expect(fs.existsSync(path.join(s.tree, 'usr/share/portage/config/make.globals'))).toBe(true);
    // The tarball gone from the mirror: the cached tree is used without downloading it again.
    const tarball = path.join(fx, 'releases/amd64/autobuilds/20261101T000000Z', s.name);
    fs.renameSync(tarball, `${tarball}.away`);
    try {
      const again = await stage3Tree({ ...ctx, work: tempDir('kiln-gentoo-work-') });
      expect(again.tree).toBe(s.tree);
    } finally {
      fs.renameSync(`${tarball}.away`, tarball);
    }
  });

  it('refuses a latest-*.txt signed by another key', async () => {
    await expect(stage3Tree(context({ GentooKeyring: `${fx}/keys/other.gpg` }))).rejects.toThrow(/latest-stage3-amd64-systemd\.txt: the OpenPGP signature does not verify/);
  });

  it('needs a keyring to verify with', async () => {
    await expect(stage3Tree(context({ GentooKeyring: null }))).rejects.toThrow(/set GentooKeyring= to Gentoo's release key/);
  });

  it('refuses a tarball that does not match its signed DIGESTS, and keeps nothing of it', async () => {
    const mirror = path.join(fx, 'tampered');
    fs.cpSync(path.join(fx, 'releases'), path.join(mirror, 'releases'), { recursive: true });
    const tarball = path.join(mirror, 'releases/amd64/autobuilds/20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz');
    const bytes = fs.readFileSync(tarball);
    bytes[100] ^= 0xff;
    fs.writeFileSync(tarball, bytes);
    const ctx = context({ Mirror: `${server.url}/tampered` });
    await expect(stage3Tree(ctx)).rejects.toThrow(/does not match its signed DIGESTS/);
    const cached = fs.readdirSync(path.join(ctx.packageCache, 'gentoo-stage3'));
    expect(cached).toEqual([]);
  });

  it('a profile without a stage3 fails before anything is downloaded', async () => {
    await expect(stage3Tree(context({ PortageProfile: 'default/linux/amd64/23.0/no-such', Mirror: 'http://127.0.0.1:1' }))).rejects.toThrow(/has no stage3.*default\/linux\/amd64\/23\.0\/systemd/s);
  });
});

describe('downloads', () => {
  /** A server that drops the connection of the first `drops` requests without answering. */
  async function dropping(drops: number): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
    let n = 0;
    const srv = http.createServer((req, res) => {
      if (n++ < drops) req.socket.destroy();
      else res.end('ok');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/x`, seen: () => n, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  it('sends a GET again when the connection drops (a kept-alive socket the server closed)', async () => {
    const srv = await dropping(1);
    try {
      expect((await fetchBytes(context({}), srv.url))?.toString()).toBe('ok');
      expect(srv.seen()).toBe(2);
    } finally {
      await srv.close();
    }
  });

  it('gives up after three attempts, naming the URL', async () => {
    const srv = await dropping(10);
    try {
      await expect(fetchBytes(context({}), srv.url)).rejects.toThrow(new RegExp(`cannot download ${srv.url}: `));
      expect(srv.seen()).toBe(3);
    } finally {
      await srv.close();
    }
  });
});

describe('the repository snapshot', () => {
  const snapshotDir = () => path.join(fx, 'snapshots');

  it('is downloaded, verified, reduced to profiles/ and metadata/, cached and reused', async () => {
    const ctx = context({ PortageSnapshot: 'latest' });
    const s = await repoSnapshot(ctx);
    expect(s.name).toBe('gentoo-latest.tar.xz');
    expect(fs.readFileSync(path.join(s.tree, 'profiles/repo_name'), 'utf8')).toBe('gentoo\n');
    expect(fs.existsSync(path.join(s.tree, 'profiles/default/linux/amd64/23.0/systemd/make.defaults'))).toBe(true);
    expect(fs.existsSync(path.join(s.tree, 'metadata/layout.conf'))).toBe(true);
    // No ebuilds, no metadata cache: a binary-package install does not read them.
    expect(fs.existsSync(path.join(s.tree, 'app-misc'))).toBe(false);
    expect(fs.existsSync(path.join(s.tree, 'metadata/md5-cache'))).toBe(false);
    // Nothing of the download is left in the work directory.
    expect(fs.readdirSync(ctx.work).filter((f) => f.endsWith('.tar.xz'))).toEqual([]);
    // The tarball gone from the mirror: the same signature finds the cached tree.
    const tarball = path.join(snapshotDir(), 'gentoo-latest.tar.xz');
    fs.renameSync(tarball, `${tarball}.away`);
    try {
      expect((await repoSnapshot({ ...ctx, work: tempDir('kiln-gentoo-work-') })).tree).toBe(s.tree);
    } finally {
      fs.renameSync(`${tarball}.away`, tarball);
    }
    // A damaged record of that signature is not trusted: the snapshot is fetched and checked again.
    const cache = path.join(ctx.packageCache, 'gentoo-repo');
    for (const f of fs.readdirSync(cache).filter((f) => f.startsWith('sig-'))) fs.writeFileSync(path.join(cache, f), '{"name":');
    const again = await repoSnapshot({ ...ctx, work: tempDir('kiln-gentoo-work-') });
    expect(again.tree).toBe(s.tree);
    expect(fs.readFileSync(path.join(cache, fs.readdirSync(cache).find((f) => f.startsWith('sig-'))!), 'utf8')).toContain(again.sha512);
  });

  it('PortageSnapshot= picks a dated snapshot; a date the mirror lacks is a clear error', async () => {
    const s = await repoSnapshot(context({ PortageSnapshot: '20261101' }));
    expect(s.name).toBe('gentoo-20261101.tar.xz');
    expect(fs.existsSync(path.join(s.tree, 'profiles/repo_name'))).toBe(true);
    await expect(repoSnapshot(context({ PortageSnapshot: '20200101' }))).rejects.toThrow(/snapshots\/gentoo-20200101\.tar\.xz\.gpgsig: HTTP 404 \(PortageSnapshot=20200101: the mirror has no snapshot of that date\)/);
  });

  it('refuses a snapshot signed by another key or tampered with, and caches nothing of it', async () => {
    const other = context({ PortageSnapshot: 'latest', GentooKeyring: `${fx}/keys/other.gpg` });
    await expect(repoSnapshot(other)).rejects.toThrow(/gentoo-latest\.tar\.xz: the OpenPGP signature does not verify/);
    expect(fs.readdirSync(path.join(other.packageCache, 'gentoo-repo'))).toEqual([]);

    const mirror = path.join(fx, 'tampered-snapshot');
    fs.cpSync(snapshotDir(), path.join(mirror, 'snapshots'), { recursive: true });
    const tarball = path.join(mirror, 'snapshots/gentoo-latest.tar.xz');
    const bytes = fs.readFileSync(tarball);
    bytes[bytes.length - 40] ^= 0xff;
    fs.writeFileSync(tarball, bytes);
    const ctx = context({ PortageSnapshot: 'latest', Mirror: `${server.url}/tampered-snapshot` });
    await expect(repoSnapshot(ctx)).rejects.toThrow(/the OpenPGP signature does not verify/);
    expect(fs.readdirSync(path.join(ctx.packageCache, 'gentoo-repo'))).toEqual([]);
  });
});

describe('stage3 and snapshot pinned by kiln.lock', () => {
  it('a locked stage3 or snapshot that is cached needs no mirror at all', async () => {
    const ctx = context({});
    const s = await stage3Tree(ctx);
    const r = await repoSnapshot(ctx);
    const offline = { ...ctx, work: tempDir('kiln-gentoo-work-'), preset: { ...ctx.preset, config: { ...ctx.preset.config, Mirror: 'http://127.0.0.1:1' } } };
    const { tree: st, ...stool } = s;
    const { tree: rt, ...rtool } = r;
    expect(stool.path).toBe('releases/amd64/autobuilds/20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz');
    expect(rtool).toEqual({ name: 'gentoo-latest.tar.xz', path: 'snapshots/gentoo-latest.tar.xz', size: fs.statSync(path.join(fx, 'snapshots/gentoo-latest.tar.xz')).size, sha512: expect.stringMatching(/^[0-9a-f]{128}$/) });
    expect((await stage3Tree(offline, stool)).tree).toBe(st);
    expect((await repoSnapshot(offline, rtool)).tree).toBe(rt);
  });

  it('downloads what the lock names and refuses other bytes', async () => {
    const ctx = context({});
    const { tree: _t, ...stool } = await stage3Tree(context({}));
    // A fresh cache: the locked stage3 is fetched by its path (no latest-*.txt) and checked against the lock.
    const fresh = context({ Mirror: server.url });
    await expect(stage3Tree(fresh, { ...stool, sha512: 'f'.repeat(128) })).rejects.toThrow(/stage3-amd64-systemd-20261101T000000Z\.tar\.xz does not match kiln\.lock \(damaged or tampered with\)/);
    expect(fs.readdirSync(path.join(fresh.packageCache, 'gentoo-stage3'))).toEqual([]);
    expect((await stage3Tree(context({}), stool)).sha512).toBe(stool.sha512);
    // A locked "latest" snapshot whose bytes the mirror no longer has.
    const { tree: _r, ...rtool } = await repoSnapshot(ctx);
    await expect(repoSnapshot(context({}), { ...rtool, sha512: 'e'.repeat(128) })).rejects.toThrow(/is not the snapshot kiln\.lock names \(a "latest" moves on; pin PortageSnapshot= to a date\): run kiln lock/);
  });

  it('the lock (kiln lock) of an emerge preset records the stage3 and the snapshot', async () => {
    const root = tempProject({
      'mkosi.conf': `[Distribution]\nDistribution=gentoo\nArchitecture=x86-64\nBinhosts=${server.url}/binhost\nMirror=${server.url}\nGentooInstaller=emerge\nGentooKeyring=${fx}/keys/test.gpg\nPortageSnapshot=20261101\n\n[Content]\nPackages=app-misc/hello\n\n[Build]\nPackageCacheDirectory=${tempDir('kiln-gentoo-cache-')}\n`,
    });
    const r = await lockIn(root);
    expect(r.error).toBeUndefined();
    const lock = readLockfile(path.join(root, 'kiln.lock'))!;
    const manifest = JSON.parse(fs.readFileSync(path.join(fx, 'manifest.json'), 'utf8'));
    const dated = path.join(fx, 'snapshots/gentoo-20261101.tar.xz');
    expect(lock.tool).toEqual([
      { name: manifest.stage3.file, path: manifest.stage3.path, size: manifest.stage3.size, sha512: manifest.stage3.sha512 },
      { name: 'gentoo-20261101.tar.xz', path: 'snapshots/gentoo-20261101.tar.xz', size: fs.statSync(dated).size, sha512: createHash('sha512').update(fs.readFileSync(dated)).digest('hex') },
    ]);
    expect(lock.package.map((p) => p.name)).toContain('app-misc/hello');
  });
});

describe('the emerge run', () => {
  it('generates a minimal portage config for the image', () => {
    const ctx = context({ Binhosts: ['https://a.example/bin', 'https://b.example/bin'] });
    const { files, profileLink } = portageConfig(ctx, false);
    expect(profileLink).toBe('/var/db/repos/gentoo/profiles/default/linux/amd64/23.0/systemd');
    expect(files['etc/portage/make.conf']).toContain(`FEATURES="${NAMESPACE_FEATURES} getbinpkg"`);
    expect(files['etc/portage/make.conf']).toContain(`PKGDIR="${IN.pkgdir}"`);
    expect(files['etc/portage/make.conf']).toContain('PORTAGE_USERNAME="root"');
    expect(files['etc/portage/profile/packages']).toMatch(/^-\*$/m);
    expect(files['etc/portage/binrepos.conf/kiln.conf']).toContain('[kiln-1]\npriority = 100\nsync-uri = https://a.example/bin\nlocation = /tmp/kiln/binhost/kiln-1\nverify-signature = false\n');
    expect(files['etc/portage/binrepos.conf/kiln.conf']).toContain('[kiln-2]\npriority = 99\nsync-uri = https://b.example/bin\n');
    // The native installer's rules, for portage: "$" escaped as make.globals writes it.
    expect(files['etc/portage/make.conf']).toContain('COLLISION_IGNORE="/lib/modules/* *.py[co] *\\$py.class"\nCONFIG_PROTECT="-* /etc"\nCONFIG_PROTECT_MASK="-* /etc/env.d"\n');
    expect(files['etc/portage/make.conf']).not.toContain('ACCEPT_KEYWORDS');
    expect(portageConfig(context({ AcceptKeywords: ['~amd64'] }), false).files['etc/portage/make.conf']).toContain('ACCEPT_KEYWORDS="~amd64"\n');
    const required = portageConfig(context({ BinpkgSignatures: 'required' }), true).files;
    expect(required['etc/portage/make.conf']).toContain('binpkg-request-signature');
    expect(required['etc/portage/make.conf']).not.toContain('getbinpkg"');
  });

  it('runs emerge in a namespace over the read-only tools tree with the image as ROOT', async () => {
    const s = await stage3Tree(context({}));
    const work = tempDir('kiln-gentoo-plan-');
    const input = { tools: s.tree, root: `${work}/root`, pkgdir: `${work}/pkgdir`, distdir: `${work}/distfiles`, tmpdir: `${work}/tmp`, atoms: ['app-misc/hello'], local: false, jobs: 2 };
    const { bwrap, command } = emergeCommand(input);
    expect(command).toEqual(['emerge', '--root=/buildroot', '--config-root=/buildroot', '--usepkgonly', '--getbinpkg', '--binpkg-respect-use=y', '--with-bdeps=n', '--noreplace', '--package-moves=n', '--jobs=2', '--quiet-build=y', '--color=n', 'app-misc/hello']);
    const pairs = (flag: string) => bwrap.flatMap((a, i) => (a === flag ? [[bwrap[i + 1], bwrap[i + 2]]] : []));
    // Everything of the tools tree is bound read-only; only the image and scratch space are writable.
    expect(pairs('--ro-bind')).toContainEqual([path.join(s.tree, 'usr'), '/usr']);
    expect(pairs('--bind')).toEqual([[input.root, '/buildroot'], [input.tmpdir, IN.tmp], [input.pkgdir, IN.pkgdir], [input.distdir, IN.distdir]]);
    for (const [src] of pairs('--bind')) expect(src.startsWith(s.tree)).toBe(false);
    expect(bwrap).toContain('--clearenv');
    expect(pairs('--setenv')).toContainEqual(['ROOT', '/buildroot']);
    const local = emergeCommand({ ...input, local: true });
    expect(local.command).not.toContain('--getbinpkg');
    // In a user namespace of its own; a locked build (everything in PKGDIR) without the network.
    expect(bwrap).toContain('--unshare-user');
    expect(bwrap).not.toContain('--unshare-net');
    expect(local.bwrap).toContain('--unshare-net');
  });

  it('assembles the namespace: tools tree read-only, the snapshot grafted where it has no repository, scratch and image writable', async () => {
    const parent = toolsTreeParent();
    if (!parent) throw new Error("no temporary directory on /usr's filesystem for the tools tree (hard links)");
    const holder = fs.mkdtempSync(path.join(parent, 'kiln-gentoo-ns-'));
    try {
      const tools = makeToolsTree(path.join(holder, 'tree'));
      const listing = () => spawnSync('find', [tools, '-path', `${tools}/usr`, '-prune', '-o', '-printf', '%P %y %s %m %T@\\n'], { encoding: 'utf8' }).stdout;
      const before = listing();
      const snap = await repoSnapshot(context({}));
      const work = tempDir('kiln-gentoo-ns-work-');
      const dirs = Object.fromEntries(['root', 'tmpdir', 'pkgdir', 'distdir', 'gnupg'].map((d) => [d, path.join(work, d)]));
      for (const d of Object.values(dirs)) fs.mkdirSync(d);
      const { box } = emergeCommand({ tools, root: dirs.root, tmpdir: dirs.tmpdir, pkgdir: dirs.pkgdir, distdir: dirs.distdir, atoms: [], local: false, jobs: 1, grafts: [{ at: 'var/db/repos/gentoo', source: snap.tree }], gnupg: dirs.gnupg });
      const script = [
        'cat /var/db/repos/gentoo/profiles/repo_name',
        'test -f /etc/portage/make.profile/make.defaults && echo profile',
        'for d in /usr /var/db /var/db/repos/gentoo/profiles /etc /etc/portage; do touch $d/kiln-x 2>/dev/null && echo "$d writable"; done',
        'touch /buildroot/ok /tmp/kiln/binpkgs/ok /tmp/kiln/gnupg/ok /var/log/ok && echo writable',
        'test -f /etc/resolv.conf && echo resolv.conf',
        // What a package's pkg_* phase might try: make the tools tree writable again, make a device node.
        'mount -o remount,rw /usr 2>/dev/null || echo no-remount',
        'unshare --user --map-root-user --mount sh -c "mount -o remount,rw /usr" 2>/dev/null || echo no-nested-remount',
        'mknod /buildroot/disk b 254 0 2>/dev/null || echo no-mknod',
        'touch /usr/kiln-x 2>/dev/null || echo usr-read-only',
      ].join('\n');
      const stdout = await runIn({ log: () => undefined }, box, ['sh', '-c', script], { step: 'test' });
      // The host's resolv.conf comes in for downloads (a stage3 has none).
      expect(stdout + '\n').toBe(`gentoo\nprofile\nwritable\n${fs.existsSync('/etc/resolv.conf') ? 'resolv.conf\n' : ''}no-remount\nno-nested-remount\nno-mknod\nusr-read-only\n`);
      expect(fs.existsSync(path.join(dirs.root, 'ok')) && fs.existsSync(path.join(dirs.pkgdir, 'ok')) && fs.existsSync(path.join(dirs.gnupg, 'ok'))).toBe(true);
      // var/db/repos did not exist in the tools tree and still does not; nothing else changed either.
      expect(fs.existsSync(path.join(tools, 'var/db/repos'))).toBe(false);
      expect(listing()).toBe(before);
    } finally {
      fs.rmSync(holder, { recursive: true, force: true });
    }
  });

  it('makes a GnuPG home portage trusts from GentooKeyring= (armoured or binary)', async () => {
    const tarball = path.join(fx, 'releases/amd64/autobuilds/20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz');
    for (const keyring of ['test.asc', 'test.gpg']) {
      const home = path.join(tempDir('kiln-gentoo-gnupg-'), 'home');
      await trustedHome(home, path.join(fx, 'keys', keyring));
      // As portage's BINPKG_GPG_VERIFY_BASE_COMMAND runs it: a good signature from a fully trusted key.
      const r = spawnSync('gpg', ['--homedir', home, '--verify', '--batch', '--no-tty', '--no-auto-check-trustdb', '--status-fd', '1', `${tarball}.asc`, tarball], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/^\[GNUPG:\] GOODSIG /m);
      expect(r.stdout).toMatch(/^\[GNUPG:\] TRUST_ULTIMATE/m);
    }
    const other = path.join(tempDir('kiln-gentoo-gnupg-'), 'home');
    await trustedHome(other, path.join(fx, 'keys/other.gpg'));
    const r = spawnSync('gpg', ['--homedir', other, '--verify', '--batch', '--status-fd', '1', `${tarball}.asc`, tarball], { encoding: 'utf8' });
    expect(r.stdout).not.toMatch(/GOODSIG/);
    await expect(trustedHome(path.join(tempDir('kiln-gentoo-gnupg-'), 'home'), path.join(fx, 'binhost/Packages'))).rejects.toThrow(/cannot make a GnuPG home from the keyring/);
  });
});
