import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadProject } from '../src';
import { configError, load, loadError, main, makeProject, preset } from './helpers';

describe('assignments', () => {
  it('single values: the last assignment wins', () => {
    expect(main({ 'mkosi.conf': '[Output]\nFormat=tar\nFormat=cpio\n' }).Format).toBe('cpio');
  });
  it('single values: Key= resets to the default', () => {
    expect(main({ 'mkosi.conf': '[Output]\nFormat=tar\nFormat=\n' }).Format).toBe('disk');
  });
  it('lists append across lines and files', () => {
    const c = main({ 'mkosi.conf': '[Content]\nRemoveFiles=/a\nRemoveFiles=/b,/c\n', 'mkosi.conf.d/10.conf': '[Content]\nRemoveFiles=/d\n' });
    expect(c.RemoveFiles).toEqual(['/a', '/b', '/c', '/d']);
  });
  it('lists: Key= empties the list, later assignments start again', () => {
    const c = main({ 'mkosi.conf': '[Content]\nPackages=a,b\n', 'mkosi.conf.d/10.conf': '[Content]\nPackages=\nPackages=c\n' });
    expect(c.Packages).toEqual(['c']);
  });
  it('KernelCommandLine= splits on spaces only', () => {
    expect(main({ 'mkosi.conf': '[Content]\nKernelCommandLine=console=ttyS0,115200 quiet\n' }).KernelCommandLine).toEqual(['console=ttyS0,115200', 'quiet']);
  });
  it('booleans and sizes go through their parsers', () => {
    const c = main({ 'mkosi.conf': '[Content]\nWithDocs=off\nWithRecommends=Y\n[Runtime]\nRAM=1.5G\n' });
    expect([c.WithDocs, c.WithRecommends, c.RAM]).toEqual([false, true, 1.5 * 1024 ** 3]);
  });
  it('enumerations that take booleans (CompressOutput=yes is zstd)', () => {
    expect(main({ 'mkosi.conf': '[Output]\nFormat=disk\nCompressOutput=yes\n' }).CompressOutput).toBe('zstd');
  });
  it('Environment= merges maps, later keys win, and bare keys pass through', () => {
    const p = load({ 'mkosi.conf': '[Build]\nEnvironment=A=1 B=2\nEnvironment=B=3 PASSME\n' }, { PASSME: 'x' });
    expect(p.main.config.Environment).toEqual({ A: '1', B: '3', PASSME: 'x' });
    expect(p.main.passedEnvironment).toEqual(['PASSME']);
  });
});

describe('defaults', () => {
  it('computed defaults follow other settings (Release per distribution, CompressOutput per format)', () => {
    const c = main({ 'mkosi.conf': '[Distribution]\nDistribution=fedora\n[Output]\nFormat=cpio\n' });
    expect([c.Release, c.CompressOutput, c.WithDocs, c.Bootloader]).toEqual(['rawhide', 'zstd', true, 'systemd-boot']);
  });
  it('Output= defaults to ImageId and ImageVersion in the main image, the name in presets', () => {
    const p = load({ 'mkosi.conf': '[Output]\nImageId=os\nImageVersion=1.2\n', 'mkosi.images/base.conf': '[Output]\nFormat=tar\n' });
    expect(p.main.config.Output).toBe('os_1.2');
    expect(preset(p, 'base').config.Output).toBe('base_1.2');
  });
  it('OutputDirectory= defaults to mkosi.output/ in the project', () => {
    const root = makeProject({ 'mkosi.conf': '[Output]\nFormat=tar\n' });
    expect(loadProject(root).main.config.OutputDirectory).toBe(path.join(root, 'mkosi.output'));
  });
});

