/**
 * The incremental package layer (Incremental=yes|strict), with real builds from the Debian mirror:
 * a cold build stores the layer; an extra-tree change starts from it and gives the same image as a
 * build from scratch; an added package is installed on top of the cached layer; damaged and
 * foreign entries are discarded with a message; strict fails without a layer; clean --all removes
 * layers and packages. The key and eviction are checked in process.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { loadProject, readLockfile, type Lock } from '@kiln/config';
import { clean, withBuildContext } from '../src/build';
import { BuildError } from '../src/errors';
import { evictLayers, LAYER_FORMAT, layerKey } from '../src/layers';
import { buildIn, failure, installed, linkedPackageCache, lockIn, removeTempDirs, sha256, tempDir, tempProject, unpack } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

const layers = tempDir('kiln-layers-');
// A package cache of the project's own (seeded from the shared one by hard links, so nothing is
// downloaded again), because kiln clean --all removes it at the end.
const packages = linkedPackageCache('kiln-pkgcache-');

const config = (incremental: string, pkgs = '', cacheDir = layers) =>
  '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n' +
  `[Content]\nExtraTrees=extra\nSourceDateEpoch=1700000000\n${pkgs ? `Packages=${pkgs}\n` : ''}` +
  `[Build]\nIncremental=${incremental}\nCacheDirectory=${cacheDir}\nPackageCacheDirectory=${packages}\n`;

const root = tempProject({ 'mkosi.conf': config('yes'), 'extra/etc/motd': 'one\n' });
const image = path.join(root, 'mkosi.output/image.tar.zst');
const entries = () => fs.readdirSync(layers).filter((n) => !n.startsWith('.')).sort();
type Pkg = { name: string; version: string };
const lockedNames = () => (parse(fs.readFileSync(path.join(root, 'kiln.lock'), 'utf8')) as { package: Pkg[] }).package.map((p) => p.name);

async function build(): Promise<string> {
  const r = await buildIn(root, { force: true });
  if (r.error) throw new Error(`build failed:\n${r.log}${failure(r)}`);
  return r.log;
}

/** The same image built with Incremental=no, then the project put back as it was. */
async function scratchBuild(pkgs = ''): Promise<string> {
  fs.writeFileSync(path.join(root, 'mkosi.conf'), config('no', pkgs));
  const log = await build();
  expect(log).not.toContain('layer:');
  fs.writeFileSync(path.join(root, 'mkosi.conf'), config('yes', pkgs));
  return sha256(image);
}

