/**
 * Arch Linux images through the engine's pacman installer, for real: tools/pacman-fixtures'
 * repositories (packages made by makepkg, signed, indexed by repo-add) served on loopback, the
 * keyring from a SandboxTrees= tree as a preset gets it. Checked: the essential set and Packages=,
 * the install script having run chrooted, WithDocs=no, RemovePackages=, Repositories=, a lock and
 * a locked build that verifies it, refusals (unsigned and wrongly signed packages, a missing
 * package, an unreachable mirror) with nothing left behind, and two builds giving the same bytes.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLockfile } from '@kiln/config';
import { pacmanFixtures, type PacmanManifest } from './pacman-fixtures';
import { buildIn, failure, lockIn, removeTempDirs, repo, sha256, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

let fx: string;
let m: PacmanManifest;
let server: { url: string; close(): Promise<void> };
let cache: string;

beforeAll(async () => {
  ({ dir: fx, manifest: m } = await pacmanFixtures());
  server = await serve(fx, { port: 0 });
  cache = tempDir('kiln-pacman-cache-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

/** A project building an Arch directory image from the fixture mirror (or `mirror`), keyring from the fixtures' sandbox tree. */
function project(content: string, mirror = `${server.url}/${m.mirror}`, extra = '', packageCache = cache): string {
  return tempProject({
    'mkosi.conf': [
      '[Distribution]', 'Distribution=arch', 'Architecture=x86-64', `Mirror=${mirror}`, extra, '',
      '[Output]', 'Format=directory', 'Output=image', '',
      '[Content]', 'SourceDateEpoch=1700000000', content, '',
      '[Build]', `PackageCacheDirectory=${packageCache}`, `SandboxTrees=${path.join(fx, m.sandboxTree)}`, '',
    ].join('\n'),
  });
}

async function buildOk(root: string, opts: Parameters<typeof buildIn>[1] = {}) {
  const r = await buildIn(root, opts);
  if (r.error) throw new Error(`build failed:\n${r.log}\n${failure(r)}`);
  return r;
}

const local = (image: string) => fs.readdirSync(path.join(image, 'var/lib/pacman/local')).filter((d) => d !== 'ALPM_DB_VERSION').sort();

describe('an Arch image from the fixture mirror', () => {
  let root: string;
  let image: string;
  // A server of its own, stopped to show a locked build needs no mirror once its files are cached.
  let own: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    own = await serve(fx, { port: 0 });
    root = project('Packages=hello\nCleanPackageMetadata=no', `${own.url}/${m.mirror}`);
    await buildOk(root);
    image = path.join(root, 'mkosi.output/image');
  });

  it('installs filesystem and Packages= with their dependencies, from core, with the install script run', () => {
    expect(local(image)).toEqual(['busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.0-1', 'libhello-1.0-1']);
    expect(fs.readFileSync(path.join(image, 'var/lib/hello/post-ran'), 'utf8')).toBe('ran\n');
    expect(fs.readlinkSync(path.join(image, 'bin'))).toBe('usr/bin');
    expect(fs.readFileSync(path.join(image, 'usr/share/doc/hello/README'), 'utf8')).toBe('hello, the fixture\n');
    expect(fs.readFileSync(path.join(image, 'var/lib/pacman/local/hello-1.0-1/desc'), 'utf8')).toMatch(/^%INSTALLDATE%\n1700000000$/m);
    // No log of clock times (--logfile /dev/null), no downloaded packages in the image.
    expect(fs.existsSync(path.join(image, 'var/log/pacman.log'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'var/cache/pacman/pkg'))).toBe(false);
  });

  it('locks what pacman installs, with the repository, size, SHA-256 and file of each; the locked build verifies them', async () => {
    const r = await lockIn(root);
    expect(r.error).toBeUndefined();
    const lock = readLockfile(path.join(root, 'kiln.lock'))!;
    const got = lock.package.map((p) => `${p.repository}/${p.name} ${p.version}`).sort();
    expect(got).toEqual(['core/busybox 1.0-1', 'core/filesystem 1.0-1', 'core/hello 1.0-1', 'core/libhello 1.0-1']);
    for (const p of lock.package) {
      const f = m.packages.find((x) => x.repo === p.repository && x.name === p.name && x.version === p.version)!;
      expect([p.name, p.size, p.sha256, p.path, p.architecture]).toEqual([p.name, f.csize, f.sha256, f.file, 'x86_64']);
    }
    const before = treeEntries(image);
    const b = await buildOk(root, { force: true });
    expect(b.log).toMatch(/locked/);
    expect(local(image)).toEqual(['busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.0-1', 'libhello-1.0-1']);
    // The same image as the unlocked build: same files, same install reasons (hello explicit, the rest dependencies).
    expect(treeEntries(image)).toEqual(before);
    expect(fs.readFileSync(path.join(image, 'var/lib/pacman/local/libhello-1.0-1/desc'), 'utf8')).toMatch(/^%REASON%\n1$/m);
    expect(fs.readFileSync(path.join(image, 'var/lib/pacman/local/hello-1.0-1/desc'), 'utf8')).not.toMatch(/^%REASON%/m);

    // A damaged file in the package cache is fetched again, not installed.
    const cached = path.join(cache, 'pkg', lock.package.find((p) => p.name === 'hello')!.path!);
    fs.appendFileSync(cached, 'damage');
    await buildOk(root, { force: true });
    expect(sha256(cached)).toBe(lock.package.find((p) => p.name === 'hello')!.sha256);
    expect(treeEntries(image)).toEqual(before);

    // The locked files are in the package cache: the lock builds without the mirror (Arch's mirrors drop old versions).
    await own.close();
    const offline = await buildIn(root, { force: true });
    if (offline.error) throw new Error(`${failure(offline)}\n${offline.log}`);
    expect(treeEntries(image)).toEqual(before);
  });
});