describe('reading order', () => {
  it('mkosi.conf.d/ drop-ins are read sorted, after mkosi.conf', () => {
    const c = main({
      'mkosi.conf': '[Output]\nImageId=first\n',
      'mkosi.conf.d/20-b.conf': '[Output]\nImageId=b\n',
      'mkosi.conf.d/10-a.conf': '[Output]\nImageId=a\n',
    });
    expect(c.ImageId).toBe('b');
  });
  it('drop-in directories are read like a project root; other files are ignored', () => {
    const p = load({
      'mkosi.conf': '',
      'mkosi.conf.d/05-dir/mkosi.conf': '[Content]\nHostname=fromdir\n',
      'mkosi.conf.d/05-dir/mkosi.extra/etc/x': 'x',
      'mkosi.conf.d/README.md': 'Hostname=ignored',
    });
    expect(p.main.config.Hostname).toBe('fromdir');
    expect((p.main.config.ExtraTrees as { source: string }[]).map((t) => path.basename(path.dirname(t.source)))).toEqual(['05-dir']);
  });
  it('mkosi.local.conf wins (it is read first, its values then override the rest)', () => {
    const c = main({ 'mkosi.conf': '[Content]\nHostname=a\n', 'mkosi.conf.d/10.conf': '[Content]\nHostname=b\n', 'mkosi.local.conf': '[Content]\nHostname=local\n' });
    expect(c.Hostname).toBe('local');
  });
  it('default files come before mkosi.conf: lists start with them, explicit single values override them', () => {
    const c = main({
      'mkosi.conf': '[Output]\nImageVersion=9\n[Content]\nExtraTrees=more\n',
      'mkosi.version': '1.0\n',
      'mkosi.extra/etc/motd': 'hi',
      'more/x': 'x',
    });
    expect(c.ImageVersion).toBe('9');
    expect((c.ExtraTrees as { source: string }[]).map((t) => path.basename(t.source))).toEqual(['mkosi.extra', 'more']);
  });
  it('mkosi.version supplies ImageVersion=, and scripts are picked up with their .chroot and .d/ forms', () => {
    const c = main({ 'mkosi.conf': '', 'mkosi.version': '42\n', 'mkosi.build': '#!/bin/sh\n', 'mkosi.build.chroot': '#!/bin/sh\n', 'mkosi.build.d/20-b.sh': '', 'mkosi.build.d/10-a.sh': '' });
    expect(c.ImageVersion).toBe('42');
    expect((c.BuildScripts as string[]).map((s) => path.relative(path.dirname(path.dirname(s)), s))).toEqual([
      'proj/mkosi.build',
      'proj/mkosi.build.chroot',
      'mkosi.build.d/10-a.sh',
      'mkosi.build.d/20-b.sh',
    ]);
  });
  it('the older names are read too: mkosi.pkgmngr/ and PackageManagerTrees= (with a warning)', () => {
    const p = load({ 'mkosi.conf': '[Distribution]\nPackageManagerTrees=extra-pm\n', 'mkosi.pkgmngr/etc/apt/x': 'x', 'extra-pm/y': 'y' });
    expect((p.main.config.SandboxTrees as { source: string }[]).map((t) => path.basename(t.source))).toEqual(['mkosi.pkgmngr', 'extra-pm']);
    expect(p.warnings.map((w) => w.message)).toEqual(['PackageManagerTrees= is an old name: write SandboxTrees= instead']);
  });
  it('relative paths in a drop-in are relative to the config directory; %C gives the file\'s own', () => {
    const p = load({ 'mkosi.conf': '', 'mkosi.conf.d/10.conf': '[Content]\nBaseTrees=a,%C/b\n' });
    expect((p.main.config.BaseTrees as string[]).map((b) => path.relative(p.root, b))).toEqual(['a', 'mkosi.conf.d/b']);
  });
  it('a project may keep its config in mkosi/', () => {
    const root = makeProject({ 'mkosi/mkosi.conf': '[Content]\nHostname=sub\n' });
    expect(loadProject(root).main.config.Hostname).toBe('sub');
  });
  it('profiles read mkosi.profiles/NAME.conf and directories, and can be matched', () => {
    const c = main({
      'mkosi.conf': '[Config]\nProfiles=dev\n',
      'mkosi.profiles/dev.conf': '[Content]\nPackages=gdb\n',
      'mkosi.profiles/dev/mkosi.conf': '[Content]\nPackages=strace\n',
      'mkosi.conf.d/10.conf': '[Match]\nProfiles=dev\n[Content]\nHostname=devbox\n',
    });
    expect([c.Packages, c.Hostname]).toEqual([['gdb', 'strace'], 'devbox']);
  });
});

