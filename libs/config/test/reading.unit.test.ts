/**
 * Read order, the override layer and scopes as mkosi 26 has them (mkosi/config.py ParseContext,
 * parse_config, finalize_default_tools/initrd, resolve_deps). Each expectation was compared by hand
 * with `mkosi --json summary` of mkosi 26 on the same files (and the same command-line options).
 */
import * as path from 'node:path';
import { ConfigError, loadProject, type Override } from '../src';
import { configError, load, makeProject, preset } from './helpers';

const RELEASE = '[Distribution]\nRelease=bookworm\n';

function withOverrides(files: Record<string, string | null>, overrides: Override[]) {
  return loadProject(makeProject(files), { env: {}, overrides });
}

const o = (name: string, value: string): Override => ({ name, value });

describe('mkosi.local.conf and mkosi.local/', () => {
  it('are read first and win: a single value over mkosi.conf and its drop-ins; a list has the config files\' items, then the local ones', () => {
    const p = withOverrides(
      {
        'mkosi.conf': `${RELEASE}[Content]\nHostname=a\nPackages=a\n`,
        'mkosi.conf.d/10.conf': '[Content]\nHostname=b\nPackages=b\n',
        'mkosi.local.conf': '[Content]\nHostname=local\nPackages=l\n',
      },
      [],
    );
    expect([p.main.config.Hostname, p.main.config.Packages]).toEqual(['local', ['a', 'b', 'l']]);
  });

  it('are seen by [Match] sections and select profiles', () => {
    const p = withOverrides(
      {
        'mkosi.conf': RELEASE,
        'mkosi.conf.d/10.conf': '[Match]\nRelease=trixie\n[Content]\nPackages=t\n',
        'mkosi.local.conf': '[Distribution]\nRelease=trixie\n[Config]\nProfiles=dev\n',
        'mkosi.profiles/dev.conf': '[Content]\nPackages=p\n',
      },
      [],
    );
    expect([p.main.config.Release, p.main.config.Profiles, p.main.config.Packages]).toEqual(['trixie', ['dev'], ['p', 't']]);
  });

  it('mkosi.local/ is read like a config directory before mkosi.local.conf, and its single values win over the file\'s (they are overrides by then)', () => {
    const p = withOverrides({ 'mkosi.conf': `${RELEASE}[Content]\nHostname=a\n`, 'mkosi.local/mkosi.conf': '[Content]\nHostname=dir\nLocale=C\n', 'mkosi.local.conf': '[Content]\nHostname=file\n' }, []);
    expect([p.main.config.Hostname, p.main.config.Locale]).toEqual(['dir', 'C']);
  });

  it('an empty list in mkosi.local.conf does not drop the items mkosi.conf adds after it', () => {
    const p = withOverrides({ 'mkosi.conf': `${RELEASE}[Content]\nPackages=a\n`, 'mkosi.local.conf': '[Content]\nPackages=\n' }, []);
    expect(p.main.config.Packages).toEqual(['a']);
  });

  it('in a preset directory win over its mkosi.conf, and freeze what it inherited (mkosi moves every value read so far)', () => {
    const p = withOverrides(
      {
        'mkosi.conf': `${RELEASE}[Output]\nImageId=main\n`,
        'mkosi.images/x/mkosi.conf': '[Output]\nFormat=cpio\nImageId=x\n',
        'mkosi.images/x/mkosi.local.conf': '[Output]\nFormat=tar\n',
      },
      [],
    );
    expect(preset(p, 'x').config).toMatchObject({ Format: 'tar', ImageId: 'main' });
  });

  it('kiln.local.toml is read first and wins the same way', () => {
    const p = withOverrides({ 'kiln.toml': '[Output]\nFormat = "tar"\n', 'kiln.conf.d/10.toml': '[Match]\nFormat = "cpio"\n[Content]\nLocale = "C"\n', 'kiln.local.toml': '[Output]\nFormat = "cpio"\n' }, []);
    expect([p.main.config.Format, p.main.config.Locale]).toEqual(['cpio', 'C']);
  });
});

