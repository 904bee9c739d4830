/**
 * ToolsTree=default for real: the generated `tools` preset builds from the real Debian mirror
 * (trixie, with kiln's package list and the project's mkosi.tools.conf), and a consumer preset's
 * build context gets ctx.tools: the tree unpacked from the tools preset's archive into the user's
 * cache, keyed by the archive's SHA-256, whose systemd-repart (257) the sandbox runs instead of
 * the host's (252). The packages come from the cache the test tools tree filled (testToolsTree()),
 * so the build downloads nothing new. A bootable preset without Initrds= gets the generated
 * default-initrd preset, built here too (with the tools tree as its ctx.tools). And a Fedora
 * preset with ToolsTree=default builds from the fixture mirror with the tree's dnf (the
 * package-manager profile, a default), as on a Debian host without dnf.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProject, type Project } from '@kiln/config';
import { clean, withBuildContext } from '../src/build';
import { toolEnv } from '../src/exec';
import { hostTools, runIn } from '../src/sandbox';
import { buildIn, failure, removeTempDirs, sha256, tempDir, tempProject, unpack } from './kiln';
import { testToolsTree } from './tools-tree';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fixtures } = require('../../../tools/rpm-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

const TRIXIE_PACKAGES = path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME ?? '/root', '.cache'), 'kiln', 'packages', 'debian~trixie~x86-64');

let dir: string;
let cache: string;
let env: Record<string, string | undefined>;
let project: Project;
let out: string;
let log = '';

/** The consumer's ctx.tools, as its build would get it. */
const consumerTools = (p: Project = project) => withBuildContext(p, p.main, { env, log: (l) => (log += `${l}\n`) }, async (ctx) => ctx.tools ?? null);

beforeAll(async () => {
  await testToolsTree(); // fills the trixie package cache
  cache = tempDir('kiln-tools-cache-');
  // The unpacked tools trees go to this test's cache; the packages come from the shared one.
  env = { ...process.env, XDG_CACHE_HOME: cache };
  dir = tempProject({
    'mkosi.conf': [
      '[Distribution]',
      'Distribution=debian',
      'Release=trixie',
      '[Output]',
      'Format=directory',
      '[Build]',
      'ToolsTree=default',
      `PackageCacheDirectory=${TRIXIE_PACKAGES}`,
      '[Content]',
      'SourceDateEpoch=1700000000',
      '',
    ].join('\n'),
    // mkosi.tools.conf as a directory: read like a project, so its mkosi.extra/ lands in the tools tree.
    'mkosi.tools.conf/mkosi.conf': '[Content]\nCleanPackageMetadata=no\n',
    'mkosi.tools.conf/mkosi.extra/usr/share/kiln-test/marker': 'from mkosi.tools.conf\n',
    // Bootable without Initrds=: the project gets the default-initrd preset.
    'mkosi.images/system.conf': '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64\n',
  });
  project = loadProject(dir);
  out = path.join(dir, 'mkosi.output');
  const run = await buildIn(dir, { preset: 'tools', env });
  if (run.error) throw new Error(`${failure(run)}\n${run.log}`);
  log += run.log;
});

afterAll(removeTempDirs);