describe('Incremental=yes', () => {
  it('a cold build installs the packages and stores the layer with its manifest', async () => {
    expect((await lockIn(root)).error).toBeUndefined();
    const log = await build();
    expect(log).toContain('layer: none cached for these packages and trees; building one');
    expect(log).toContain('installing the essential set');
    expect(log).toMatch(/layer: stored [0-9a-f]{12} \(\d+ files, \d+\.\d MiB\)/);
    expect(entries()).toHaveLength(1);
    const dir = path.join(layers, entries()[0]);
    expect(fs.readdirSync(dir).sort()).toEqual(['index', 'manifest.json', 'tree']);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: LAYER_FORMAT, key: entries()[0], preset: 'proj', project: root, requested: [] });
    expect(manifest.packages.map((p: Pkg) => p.name)).toEqual(lockedNames());
    const index = fs.readFileSync(path.join(dir, 'index'), 'utf8');
    expect(manifest.tree.index).toBe(createHash('sha256').update(index).digest('hex'));
    expect(index).toMatch(/^usr\/bin\/dpkg\t100755\t0:0\t/m);
    expect(fs.existsSync(path.join(dir, 'tree/var/lib/dpkg/status'))).toBe(true);
    // The build went on over the stored tree, not in it.
    expect(fs.readFileSync(path.join(unpack(image), 'etc/motd'), 'utf8')).toBe('one\n');
    expect(fs.readFileSync(path.join(dir, 'tree/etc/motd'), 'utf8')).not.toBe('one\n'); // Debian's own
  });

  it('an extra-tree change starts from the layer, installs nothing, and gives the image a build from scratch gives', async () => {
    fs.writeFileSync(path.join(root, 'extra/etc/motd'), 'two\n');
    const log = await build();
    expect(log).toMatch(/layer: starting from [0-9a-f]{12}/);
    expect(log).not.toContain('installing');
    expect(log).not.toContain('layer: stored');
    const fromLayer = sha256(image);
    expect(fs.readFileSync(path.join(unpack(image), 'etc/motd'), 'utf8')).toBe('two\n');
    expect(await scratchBuild()).toBe(fromLayer);
  });

  it('an added package is installed on top of the cached layer, giving what a build from scratch gives', async () => {
    fs.writeFileSync(path.join(root, 'mkosi.conf'), config('yes', 'less'));
    expect((await lockIn(root)).error).toBeUndefined();
    const log = await build();
    expect(log).toMatch(/layer: adding less to layer [0-9a-f]{12}, which has the rest of the lock/);
    expect(log).not.toContain('installing the essential set');
    const lock = readLockfile(path.join(root, 'kiln.lock')) as Lock;
    const less = lock.package.find((p) => p.name === 'less')!;
    const tree = unpack(image);
    expect(installed(tree).get('less')).toBe(less.version);
    expect(new Set(installed(tree).keys())).toEqual(new Set(lockedNames()));
    expect(entries()).toHaveLength(2); // the appended layer is kept too, for the next build
    const appended = sha256(image);
    expect(await scratchBuild('less')).toBe(appended);
  });

  it('a damaged layer is detected and discarded, never used', async () => {
    const newest = entries()
      .map((n) => path.join(layers, n))
      .sort((a, b) => fs.statSync(path.join(b, 'manifest.json')).ctimeMs - fs.statSync(path.join(a, 'manifest.json')).ctimeMs)[0];
    const passwd = path.join(newest, 'tree/etc/passwd');
    const bytes = fs.readFileSync(passwd);
    bytes[0] ^= 0x20; // same size: only the file's times can tell
    fs.writeFileSync(passwd, bytes);
    const before = sha256(image);
    const log = await build();
    expect(log).toContain(`layer: discarding ${newest}: etc/passwd was changed in its tree (mtime, ctime) since it was stored`);
    expect(log).toContain('layer: adding less to layer'); // from the intact older layer
    expect(sha256(image)).toBe(before);
    // A sound entry took its place.
    expect(fs.readFileSync(passwd)[0]).not.toBe(bytes[0]);
  });

  it('a foreign or half-written entry is discarded with a message', async () => {
    const foreign = path.join(layers, 'f'.repeat(64));
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'manifest.json'), '{"format": "something else"}');
    const stray = path.join(layers, 'notes');
    fs.mkdirSync(stray);
    const log = await build();
    expect(log).toContain(`layer: discarding ${foreign}: its manifest.json is not a kiln layer manifest`);
    expect(log).toContain(`layer: discarding ${stray}: it has no manifest.json`);
    expect(log).toMatch(/layer: starting from [0-9a-f]{12}/);
    expect(fs.existsSync(foreign) || fs.existsSync(stray)).toBe(false);
  });

  it('a directory image built on a layer is a plain tree of its own, and no mount is left', async () => {
    fs.writeFileSync(path.join(root, 'mkosi.conf'), config('yes', 'less').replace('Format=tar', 'Format=directory'));
    const log = await build();
    expect(log).toMatch(/layer: starting from [0-9a-f]{12}/);
    const tree = path.join(root, 'mkosi.output/image');
    expect(fs.lstatSync(tree).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(tree, 'etc/motd'), 'utf8')).toBe('two\n');
    expect(installed(tree).has('less')).toBe(true);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
    fs.rmSync(tree, { recursive: true });
    fs.writeFileSync(path.join(root, 'mkosi.conf'), config('yes', 'less'));
  });

  it('Incremental=strict without a layer stops before installing anything, and the old image stays', async () => {
    const empty = tempDir('kiln-layers-empty-');
    fs.writeFileSync(path.join(root, 'mkosi.conf'), config('strict', 'less', empty));
    const before = sha256(image);
    const r = await buildIn(root, { force: true });
    expect(r.error).toBeInstanceOf(BuildError);
    expect(failure(r)).toContain(`Incremental=strict, and ${empty} has no layer for this preset's packages and trees`);
    expect(r.log + failure(r)).not.toContain('installing');
    expect(sha256(image)).toBe(before);
    // With the layer there, strict builds.
    fs.writeFileSync(path.join(root, 'mkosi.conf'), config('strict', 'less'));
    expect(await build()).toMatch(/layer: starting from/);
  });

  it('clean --all removes the outputs, the project\'s layers and its package cache', async () => {
    const other = path.join(layers, 'e'.repeat(64));
    fs.mkdirSync(other);
    const manifest = JSON.parse(fs.readFileSync(path.join(layers, entries()[0], 'manifest.json'), 'utf8'));
    fs.writeFileSync(path.join(other, 'manifest.json'), JSON.stringify({ ...manifest, key: 'e'.repeat(64), project: '/elsewhere' }));
    fs.mkdirSync(path.join(other, 'tree'));
    const removed = await clean(loadProject(root), undefined, { all: true });
    expect(removed).toContainEqual(expect.stringMatching(/^layer /));
    expect(removed).toContain(`package cache ${packages}`);
    expect(fs.existsSync(image)).toBe(false);
    expect(entries()).toEqual(['e'.repeat(64)]); // another project's layer stays
    // apt's lock and the users' lock (locks.ts), which clean held while emptying it.
    expect(fs.readdirSync(packages).sort()).toEqual(['.lock', '.users.lock']);
  });
});

