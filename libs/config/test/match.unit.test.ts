/**
 * [Match], [TriggerMatch], [Assert] and [TriggerAssert] (src/match.ts) against mkosi 26.
 *
 * The cases of data/match-cases.json are small projects, one per key and rule (match, no match,
 * negation, triggers, errors) and per section rule of mkosi's match_config; what mkosi 26 did with
 * each (the Packages= of every image, its deprecation warnings, or its error) is recorded in
 * data/match-cases.mkosi.json by data/record-match-cases.js. kiln must read each the same way.
 * The keys whose answer depends on the machine (SystemdVersion=, HostArchitecture=) are tested
 * below against the machine itself.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, findSetting, formatLockfile, hostArchitecture, loadProject, lockfilePath, MATCH_KEYS, presetInputs, type Lock, type SettingDef } from '../src';
import { conditionsHold, matchableIn, matchKeys, RULES, type MatchContext } from '../src/match';
import { recording } from '../src/probe';
import { majorVersion, systemdVersion, toolsLockPath } from '../src/systemd-version';
import { compareVersions, versionSatisfies } from '../src/version-compare';
import { fnmatchcase } from '../src/fnmatch';
import { configError, load, loadError, makeProject, preset } from './helpers';

interface Case {
  name: string;
  files: Record<string, string[]>;
  /** file:line a kiln error must name (mkosi names the file at most). */
  at?: string;
}
type Recorded = { images: Record<string, string[]>; warnings?: string[] } | { error: string; file?: string };

const DATA = path.join(__dirname, 'data');
const CASES: Case[] = JSON.parse(fs.readFileSync(path.join(DATA, 'match-cases.json'), 'utf8'));
const MKOSI: Record<string, Recorded> = JSON.parse(fs.readFileSync(path.join(DATA, 'match-cases.mkosi.json'), 'utf8'));
/** The presets mkosi and kiln generate (their package lists are their own): not compared. */
const GENERATED = ['default-initrd', 'tools'];

const project = (files: Record<string, string[]>) => makeProject(Object.fromEntries(Object.entries(files).map(([f, lines]) => [f, lines.map((l) => `${l}\n`).join('')])));

describe('mkosi 26 cases (data/match-cases.json, as mkosi 26 read them)', () => {
  it('every case has a recording, and every recording a case', () => {
    expect(Object.keys(MKOSI).sort()).toEqual(CASES.map((c) => c.name).sort());
  });

  for (const c of CASES) {
    it(c.name, () => {
      const root = project(c.files);
      const mkosi = MKOSI[c.name];
      if ('error' in mkosi) {
        const e = loadError(root);
        expect(e).toBeInstanceOf(ConfigError);
        // One line, file:line: message, at the condition (mkosi names the file at most).
        expect(e.message).not.toContain('\n');
        expect(`${path.relative(root, e.origin!.file)}:${e.origin!.line}`).toBe(c.at);
        if (mkosi.file) expect(path.relative(root, e.origin!.file)).toBe(mkosi.file);
        return;
      }
      const p = loadProject(root, { env: {} });
      const images = Object.fromEntries(
        p.presets.filter((x) => !x.generated).map((x) => [x.main ? 'main' : x.name, [...x.config.Packages].sort()]),
      );
      const expected = Object.fromEntries(Object.entries(mkosi.images).filter(([name]) => !GENERATED.includes(name)).map(([n, pk]) => [n, [...pk].sort()]));
      expect(images).toEqual(expected);
      const deprecated = p.warnings.filter((w) => /is deprecated/.test(w.message));
      expect(deprecated.length).toBe(mkosi.warnings?.length ?? 0);
    });
  }
});

describe('the table of rules', () => {
  it('has a rule for every setting the settings table marks as matchable, under the same key', () => {
    for (const [key, def] of MATCH_KEYS) expect([key, RULES[key]?.setting]).toEqual([key, def.name]);
    for (const [key, rule] of Object.entries(RULES)) {
      if (rule.setting && findSetting(rule.setting)) expect([key, (findSetting(rule.setting) as SettingDef).match]).toEqual([key, key]);
    }
  });

  it("accepts exactly mkosi 26's condition keys", () => {
    // mkosi/config.py: the settings with a match= callback, and MATCHES.
    expect(matchKeys()).toEqual(
      ['Architecture', 'Bootable', 'BuildSources', 'Distribution', 'Environment', 'Format', 'HostArchitecture', 'Image', 'ImageId', 'ImageVersion', 'PathExists', 'Profiles', 'Release', 'Repositories', 'SystemdVersion', 'ToolsTreeDistribution', 'ToolsTreeRelease'],
    );
  });

  it('refuses a condition on a main-image-only setting outside the main image (no mkosi 26 key has that scope)', () => {
    expect(matchableIn({ scope: 'main' }, 'main')).toBe(true);
    expect(matchableIn({ scope: 'main' }, 'sub')).toBe(false);
    expect(matchableIn({ scope: 'universal' }, 'sub')).toBe(true);
    for (const rule of Object.values(RULES)) if (rule.setting && findSetting(rule.setting)) expect(findSetting(rule.setting)!.scope).not.toBe('main');
  });
});

