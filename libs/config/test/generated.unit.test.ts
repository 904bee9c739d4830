/**
 * The generated presets (generated.ts): the tools tree of ToolsTree=default and the default
 * initrd, their settings, the graph edges to them, mkosi.tools.conf, and the inputs and tools
 * identity that make a different tools tree a different build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentManifest, distributionFacts, fingerprintLines, lockfilePath, presetInputs, summaryJson, summaryText, TOOLS_TREE_PACKAGES, type Project } from '../src';
import { configError, load, makeProject, preset } from './helpers';

const MAIN = '[Distribution]\nDistribution=debian\nRelease=bookworm\nMirror=http://deb.debian.org/debian\n[Output]\nFormat=directory\n';
const TOOLS = `${MAIN}[Build]\nToolsTree=default\n`;
/** What ToolsTreeProfiles=package-manager adds on a trixie tree. */
const PACKAGE_MANAGERS = ['archlinux-keyring', 'createrepo-c', 'distribution-gpg-keys', 'dnf', 'makepkg', 'pacman-package-manager', 'rpm', 'ubuntu-keyring', 'zypper'];
const edges = (p: Project) => p.presets.flatMap((x) => x.dependencies.map((d) => `${x.name} -> ${d.preset} (${d.reason})`));

describe('ToolsTree=default', () => {
  it('generates the tools preset: a trixie directory named mkosi.tools with the tools packages, sharing the main image\'s architecture and output directory', () => {
    const p = load({ 'mkosi.conf': `${TOOLS}Architecture=x86-64\n[Content]\nSourceDateEpoch=1700000000\n` });
    const tools = preset(p, 'tools');
    expect(tools.generated).toBe('tools');
    expect(tools.main).toBe(false);
    expect(tools.config).toMatchObject({
      Distribution: 'debian',
      Release: 'trixie',
      Format: 'directory',
      Output: 'mkosi.tools',
      ToolsTree: null,
      Architecture: 'x86-64',
      OutputDirectory: p.main.config.OutputDirectory,
      SourceDateEpoch: 1700000000,
      WithDocs: false,
      // Mirror= is the main image's: the same distribution.
      Mirror: 'http://deb.debian.org/debian',
    });
    // The base set and, ToolsTreeProfiles= being mkosi's default (misc, package-manager, runtime),
    // the other families' package managers and keyrings.
    expect(tools.config.Packages).toEqual([...new Set([...TOOLS_TREE_PACKAGES, ...PACKAGE_MANAGERS])].sort());
    // Built first; its lock beside mkosi.tools.conf, present or not.
    expect(p.presets.map((x) => x.name)).toEqual(['tools', 'proj']);
    expect(lockfilePath(tools)).toBe(path.join(p.root, 'mkosi.tools.lock'));
  });

  it('ToolsTreeProfiles=: package-manager (a default) adds dnf, zypper, pacman and their keyrings; without it the tree is the base set; the profiles are the tools preset\'s Profiles=', () => {
    const without = preset(load({ 'mkosi.conf': `${TOOLS}ToolsTreeProfiles=misc,runtime\n` }), 'tools');
    expect(without.config.Packages).toEqual([...TOOLS_TREE_PACKAGES].sort());
    expect(without.config.Profiles).toEqual(['misc', 'runtime']);
    const only = preset(load({ 'mkosi.conf': `${TOOLS}ToolsTreeProfiles=package-manager\n` }), 'tools');
    expect(only.config.Packages).toEqual(expect.arrayContaining(PACKAGE_MANAGERS));
    // mkosi.tools.conf may match on them, as mkosi-tools' own profiles do.
    const matched = preset(load({
      'mkosi.conf': `${TOOLS}ToolsTreeProfiles=package-manager\n`,
      'mkosi.tools.conf': '[Match]\nProfiles=package-manager\n[Content]\nPackages=strace\n',
    }), 'tools');
    expect(matched.config.Packages).toContain('strace');
    // A bookworm tree takes no ubuntu-keyring (mkosi-tools: too old there to matter).
    const bookworm = preset(load({ 'mkosi.conf': `${TOOLS}ToolsTreeRelease=bookworm\n` }), 'tools');
    expect(bookworm.config.Packages).toContain('dnf');
    expect(bookworm.config.Packages).not.toContain('ubuntu-keyring');
  });

  it('takes ToolsTreeDistribution=, ToolsTreeRelease=, ToolsTreeMirror=, ToolsTreeRepositories= and ToolsTreePackages= from the main image', () => {
    const p = load({
      'mkosi.conf': `${TOOLS}ToolsTreeDistribution=ubuntu\nToolsTreeRelease=noble\nToolsTreeMirror=http://archive.ubuntu.com/ubuntu\nToolsTreeRepositories=universe\nToolsTreePackages=jq,less\n`,
    });
    const tools = preset(p, 'tools');
    expect(tools.config).toMatchObject({ Distribution: 'ubuntu', Release: 'noble', Mirror: 'http://archive.ubuntu.com/ubuntu', Repositories: ['universe'] });
    expect(tools.config.Packages).toEqual(expect.arrayContaining(['jq', 'less', 'systemd-repart']));
    expect(tools.origins.Packages).toEqual({ file: path.join(p.root, 'mkosi.conf'), line: 13 });
    expect(tools.origins.Release).toEqual({ file: path.join(p.root, 'mkosi.conf'), line: 10 });
  });

  it("does not take the main image's Mirror= for another distribution", () => {
    const p = load({ 'mkosi.conf': `${TOOLS}ToolsTreeDistribution=ubuntu\n` });
    expect(preset(p, 'tools').config.Mirror).toBeNull();
    // The distribution's default release (trixie is Debian's tools default only).
    expect(preset(p, 'tools').config.Release).toBe(distributionFacts('ubuntu')!.release);
  });

  it('applies mkosi.tools.conf (a file), then adds kiln\'s packages and forces Format=directory', () => {
    const p = load({ 'mkosi.conf': TOOLS, 'mkosi.tools.conf': '[Output]\nFormat=tar\n[Content]\nPackages=strace\nWithDocs=yes\n' });
    const tools = preset(p, 'tools');
    expect(tools.config.Format).toBe('directory');
    expect(tools.config.WithDocs).toBe(true);
    expect(tools.config.Packages).toEqual(expect.arrayContaining(['strace', 'systemd-ukify']));
    expect(tools.files).toEqual([path.join(p.root, 'mkosi.tools.conf')]);
    expect(presetInputs(p, tools).configFiles).toEqual([path.join(p.root, 'mkosi.tools.conf')]);
  });

  it('reads a mkosi.tools.conf directory like a project (its mkosi.conf, drop-ins, mkosi.extra/); the lock goes inside', () => {
    const p = load({
      'mkosi.conf': TOOLS,
      'mkosi.tools.conf/mkosi.conf': '[Content]\nPackages=gdb\n',
      'mkosi.tools.conf/mkosi.conf.d/10-more.conf': '[Content]\nPackages=strace\n',
      'mkosi.tools.conf/mkosi.extra/usr/share/x': 'x\n',
    });
    const tools = preset(p, 'tools');
    expect(tools.config.Packages).toEqual(expect.arrayContaining(['gdb', 'strace']));
    expect(tools.config.ExtraTrees).toEqual([{ source: path.join(p.root, 'mkosi.tools.conf/mkosi.extra'), target: null }]);
    expect(lockfilePath(tools)).toBe(path.join(p.root, 'mkosi.tools.conf/kiln.lock'));
  });

  it('makes every other preset depend on it, reading its output (an input of theirs)', () => {
    const p = load({ 'mkosi.conf': TOOLS, 'mkosi.images/base.conf': '[Output]\nFormat=tar\n', 'mkosi.images/initrd.conf': '[Output]\nFormat=cpio\n' });
    expect(edges(p)).toEqual([
      'base -> tools (ToolsTree=)',
      'initrd -> tools (ToolsTree=)',
      'proj -> base (Dependencies=)',
      'proj -> initrd (Dependencies=)',
      'proj -> tools (ToolsTree=)',
    ]);
    expect(p.presets[0].name).toBe('tools');
    expect(presetInputs(p, preset(p, 'base')).readsOutputsOf).toEqual(['tools']);
    expect(summaryJson(p).edges).toContainEqual({ from: 'base', to: 'tools', reason: 'ToolsTree=' });
    expect(summaryJson(p).presets[0]).toMatchObject({ name: 'tools', generated: 'tools', main: false });
    expect(summaryText(p)).toMatch(/^IMAGE: tools \(generated: the tools tree of ToolsTree=default\)$/m);
  });

  it("records the tools tree's archive among the outputs a preset reads (what `kiln explain` compares)", () => {
    const p = load({ 'mkosi.conf': TOOLS });
    const archive = path.join(p.main.config.OutputDirectory, 'mkosi.tools.tar.zst');
    fs.mkdirSync(path.dirname(archive), { recursive: true });
    fs.writeFileSync(archive, 'one tools tree');
    const read = () => currentManifest(p, p.main, { identity: 'test', tools: {}, env: {} }).readOutputs;
    const first = read();
    expect(Object.keys(first)).toEqual(['tools']);
    expect(Object.keys(first.tools)).toEqual(['mkosi.tools.tar.zst']);
    fs.writeFileSync(archive, 'another tools tree');
    expect(read().tools['mkosi.tools.tar.zst']).not.toEqual(first.tools['mkosi.tools.tar.zst']);
  });

  it('takes ToolsTree=yes as default, and generates nothing for ToolsTree=no or unset', () => {
    expect(load({ 'mkosi.conf': `${MAIN}[Build]\nToolsTree=yes\n` }).presets.map((x) => x.name)).toEqual(['tools', 'proj']);
    expect(load({ 'mkosi.conf': `${MAIN}[Build]\nToolsTree=no\n` }).presets.map((x) => x.name)).toEqual(['proj']);
    expect(load({ 'mkosi.conf': MAIN }).presets.map((x) => x.name)).toEqual(['proj']);
  });

  it('refuses a preset of the project named tools, naming it', () => {
    expect(configError({ 'mkosi.conf': TOOLS, 'mkosi.images/tools.conf': '[Output]\nFormat=tar\n' })).toEqual({
      message: 'preset name "tools" is taken by kiln\'s generated preset (the tools tree ToolsTree=default builds): rename the preset',
      file: 'mkosi.images/tools.conf',
      line: 0,
    });
    // Without ToolsTree=default the name is free.
    expect(load({ 'mkosi.conf': MAIN, 'mkosi.images/tools.conf': '[Output]\nFormat=tar\n' }).presets.map((x) => x.name)).toEqual(['tools', 'proj']);
  });

  it('names the tools preset in the fingerprint and changes it with the tools preset\'s settings and lock', () => {
    const root = makeProject({ 'mkosi.conf': TOOLS });
    const lines = () => fingerprintLines(root, undefined, { identity: 'test', cacheDir: null, env: {} }).filter((l) => /^tool (ToolsTree|tools-)/.test(l));
    const first = lines();
    expect(first).toEqual(['tool ToolsTree preset tools', expect.stringMatching(/^tool tools-settings [0-9a-f]{32}$/), 'tool tools-lock unlocked']);
    fs.writeFileSync(path.join(root, 'mkosi.tools.conf'), '[Content]\nPackages=strace\n');
    const second = lines();
    expect(second[1]).not.toBe(first[1]);
    fs.writeFileSync(path.join(root, 'mkosi.tools.lock'), 'version = 1\n');
    expect(lines()[2]).toMatch(/^tool tools-lock sha256:[0-9a-f]{64}$/);
    // The tools preset itself is built with the host's tools: no such line.
    expect(fingerprintLines(root, 'tools', { identity: 'test', cacheDir: null, env: {} }).filter((l) => l.startsWith('tool ToolsTree'))).toEqual([]);
  });
});