describe('Include=', () => {
  it('reads the file where Include= appears, so later lines override it', () => {
    const c = main({ 'mkosi.conf': '[Include]\nInclude=common.conf\n[Content]\nHostname=after\n', 'common.conf': '[Content]\nHostname=inc\nLocale=C.UTF-8\n' });
    expect([c.Hostname, c.Locale]).toEqual(['after', 'C.UTF-8']);
  });
  it('reads each file once, however often it is included', () => {
    const c = main({
      'mkosi.conf': '[Include]\nInclude=common.conf\nInclude=common.conf\n',
      'mkosi.conf.d/10.conf': '[Config]\nInclude=common.conf\n',
      'common.conf': '[Content]\nRemoveFiles=/once\n',
    });
    expect(c.RemoveFiles).toEqual(['/once']);
  });
  it('a missing include is an error naming the line', () => {
    const e = configError({ 'mkosi.conf': '[Content]\nHostname=x\n[Include]\nInclude=nope.conf\n' });
    expect(e).toMatchObject({ file: 'mkosi.conf', line: 4 });
    expect(e.message).toMatch(/nope\.conf does not exist \(create it, or fix the path/);
  });
  it('an included directory is read like a project root', () => {
    const c = main({ 'mkosi.conf': '[Include]\nInclude=shared\n', 'shared/mkosi.conf': '[Content]\nTimezone=UTC\n', 'shared/mkosi.conf.d/x.conf': '[Content]\nLocale=C\n' });
    expect([c.Timezone, c.Locale]).toEqual(['UTC', 'C']);
  });
});

describe('[Match]', () => {
  const withDropin = (conf: string, dropin: string) => main({ 'mkosi.conf': conf, 'mkosi.conf.d/10.conf': dropin }).Hostname;
  it('applies a file only when every condition holds', () => {
    expect(withDropin('[Distribution]\nDistribution=debian\nRelease=bookworm\n', '[Match]\nDistribution=debian\nRelease=bookworm\n[Content]\nHostname=yes\n')).toBe('yes');
    expect(withDropin('[Distribution]\nDistribution=debian\nRelease=trixie\n', '[Match]\nDistribution=debian\nRelease=bookworm\n[Content]\nHostname=yes\n')).toBeNull();
  });
  it('compares Release= exactly, as mkosi 26 (no glob), and ! negates', () => {
    expect(withDropin('[Distribution]\nRelease=bookworm\n', '[Match]\nRelease=book*\n[Content]\nHostname=glob\n')).toBeNull();
    expect(withDropin('[Distribution]\nDistribution=fedora\n', '[Match]\nDistribution=!debian\n[Content]\nHostname=neg\n')).toBe('neg');
  });
  it('| triggers: at least one must hold', () => {
    const dropin = '[Match]\nDistribution=|fedora\nDistribution=|debian\n[Content]\nHostname=trig\n';
    expect(withDropin('[Distribution]\nDistribution=debian\n', dropin)).toBe('trig');
    expect(withDropin('[Distribution]\nDistribution=arch\n', dropin)).toBeNull();
  });
  it('several [Match] sections must all hold; [TriggerMatch] sections need one', () => {
    const two = '[Match]\nFormat=|disk\nFormat=|tar\n[Match]\nArchitecture=|x86-64\nArchitecture=|arm64\n[Content]\nHostname=both\n';
    expect(withDropin('[Distribution]\nArchitecture=arm64\n[Output]\nFormat=tar\n', two)).toBe('both');
    expect(withDropin('[Distribution]\nArchitecture=riscv64\n[Output]\nFormat=tar\n', two)).toBeNull();
    const trig = '[TriggerMatch]\nDistribution=debian\nRelease=!bookworm\n[TriggerMatch]\nDistribution=kali\n[Content]\nHostname=t\n';
    expect(withDropin('[Distribution]\nDistribution=debian\nRelease=trixie\n', trig)).toBe('t');
    expect(withDropin('[Distribution]\nDistribution=debian\nRelease=bookworm\n', trig)).toBeNull();
  });
  it('a failing match in a directory\'s mkosi.conf skips the whole directory', () => {
    const c = main({
      'mkosi.conf': '[Distribution]\nDistribution=fedora\n',
      'mkosi.conf.d/debian/mkosi.conf': '[Match]\nDistribution=debian\n[Content]\nHostname=deb\n',
      'mkosi.conf.d/debian/mkosi.conf.d/x.conf': '[Content]\nLocale=never\n',
      'mkosi.conf.d/debian/mkosi.extra/x': 'x',
    });
    expect([c.Hostname, c.Locale, c.ExtraTrees]).toEqual([null, null, []]);
  });
  it('compares with values configured so far, and with defaults when unset', () => {
    expect(withDropin('', '[Match]\nFormat=disk\n[Content]\nHostname=default-format\n')).toBe('default-format');
    expect(withDropin('[Output]\nImageId=foo\n', '[Match]\nImageId=f*\n[Content]\nHostname=id\n')).toBe('id');
    expect(withDropin('', '[Match]\nImageId=f*\n[Content]\nHostname=id\n')).toBeNull();
  });
  it('matches Environment= keys and values, and Image= names the preset', () => {
    expect(withDropin('[Build]\nEnvironment=CI=1\n', '[Match]\nEnvironment=CI=1\n[Content]\nHostname=ci\n')).toBe('ci');
    const p = load({ 'mkosi.conf': '', 'mkosi.images/a.conf': '[Match]\nImage=a\n[Content]\nHostname=isa\n' });
    expect(preset(p, 'a').config.Hostname).toBe('isa');
  });
  it('a key that cannot be matched is an error listing the ones that can', () => {
    const e = configError({ 'mkosi.conf': '[Match]\nPackages=x\n' });
    expect(e).toMatchObject({ file: 'mkosi.conf', line: 2 });
    expect(e.message).toMatch(/^Packages= cannot be used in \[Match\] \(accepted: Architecture, Bootable, BuildSources, Distribution/);
  });
  it('a misspelt value of an enumeration is an error, not a silent miss', () => {
    expect(configError({ 'mkosi.conf': '[Match]\nDistribution=debain\n' }).message).toMatch(/Distribution=: "debain" is not a valid value \(accepted: debian, kali, ubuntu/);
  });
  it('[Assert] refuses to build when it does not hold', () => {
    const e = configError({ 'mkosi.conf': '[Distribution]\nDistribution=fedora\n', 'mkosi.conf.d/a.conf': '\n[Assert]\nDistribution=debian\n' });
    expect(e).toMatchObject({ file: 'mkosi.conf.d/a.conf', line: 3 });
  });
});

describe('presets and scopes', () => {
  const project = {
    'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=os\nFormat=tar\n[Content]\nPackages=main-only\nHostname=mainhost\n',
    'mkosi.images/base.conf': '[Output]\nFormat=directory\n[Content]\nPackages=systemd\n',
    'mkosi.images/initrd/mkosi.conf': '[Output]\nFormat=cpio\n',
    'mkosi.images/initrd/mkosi.extra/init': '#!/bin/sh\n',
  };
  it('reads NAME.conf files and NAME/ directories from mkosi.images/', () => {
    const p = load(project);
    expect(p.presets.map((x) => x.name).sort()).toEqual(['base', 'initrd', 'proj']);
    expect(p.main.name).toBe('proj');
  });
  it('universal settings are forced onto presets', () => {
    const p = load(project);
    expect([preset(p, 'base').config.Distribution, preset(p, 'base').config.Release]).toEqual(['debian', 'bookworm']);
  });
  it('inherited settings pass down and can be overridden; local ones do not pass down', () => {
    const p = load({ ...project, 'mkosi.images/initrd/mkosi.conf': '[Output]\nFormat=cpio\nImageId=initrd-id\n' });
    expect(preset(p, 'base').config.ImageId).toBe('os');
    expect(preset(p, 'initrd').config.ImageId).toBe('initrd-id');
    expect(preset(p, 'base').config.Packages).toEqual(['systemd']);
    expect(preset(p, 'base').config.Hostname).toBeNull();
  });
  it('a preset directory has its own default files; the main image\'s do not leak into presets', () => {
    const p = load({ ...project, 'mkosi.extra/etc/motd': 'hi' });
    expect((preset(p, 'initrd').config.ExtraTrees as { source: string }[]).map((t) => path.relative(p.root, t.source))).toEqual(['mkosi.images/initrd/mkosi.extra']);
    expect(preset(p, 'base').config.ExtraTrees).toEqual([]);
  });
  it('setting a universal setting in a preset is an error naming file:line and the fix', () => {
    const e = configError({ ...project, 'mkosi.images/base.conf': '[Output]\nFormat=tar\n[Distribution]\nRelease=trixie\n' });
    expect(e).toEqual({
      file: 'mkosi.images/base.conf',
      line: 4,
      message: 'Release= cannot be set in preset "base": it applies to every image (move it to the project\'s mkosi.conf or kiln.toml)',
    });
  });
  it('presets receive only the Environment= keys PassEnvironment= names', () => {
    const p = load({ 'mkosi.conf': '[Config]\nPassEnvironment=A\n[Build]\nEnvironment=A=1 B=2\n', 'mkosi.images/x.conf': '[Output]\nFormat=tar\n' });
    expect(preset(p, 'x').config.Environment).toEqual({ A: '1' });
  });
  it('a preset whose conditions fail is dropped', () => {
    const p = load({ ...project, 'mkosi.images/fedora-only.conf': '[Match]\nDistribution=fedora\n[Output]\nFormat=tar\n' });
    expect(p.presets.map((x) => x.name)).not.toContain('fedora-only');
  });
  it('the older mkosi.presets/ directory works too', () => {
    const p = load({ 'mkosi.conf': '', 'mkosi.presets/old.conf': '[Output]\nFormat=tar\n' });
    expect(preset(p, 'old').config.Format).toBe('tar');
  });
});

describe('dependencies', () => {
  it('Dependencies= orders presets topologically, ties by name, the main image last', () => {
    const p = load({
      'mkosi.conf': '[Output]\nFormat=tar\n',
      'mkosi.images/c.conf': '[Config]\nDependencies=b\n[Output]\nFormat=tar\n',
      'mkosi.images/b.conf': '[Config]\nDependencies=a\n[Output]\nFormat=tar\n',
      'mkosi.images/a.conf': '[Output]\nFormat=tar\n',
      'mkosi.images/z.conf': '[Output]\nFormat=tar\n',
    });
    expect(p.presets.map((x) => x.name)).toEqual(['a', 'b', 'c', 'z', 'proj']);
  });
  it('the main image depends on every preset unless Dependencies= says otherwise', () => {
    const p = load({ 'mkosi.conf': '', 'mkosi.images/a.conf': '[Output]\nFormat=tar\n', 'mkosi.images/b.conf': '[Output]\nFormat=tar\n' });
    expect(p.main.dependencies.map((d) => d.preset)).toEqual(['a', 'b']);
    const q = load({ 'mkosi.conf': '[Config]\nDependencies=b\n', 'mkosi.images/a.conf': '[Output]\nFormat=tar\n', 'mkosi.images/b.conf': '[Output]\nFormat=tar\n' });
    expect(q.main.dependencies.map((d) => d.preset)).toEqual(['b']);
  });
  it('reading another preset\'s output (%O/name) is a dependency too', () => {
    const p = load({
      'mkosi.conf': '[Config]\nDependencies=\n[Output]\nFormat=tar\n[Content]\nBaseTrees=%O/base\nInitrds=%O/initrd.cpio.zst\n',
      'mkosi.images/base.conf': '[Output]\nFormat=directory\n',
      'mkosi.images/initrd.conf': '[Output]\nFormat=cpio\n',
    });
    const out = path.join(p.root, 'mkosi.output');
    expect(p.main.dependencies).toEqual([
      { preset: 'base', reason: 'BaseTrees=', reads: [{ setting: 'BaseTrees', path: path.join(out, 'base') }] },
      { preset: 'initrd', reason: 'Initrds=', reads: [{ setting: 'Initrds', path: path.join(out, 'initrd.cpio.zst') }] },
    ]);
  });
  it('an unknown name is an error listing the presets', () => {
    const e = configError({ 'mkosi.conf': '[Config]\nDependencies=bsae\n', 'mkosi.images/base.conf': '[Output]\nFormat=tar\n' });
    expect(e).toEqual({ file: 'mkosi.conf', line: 2, message: 'Dependencies= names "bsae", which is not a preset (accepted: base)' });
  });
  it('a cycle is an error that names it', () => {
    const e = configError({
      'mkosi.conf': '',
      'mkosi.images/a.conf': '[Config]\nDependencies=b\n[Output]\nFormat=tar\n',
      'mkosi.images/b.conf': '[Config]\nDependencies=a\n[Output]\nFormat=tar\n',
    });
    expect(e.message).toBe('dependency cycle: a -> b -> a (break it by removing one of these dependencies)');
    expect(e.file).toMatch(/mkosi\.images\/[ab]\.conf/);
  });
  it('two presets writing the same output is an error', () => {
    const e = configError({ 'mkosi.conf': '[Output]\nFormat=tar\nOutput=x\n', 'mkosi.images/x.conf': '[Output]\nFormat=tar\n' });
    expect(e.message).toMatch(/^presets "x" and "proj" both write mkosi\.output\/x|^presets "proj" and "x" both write mkosi\.output\/x/);
  });
});

describe('errors and warnings name file:line', () => {
  it('a bad value names the setting, the value and what is accepted', () => {
    expect(configError({ 'mkosi.conf': '\n[Output]\nFormat=tarball\n' })).toEqual({
      file: 'mkosi.conf',
      line: 3,
      message: 'Format=: "tarball" is not a valid value (accepted: directory, tar, cpio, disk, uki, esp, oci, sysext, confext, portable, addon, none)',
    });
  });
  it('a bad boolean in a drop-in names the drop-in', () => {
    expect(configError({ 'mkosi.conf': '', 'mkosi.conf.d/10-x.conf': '[Content]\nWithDocs=perhaps\n' })).toMatchObject({ file: 'mkosi.conf.d/10-x.conf', line: 2 });
  });
  it('an unknown setting is a warning with a suggestion, and the rest still applies', () => {
    const p = load({ 'mkosi.conf': '[Content]\nPakages=vim\nHostname=h\n' });
    expect(p.main.config.Hostname).toBe('h');
    expect(p.warnings).toEqual([{ origin: { file: path.join(p.root, 'mkosi.conf'), line: 2 }, message: 'unknown setting Pakages= is ignored (did you mean Packages=?)' }]);
  });
  it('a setting in the wrong section is a warning, and is applied', () => {
    const p = load({ 'mkosi.conf': '[Output]\nPackages=vim\n' });
    expect(p.main.config.Packages).toEqual(['vim']);
    expect(p.warnings[0]).toMatchObject({ origin: { line: 2 }, message: 'Packages= belongs in [Content], not [Output] (it is applied anyway; move it to [Content])' });
  });
  it('settings in their older sections ([Host], [Output] before v25) are accepted quietly', () => {
    const p = load({ 'mkosi.conf': '[Host]\nIncremental=yes\nRAM=4G\n[Output]\nCacheDirectory=cache\n' });
    expect([p.main.config.Incremental, p.main.config.RAM]).toEqual(['yes', 4 * 1024 ** 3]);
    expect(p.warnings).toEqual([]);
  });
  it('an unknown specifier is dropped with a warning listing the known ones (as mkosi 26)', () => {
    const p = load({ 'mkosi.conf': '[Content]\nHostname=host-%q\n' });
    expect(p.main.config.Hostname).toBe('host-');
    expect(p.warnings).toEqual([{ origin: { file: path.join(p.root, 'mkosi.conf'), line: 2 }, message: expect.stringMatching(/^unknown specifier "%q" in "host-%q" is dropped, as mkosi drops it \(accepted: %% for "%", %d %r %a/) }]);
  });
  it('specifiers expand to the values configured so far', () => {
    const c = main({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=trixie\n[Output]\nImageId=img\n[Content]\nHostname=%i-%d-%r\nRootPassword=100%%\n' });
    expect([c.Hostname, c.RootPassword]).toEqual(['img-debian-trixie', '100%']);
  });
  it('a required tree that does not exist is an error', () => {
    const e = configError({ 'mkosi.conf': '[Content]\nSkeletonTrees=missing\n' });
    expect(e).toMatchObject({ file: 'mkosi.conf', line: 2 });
    expect(e.message).toMatch(/^SkeletonTrees=: .*missing does not exist/);
  });
  it.each([
    ['mkosi.conf.d/10-net.conf', 'mkosi.conf.d'],
    ['mkosi.conf.d/20-extra', 'mkosi.conf.d'],
    ['mkosi.images/web.conf', 'mkosi.images'],
    ['mkosi.images/web', 'mkosi.images'],
  ])('a dangling symlink %s is an error naming the link and its target', (link) => {
    const root = makeProject({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.conf.d/': null, 'mkosi.images/': null });
    fs.symlinkSync('../gone/target', path.join(root, link));
    const e = loadError(root);
    expect(e).toBeInstanceOf(ConfigError);
    expect(path.relative(root, e.origin!.file)).toBe(link);
    expect(e.reason).toBe('is a symlink to "../gone/target", which does not exist (fix the link or remove it)');
    fs.rmSync(path.dirname(root), { recursive: true });
  });
  it('no config at all is a clear error', () => {
    const root = makeProject({ 'README.md': 'hi' });
    expect(() => loadProject(root)).toThrow(/no mkosi\.conf or kiln\.toml here/);
    fs.rmSync(root, { recursive: true });
  });
});
