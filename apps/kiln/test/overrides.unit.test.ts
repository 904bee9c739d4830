import { kebab, OverrideError, settingOfOption, takeOverrides } from '../src/overrides';

describe('settings on the kiln command line (overrides.ts)', () => {
  it('takes mkosi\'s options out of the arguments, in order, leaving kiln\'s own and everything after --', () => {
    const r = takeOverrides(['-C', 'dir', '--profile', 'dev', '-p', 'base', '-dfedora', '-r', 'trixie', '-E', 'A=1', '--image-version=1.2', '--ImageId', 'x', '--json', '--', '--Release=x']);
    expect(r.rest).toEqual(['-C', 'dir', '-p', 'base', '--json', '--', '--Release=x']);
    expect(r.overrides).toEqual([
      { name: 'Profiles', value: 'dev' },
      { name: 'Distribution', value: 'fedora' },
      { name: 'Release', value: 'trixie' },
      { name: 'Environment', value: 'A=1' },
      { name: 'ImageVersion', value: '1.2' },
      { name: 'ImageId', value: 'x' },
    ]);
  });

  it('knows each setting by its name, old names, kebab-case and mkosi\'s long and older long options', () => {
    expect(kebab('ToolsTree')).toBe('tools-tree');
    expect(kebab('KVM')).toBe('kvm');
    expect(kebab('ImageId')).toBe('image-id');
    for (const [option, name] of [['tools-tree', 'ToolsTree'], ['package', 'Packages'], ['Profile', 'Profiles'], ['credential', 'Credentials'], ['qemu-mem', 'RAM'], ['output-dir', 'OutputDirectory'], ['runtime-size', 'RuntimeSize']]) {
      expect([option, settingOfOption(option!)?.name]).toEqual([option, name]);
    }
    // kiln's own options are never settings.
    expect(settingOfOption('directory')).toBeUndefined();
    expect(settingOfOption('preset')).toBeUndefined();
  });

  it('an empty value is kept (it resets); a missing value or a --CamelCase that is no setting is an error naming the option', () => {
    expect(takeOverrides(['--Packages=']).overrides).toEqual([{ name: 'Packages', value: '' }]);
    expect(() => takeOverrides(['--release'])).toThrow(new OverrideError('--release needs a value (--release=VALUE; an empty value resets Release=)'));
    expect(() => takeOverrides(['--Pakages=x'])).toThrow(new OverrideError('--Pakages: no such setting (did you mean --Packages=?)'));
    // Other unknown options are commander's to refuse.
    expect(takeOverrides(['--bogus']).rest).toEqual(['--bogus']);
  });
});

describe('parseSettingArgs: the one reading of settings for kiln-digest and the Nx plugin (setting-args.ts)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseSettingArgs } = require('../src/setting-args') as typeof import('../src/setting-args');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseArguments } = require('../../../plugins/nx/src/variants') as typeof import('../../../plugins/nx/src/variants');

  it('the canonical form (no table) and the other spellings (the table) give the same overrides', () => {
    const canonical = parseSettingArgs(['--Profiles=dev', '--Release=trixie']);
    expect(canonical).toEqual({ overrides: [{ name: 'Profiles', value: 'dev' }, { name: 'Release', value: 'trixie' }] });
    expect(parseSettingArgs(['--profile', 'dev', '-r', 'trixie'])).toEqual(canonical);
  });

  it('a kiln option or a stray word is not a setting; a bad setting is an error; the plugin reads the same', () => {
    expect(parseSettingArgs(['--force'])).toEqual({ notASetting: '--force' });
    expect(parseSettingArgs(['--Nope', 'x'])).toEqual({ error: expect.any(String) });
    expect(parseArguments(['--profile', 'dev'])).toEqual(parseSettingArgs(['--profile', 'dev']));
    expect(parseArguments(['--force'])).toEqual({ error: expect.stringMatching(/^"--force" is not a setting/) });
  });
});