describe('the layer key', () => {
  const proj = tempProject({
    'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Content]\nPackages=less\nSkeletonTrees=skel\nExtraTrees=extra\nPrepareScripts=prep.sh\nPostInstallationScripts=post.sh\n[Build]\nIncremental=yes\n',
    'skel/etc/issue': 'skeleton\n',
    'extra/etc/motd': 'extra\n',
    'prep.sh': { text: '#!/bin/sh\ntrue\n', mode: 0o755 },
    'post.sh': { text: '#!/bin/sh\ntrue\n', mode: 0o755 },
  });
  const lock = (version: string): Lock => ({
    'lock-version': 1,
    request: { distribution: 'debian', release: 'bookworm', architecture: 'x86-64', mirror: ['http://deb.debian.org/debian'], repositories: [], packages: ['less'], 'build-packages': [], base: [] },
    package: [{ name: 'less', version, architecture: 'amd64', repository: 'main', size: 1, sha256: 'a'.repeat(64) }],
    'build-package': [],
  });
  const keyOf = async (l: Lock | null = lock('1')) => {
    const project = loadProject(proj, { env: {} });
    return withBuildContext(project, project.main, { env: {} }, (ctx) => layerKey(ctx, l, 'kiln-test', (b) => b));
  };
  const edit = (file: string, text: string) => fs.writeFileSync(path.join(proj, file), text);

  it('changes with what the steps before the layer read, not with what comes after', async () => {
    const k = await keyOf();
    expect(await keyOf()).toEqual(k); // stable
    edit('extra/etc/motd', 'changed\n');
    edit('post.sh', '#!/bin/sh\necho changed\n');
    edit('mkosi.conf', fs.readFileSync(path.join(proj, 'mkosi.conf'), 'utf8').replace('[Content]', '[Output]\nFormat=cpio\n[Content]'));
    expect((await keyOf()).key).toBe(k.key);

    const changed = async (what: () => void) => {
      what();
      const now = await keyOf();
      expect(now.key).not.toBe(k.key);
      return now;
    };
    const skel = await changed(() => edit('skel/etc/issue', 'other\n'));
    const prep = await changed(() => edit('prep.sh', '#!/bin/sh\necho other\n'));
    expect(prep.key).not.toBe(skel.key);
    fs.chmodSync(path.join(proj, 'prep.sh'), 0o700);
    expect((await keyOf()).key).not.toBe(prep.key);
  });

  it('keeps its prefix when only the locked packages change (what appending looks for)', async () => {
    const a = await keyOf(lock('1'));
    const b = await keyOf(lock('2'));
    const unlocked = await keyOf(null);
    expect(b.key).not.toBe(a.key);
    expect(unlocked.key).not.toBe(a.key);
    expect(new Set([a.prefix, b.prefix, unlocked.prefix]).size).toBe(1);
    expect(unlocked.packages).toBeNull();
  });
});

