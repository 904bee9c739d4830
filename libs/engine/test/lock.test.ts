/**
 * lockProject (kiln lock) and locked builds, against the real Debian mirror: a base preset locked with the
 * essential set, a preset on top of it locked with only what it adds, builds that install exactly
 * the locked versions, and the clear errors of a stale lock, a version gone from the mirror and a
 * checksum that does not match.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { loadProject, summaryJson } from '@kiln/config';
import { BuildError } from '../src/errors';
import { buildIn, explain, failure, installed, lockIn, removeTempDirs, sha256, tempProject } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

type Pkg = { name: string; version: string; architecture: string; sha256: string };
const packagesOf = (file: string) => (parse(fs.readFileSync(file, 'utf8')) as { package: Pkg[] }).package;

const root = tempProject({
  'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=app\nFormat=tar\n[Content]\nBaseTrees=%O/base\nPackages=hello\nSourceDateEpoch=1700000000\n',
  'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n[Content]\nCleanPackageMetadata=no\nWithDocs=no\n',
});
const baseLock = path.join(root, 'mkosi.images/base/kiln.lock');
const appLock = path.join(root, 'kiln.lock');
const out = path.join(root, 'mkosi.output');

describe('lockProject (kiln lock)', () => {
  let first = '';

  it('locks every preset: the essential set for a fresh root, only what is added on a base', async () => {
    const r = await lockIn(root);
    expect(r.error).toBeUndefined();
    expect(r.log).toBe('base: resolving packages\nproj: resolving packages\n');
    expect(r.results?.[0]).toEqual({ preset: 'base', file: baseLock, packages: expect.any(Number), changes: null });
    expect(r.results?.[0].packages).toBeGreaterThan(0);
    const base = packagesOf(baseLock);
    expect(base.map((p) => p.name)).toEqual(expect.arrayContaining(['base-files', 'dpkg', 'libc6', 'bash']));
    for (const p of base) expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(base.map((p) => p.name)).toEqual([...base.map((p) => p.name)].sort());
    // hello on top of base: hello itself, nothing base already has.
    expect(packagesOf(appLock).map((p) => p.name)).toEqual(['hello']);
    first = fs.readFileSync(baseLock, 'utf8') + fs.readFileSync(appLock, 'utf8');
  });

  it('is deterministic: a second lock of the same mirror state is identical', async () => {
    const r = await lockIn(root);
    expect(r.error).toBeUndefined();
    expect(r.results?.[0]).toMatchObject({ preset: 'base', changes: { added: [], removed: [], changed: [] } });
    expect(fs.readFileSync(baseLock, 'utf8') + fs.readFileSync(appLock, 'utf8')).toBe(first);
  });

  it('the summary (kiln summary --json) says which presets are locked', async () => {
    const presets = summaryJson(loadProject(root)).presets as { name: string; lock: { packages: number } | null }[];
    expect(presets.find((p) => p.name === 'proj')?.lock).toEqual({ packages: 1 });
  });
});

describe('a locked build', () => {
  it('installs exactly the locked versions, in the base and on top of it', async () => {
    const r = await buildIn(root);
    expect(r.error).toBeUndefined();
    expect(r.log).toContain('base: locked: ');
    const want = new Map(packagesOf(baseLock).map((p) => [p.name, p.version]));
    expect(installed(path.join(out, 'base'))).toEqual(want);
    // The .debs in the package cache are the locked bytes.
    const cache = path.join(process.env.HOME ?? '/root', '.cache/kiln/packages/debian~bookworm~x86-64/archives');
    const hello = packagesOf(appLock)[0];
    expect(sha256(path.join(cache, `hello_${hello.version.replace(/:/g, '%3a')}_${hello.architecture}.deb`))).toBe(hello.sha256);
    // No apt preferences of the lock are left in the image.
    expect(fs.existsSync(path.join(out, 'base/etc/apt/preferences.d/kiln-lock.pref'))).toBe(false);
  });

  it('refuses a lock that no longer matches the config, saying what changed and how to fix it', async () => {
    const before = sha256(path.join(out, 'app.tar.zst'));
    fs.appendFileSync(path.join(root, 'mkosi.conf'), 'Packages=cowsay\n');
    const r = await buildIn(root, { preset: 'proj', force: true, noDeps: true });
    expect(r.error).toBeInstanceOf(BuildError);
    expect(failure(r)).toContain('kiln.lock no longer matches the config:\n  packages: cowsay added since the lock\n');
    expect(failure(r)).toMatch(/Run `kiln lock -C \S+ --preset proj`, or build with --relock/);
    expect(sha256(path.join(out, 'app.tar.zst'))).toBe(before);
  });

  it('--relock resolves the new package set as part of the build', async () => {
    const r = await buildIn(root, { preset: 'proj', force: true, noDeps: true, relock: true });
    expect(r.error).toBeUndefined();
    expect(packagesOf(appLock).map((p) => p.name)).toEqual(expect.arrayContaining(['cowsay', 'hello']));
    // The build's manifest records the lock it rewrote, not the one before.
    expect(explain(root, 'proj')).toContain('Nothing changed');
  });

  it('refuses a locked version the mirror no longer has, naming it and the fixes', async () => {
    const text = fs.readFileSync(appLock, 'utf8');
    const hello = packagesOf(appLock).find((p) => p.name === 'hello')!;
    fs.writeFileSync(appLock, text.replace(`version = "${hello.version}"`, 'version = "0.1-gone"'));
    const r = await buildIn(root, { preset: 'proj', force: true, noDeps: true });
    expect(r.error).toBeInstanceOf(BuildError);
    expect(failure(r)).toContain(`hello 0.1-gone is gone from the repositories (they have ${hello.version})`);
    expect(failure(r)).toMatch(/Run `kiln lock`.*snapshot/s);
    fs.writeFileSync(appLock, text);
  });

  it('refuses a lock whose checksum is not the repository\'s', async () => {
    const text = fs.readFileSync(appLock, 'utf8');
    const hello = packagesOf(appLock).find((p) => p.name === 'hello')!;
    fs.writeFileSync(appLock, text.replace(hello.sha256, '0'.repeat(64)));
    const r = await buildIn(root, { preset: 'proj', force: true, noDeps: true });
    expect(r.error).toBeInstanceOf(BuildError);
    expect(failure(r)).toContain(`hello ${hello.version}: the repositories' SHA256 ${hello.sha256} is not the locked ${'0'.repeat(64)}`);
    fs.writeFileSync(appLock, text);
  });

  it('refuses a damaged lock, naming the file', async () => {
    fs.writeFileSync(appLock, 'lock-version = 1\n[request\n');
    const r = await buildIn(root, { preset: 'proj', force: true, noDeps: true });
    // The preset's error (as `kiln: proj: ...`), naming the lock's file and line.
    expect(r.error).toBeInstanceOf(BuildError);
    expect(failure(r)).toContain(`${appLock}:2: invalid TOML: `);
    expect(failure(r)).toMatch(/kiln\.lock:2: invalid TOML: .*regenerate it with kiln lock/);
  });
});