describe('ToolsTree=default', () => {
  it('builds the tools preset into mkosi.output/mkosi.tools (and its archive), with the host tools and mkosi.tools.conf applied', () => {
    expect(fs.existsSync(path.join(out, 'mkosi.tools/usr/bin/systemd-repart'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'mkosi.tools/usr/bin/ukify'))).toBe(true);
    expect(fs.readFileSync(path.join(out, 'mkosi.tools/usr/share/kiln-test/marker'), 'utf8')).toBe('from mkosi.tools.conf\n');
    expect(fs.existsSync(path.join(out, 'mkosi.tools.tar.zst'))).toBe(true);
    // Built with the host's tools: no "tools from" step for the tools preset itself.
    expect(log).not.toMatch(/^tools: tools from /m);
    // ToolsTreeProfiles= left at mkosi's default has package-manager: the other families' package
    // managers and the keyrings their installers look for in the tools tree.
    for (const f of ['usr/bin/dnf', 'usr/bin/rpm', 'usr/bin/zypper', 'usr/bin/pacman', 'usr/bin/makepkg', 'usr/share/distribution-gpg-keys/fedora']) {
      expect(fs.existsSync(path.join(out, 'mkosi.tools', f))).toBe(true);
    }
  });

  it("gives a consumer ctx.tools from the archive alone (as after an Nx cache restore): unpacked once into the user's cache by its SHA-256", async () => {
    // Only the archive, as a cache restores it: the directory output is not what is read.
    fs.rmSync(path.join(out, 'mkosi.tools'), { recursive: true, force: true });
    log = '';
    const tools = await consumerTools();
    expect(tools).toBe(path.join(cache, 'kiln', 'tools', sha256(path.join(out, 'mkosi.tools.tar.zst'))));
    expect(log).toMatch(/unpacking the tools tree .*mkosi\.tools\.tar\.zst/);
    expect(fs.existsSync(path.join(tools!, 'usr/bin/systemd-repart'))).toBe(true);
    expect(fs.readFileSync(path.join(tools!, 'usr/share/kiln-test/marker'), 'utf8')).toBe('from mkosi.tools.conf\n');
    const inode = fs.statSync(tools!).ino;
    // A tree unused for longer than CacheMaxAge= (30 days) goes when another is used.
    const old = path.join(cache, 'kiln', 'tools', 'f'.repeat(64));
    fs.mkdirSync(path.join(old, 'usr'), { recursive: true });
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    fs.utimesSync(old, longAgo, longAgo);
    log = '';
    expect(await consumerTools()).toBe(tools);
    expect(log).not.toMatch(/unpacking/);
    expect(fs.statSync(tools!).ino).toBe(inode);
    // Nothing half-unpacked is left beside it, and the old tree is gone.
    expect(fs.readdirSync(path.join(cache, 'kiln', 'tools'))).toEqual([path.basename(tools!)]);
  });

  it("runs the consumer's tools from that tree through the sandbox: trixie's systemd-repart, not the host's 252", async () => {
    const version = await withBuildContext(project, project.main, { env }, (ctx) =>
      runIn(ctx, hostTools(toolEnv(env), [], ctx.tools), ['systemd-repart', '--version'], { step: 'asking systemd-repart its version' }),
    );
    expect(version).toMatch(/^systemd 25[7-9]/);
  });

  it('kiln clean --all removes the unpacked tools tree of the project', async () => {
    // A project of its own: clean --all also empties the package cache, which must not be the shared one.
    const p = tempProject({ 'mkosi.conf': `[Build]\nToolsTree=default\nPackageCacheDirectory=${tempDir('kiln-pkgs-')}\n[Output]\nFormat=directory\n` });
    const archive = path.join(p, 'mkosi.output', 'mkosi.tools.tar.zst');
    fs.mkdirSync(path.dirname(archive), { recursive: true });
    // A small tools archive of its own (the shared one's tree stays for the other tests).
    const small = tempDir('kiln-small-tools-');
    fs.mkdirSync(path.join(small, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(small, 'usr/bin/tool'), '');
    execFileSync('tar', ['--zstd', '-cf', archive, '-C', small, 'usr']);
    const loaded = loadProject(p);
    const tree = await consumerTools(loaded);
    const removed = await clean(loaded, undefined, { all: true, env });
    expect(removed).toContain(`tools tree ${tree}`);
    expect(fs.existsSync(tree!)).toBe(false);
    expect(fs.existsSync(archive)).toBe(false);
  });

  it('says the tools tree is not built yet when its archive is missing', async () => {
    const p = tempProject({ 'mkosi.conf': '[Build]\nToolsTree=default\n[Output]\nFormat=directory\n' });
    await expect(consumerTools(loadProject(p))).rejects.toThrow(/the tools tree \(preset tools, ToolsTree=default\) is not built yet: .*mkosi\.tools\.tar\.zst is missing \(kiln build --preset tools/);
  });

  it('builds the default initrd (a cpio with /etc/initrd-release) with the tools tree, and the bootable preset reads it as Initrds=', async () => {
    const run = await buildIn(dir, { preset: 'default-initrd', env, verbose: true });
    if (run.error) throw new Error(`${failure(run)}\n${run.log}`);
    expect(run.results!.map((r) => [r.preset, r.status])).toEqual([
      ['tools', 'up-to-date'],
      ['default-initrd', 'built'],
    ]);
    expect(run.log).toMatch(/^default-initrd: tools from .*kiln\/tools\/[0-9a-f]{64}$/m);
    // Its packages are installed by the tree's mmdebstrap and apt (trixie's: 1.5, apt 3), as they say themselves.
    expect(run.log).toMatch(/^ {2}install tools from the tools tree .*kiln\/tools\/[0-9a-f]{64}: mmdebstrap 1\.[5-9][.\d]*, apt [3-9]\.[.\d]+ \(amd64\)$/m);
    const initrd = path.join(out, 'default-initrd.cpio.zst');
    const tree = unpack(initrd);
    expect(fs.readlinkSync(path.join(tree, 'etc/initrd-release'))).toBe('/etc/os-release');
    expect(fs.readlinkSync(path.join(tree, 'init'))).toBe('/usr/lib/systemd/systemd');
    for (const f of ['usr/lib/systemd/systemd', 'usr/bin/udevadm', 'usr/bin/kmod', 'usr/sbin/switch_root', 'usr/sbin/e2fsck']) expect(fs.existsSync(path.join(tree, f))).toBe(true);
    // WithDocs=no: the copyright files only (dpkg keeps those), and no man pages.
    expect(fs.readdirSync(path.join(tree, 'usr/share/doc/systemd'))).toEqual(['copyright']);
    expect(fs.existsSync(path.join(tree, 'usr/share/man/man1'))).toBe(false);
    expect(project.presets.find((p) => p.name === 'system')!.config.Initrds).toEqual([initrd]);
  });

  it("builds a Fedora preset with the default tree's dnf and rpm, as a user on a Debian host would", async () => {
    const fx: string = await fixtures();
    const server: { url: string; close: () => Promise<void> } = await serve(fx, { port: 0 });
    try {
      // The package caches are the defaults: trixie's (filled by the test tools tree) for the tools preset, Fedora's for the image.
      const p = tempProject({
        'mkosi.conf':
          `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=${server.url}/fedora\n[Output]\nFormat=directory\n` +
          `[Content]\nSourceDateEpoch=1700000000\nPackages=hello\n[Build]\nToolsTree=default\nSandboxTrees=${fx}/sandbox/fedora\n`,
      });
      const r = await buildIn(p, { verbose: true });
      expect(failure(r)).toBe('');
      expect(r.results!.map((x) => [x.preset, x.status])).toEqual([
        ['tools', 'built'],
        ['proj', 'built'],
      ]);
      expect(r.log).toMatch(/^ {2}install tools from the tools tree .*kiln\/tools\/[0-9a-f]{64}: dnf 4\.\d+/m);
      // The fixture's hello, its scriptlet run in the image.
      expect(fs.readFileSync(path.join(p, 'mkosi.output/image/usr/bin/hello'), 'utf8')).toMatch(/^#!\/bin\/sh\necho "hello /);
      expect(fs.readFileSync(path.join(p, 'mkosi.output/image/var/lib/hello/post-ran'), 'utf8')).toMatch(/^hello \d/);
    } finally {
      await server.close();
    }
  });

  it('runs a ToolsTree=PATH as given', async () => {
    const tree = await testToolsTree();
    const p = tempProject({ 'mkosi.conf': `[Build]\nToolsTree=${tree}\n[Output]\nFormat=directory\n` });
    expect(await consumerTools(loadProject(p))).toBe(tree);
  });
});