/**
 * Every entry of a tree: path -> type, mode, owner, mtime and a hash of the content or link target;
 * but pacman's sync databases, which these images keep (CleanPackageMetadata=no, to read the local
 * database) and a build from cached locked files never downloads: by default they never stay.
 */
function treeEntries(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    if (rel === 'var/lib/pacman/sync') return;
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    const body = st.isSymbolicLink() ? fs.readlinkSync(abs) : st.isFile() ? createHash('sha256').update(fs.readFileSync(abs)).digest('hex') : '';
    out[rel || '.'] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${Math.floor(st.mtimeMs / 1000)} ${body}`;
    if (st.isDirectory()) for (const n of fs.readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
  };
  visit('');
  return out;
}

describe('settings', () => {
  it('WithDocs=no leaves documentation out, RemovePackages= removes a package and what only it needed; two builds are bit-identical', async () => {
    const root = project('Packages=hello,hello-devel,tool\nRemovePackages=hello-devel\nWithDocs=no');
    await buildOk(root);
    const image = path.join(root, 'mkosi.output/image');
    expect(fs.existsSync(path.join(image, 'usr/bin/hello'))).toBe(true);
    expect(fs.existsSync(path.join(image, 'usr/share/doc/hello'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'usr/share/man/man1/hello.1.gz'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'usr/include/hello.h'))).toBe(false);
    // tool from core (2.0rc1): pacman takes a name from the first repository that has it.
    expect(fs.readFileSync(path.join(image, 'usr/bin/tool'), 'utf8')).toContain('2.0rc1');
    // CleanPackageMetadata=auto: pacman is not in the image, so its database goes too.
    expect(fs.existsSync(path.join(image, 'var/lib/pacman'))).toBe(false);
    const first = treeEntries(image);
    await buildOk(root, { force: true });
    expect(treeEntries(image)).toEqual(first);
  });

  it('Repositories=core-testing goes before core: its newer hello and tool win', async () => {
    const root = project('Packages=hello,tool\nCleanPackageMetadata=no', undefined, 'Repositories=core-testing');
    await buildOk(root);
    expect(local(path.join(root, 'mkosi.output/image'))).toEqual(['busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.1-1', 'libhello-1.0-1', 'tool-2.0-1']);
  });
});

describe('Incremental=yes', () => {
  it('adds a locked package to a cached layer (append), giving what a build from scratch gives', async () => {
    const layers = tempDir('kiln-pacman-layers-');
    const incremental = (packages: string, on: boolean) => `Packages=${packages}\nCleanPackageMetadata=no\n\n[Build]\nIncremental=${on ? 'yes' : 'no'}\nCacheDirectory=${layers}`;
    const root = project(incremental('hello', true));
    const conf = path.join(root, 'mkosi.conf');
    const text = fs.readFileSync(conf, 'utf8');
    expect((await lockIn(root)).error).toBeUndefined();
    await buildOk(root);
    fs.writeFileSync(conf, text.replace(incremental('hello', true), incremental('hello,tool', true)));
    expect((await lockIn(root)).error).toBeUndefined();
    const log = (await buildOk(root, { force: true })).log;
    expect(log).toMatch(/layer: adding tool to layer [0-9a-f]{12}, which has the rest of the lock/);
    const image = path.join(root, 'mkosi.output/image');
    expect(local(image)).toEqual(['busybox-1.0-1', 'filesystem-1.0-1', 'hello-1.0-1', 'libhello-1.0-1', 'tool-2.0rc1-1']);
    const appended = treeEntries(image);
    fs.writeFileSync(conf, text.replace(incremental('hello', true), incremental('hello,tool', false)));
    await buildOk(root, { force: true });
    expect(treeEntries(image)).toEqual(appended);
  });
});

describe('examples/arch', () => {
  it('builds from the fixture mirror with a mkosi.local.conf naming it and the keyring tree', async () => {
    const root = tempDir('kiln-pacman-example-');
    fs.cpSync(path.join(repo, 'examples/arch'), root, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
    fs.writeFileSync(path.join(root, 'mkosi.local.conf'), `[Distribution]\nMirror=${server.url}/arch\n\n[Build]\nSandboxTrees=${path.join(fx, m.sandboxTree)}\nPackageCacheDirectory=${cache}\n`);
    await buildOk(root);
    const tar = fs.readdirSync(path.join(root, 'mkosi.output')).find((f) => /^arch.*\.tar/.test(f));
    expect(tar).toBeDefined();
    const list = execFileSync('bsdtar', ['-tf', path.join(root, 'mkosi.output', tar!)], { encoding: 'utf8' }).split('\n').map((l) => l.replace(/^\.\//, ''));
    expect(list).toEqual(expect.arrayContaining(['usr/bin/busybox', 'usr/lib/os-release', 'etc/hostname']));
  });
});

describe('bad input', () => {
  const fails = async (root: string) => {
    const r = await buildIn(root, { verbose: true });
    if (!r.error) throw new Error(`the build did not fail:\n${r.log}`);
    expect(fs.existsSync(path.join(root, 'mkosi.output/image'))).toBe(false);
    return String((r.error as Error).message);
  };

  // A package cache of their own: pacman keeps each package's .sig beside it in the cache, and a
  // package it has from a good mirror with its good signature is that package, wherever it is asked for.
  it('refuses a package without a signature, naming it, with nothing installed', async () => {
    const msg = await fails(project('Packages=hello', `${server.url}/${m.bad['unsigned-package'].mirror}`, '', tempDir('kiln-pacman-bad-cache-')));
    expect(msg).toMatch(/hello-1\.0-1-x86_64\.pkg\.tar\.zst\.sig/);
    expect(msg).toMatch(/^proj: installing packages: refused, a package is not signed by a trusted key \(.*hello-1\.0-1-x86_64\.pkg\.tar\.zst\.sig.*\); nothing was installed/);
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('refuses a package signed by a key the keyring does not trust', async () => {
    const msg = await fails(project('Packages=hello', `${server.url}/${m.bad['wrong-key-package'].mirror}`, '', tempDir('kiln-pacman-bad-cache-')));
    expect(msg).toMatch(/not signed by a trusted key.*key/);
  });

  it('refuses an unsigned database', async () => {
    const msg = await fails(project('Packages=hello', `${server.url}/${m.bad['unsigned-db'].mirror}`));
    expect(msg).toMatch(/core\.db\.sig/);
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('says in one line which package is missing and which repositories were searched', async () => {
    const msg = await fails(project('Packages=hello,no-such-package'));
    expect(msg).toBe(`proj: no-such-package: not in the repositories core (${server.url}/arch/core/os/x86_64), extra (${server.url}/arch/extra/os/x86_64)`);
  });

  it('says in one line that the mirror cannot be reached', async () => {
    const msg = await fails(project('Packages=hello', 'http://127.0.0.1:9/arch'));
    expect(msg).toMatch(/^proj: cannot download the package databases of http:\/\/127\.0\.0\.1:9\/arch\/core\/os\/x86_64, .*: failed retrieving file 'core\.db'/);
    expect(msg.split('\n')).toHaveLength(1);
  });

  it('without a keyring, says where it looked and how to go on', async () => {
    const root = tempProject({ 'mkosi.conf': `[Distribution]\nDistribution=arch\nMirror=${server.url}/arch\n\n[Output]\nFormat=directory\n\n[Build]\nPackageCacheDirectory=${cache}\n` });
    const msg = await fails(root);
    expect(msg).toMatch(/no Arch Linux keyring .* set RepositoryKeyCheck=no$/);
  });
});
