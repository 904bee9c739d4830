import { ConfigError } from '../src/errors';
import { parseIni } from '../src/ini';

const keys = (text: string) => parseIni(text, 'f.conf').sections.map((s) => [s.name, s.assignments.map((a) => [a.key, a.value, a.line])]);

describe('mkosi.conf INI syntax', () => {
  it('reads sections, repeated keys and their lines', () => {
    expect(keys('[Content]\nPackages=a\nPackages=b\n\n[Output]\nFormat=tar\n')).toEqual([
      ['Content', [['Packages', 'a', 2], ['Packages', 'b', 3]]],
      ['Output', [['Format', 'tar', 6]]],
    ]);
  });
  it('skips the lines of a section the reader does not read, unparsed, as mkosi does ([PostInstall] of shell lines)', () => {
    const text = '[PostInstall]\nmkdir -p /bin\n    indented\n  [Content]\nPackages=a\n';
    const read = parseIni(text, 'f.conf', { readSection: (n) => n === 'Content' });
    expect(read.sections.map((s) => [s.name, s.assignments.map((a) => a.key)])).toEqual([['PostInstall', []], ['Content', ['Packages']]]);
    expect(() => parseIni(text, 'f.conf')).toThrow(ConfigError);
  });
  it('joins indented continuation lines, skipping blank and comment lines inside', () => {
    expect(keys('[Content]\nPackages=\n    a\n\n    # why b\n    b\nHostname=h\n')).toEqual([
      ['Content', [['Packages', 'a\nb', 2], ['Hostname', 'h', 7]]],
    ]);
  });
  it('strips # comments anywhere on a line, but ; is an ordinary character', () => {
    expect(keys('[Content]\nPackages=systemd   # sine qua non\nLocale=a;b\n')).toEqual([
      ['Content', [['Packages', 'systemd', 2], ['Locale', 'a;b', 3]]],
    ]);
  });
  it('removes a common indent of the whole file (textwrap.dedent)', () => {
    expect(keys('  [Content]\n  Packages=a\n      b\n')).toEqual([['Content', [['Packages', 'a\nb', 2]]]]);
  });
  it('refuses a setting outside a section, naming the line', () => {
    expect(() => parseIni('# top\nPackages=a\n', 'x.conf')).toThrow(new ConfigError('Packages= is outside any section (put it under a section header such as [Content])', { file: 'x.conf', line: 2 }));
  });
  it('refuses a line without "=" and an empty section name', () => {
    expect(() => parseIni('[Content]\nPackages\n', 'x.conf')).toThrow(/x\.conf:2: "Packages" is not a setting \(expected KEY=VALUE\)/);
    expect(() => parseIni('[]\n', 'x.conf')).toThrow(/x\.conf:1: empty section header/);
  });
  it('refuses a continuation line with nothing to continue', () => {
    expect(() => parseIni('[Content]\n  stray\n', 'x.conf')).toThrow(/x\.conf:2: indented line "stray" continues no setting/);
  });
  it('Key= with nothing after it is an empty value (a reset)', () => {
    expect(keys('[Content]\nPackages=\n')).toEqual([['Content', [['Packages', '', 2]]]]);
  });
});