describe('eviction', () => {
  const day = 86_400_000;
  function cache(ages: Record<string, [number, number]>): string {
    const dir = tempDir('kiln-evict-');
    for (const [key, [daysAgo, bytes]] of Object.entries(ages)) {
      const entry = path.join(dir, key.repeat(64));
      fs.mkdirSync(path.join(entry, 'tree/etc'), { recursive: true });
      fs.writeFileSync(path.join(entry, 'tree/etc/hostname'), `${key}\n`);
      const manifest = {
        format: LAYER_FORMAT, key: key.repeat(64), prefix: '0'.repeat(64), preset: 'p', project: '/p', parts: {}, requested: [], packages: null,
        tree: { entries: 3, bytes, index: '0'.repeat(64) }, created: new Date().toISOString(),
      };
      fs.writeFileSync(path.join(entry, 'manifest.json'), JSON.stringify(manifest));
      const t = new Date(Date.now() - daysAgo * day);
      fs.utimesSync(path.join(entry, 'manifest.json'), t, t);
    }
    return dir;
  }
  const left = (dir: string) => fs.readdirSync(dir).map((n) => n[0]).sort().join('');

  it('removes entries unused for longer than the age limit', async () => {
    const dir = cache({ a: [40, 10], b: [10, 10], c: [1, 10] });
    const removed = await evictLayers(dir, { maxSize: 1e9, maxAgeDays: 30 });
    expect(removed).toEqual([`${'a'.repeat(12)} (unused for over 30 days)`]);
    expect(left(dir)).toBe('bc');
    expect(await evictLayers(dir, { maxSize: 1e9, maxAgeDays: 0 })).toEqual([]);
  });

  it('removes the least recently used until the rest fit, never the one in use', async () => {
    const dir = cache({ a: [3, 1000], b: [2, 1000], c: [1, 1000], d: [5, 1000] });
    await evictLayers(dir, { maxSize: 2100, maxAgeDays: 30, keep: 'd'.repeat(64) });
    expect(left(dir)).toBe('cd');
  });

  it('never removes a tree a build has mounted as its overlay', async () => {
    const dir = cache({ a: [40, 10] });
    const work = tempDir('kiln-evict-mount-');
    for (const d of ['upper', 'work', 'root']) fs.mkdirSync(path.join(work, d));
    const lower = path.join(dir, 'a'.repeat(64), 'tree');
    const mount = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${work}/upper,workdir=${work}/work`, `${work}/root`], { encoding: 'utf8' });
    expect(mount.stderr).toBe('');
    try {
      expect(fs.readFileSync(path.join(work, 'root/etc/hostname'), 'utf8')).toBe('a\n');
      expect(await evictLayers(dir, { maxSize: 0, maxAgeDays: 30 })).toEqual([]);
      expect(left(dir)).toBe('a');
    } finally {
      spawnSync('umount', [`${work}/root`]);
    }
    expect(await evictLayers(dir, { maxSize: 1e9, maxAgeDays: 30 })).toHaveLength(1);
    expect(left(dir)).toBe('');
  });

  it('removes what a killed build left, not what a running one is writing', async () => {
    const dir = cache({});
    const dead = spawnSync('true').pid;
    fs.mkdirSync(path.join(dir, `.tmp-0123456789abcdef-${dead}`));
    fs.mkdirSync(path.join(dir, `.tmp-0123456789abcdef-${process.pid}`));
    await evictLayers(dir, { maxSize: 1e9, maxAgeDays: 30 });
    expect(fs.readdirSync(dir)).toEqual([`.tmp-0123456789abcdef-${process.pid}`]);
  });
});