describe('command-line overrides', () => {
  const files = { 'mkosi.conf': `${RELEASE}[Content]\nPackages=a\nHostname=conf\n[Build]\nEnvironment=A=1 B=2\n`, 'mkosi.local.conf': '[Content]\nHostname=local\n' };

  it('a single value wins over the config files and mkosi.local.conf', () => {
    expect(withOverrides(files, [o('Hostname', 'cli')]).main.config.Hostname).toBe('cli');
  });

  it('lists are the config files\' items then the override\'s; dictionaries merge with the override winning', () => {
    const c = withOverrides(files, [o('Packages', 'x'), o('Environment', 'B=3'), o('Environment', 'C=4')]).main.config;
    expect([c.Packages, c.Environment]).toEqual([['a', 'x'], { A: '1', B: '3', C: '4' }]);
  });

  it('an empty value resets: a list to empty, a single value to its default, later overrides start again', () => {
    expect(withOverrides(files, [o('Packages', '')]).main.config.Packages).toEqual([]);
    expect(withOverrides(files, [o('Packages', 'x'), o('Packages', '')]).main.config.Packages).toEqual([]);
    expect(withOverrides(files, [o('Packages', ''), o('Packages', 'vim')]).main.config.Packages).toEqual(['vim']);
    expect(withOverrides(files, [o('Hostname', '')]).main.config.Hostname).toBeNull();
    expect(withOverrides(files, [o('Environment', '')]).main.config.Environment).toEqual({});
  });

  it('--profile selects profiles and [Match] sections see it', () => {
    const p = withOverrides({ 'mkosi.conf': RELEASE, 'mkosi.profiles/dev.conf': '[Content]\nPackages=dev\n', 'mkosi.conf.d/10.conf': '[Match]\nProfiles=dev\n[Content]\nHostname=dev\n' }, [o('Profiles', 'dev')]);
    expect([p.main.config.Packages, p.main.config.Hostname]).toEqual([['dev'], 'dev']);
  });

  it('universal ones reach the presets; local ones stay with the main image', () => {
    const p = withOverrides({ 'mkosi.conf': RELEASE, 'mkosi.images/x.conf': '[Output]\nFormat=tar\n' }, [o('Release', 'trixie'), o('Hostname', 'cli'), o('ImageId', 'foo')]);
    expect(preset(p, 'x').config).toMatchObject({ Release: 'trixie', Hostname: null, ImageId: 'foo' });
  });

  it('an old name works; a bad name or value is an error naming the option', () => {
    expect(withOverrides({ 'mkosi.conf': RELEASE }, [o('Profile', 'p')]).main.config.Profiles).toEqual(['p']);
    const error = (overrides: Override[]) => {
      try {
        withOverrides({ 'mkosi.conf': RELEASE }, overrides);
      } catch (e) {
        if (e instanceof ConfigError) return e.message;
        throw e;
      }
      return null;
    };
    expect(error([o('Pakages', 'x')])).toBe('--Pakages: no such setting (did you mean --Packages=?)');
    expect(error([o('Format', 'bogus')])).toMatch(/^--Format=bogus: "bogus" is not a valid value \(accepted: .*\btar\b/);
  });
});

describe('scopes', () => {
  it('a main-only setting in a preset is an error at its line naming the preset and the fix', () => {
    expect(configError({ 'mkosi.conf': RELEASE, 'mkosi.images/x.conf': '[Output]\nFormat=tar\n[Runtime]\nRAM=2G\n' })).toEqual({
      file: 'mkosi.images/x.conf',
      line: 4,
      message: 'RAM= cannot be set in preset "x": it says how the main image runs or is its own (move it to the project\'s mkosi.conf or kiln.toml)',
    });
  });

  it('the tools tree gets the multiversal settings and ToolsTreeX= as X=, not the main image\'s Architecture=', () => {
    const p = withOverrides({ 'mkosi.conf': `${RELEASE}Architecture=arm64\n[Content]\nSourceDateEpoch=12345\n[Build]\nToolsTree=default\nToolsTreeRelease=trixie\nToolsTreePackages=vim\n` }, []);
    const tools = preset(p, 'tools').config;
    expect(tools).toMatchObject({ Release: 'trixie', SourceDateEpoch: 12345, Format: 'directory' });
    expect(tools.Architecture).not.toBe('arm64');
    expect(tools.Packages).toContain('vim');
  });

  it('ToolsTreeX= given on the command line is an override of the tools tree: mkosi.tools.conf cannot undo it', () => {
    const files = { 'mkosi.conf': `${RELEASE}[Build]\nToolsTree=default\n`, 'mkosi.tools.conf': '[Distribution]\nRelease=bookworm\n' };
    expect(preset(withOverrides(files, []), 'tools').config.Release).toBe('bookworm');
    expect(preset(withOverrides(files, [o('ToolsTreeRelease', 'trixie')]), 'tools').config.Release).toBe('trixie');
  });

  it('the default initrd inherits Hostname=, Timezone= (initrd-inherit) and ImageVersion= (inherit); other presets get only the inherit ones', () => {
    const p = withOverrides(
      {
        'mkosi.conf': `${RELEASE}[Output]\nFormat=disk\nImageVersion=1.2\n[Content]\nBootable=yes\nHostname=h\nTimezone=Europe/Berlin\nLocale=de_DE.UTF-8\n`,
        'mkosi.images/other.conf': '[Output]\nFormat=tar\n',
      },
      [],
    );
    // Locale= is local: the main image's does not reach it; mkosi-initrd's own C.UTF-8 does.
    expect(preset(p, 'default-initrd').config).toMatchObject({ Hostname: 'h', Timezone: 'Europe/Berlin', Locale: 'C.UTF-8', ImageVersion: '1.2' });
    expect(preset(p, 'other').config).toMatchObject({ Hostname: null, Timezone: null, ImageVersion: '1.2' });
    // The main image wants it too: an Initrds= path and a dependency, as mkosi adds them.
    expect(p.main.config.Dependencies).toEqual(['other', 'default-initrd']);
  });
});

describe('images the main image does not reach', () => {
  it('are dropped, as mkosi drops them (Dependencies= followed transitively)', () => {
    const p = withOverrides(
      {
        'mkosi.conf': `${RELEASE}[Config]\nDependencies=a\n`,
        'mkosi.images/a.conf': '[Config]\nDependencies=c\n[Output]\nFormat=tar\n',
        'mkosi.images/b.conf': '[Output]\nFormat=tar\n',
        'mkosi.images/c.conf': '[Output]\nFormat=tar\n',
      },
      [],
    );
    expect(p.presets.map((x) => x.name)).toEqual(['c', 'a', 'proj']);
    // mkosi is silent; kiln says so, at the Dependencies= line.
    expect(p.warnings.map((w) => [path.basename(w.origin.file), w.origin.line, w.message])).toEqual([
      ['mkosi.conf', 4, 'preset "b" is not built: the main image\'s Dependencies= does not reach it, so mkosi drops it too (add it to Dependencies= to build it)'],
    ]);
  });

  it('are kept when a reached one reads their output (kiln follows BaseTrees=%O/x as an edge)', () => {
    const p = withOverrides({ 'mkosi.conf': `${RELEASE}[Config]\nDependencies=\n[Content]\nBaseTrees=%O/base\n`, 'mkosi.images/base.conf': '[Output]\nFormat=directory\n', 'mkosi.images/b.conf': '[Output]\nFormat=tar\n' }, []);
    expect(p.presets.map((x) => x.name)).toEqual(['base', 'proj']);
  });

  it('the generated tools tree stays; a cycle among reached presets is an error naming them', () => {
    const p = withOverrides({ 'mkosi.conf': `${RELEASE}[Config]\nDependencies=\n[Build]\nToolsTree=default\n`, 'mkosi.images/b.conf': '[Output]\nFormat=tar\n' }, []);
    expect(p.presets.map((x) => x.name)).toEqual(['tools', 'proj']);
    const e = configError({ 'mkosi.conf': `${RELEASE}[Config]\nDependencies=a\n`, 'mkosi.images/a.conf': '[Config]\nDependencies=b\n', 'mkosi.images/b.conf': '[Config]\nDependencies=a\n' });
    expect(e.message).toBe('dependency cycle: a -> b -> a (break it by removing one of these dependencies)');
  });
});

describe('preset names', () => {
  it('take "+" as mkosi does (versioned images such as k3s-1.31.5+k3s1)', () => {
    const p = load({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.images/k3s-1.31.5+k3s1.conf': '[Output]\nFormat=sysext\n' });
    expect(p.presets.map((x) => x.name)).toContain('k3s-1.31.5+k3s1');
  });
});