describe('messages', () => {
  const dropin = (...lines: string[]) => ({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n', 'mkosi.conf.d/10.conf': lines.map((l) => `${l}\n`).join('') });

  it('Profile= matches as Profiles= and warns at its line', () => {
    const p = load({ ...dropin('[Match]', 'Profile=a', '[Content]', 'Packages=x'), 'mkosi.conf.d/00.conf': '[Config]\nProfiles=a\n' });
    expect(p.main.config.Packages).toEqual(['x']);
    const w = p.warnings.filter((x) => x.message.includes('deprecated'));
    expect(w.map((x) => [path.basename(x.origin.file), x.origin.line, x.message])).toEqual([['10.conf', 2, 'Profile= is deprecated, use Profiles=']]);
  });

  it('an unknown key names the section and the accepted keys', () => {
    const e = configError(dropin('[TriggerMatch]', 'Foo=bar'));
    expect(e).toMatchObject({ file: 'mkosi.conf.d/10.conf', line: 2 });
    expect(e.message).toBe(`Foo= cannot be used in [TriggerMatch] (accepted: ${matchKeys().join(', ')})`);
  });

  it('a misspelt enumeration value says what is accepted', () => {
    expect(configError(dropin('[Match]', 'Format=disc')).message).toMatch(/^Format=: "disc" is not a valid value \(accepted: directory, tar, cpio, disk/);
  });

  it('[Assert] failures say which condition, with the value it saw, or which section', () => {
    expect(configError(dropin('[Assert]', 'Release=trixie'))).toEqual({
      file: 'mkosi.conf.d/10.conf',
      line: 2,
      message: 'Release=trixie in [Assert] is not satisfied (Release= is "bookworm"), so this configuration refuses to build',
    });
    expect(configError(dropin('[Match]', 'Format=disk', '[Assert]', 'Release=|trixie', 'Release=|sid'))).toEqual({
      file: 'mkosi.conf.d/10.conf',
      line: 3,
      message: 'none of the | conditions of this [Assert] section is satisfied, so this configuration refuses to build',
    });
    expect(configError(dropin('[TriggerAssert]', 'Release=trixie', '[TriggerAssert]', 'Release=sid'))).toEqual({
      file: 'mkosi.conf.d/10.conf',
      line: 1,
      message: 'none of the [TriggerAssert] sections is satisfied, so this configuration refuses to build',
    });
  });

  it('an unknown specifier warns and expands to nothing, as mkosi 26: Release=%q tests an empty release and fails', () => {
    const project = load({ ...dropin('[Match]', 'Release=%q', '[Content]', 'Packages=matched') });
    expect(project.main.config.Packages).toEqual([]);
    expect(project.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/unknown specifier "%q"/)]);
  });
});

describe('kiln.toml conditions', () => {
  it('a TOML array is several conditions, each with its | and !', () => {
    const toml = (release: string) =>
      load({ 'kiln.toml': `[Distribution]\nDistribution = "debian"\nRelease = "${release}"\n`, 'kiln.conf.d/10.toml': '[Match]\nRelease = ["|trixie", "|sid"]\nFormat = "!tar"\n[Content]\nPackages = ["x"]\n' }).main.config.Packages;
    expect(toml('trixie')).toEqual(['x']);
    expect(toml('sid')).toEqual(['x']);
    expect(toml('bookworm')).toEqual([]);
  });
});

describe('HostArchitecture= (the build machine)', () => {
  // Node's names for the two architectures kiln's tests run on.
  const host = ({ x64: 'x86-64', arm64: 'arm64' } as Record<string, string>)[process.arch];
  const other = host === 'arm64' ? 'x86-64' : 'arm64';
  const packages = (...conditions: string[]) => load({ 'mkosi.conf': `[Match]\n${conditions.join('\n')}\n[Content]\nPackages=x\n` }).main.config.Packages;

  it('matches the machine kiln runs on, in any spelling, and not another', () => {
    expect(hostArchitecture()).toBe(host);
    expect(packages(`HostArchitecture=${host}`)).toEqual(['x']);
    expect(packages(`HostArchitecture=${host === 'x86-64' ? 'x86_64' : 'aarch64'}`)).toEqual(['x']);
    expect(packages(`HostArchitecture=${other}`)).toEqual([]);
  });
  it('negation and triggers', () => {
    expect(packages(`HostArchitecture=!${other}`)).toEqual(['x']);
    expect(packages(`HostArchitecture=!${host}`)).toEqual([]);
    expect(packages(`HostArchitecture=|${other}`, `HostArchitecture=|${host}`)).toEqual(['x']);
  });
  it('is not Architecture=: uefi is an error (mkosi fails on it too)', () => {
    expect(configError({ 'mkosi.conf': '[Match]\nHostArchitecture=uefi\n' })).toMatchObject({ file: 'mkosi.conf', line: 2, message: expect.stringMatching(/^HostArchitecture=: "uefi" is not a valid value/) });
  });
});

describe('SystemdVersion=', () => {
  /** This host's systemd as `systemctl --version` says (what mkosi 26 asks), or null without one. */
  const systemctl = spawnSync('systemctl', ['--version'], { encoding: 'utf8' });
  const hostSystemd = !systemctl.error && systemctl.status === 0 ? systemctl.stdout.trim().split(/\s+/)[1] : null;
  const trees: string[] = [];
  afterAll(() => trees.forEach((t) => fs.rmSync(t, { recursive: true, force: true })));
  /** A tree holding one (empty) file. */
  const fakeTree = (file: string) => {
    const t = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tools-tree-'));
    trees.push(t);
    fs.mkdirSync(path.join(t, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(t, file), '');
    return t;
  };
  const sha256 = 'a'.repeat(64);
  const toolsLock = (version: string): string =>
    formatLockfile(
      {
        'lock-version': 1,
        request: { distribution: 'debian', release: 'trixie', architecture: 'x86-64', mirror: ['http://deb.debian.org/debian'], repositories: [], packages: [], 'build-packages': [], base: [] },
        package: [
          { name: 'bash', version: '5.2.37-2', architecture: 'amd64', repository: 'trixie main', size: 1, sha256 },
          { name: 'systemd', version, architecture: 'amd64', repository: 'trixie main', size: 1, sha256 },
        ],
        'build-package': [],
      } satisfies Lock,
      'tools',
    );
  const files = (condition: string, extra: Record<string, string | null> = {}, build = 'ToolsTree=default') => ({
    'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Build]\n${build}\n`,
    'mkosi.conf.d/10.conf': `[Match]\n${condition}\n[Content]\nPackages=x\n`,
    ...extra,
  });
  const packages = (condition: string, extra: Record<string, string | null> = {}, build?: string) => load(files(condition, extra, build)).main.config.Packages;

  describe('with ToolsTree=default: the systemd of the tools tree lock', () => {
    const lock = { 'mkosi.tools.lock': toolsLock('257.9-1~deb13u1') };
    it('matches, compares, negates and triggers on the major version', () => {
      expect(packages('SystemdVersion=257', lock)).toEqual(['x']);
      expect(packages('SystemdVersion=>=256', lock)).toEqual(['x']);
      expect(packages('SystemdVersion=<257', lock)).toEqual([]);
      expect(packages('SystemdVersion=257.9', lock)).toEqual([]);
      expect(packages('SystemdVersion=!257', lock)).toEqual([]);
      expect(packages('SystemdVersion=|250\nSystemdVersion=|257', lock)).toEqual(['x']);
      expect(packages('SystemdVersion=', lock)).toEqual([]);
      expect(packages('SystemdVersion=!', lock)).toEqual(['x']);
    });
    it('reads the lock of a mkosi.tools.conf/ directory there (where kiln lock writes it)', () => {
      const p = load(files('SystemdVersion=258', { 'mkosi.tools.conf/mkosi.conf': '', 'mkosi.tools.conf/kiln.lock': toolsLock('258.1-1') }));
      expect(p.main.config.Packages).toEqual(['x']);
      const tools = p.presets.find((x) => x.generated === 'tools')!;
      expect(toolsLockPath(p.root)).toBe(lockfilePath(tools));
    });
    it('the lock path is the tools preset lock path', () => {
      const p = load(files('SystemdVersion=!1', lock));
      expect(toolsLockPath(p.root)).toBe(lockfilePath(p.presets.find((x) => x.generated === 'tools')!));
    });
    it('an unlocked tools tree: the host\'s systemd, as mkosi, with a warning saying to lock it', () => {
      const root = makeProject(files('SystemdVersion=252'));
      const host = fakeTree('usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so');
      expect(systemdVersion('default', root, host)).toEqual({
        version: '252',
        from: `the host (${host}/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so)`,
        warning: "SystemdVersion= compares with the host's systemd 252, as mkosi does, because the tools tree (ToolsTree=default) is not locked: run `kiln lock` to compare with the tools tree's (mkosi.tools.lock)",
      });
      // A lock without systemd (ToolsTreePackages= cannot remove it from kiln's list, but a lock can be edited).
      fs.writeFileSync(path.join(root, 'mkosi.tools.lock'), toolsLock('257.9-1').replace(/\n\[\[package\]\]\nname = "systemd"[^[]*/, '\n'));
      expect(systemdVersion('default', root, host).warning).toMatch(/because its lock mkosi.tools.lock has no systemd package: add systemd to ToolsTreePackages= and run `kiln lock`$/);
    });
    it('an unlocked tools tree and a host without systemd: an error', () => {
      const root = makeProject(files('SystemdVersion=252'));
      expect(() => systemdVersion('default', root, fakeTree('etc/os-release'))).toThrow(
        /^the tools tree \(ToolsTree=default\) is not locked and the host has no systemd \(no libsystemd-shared-\*\.so in \/usr\/lib\/systemd, \/usr\/lib\/<multiarch>\/systemd or \/usr\/lib64\/systemd\), so SystemdVersion= cannot be known$/,
      );
    });
    (hostSystemd ? it : it.skip)('an unlocked tools tree in a project: matches on this host\'s systemd and warns at the condition', () => {
      const p = load(files(`SystemdVersion=${hostSystemd}`));
      expect(p.main.config.Packages).toEqual(['x']);
      expect(p.warnings.filter((w) => w.message.startsWith('SystemdVersion=')).map((w) => [path.basename(w.origin.file), w.origin.line])).toEqual([['10.conf', 2]]);
    });
    it('is part of the preset\'s inputs: the lock is probed (facts re-read when it changes), and a new systemd changes the settings hash', () => {
      const root = makeProject(files('SystemdVersion=>=258', lock));
      const { result, probes } = recording(() => loadProject(root, { env: {} }));
      expect(Object.keys(probes)).toContain(`path:${path.join(root, 'mkosi.tools.lock')}`);
      const before = presetInputs(result, result.main).settingsHash;
      fs.writeFileSync(path.join(root, 'mkosi.tools.lock'), toolsLock('258.1-1'));
      const after = loadProject(root, { env: {} });
      expect(after.main.config.Packages).toEqual(['x']);
      expect(presetInputs(after, after.main).settingsHash).not.toBe(before);
    });
  });

  describe('with ToolsTree=PATH: that tree\'s libsystemd-shared', () => {
    it.each([
      ['Debian (multiarch)', 'usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so', '257'],
      ['Fedora (lib64, full version)', 'usr/lib64/systemd/libsystemd-shared-256.11-1.fc41.so', '256'],
      ['Arch (lib)', 'usr/lib/systemd/libsystemd-shared-258.so', '258'],
    ])('%s', (_, lib, major) => {
      const t = fakeTree(lib);
      expect(systemdVersion(t, '/nowhere').version).toBe(major);
      expect(packages(`SystemdVersion=${major}`, {}, `ToolsTree=${t}`)).toEqual(['x']);
      expect(packages(`SystemdVersion=>${major}`, {}, `ToolsTree=${t}`)).toEqual([]);
      const { probes } = recording(() => systemdVersion(t, '/nowhere'));
      expect(Object.keys(probes)).toContain(`path:${path.join(t, path.dirname(lib))}`);
    });
    it('a tree without systemd is an error naming it', () => {
      const t = fakeTree('etc/os-release');
      expect(configError(files('SystemdVersion=257', {}, `ToolsTree=${t}`)).message).toBe(
        `SystemdVersion=: the tools tree ${t} (ToolsTree=) has no systemd (no libsystemd-shared-*.so in /usr/lib/systemd, /usr/lib/<multiarch>/systemd or /usr/lib64/systemd), so SystemdVersion= cannot be known`,
      );
    });
  });

  describe('without a tools tree: the host', () => {
    (hostSystemd ? it : it.skip)('is what `systemctl --version` says (what mkosi 26 asks)', () => {
      expect(systemdVersion(null, '/nowhere').version).toBe(hostSystemd);
      expect(packages(`SystemdVersion=${hostSystemd}`, {}, '')).toEqual(['x']);
      expect(packages(`SystemdVersion=!=${hostSystemd}`, {}, '')).toEqual([]);
    });
  });

  it('the major version of a package version or library name', () => {
    expect(['257.9-1~deb13u1', '1:252.38-1~deb12u1', '256.11-1.fc41.so', '258.so', 'v1'].map(majorVersion)).toEqual(['257', '252', '256', '258', null]);
  });
});

describe('BuildSources= (the rule itself)', () => {
  // A context whose BuildSources= holds two trees, as the table's parser gives them.
  const ctx = (image = 'main'): MatchContext => ({
    image,
    dir: '/project',
    root: '/project',
    get: (n) => (n === 'BuildSources' ? [{ source: '/project/src', target: 'kernel' }, { source: '/project/abs', target: '/abs' }, { source: '/project', target: null }] : undefined),
    expand: (t) => t,
    warn: () => undefined,
  });
  const holds = (...conditions: string[]) =>
    conditionsHold({ path: '/project/mkosi.conf', sections: [{ name: 'Match', line: 1, assignments: conditions.map((value, i) => ({ key: 'BuildSources', value, line: i + 2 })) }] }, ctx());
  it('matches a target, with or without a leading / or ./, not a source or a missing one', () => {
    expect([holds('kernel'), holds('/kernel'), holds('./kernel'), holds('kernel/'), holds('src'), holds('other'), holds('')]).toEqual([true, true, true, true, false, false, false]);
  });
  it('as mkosi 26, a target written absolute matches no value', () => {
    expect([holds('abs'), holds('/abs')]).toEqual([false, false]);
  });
  it('negation and triggers', () => {
    expect([holds('!other'), holds('!kernel'), holds('|other', '|kernel'), holds('|other', '|src')]).toEqual([true, false, true, false]);
  });
});

describe('version comparison (mkosi 26 GenericVersion)', () => {
  it.each([
    ['1.2.3', '1.2.3', 0],
    ['1.2', '1.2.3', -1],
    ['1.2.10', '1.2.9', 1],
    ['1.2~rc1', '1.2', -1],
    ['1.2~rc1', '1.2~rc2', -1],
    ['1.2-1', '1.2', 1],
    ['1.2-1', '1.2.0', -1],
    ['1.2^1', '1.2', 1],
    ['1.2^1', '1.2.1', -1],
    ['1.2a', '1.2', 1],
    ['1.2A', '1.2a', -1],
    ['1.02', '1.2', 0],
    ['1_2', '12', -1],
    ['00000000000000000000001', '1', 0],
    ['99999999999999999999999', '99999999999999999999998', 1],
    ['', '', 0],
  ])('%s vs %s: %d', (a, b, c) => {
    expect(compareVersions(a, b)).toBe(c);
    expect(compareVersions(b, a)).toBe(-c || 0);
  });
  it('operators; the first one only', () => {
    expect(['==1.2.3', '!=1.2', '>=1.2', '>1.2.3', '<2', '<=1.2.3', '1.2.3', '>=1.0 <2', '>=1.0 <1'].map((c) => versionSatisfies('1.2.3', c))).toEqual([true, true, true, false, true, true, true, true, true]);
  });
});

describe('globs (Python fnmatchcase)', () => {
  it.each([
    ['a/b', '*', true],
    ['a/b', 'a?b', true],
    ['.x', '*', true],
    ['a*b', 'a[*]b', true],
    ['a\\b', 'a\\b', true],
    ['ab', 'a\\b', false],
    ['a[b', 'a[b', true],
    ['-', '[a-]', true],
    ['b', '[!a-]', true],
    ['^', '[^a]', true],
    ['é', '?', true],
    ['a\nb', 'a*b', true],
  ])('%j ~ %j: %s', (name, pattern, result) => {
    expect(fnmatchcase(name, pattern)).toBe(result);
  });
});

describe('presets', () => {
  it('Image= is the preset name exactly, main for the main image', () => {
    const p = load({ 'mkosi.conf': '[Match]\nImage=main\n[Content]\nPackages=m\n', 'mkosi.images/a.conf': '[Match]\nImage=a\n[Content]\nPackages=a\n', 'mkosi.images/ab.conf': '[Content]\nPackages=ab\n[Match]\nImage=a\n' });
    expect([p.main.config.Packages, preset(p, 'a').config.Packages, p.presets.some((x) => x.name === 'ab')]).toEqual([['m'], ['a'], false]);
  });
});