describe('ToolsTree=PATH', () => {
  it('refuses a tree without usr/ at the line that sets it', () => {
    expect(configError({ 'mkosi.conf': `${MAIN}[Build]\nToolsTree=tree\n`, 'tree/etc/x': 'x\n' })).toEqual({
      message: expect.stringMatching(/^ToolsTree=\/.*\/tree has no usr\/ directory, so it is not a tools tree \(give the root of one, or ToolsTree=default to build one\)$/),
      file: 'mkosi.conf',
      line: 8,
    });
  });

  it('refuses a path that does not exist at the line that sets it', () => {
    expect(configError({ 'mkosi.conf': `${MAIN}[Build]\nToolsTree=missing\n` })).toMatchObject({ file: 'mkosi.conf', line: 8 });
  });

  it('takes a tree with usr/ and generates no tools preset', () => {
    const p = load({ 'mkosi.conf': `${MAIN}[Build]\nToolsTree=tree\n`, 'tree/usr/bin/x': 'x\n' });
    expect(p.presets.map((x) => x.name)).toEqual(['proj']);
  });
});

describe('the default initrd', () => {
  const BOOTABLE = '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64,systemd\n';

  it('is generated for a bootable preset without Initrds= (a disk with a kernel package), which gets its cpio as Initrds=', () => {
    const p = load({ 'mkosi.conf': MAIN, 'mkosi.images/system.conf': BOOTABLE });
    const initrd = preset(p, 'default-initrd');
    expect(initrd.generated).toBe('default-initrd');
    expect(initrd.config).toMatchObject({ Format: 'cpio', Output: 'default-initrd', Bootable: 'disabled', MakeInitrd: true, WithDocs: false, Release: 'bookworm', CompressOutput: 'zstd' });
    expect(initrd.config.Packages).toEqual(expect.arrayContaining(['systemd', 'udev', 'kmod', 'util-linux', 'e2fsprogs']));
    const system = preset(p, 'system');
    expect(system.config.Initrds).toEqual([path.join(p.main.config.OutputDirectory, 'default-initrd.cpio.zst')]);
    // As mkosi: a dependency too (Dependencies= += default-initrd), the edge reading its cpio.
    expect(system.config.Dependencies).toEqual(['default-initrd']);
    expect(edges(p)).toContain('system -> default-initrd (Dependencies=)');
    expect(presetInputs(p, system).readsOutputsOf).toEqual(['default-initrd']);
    expect(lockfilePath(initrd)).toBe(path.join(p.root, 'mkosi.default-initrd.lock'));
  });

  it('is one per project, also depending on the tools preset', () => {
    const p = load({ 'mkosi.conf': TOOLS, 'mkosi.images/a.conf': BOOTABLE, 'mkosi.images/b.conf': '[Output]\nFormat=uki\n[Content]\nBootable=yes\n' });
    expect(p.presets.filter((x) => x.generated).map((x) => x.name)).toEqual(['tools', 'default-initrd']);
    expect(edges(p).filter((e) => e.includes('default-initrd')).sort()).toEqual(['a -> default-initrd (Dependencies=)', 'b -> default-initrd (Dependencies=)', 'default-initrd -> tools (ToolsTree=)']);
  });

  it('is generated for every distribution mkosi generates one for (Fedora: the kernel package), but not for Gentoo (no package names yet)', () => {
    const names = (dist: string, kernel: string) =>
      load({ 'mkosi.conf': `[Distribution]\nDistribution=${dist}\n[Output]\nFormat=disk\n[Content]\nPackages=${kernel}\n` }).presets.map((p) => p.name);
    expect(names('fedora', 'kernel')).toEqual(['default-initrd', 'proj']);
    expect(names('gentoo', 'sys-kernel/gentoo-kernel-bin')).toEqual(['proj']);
  });

  it('is not generated with Initrds=, Bootable=no, a format without a kernel, or Bootable=auto without a kernel package', () => {
    const names = (conf: string) => load({ 'mkosi.conf': MAIN, 'mkosi.images/x.conf': conf }).presets.map((p) => p.name);
    expect(names(`${BOOTABLE}Initrds=/tmp/initrd.cpio\n`)).toEqual(['x', 'proj']);
    expect(names(`${BOOTABLE}Bootable=no\n`)).toEqual(['x', 'proj']);
    expect(names('[Output]\nFormat=cpio\n[Content]\nBootable=yes\n')).toEqual(['x', 'proj']);
    expect(names('[Output]\nFormat=disk\n[Content]\nPackages=systemd\n')).toEqual(['x', 'proj']);
    expect(names('[Output]\nFormat=directory\n[Content]\nPackages=linux-image-amd64\n')).toEqual(['x', 'proj']);
  });
});

