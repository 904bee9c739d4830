/**
 * The validation rules added for hostile input (issue 14): each rule at the level of its value
 * kind, without a project. The corpus (apps/kiln/test/corpus) checks the same rules end to end.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { quote, ValueError } from '../src/errors';
import { parseIni } from '../src/ini';
import { findSetting } from '../src/settings';
import { tomlTypeName } from '../src/toml';
import { describeToml, integer, ParseContext, parseSize } from '../src/values';
import { hashFile } from '../src/input-digest';

const ctx: ParseContext = { dir: '/proj', env: {}, expand: (t) => t };
const parse = (name: string, raw: string) => findSetting(name)!.kind.parse(raw, ctx);
const refusal = (name: string, raw: string): string => {
  try {
    parse(name, raw);
  } catch (e) {
    if (e instanceof ValueError) return e.message;
    throw e;
  }
  throw new Error(`${name}=${raw} was accepted`);
};

describe('package lists never carry options or shell syntax', () => {
  it.each(['Packages', 'BuildPackages', 'RemovePackages'])('%s= refuses an entry starting with "-"', (name) => {
    expect(refusal(name, '-oAPT::Get::Simulate=true hello')).toMatch(/^"-oAPT::Get::Simulate=true" starts with "-" and would be read as an option/);
  });
  it.each(['hello;reboot', '$(id)', '${HOME}', '$HOME', '`id`', 'a|b'])('refuses %s', (raw) => {
    expect(refusal('Packages', raw)).toMatch(/contains a shell metacharacter/);
  });
  it('keeps what real package lists hold: names, version pins, Gentoo atoms, paths', () => {
    expect(parse('Packages', 'hello=2.10-3,libc6:amd64,>=app-misc/hello-2.12,/pkgs/x.deb')).toEqual(['hello=2.10-3', 'libc6:amd64', '>=app-misc/hello-2.12', '/pkgs/x.deb']);
    // apt regexes, as mkosi's own mkosi-initrd writes them (apt gets them as words, never through a shell).
    expect(parse('Packages', '^libtss2-esys-[0-9.]+-0(t64)?$')).toEqual(['^libtss2-esys-[0-9.]+-0(t64)?$']);
  });
});

describe('names that make file names or paths', () => {
  it.each([
    ['ImageVersion', '1/../../..'],
    ['ImageVersion', '..'],
    ['ImageId', '..'],
    ['ImageId', 'a/b'],
    ['Release', '../..'],
    ['Release', 'bookworm/updates'],
    ['Profiles', '..'],
    ['PortageProfile', 'default/../../etc'],
  ])('%s=%s is refused', (name, raw) => {
    expect(() => parse(name, raw)).toThrow(ValueError);
  });
  // mkosi 26 reads these as any string: kiln reads them too, and refuses to build them.
  it.each([
    ['Timezone', '../../etc/shadow'],
    ['Locale', 'C.UTF-8;touch'],
    ['Hostname', 'a b'],
    ['RootShell', 'bin/sh'],
  ])('%s=%s is read, and refused by the build check', (name, raw) => {
    expect(parse(name, raw)).toBe(raw);
    expect(findSetting(name)!.kind.buildCheck!(raw as never)).toMatch(/is not valid \(accepted: /);
  });
  it.each([
    ['ImageVersion', '1.2.3~rc1+git'],
    ['ImageId', 'my-os_1.0'],
    ['Release', '23.0'],
    ['Timezone', 'America/Argentina/Buenos_Aires'],
    ['Locale', 'de_DE.UTF-8@euro'],
  ])('%s=%s is accepted', (name, raw) => {
    expect(parse(name, raw)).toBe(raw);
  });
  it('RemoveFiles= refuses ".." (image paths stay in the image) and keeps globs', () => {
    expect(refusal('RemoveFiles', '/usr/../../etc')).toBe('"/usr/../../etc" contains ".." (paths are inside the image; ".." would leave it)');
    expect(parse('RemoveFiles', '/usr/share/doc/*,var/cache/..foo')).toEqual(['/usr/share/doc/*', 'var/cache/..foo']);
  });
  it('Mirror= is a URL without white space or shell syntax', () => {
    expect(parse('Mirror', 'http://deb.debian.org/debian')).toBe('http://deb.debian.org/debian');
    for (const raw of ['-oAcquire::http::Proxy=x', 'deb.debian.org/debian', 'http://x/$(id)']) expect(() => parse('Mirror', raw)).toThrow(ValueError);
  });
  it('directories kiln writes into are not / and not files', () => {
    expect(refusal('OutputDirectory', '/')).toMatch(/host's root directory/);
    expect(refusal('PackageCacheDirectory', '/dev/null')).toBe('/dev/null exists and is not a directory (remove it, or name a directory)');
  });
  it('the host root is no tree', () => {
    expect(refusal('ExtraTrees', '/:/opt')).toMatch(/^"\/" is the host's root directory/);
    expect(refusal('BaseTrees', '/')).toMatch(/^"\/" is the host's root directory/);
    expect(refusal('ExtraTrees', ':/etc')).toMatch(/has no source/);
  });
});

describe('numbers stay exact', () => {
  it('integers beyond 2^53 are refused, 2^53-1 is kept', () => {
    expect(() => integer({ min: 0 }).parse('9007199254740993', ctx)).toThrow(/is too large/);
    expect(integer({ min: 0 }).parse('9007199254740991', ctx)).toBe(Number.MAX_SAFE_INTEGER);
  });
  it('sizes beyond 2^53 bytes are refused', () => {
    expect(() => parseSize('99999999999T')).toThrow(/is too large/);
    expect(parseSize('1T')).toBe(1024 ** 4);
  });
});

describe('config text', () => {
  it('a NUL byte anywhere in an INI file is refused with its line', () => {
    expect(() => parseIni('[Content]\nPackages=hel\0lo\n', 'f.conf')).toThrow(/^f\.conf:2: contains a NUL byte/);
  });
  it('messages quote values escaped and cut short', () => {
    expect(quote('a\nb\u0000')).toBe('"a\\nb\\u0000"');
    expect(quote('x'.repeat(1000))).toBe(`"${'x'.repeat(120)}..."`);
  });
});

describe('kiln.toml types', () => {
  it('names a kind\'s TOML type and a value\'s', () => {
    expect(describeToml(findSetting('Packages')!.kind.toml)).toBe('an array of strings or a string');
    expect(describeToml(findSetting('WithDocs')!.kind.toml)).toBe('a boolean or a string');
    expect(describeToml(findSetting('Environment')!.kind.toml)).toBe('a table of strings or an array of strings');
    expect([tomlTypeName(5), tomlTypeName(1.5), tomlTypeName([1]), tomlTypeName({ A: 1 }), tomlTypeName(new Date(0))]).toEqual([
      'an integer', 'a float', 'an array holding an integer', 'a table holding an integer', 'a date',
    ]);
  });
});

describe('lists append in linear time', () => {
  it('80,000 one-line RemoveFiles= assignments read quickly', () => {
    const text = `[Content]\n${'RemoveFiles=/usr/share/doc/*\n'.repeat(80_000)}`;
    // The appends are what was quadratic (a copy per line); the corpus's huge/ cases read the same through the CLI.
    const kind = findSetting('RemoveFiles')!.kind;
    const into = kind.empty!() as string[];
    for (const a of parseIni(text, 'f.conf').sections[0].assignments) kind.append!(into, kind.parse(a.value, ctx));
    expect(into).toHaveLength(80_000);
  });
});

describe('input digests hash files in pieces', () => {
  it('a file larger than the read buffer hashes as the whole file does', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-hash-')), 'big');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    data.write('head', 0);
    data.write('tail', data.length - 4);
    fs.writeFileSync(file, data);
    expect(hashFile(file)).toBe(createHash('sha256').update(data).digest('hex'));
    fs.rmSync(path.dirname(file), { recursive: true });
  });
});
