/**
 * The pure logic of the native Gentoo installer: PMS versions and CPVs, atoms and dependency
 * strings, binhost Packages indexes, and the resolver choosing binary packages, on indexes
 * written out below as a binhost serves them.
 */
import { atomMatches, depToString, parseAtom, parseDeps, reduceDeps } from '../src/installers/portage/atom';
import { parsePackagesIndex, type BinPackage } from '../src/installers/portage/packages-index';
import { idependsOf, resolve, ResolveError, type Resolution } from '../src/installers/portage/resolve';
import { compareGentooVersions as compareVersions, isValidGentooVersion as isValidVersion, parseGentooVersion as parseVersion } from '@kiln/config';
import { splitCpv } from '../src/installers/portage/cpv';

const HOST = 'https://binhost.example/amd64/23.0';

/** A Packages index as portage writes it: the header, a blank line, then one block per package. */
function indexText(entries: [cpv: string, fields?: Record<string, string>][]): string {
  const header = `ARCH: amd64\nCHOST: x86_64-pc-linux-gnu\nPACKAGES: ${entries.length}\nTIMESTAMP: 1700000000\nUSE: amd64 elibc_glibc ssl\nVERSION: 0`;
  const blocks = entries.map(([cpv, fields = {}]) =>
    Object.entries({ CPV: cpv, SIZE: '1024', ...fields })
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  );
  return `${[header, ...blocks].join('\n\n')}\n`;
}

/** One package, as matchers see it. */
const bin = (cpv: string, fields: Record<string, string> = {}): BinPackage => parsePackagesIndex(indexText([[cpv, fields]]), HOST, 'test').packages[0];

describe('versions (PMS version comparison)', () => {
  it.each([
    ['1.0', '1.0a', -1],
    ['1.0', '1.0_p1', -1],
    // The letter is compared before the suffixes: 1.0a is newer than any 1.0_pN (portage agrees).
    ['1.0_p1', '1.0a', -1],
    ['1.0_alpha', '1.0_beta', -1],
    ['1.0_beta', '1.0_pre', -1],
    ['1.0_pre', '1.0_rc', -1],
    ['1.0_rc', '1.0', -1],
    ['1.0', '1.0_p', -1],
    ['1.0_rc9', '1.0_rc10', -1],
    ['1.01', '1.1', -1],
    ['1.010', '1.01', 0],
    ['1.001', '1.01', -1],
    ['1.0', '1.00', 0],
    ['1.9', '1.10', -1],
    ['1.0-r1', '1.0', 1],
    ['1.0-r0', '1.0', 0],
    ['1.0-r9', '1.0-r10', -1],
    ['1.0_p1', '1.0-r1', 1],
    ['1.0.0', '1.0', 1],
    ['1.0a', '1.0.0', -1],
    ['12', '9', 1],
    ['0012', '12', 0],
    ['1_alpha1', '1_alpha', 1],
    ['1_alpha0', '1_alpha', 0],
    ['1.0_rc1_p1', '1.0_rc1', 1],
    ['1.0_p1_alpha', '1.0_p1', -1],
    ['2.0z', '2.0b', 1],
    ['20240101123456789012', '20240101123456789011', 1],
  ])('%s vs %s: %i', (a, b, want) => {
    expect(Math.sign(compareVersions(a, b))).toBe(want);
    expect(Math.sign(compareVersions(b, a))).toBe(-want || 0);
  });

  it('sorts a mixed list the PMS way', () => {
    const sorted = ['1.0.0', '1.0_p1', '1.0', '1.0a', '1.0_rc1', '1.0-r1', '1.0_alpha', '1.0_pre2', '1.0_beta', '0.9'].sort(compareVersions);
    expect(sorted).toEqual(['0.9', '1.0_alpha', '1.0_beta', '1.0_pre2', '1.0_rc1', '1.0', '1.0-r1', '1.0_p1', '1.0a', '1.0.0']);
  });

  it('parses the parts of a version', () => {
    expect(parseVersion('1.02b_rc3_p-r4')).toEqual({
      text: '1.02b_rc3_p-r4',
      numbers: ['1', '02'],
      letter: 'b',
      suffixes: [
        { kind: 'rc', number: '3' },
        { kind: 'p', number: '' },
      ],
      revision: '4',
    });
    expect(parseVersion('3')).toEqual({ text: '3', numbers: ['3'], letter: '', suffixes: [], revision: '' });
  });

  it.each(['', '1.', '.1', '1..2', '1.0ab', '1.0A', '1_beta_', '1.0-r', '1.0-r1a', 'a1', '1.0_foo', '1.0-1', 'v1.0', '1.0 '])('rejects the version "%s"', (v) => {
    expect(isValidVersion(v)).toBe(false);
    expect(parseVersion(v)).toBeNull();
  });

  it('refuses to compare an invalid version, naming it', () => {
    expect(() => compareVersions('1.0', '1.x')).toThrow('invalid version "1.x"');
  });

  it('splits CPVs, names with hyphens and digits included', () => {
    expect(splitCpv('x11-libs/gtk+-2.24.33-r3')).toEqual({ category: 'x11-libs', pn: 'gtk+', version: '2.24.33-r3', revision: 3, pf: 'gtk+-2.24.33-r3' });
    expect(splitCpv('dev-libs/foo-bar-utils-1.0')).toMatchObject({ pn: 'foo-bar-utils', version: '1.0', revision: 0 });
    expect(splitCpv('dev-lang/python3-3.12.1_p1')).toMatchObject({ pn: 'python3', version: '3.12.1_p1' });
    expect(splitCpv('dev-libs/foo2-bar-1')).toMatchObject({ pn: 'foo2-bar', version: '1' });
    expect(splitCpv('sys-libs/foo-r1-1.0')).toMatchObject({ pn: 'foo-r1', version: '1.0' });
  });

  it.each([
    // PMS: a name must not end in "-" and something that is a version ("libfoo-2", "foo-1-r1").
    'dev-libs/libfoo-2-1.0-r2',
    'dev-libs/foo-1-r1-2',
    'dev-libs/foo-1a-2',
    'app-misc/foo',
    'foo-1.0',
    'a/b/c-1',
    '-cat/foo-1',
    '.cat/foo-1',
    'cat/+foo-1',
    'cat/-foo-1',
    'cat/foo-r1',
    'cat/foo-1.0-r',
  ])('rejects the CPV "%s"', (cpv) => {
    expect(splitCpv(cpv)).toBeNull();
  });
});

describe('atoms', () => {
  it('parses every part of an atom', () => {
    expect(parseAtom('!!>=dev-libs/foo-1.2-r1:2/2.1=::gentoo[ssl,-debug,gui=,!test=,doc?,!x?,bar(+),-baz(-)]')).toEqual({
      text: '!!>=dev-libs/foo-1.2-r1:2/2.1=::gentoo[ssl,-debug,gui=,!test=,doc?,!x?,bar(+),-baz(-)]',
      blocker: '!!',
      op: '>=',
      wildcard: false,
      category: 'dev-libs',
      pn: 'foo',
      cp: 'dev-libs/foo',
      version: '1.2-r1',
      slot: '2',
      subslot: '2.1',
      slotOp: '=',
      repo: 'gentoo',
      use: [
        { flag: 'ssl', form: '', missing: '' },
        { flag: 'debug', form: '-', missing: '' },
        { flag: 'gui', form: '=', missing: '' },
        { flag: 'test', form: '!=', missing: '' },
        { flag: 'doc', form: '?', missing: '' },
        { flag: 'x', form: '!?', missing: '' },
        { flag: 'bar', form: '', missing: '+' },
        { flag: 'baz', form: '-', missing: '-' },
      ],
    });
    expect(parseAtom('!app-misc/foo-bar')).toMatchObject({ blocker: '!', op: '', cp: 'app-misc/foo-bar', version: '', slot: '', slotOp: '', repo: '', use: [] });
    expect(parseAtom('=app-misc/foo-1.2*')).toMatchObject({ op: '=', wildcard: true, version: '1.2' });
    expect(parseAtom('dev-libs/foo:=')).toMatchObject({ slot: '', slotOp: '=' });
    expect(parseAtom('dev-libs/foo:*')).toMatchObject({ slot: '', slotOp: '*' });
  });

  it.each([
    ['<x/foo-1.2', '1.1', true],
    ['<x/foo-1.2', '1.2', false],
    ['<x/foo-1.2', '1.2_rc1', true],
    ['<=x/foo-1.2', '1.2', true],
    ['<=x/foo-1.2', '1.2-r1', false],
    ['=x/foo-1.2', '1.2', true],
    ['=x/foo-1.2', '1.2-r0', true],
    ['=x/foo-1.2', '1.2-r1', false],
    ['=x/foo-1.2', '1.2.0', false],
    ['~x/foo-1.2', '1.2-r5', true],
    ['~x/foo-1.2', '1.2', true],
    ['~x/foo-1.2', '1.2.1', false],
    ['~x/foo-1.2-r1', '1.2-r7', true],
    ['>=x/foo-1.2', '1.2', true],
    ['>=x/foo-1.2', '1.1.9', false],
    ['>x/foo-1.2', '1.2', false],
    ['>x/foo-1.2', '1.2-r1', true],
    ['>x/foo-1.2', '1.2_p1', true],
    ['>x/foo-1.2', '1.2_rc1', false],
    // =ver*: the given components, on component boundaries (PMS; portage since bug 560466).
    ['=x/foo-1.2*', '1.2', true],
    ['=x/foo-1.2*', '1.2.3', true],
    ['=x/foo-1.2*', '1.2b', true],
    ['=x/foo-1.2*', '1.2_rc1', true],
    ['=x/foo-1.2*', '1.2-r1', true],
    ['=x/foo-1.2*', '1.20', false],
    ['=x/foo-1.2*', '1.3', false],
    ['=x/foo-1.2*', '1.1', false],
    ['=x/foo-1*', '10', false],
    ['=x/foo-1*', '1.5', true],
    ['=x/foo-01*', '1.5', true],
    ['=x/foo-1.2_rc*', '1.2_rc3', true],
    ['=x/foo-1.2_rc*', '1.2', false],
    ['=x/foo-1.2_rc1*', '1.2_rc10', false],
    ['x/foo', '0.1_alpha', true],
    ['x/foo', '99', true],
  ])('%s matches x/foo-%s: %s', (atom, version, want) => {
    expect(atomMatches(parseAtom(atom), bin(`x/foo-${version}`))).toBe(want);
  });

  it('matches only its own category and name', () => {
    const pkg = bin('x/foo-1.0');
    expect(atomMatches(parseAtom('x/foo'), pkg)).toBe(true);
    expect(atomMatches(parseAtom('y/foo'), pkg)).toBe(false);
    expect(atomMatches(parseAtom('x/foobar'), pkg)).toBe(false);
    expect(atomMatches(parseAtom('x/fo'), pkg)).toBe(false);
  });

  it('matches slots, subslots and repositories', () => {
    const pkg = bin('dev-libs/ssl-3.0.1', { SLOT: '0/3', REPO: 'gentoo' });
    expect(['dev-libs/ssl:0', 'dev-libs/ssl:0/3', 'dev-libs/ssl:0/3=', 'dev-libs/ssl:0=', 'dev-libs/ssl:=', 'dev-libs/ssl:*', 'dev-libs/ssl::gentoo', '>=dev-libs/ssl-3:0/3::gentoo'].map((a) => atomMatches(parseAtom(a), pkg))).toEqual(Array(8).fill(true));
    expect(['dev-libs/ssl:1', 'dev-libs/ssl:0/4', 'dev-libs/ssl:0/4=', 'dev-libs/ssl::guru'].map((a) => atomMatches(parseAtom(a), pkg))).toEqual(Array(4).fill(false));
    expect(atomMatches(parseAtom('dev-libs/ssl::gentoo'), bin('dev-libs/ssl-3.0.1'))).toBe(false);
  });

  it('matches USE dependencies against USE and IUSE, with (+)/(-) for flags the package lacks', () => {
    // USE has "amd64", an implicit flag IUSE leaves out.
    const pkg = bin('x/foo-1.0', { IUSE: '+ssl -debug', USE: 'amd64 ssl' });
    const cases: [string, boolean][] = [
      ['x/foo[ssl]', true],
      ['x/foo[-ssl]', false],
      ['x/foo[debug]', false],
      ['x/foo[-debug]', true],
      ['x/foo[ssl,-debug]', true],
      ['x/foo[ssl,debug]', false],
      ['x/foo[gui]', false],
      ['x/foo[-gui]', false],
      ['x/foo[gui(+)]', true],
      ['x/foo[gui(-)]', false],
      ['x/foo[-gui(-)]', true],
      ['x/foo[-gui(+)]', false],
      ['x/foo[debug(+)]', false],
      ['x/foo[amd64]', true],
      // Conditional forms are evaluated when the binary package is built; they restrict nothing here.
      ['x/foo[gui?,!gui=,debug=,!ssl?]', true],
    ];
    expect(cases.map(([a]) => [a, atomMatches(parseAtom(a), pkg)])).toEqual(cases);
  });

  it.each([
    ['', 'it is empty'],
    ['foo', 'expected category/name'],
    ['dev-libs/foo-1.0', '"dev-libs/foo-1.0" has a version but no operator; write =dev-libs/foo-1.0'],
    ['>=dev-libs/foo', '"dev-libs/foo" is no category/name-version (operator ">=" needs a version, e.g. >=app-misc/hello-2.12)'],
    ['=dev-libs/libfoo-2-1.0', '"dev-libs/libfoo-2-1.0" is no category/name-version'],
    ['dev-libs/foo-1.0*', 'a "*" version prefix only goes with "="'],
    ['>=dev-libs/foo-1.0*', 'a "*" version prefix only goes with "="'],
    ['dev-libs/foo:', '":" is none of :slot'],
    ['dev-libs/foo:2*', '":2*" is none of :slot'],
    ['dev-libs/foo:2/', '":2/" is none of :slot'],
    ['dev-libs/foo::', '"::" is no repository name'],
    ['dev-libs/foo[ssl', 'USE dependencies are one "[...]" at the end'],
    ['dev-libs/foo[ssl]x', 'USE dependencies are one "[...]" at the end'],
    ['dev-libs/foo[]', '"[]" holds no USE dependency'],
    ['dev-libs/foo[!ssl]', 'USE dependency "!ssl" is none of'],
    ['dev-libs/foo[-ssl=]', 'USE dependency "-ssl=" is none of'],
    ['dev-libs/foo[ssl,]', 'USE dependency "" is none of'],
    ['+cat/foo', '"+cat" is no category name'],
    ['cat/+foo', '"+foo" is no package name'],
    ['cat/foo-2-r1', '"cat/foo-2-r1" has a version but no operator'],
  ])('rejects the atom "%s"', (s, why) => {
    expect(() => parseAtom(s)).toThrow(`invalid atom "${s}": ${why}`);
  });
});

describe('dependency strings', () => {
  const deps = 'a/b  || ( c/d ( e/f >=g/h-2 ) )\n\tssl? ( i/j !k/l ) !ssl? ( m/n )';

  it('parses atoms, || and all-of groups and USE conditionals', () => {
    const nodes = parseDeps(deps);
    expect(nodes.map((n) => n.kind)).toEqual(['atom', 'any', 'use', 'use']);
    expect(nodes[1]).toMatchObject({ kind: 'any', children: [{ kind: 'atom', atom: { cp: 'c/d' } }, { kind: 'all', children: [{ kind: 'atom' }, { kind: 'atom', atom: { op: '>=' } }] }] });
    expect(nodes[3]).toMatchObject({ kind: 'use', flag: 'ssl', negated: true });
    expect(nodes.map(depToString).join(' ')).toBe('a/b || ( c/d ( e/f >=g/h-2 ) ) ssl? ( i/j !k/l ) !ssl? ( m/n )');
    expect(parseDeps('  \n ')).toEqual([]);
  });

  it('evaluates USE conditionals against a USE set', () => {
    expect(reduceDeps(parseDeps(deps), new Set(['ssl'])).map(depToString)).toEqual(['a/b', '|| ( c/d ( e/f >=g/h-2 ) )', 'i/j', '!k/l']);
    expect(reduceDeps(parseDeps(deps), new Set()).map(depToString)).toEqual(['a/b', '|| ( c/d ( e/f >=g/h-2 ) )', 'm/n']);
    expect(reduceDeps(parseDeps('|| ( ssl? ( a/b ) )'), new Set())).toEqual([{ kind: 'any', children: [] }]);
  });

  it.each([
    ['a/b )', '")" (word 2) closes no group'],
    ['|| ( a/b', '"|| (" has no closing ")"'],
    ['a/b ( c/d', '"(" has no closing ")"'],
    ['ssl? ( a/b ( c/d )', '"ssl? (" has no closing ")"'],
    ['|| a/b', '"||" (word 1) must be followed by "("'],
    ['x/y ssl? a/b', '"ssl?" (word 2) must be followed by "("'],
  ])('rejects "%s"', (s, why) => {
    expect(() => parseDeps(s)).toThrow(`invalid dependency string "${s}": ${why}`);
  });

  it('rejects a bad atom inside, naming it', () => {
    expect(() => parseDeps('a/b || ( c/d-1 )')).toThrow('invalid atom "c/d-1"');
  });
});

describe('Packages index', () => {
  const text = [
    'ARCH: amd64',
    'CHOST: x86_64-pc-linux-gnu',
    'PACKAGES: 3',
    'PROFILE: default/linux/amd64/23.0',
    'REPO: gentoo',
    'TIMESTAMP: 1700000000',
    'USE: amd64 elibc_glibc ssl',
    'VERSION: 0',
    '',
    'BUILD_ID: 1',
    'BUILD_TIME: 1699999000',
    'CPV: app-misc/hello-2.12-r1',
    'DEFINED_PHASES: compile install',
    'EAPI: 8',
    'IUSE: +nls -debug',
    'MD5: 0123456789abcdef0123456789abcdef',
    'MTIME: 1699999500',
    'PATH: app-misc/hello/hello-2.12-r1-1.gpkg.tar',
    'RDEPEND: sys-libs/glibc   nls? (  virtual/libintl )',
    'SHA1: 0123456789abcdef0123456789abcdef01234567',
    'SIZE: 123456',
    'SLOT: 0',
    'USE: amd64 nls',
    'BLAKE2B: b2',
    'SHA512: s512',
    'X_CUSTOM: kept',
    '',
    'BUILD_ID: 2',
    'CPV: app-misc/hello-2.12-r1',
    'PATH: app-misc/hello/hello-2.12-r1-2.gpkg.tar',
    'SIZE: 120000',
    'USE: amd64',
    '',
    '',
    'CPV: dev-lang/python-3.12.4',
    'SIZE: 30000000',
    'SLOT: 3.12/3.12t',
    'REPO: guru',
    'CHOST: aarch64-unknown-linux-gnu',
    'SHA256: s256',
    '',
  ].join('\n');

  it('reads the header and every block', () => {
    const { header, packages } = parsePackagesIndex(text, `${HOST}/`, 'Packages');
    expect(header).toEqual({ ARCH: 'amd64', CHOST: 'x86_64-pc-linux-gnu', PACKAGES: '3', PROFILE: 'default/linux/amd64/23.0', REPO: 'gentoo', TIMESTAMP: '1700000000', USE: 'amd64 elibc_glibc ssl', VERSION: '0' });
    expect(packages.map((p) => [p.cpv, p.buildId])).toEqual([
      ['app-misc/hello-2.12-r1', 1],
      ['app-misc/hello-2.12-r1', 2],
      ['dev-lang/python-3.12.4', null],
    ]);
    expect(packages[0]).toMatchObject({
      category: 'app-misc',
      pn: 'hello',
      pf: 'hello-2.12-r1',
      version: '2.12-r1',
      slot: '0',
      subslot: '0',
      iuse: ['nls', 'debug'],
      eapi: '8',
      repo: 'gentoo',
      size: 123456,
      md5: '0123456789abcdef0123456789abcdef',
      sha1: '0123456789abcdef0123456789abcdef01234567',
      blake2b: 'b2',
      sha512: 's512',
      buildTime: 1699999000,
      mtime: 1699999500,
      binhost: HOST,
      path: 'app-misc/hello/hello-2.12-r1-1.gpkg.tar',
      url: `${HOST}/app-misc/hello/hello-2.12-r1-1.gpkg.tar`,
      pdepend: '',
      idepend: '',
      depend: '',
      bdepend: '',
    });
    expect([...packages[0].use]).toEqual(['amd64', 'nls']);
    expect(packages[0].raw.X_CUSTOM).toBe('kept');
    expect(packages[0].raw.DEFINED_PHASES).toBe('compile install');
  });

  it('collapses whitespace in values', () => {
    const [hello] = parsePackagesIndex(text, HOST, 'Packages').packages;
    expect(hello.rdepend).toBe('sys-libs/glibc nls? ( virtual/libintl )');
  });

  it('applies the defaults portage applies, and inherits only CHOST and REPO from the header', () => {
    const [, second, python] = parsePackagesIndex(text, HOST, 'Packages').packages;
    // Neither the header's USE nor anything else of the first instance leaks into the second.
    expect([...second.use]).toEqual(['amd64']);
    expect(second).toMatchObject({ eapi: '0', slot: '0', subslot: '0', iuse: [], rdepend: '', buildTime: null, mtime: null, repo: 'gentoo' });
    expect(second.md5).toBeUndefined();
    expect(second.raw).toMatchObject({ CHOST: 'x86_64-pc-linux-gnu', REPO: 'gentoo' });
    expect(second.raw.USE).toBe('amd64');
    expect(python).toMatchObject({ slot: '3.12', subslot: '3.12t', repo: 'guru', sha256: 's256', buildId: null });
    expect(python.use.size).toBe(0);
    expect(python.raw.CHOST).toBe('aarch64-unknown-linux-gnu');
    // No PATH: the file is <CPV>.tbz2, the layout before PATH existed.
    expect(python.path).toBe('dev-lang/python-3.12.4.tbz2');
    expect(python.url).toBe(`${HOST}/dev-lang/python-3.12.4.tbz2`);
  });

  it("fetches from the header's URI when it has one", () => {
    const [p] = parsePackagesIndex('URI: https://mirror.example/pkgs/\nVERSION: 0\n\nCPV: a/b-1\nSIZE: 1\nPATH: /a/b-1.tbz2\n', HOST, 'Packages').packages;
    expect(p.binhost).toBe(HOST);
    expect(p.url).toBe('https://mirror.example/pkgs/a/b-1.tbz2');
  });

  it('reads entries without a header when the text starts with a blank line (entries made from installed packages)', () => {
    const { header, packages } = parsePackagesIndex('\n\nCPV: a/b-1\nSLOT: 2\n\r\nCPV: a/c-1\r\n', 'file:///base', 'vdb');
    expect(header).toEqual({});
    expect(packages.map((p) => [p.cpv, p.slot, p.size])).toEqual([
      ['a/b-1', '2', 0],
      ['a/c-1', '0', 0],
    ]);
  });

  it('reads a header-only index', () => {
    expect(parsePackagesIndex('VERSION: 0\nTIMESTAMP: 1\n', HOST, 'Packages').packages).toEqual([]);
  });

  it.each([
    ['VERSION: 0\n\nCPV: a/b-1\nSIZE: 1\ngarbage here\n', 'Packages:5: malformed line "garbage here"; expected "KEY: value" lines in blocks separated by blank lines'],
    ['VERSION: 0\n\nSIZE: 1\nPATH: x\n\n', 'Packages:3: package entry without CPV; every block after the header needs a "CPV: category/name-version" line'],
    ['VERSION: 0\n\nCPV: a/b-1\nSIZE: 1\n\nCPV: a/c-1\nSIZE: 12k\n', 'Packages:7: SIZE "12k" is not a number; expected the size of the package file in bytes'],
    ['VERSION: 0\n\nCPV: a/b-1\nBUILD_ID: x1\n', 'Packages:4: BUILD_ID "x1" is not a number'],
    ['VERSION: 0\n\nSIZE: 1\nCPV: a/libfoo-2-1.0\n', 'Packages:4: invalid CPV "a/libfoo-2-1.0"; expected category/name-version[-rN], e.g. app-misc/hello-2.12-r1'],
    ['VERSION: 0\n\nCPV: a/b-1\nSLOT: /x\n', 'Packages:4: invalid SLOT "/x" of a/b-1; expected slot or slot/subslot'],
    ['TIMESTAMP: 1\nVERSION: 1\n\nCPV: a/b-1\n', 'Packages:2: index VERSION "1" is not supported; expected 0, as portage writes'],
    ['CPV: a/b-1\nSIZE: 1\n', 'Packages:1: the first block is the index header, but it has a CPV'],
  ])('rejects a bad index with the line number: %#', (bad, message) => {
    expect(() => parsePackagesIndex(bad, HOST, 'Packages')).toThrow(message);
  });
});

/** The test binhost: everything the resolver tests choose from. */
const BINHOST = indexText([
  ['app-misc/hello-1.0', { RDEPEND: 'dev-libs/libgreet sys-libs/fakelibc' }],
  ['app-misc/hello-2.0', { RDEPEND: '>=dev-libs/libgreet-2 sys-libs/fakelibc' }],
  ['dev-libs/libgreet-1.0', { RDEPEND: 'sys-libs/fakelibc' }],
  ['dev-libs/libgreet-2.0', { RDEPEND: '>=sys-libs/fakelibc-2' }],
  ['sys-libs/fakelibc-1'],
  ['sys-libs/fakelibc-2'],
  ['app-misc/needsnew-1', { RDEPEND: 'app-misc/hello >=dev-libs/libgreet-3' }],
  ['app-misc/needsghost-1', { RDEPEND: 'dev-libs/ghost' }],
  ['app-alt/user-1', { RDEPEND: '|| ( app-alt/one app-alt/two )' }],
  ['app-alt/one-1'],
  ['app-alt/two-1'],
  ['app-alt/fragile-1', { RDEPEND: '|| ( app-alt/broken app-alt/two )' }],
  ['app-alt/broken-1', { RDEPEND: 'sys-libs/fakelibc dev-libs/ghost' }],
  ['app-alt/hopeless-1', { RDEPEND: '|| ( app-alt/none1 >=app-alt/one-2 )' }],
  ['app-x/a-1', { RDEPEND: '!app-x/b' }],
  ['app-x/b-1'],
  ['app-x/self-1', { RDEPEND: '!app-x/self' }],
  ['app-x/strong-1', { RDEPEND: '!!sys-libs/fakelibc' }],
  ['dev-libs/lib-1.0', { BUILD_ID: '1', IUSE: 'foo', USE: 'foo', PATH: 'dev-libs/lib/lib-1.0-1.gpkg.tar' }],
  ['dev-libs/lib-1.0', { BUILD_ID: '2', IUSE: 'foo', USE: '', PATH: 'dev-libs/lib/lib-1.0-2.gpkg.tar' }],
  ['app-u/plain-1', { RDEPEND: 'dev-libs/lib' }],
  ['app-u/wantsfoo-1', { RDEPEND: 'dev-libs/lib[foo]' }],
  ['app-u/wantsbar-1', { RDEPEND: 'dev-libs/lib[bar]' }],
  ['app-u/wantsnofoo-1', { RDEPEND: 'dev-libs/lib[-foo]' }],
  ['dev-lang/py-3.11.9', { SLOT: '3.11' }],
  ['dev-lang/py-3.12.4', { SLOT: '3.12' }],
  ['app-py/old-1', { RDEPEND: 'dev-lang/py:3.11' }],
  ['dev-libs/ssl-3.0', { SLOT: '0/3' }],
  ['dev-libs/ssl-4.0', { SLOT: '0/4' }],
  ['net-misc/curl-1', { RDEPEND: 'dev-libs/ssl:0/3=' }],
  ['app-c/cyc1-1', { RDEPEND: 'app-c/cyc2' }],
  ['app-c/cyc2-1', { RDEPEND: 'app-c/cyc1' }],
  ['app-p/main-1', { PDEPEND: 'app-p/plugin' }],
  ['app-p/plugin-1', { RDEPEND: 'app-p/main sys-libs/fakelibc' }],
  ['app-s/withssl-1', { IUSE: 'ssl', USE: 'ssl', RDEPEND: 'ssl? ( dev-libs/ssl ) !ssl? ( app-x/b )' }],
  ['app-s/nossl-1', { IUSE: 'ssl', USE: '', RDEPEND: 'ssl? ( dev-libs/ssl ) !ssl? ( app-x/b )' }],
  ['app-misc/tools-1', { IUSE: 'ssl', USE: 'ssl', IDEPEND: 'sys-apps/sandbox ssl? ( dev-libs/x ) || ( a/b c/d )', RDEPEND: 'sys-libs/fakelibc' }],
  ['app-misc/badrdep-1', { RDEPEND: 'sys-libs/fakelibc )' }],
]);
const available = parsePackagesIndex(BINHOST, HOST, `${HOST}/Packages`).packages;

/** Installed packages, as the vdb reader hands them over: entries without a header. */
const installedOf = (entries: [string, Record<string, string>?][]) => parsePackagesIndex(`\n${indexText(entries).split('\n\n').slice(1).join('\n\n')}`, 'file:///base', 'vdb').packages;

const names = (r: Resolution) => r.install.map((p) => (p.buildId === null ? p.cpv : `${p.cpv}#${p.buildId}`));
const run = (atoms: string[], installed: BinPackage[] = []) => names(resolve({ atoms, available, installed }));
const failure = (atoms: string[], installed: BinPackage[] = []): string => {
  try {
    resolve({ atoms, available, installed });
  } catch (e) {
    expect(e).toBeInstanceOf(ResolveError);
    return (e as Error).message;
  }
  throw new Error(`resolving ${atoms.join(' ')} did not fail`);
};

describe('resolver', () => {
  it('installs the newest versions and what they need transitively, dependencies first', () => {
    const r = resolve({ atoms: ['app-misc/hello'], available });
    expect(names(r)).toEqual(['sys-libs/fakelibc-2', 'dev-libs/libgreet-2.0', 'app-misc/hello-2.0']);
    expect(r.world).toEqual(['app-misc/hello']);
  });

  it('honours version-restricted requests and takes the newest fitting dependency', () => {
    expect(run(['<app-misc/hello-2'])).toEqual(['sys-libs/fakelibc-2', 'dev-libs/libgreet-2.0', 'app-misc/hello-1.0']);
    expect(run(['=app-misc/hello-1.0', '<sys-libs/fakelibc-2', '=dev-libs/libgreet-1*'])).toEqual(['sys-libs/fakelibc-1', 'dev-libs/libgreet-1.0', 'app-misc/hello-1.0']);
  });

  it('lists the world atoms by cat/pn, sorted and once', () => {
    expect(resolve({ atoms: ['>=sys-libs/fakelibc-1', 'app-misc/hello:0', '=app-misc/hello-2.0'], available }).world).toEqual(['app-misc/hello', 'sys-libs/fakelibc']);
  });

  it('follows PDEPEND, installing it after the package, which breaks the cycle', () => {
    expect(run(['app-p/main'])).toEqual(['app-p/main-1', 'sys-libs/fakelibc-2', 'app-p/plugin-1']);
  });

  it('breaks an RDEPEND cycle deterministically', () => {
    expect(run(['app-c/cyc1'])).toEqual(['app-c/cyc2-1', 'app-c/cyc1-1']);
    expect(run(['app-c/cyc2'])).toEqual(['app-c/cyc1-1', 'app-c/cyc2-1']);
  });

  it('evaluates USE conditionals of the dependencies against the package USE', () => {
    expect(run(['app-s/withssl'])).toEqual(['dev-libs/ssl-4.0', 'app-s/withssl-1']);
    expect(run(['app-s/nossl'])).toEqual(['app-x/b-1', 'app-s/nossl-1']);
  });

  it('takes the first || alternative, or one that is already chosen or installed', () => {
    expect(run(['app-alt/user'])).toEqual(['app-alt/one-1', 'app-alt/user-1']);
    expect(run(['app-alt/user', 'app-alt/two'])).toEqual(['app-alt/two-1', 'app-alt/user-1']);
    expect(run(['app-alt/user'], installedOf([['app-alt/two-1']]))).toEqual(['app-alt/user-1']);
  });

  it('falls back to the next || alternative, leaving nothing of the failed one', () => {
    // app-alt/broken needs fakelibc (fine) and dev-libs/ghost (missing): fakelibc must not stay.
    expect(run(['app-alt/fragile'])).toEqual(['app-alt/two-1', 'app-alt/fragile-1']);
  });

  it('says why no || alternative can be installed, with the chain', () => {
    const message = failure(['app-alt/hopeless']);
    expect(message).toBe(
      [
        'cannot satisfy app-alt/hopeless-1 -> || ( app-alt/none1 >=app-alt/one-2 ): no alternative can be installed:',
        '  - cannot satisfy app-alt/hopeless-1 -> || ( app-alt/none1 >=app-alt/one-2 ) -> app-alt/none1: the binhosts have no app-alt/none1',
        '  - cannot satisfy app-alt/hopeless-1 -> || ( app-alt/none1 >=app-alt/one-2 ) -> >=app-alt/one-2: there are only app-alt/one-1:0',
      ].join('\n'),
    );
  });

  it('names the atom, the chain and what exists when a dependency cannot be satisfied', () => {
    expect(failure(['app-misc/needsghost'])).toBe('cannot satisfy app-misc/needsghost-1 -> dev-libs/ghost: the binhosts have no dev-libs/ghost');
    expect(failure(['app-misc/needsnew'])).toBe('cannot satisfy app-misc/needsnew-1 -> >=dev-libs/libgreet-3: there are only dev-libs/libgreet-1.0:0, dev-libs/libgreet-2.0:0');
    expect(failure(['app-misc/nope'])).toBe('cannot satisfy "app-misc/nope" (requested): the binhosts have no app-misc/nope');
    expect(failure(['>=app-misc/hello-3'])).toBe('cannot satisfy ">=app-misc/hello-3" (requested): there are only app-misc/hello-1.0:0, app-misc/hello-2.0:0');
  });

  it('rejects a blocked package, naming both', () => {
    expect(failure(['app-x/a', 'app-x/b'])).toBe('app-x/a-1 blocks app-x/b-1 ("!app-x/b" in its dependencies), they cannot both be installed: app-x/a-1 is needed for "app-x/a" (requested); app-x/b-1 is needed for "app-x/b" (requested)');
    // Whichever comes first, and when the blocked one is pulled in as a dependency.
    expect(failure(['app-x/b', 'app-x/a'])).toContain('app-x/a-1 blocks app-x/b-1');
    expect(failure(['app-x/strong', 'app-misc/hello'])).toContain('app-x/strong-1 blocks sys-libs/fakelibc-2 ("!!sys-libs/fakelibc" in its dependencies)');
    expect(failure(['app-s/nossl', 'app-x/a'])).toContain('app-x/a-1 blocks app-x/b-1');
  });

  it('checks blockers against installed packages, both ways', () => {
    expect(failure(['app-x/a'], installedOf([['app-x/b-1']]))).toContain('app-x/a-1 blocks app-x/b-1 ("!app-x/b" in its dependencies), they cannot both be installed: app-x/a-1 is needed for "app-x/a" (requested); app-x/b-1 is installed');
    expect(failure(['app-x/b'], installedOf([['app-x/a-1', { RDEPEND: '!app-x/b' }]]))).toContain('app-x/a-1 blocks app-x/b-1');
  });

  it('lets a package block its own name without blocking itself', () => {
    expect(run(['app-x/self'])).toEqual(['app-x/self-1']);
  });

  it('picks the build of a CPV by USE dependency, else the highest BUILD_ID', () => {
    expect(run(['dev-libs/lib'])).toEqual(['dev-libs/lib-1.0#2']);
    expect(run(['dev-libs/lib[foo]'])).toEqual(['dev-libs/lib-1.0#1']);
    expect(run(['app-u/wantsfoo'])).toEqual(['dev-libs/lib-1.0#1', 'app-u/wantsfoo-1']);
    expect(resolve({ atoms: ['dev-libs/lib[foo]'], available }).install[0].url).toBe(`${HOST}/dev-libs/lib/lib-1.0-1.gpkg.tar`);
  });

  it('picks one build for a slot that several atoms want, whichever comes first', () => {
    expect(run(['app-u/plain', 'app-u/wantsfoo'])).toEqual(['dev-libs/lib-1.0#1', 'app-u/plain-1', 'app-u/wantsfoo-1']);
    expect(run(['app-u/wantsfoo', 'app-u/plain'])).toEqual(['dev-libs/lib-1.0#1', 'app-u/wantsfoo-1', 'app-u/plain-1']);
  });

  it('says which builds exist with which USE when a USE dependency cannot be met', () => {
    expect(failure(['app-u/wantsbar'])).toBe('cannot satisfy app-u/wantsbar-1 -> dev-libs/lib[bar]: dev-libs/lib exists only with other USE flags: dev-libs/lib-1.0 (build 1) with USE="foo", dev-libs/lib-1.0 (build 2) with USE=""');
  });

  it('reports two atoms that need different builds of one slot', () => {
    expect(failure(['app-u/wantsfoo', 'app-u/wantsnofoo'])).toBe(
      'cannot satisfy app-u/wantsnofoo-1 -> dev-libs/lib[-foo]: slot dev-libs/lib:0 already has dev-libs/lib-1.0 (build 1), chosen for app-u/wantsfoo-1 -> dev-libs/lib[foo], and no build in the binhosts satisfies both (one package per slot)',
    );
    expect(failure(['=sys-libs/fakelibc-1', '=sys-libs/fakelibc-2'])).toContain('slot sys-libs/fakelibc:0 already has sys-libs/fakelibc-1, chosen for "=sys-libs/fakelibc-1" (requested)');
  });

  it('installs one package per slot, several slots side by side', () => {
    expect(run(['dev-lang/py'])).toEqual(['dev-lang/py-3.12.4']);
    expect(run(['dev-lang/py', 'app-py/old'])).toEqual(['dev-lang/py-3.12.4', 'dev-lang/py-3.11.9', 'app-py/old-1']);
    // As emerge does: "dev-lang/py" alone means the newest, whatever else needs an older slot.
    expect(run(['app-py/old', 'dev-lang/py'])).toEqual(['dev-lang/py-3.11.9', 'app-py/old-1', 'dev-lang/py-3.12.4']);
    expect(run(['dev-lang/py:3.12', 'app-py/old', 'dev-lang/py:3.11'])).toEqual(['dev-lang/py-3.12.4', 'dev-lang/py-3.11.9', 'app-py/old-1']);
  });

  it('honours a subslot, choosing the older build for the slot when a dependency needs it', () => {
    expect(run(['dev-libs/ssl'])).toEqual(['dev-libs/ssl-4.0']);
    expect(run(['net-misc/curl'])).toEqual(['dev-libs/ssl-3.0', 'net-misc/curl-1']);
    expect(run(['dev-libs/ssl', 'net-misc/curl'])).toEqual(['dev-libs/ssl-3.0', 'net-misc/curl-1']);
  });

  it('lets installed packages satisfy dependencies without reinstalling them', () => {
    const base = installedOf([['sys-libs/fakelibc-2'], ['dev-libs/libgreet-2.0', { RDEPEND: '>=sys-libs/fakelibc-2' }]]);
    expect(run(['app-misc/hello'], base)).toEqual(['app-misc/hello-2.0']);
    expect(run(['sys-libs/fakelibc'], base)).toEqual([]);
    expect(resolve({ atoms: ['sys-libs/fakelibc'], available, installed: base }).world).toEqual(['sys-libs/fakelibc']);
    // Older installed versions that fit are kept, though the binhosts have newer ones.
    expect(run(['<app-misc/hello-2'], installedOf([['sys-libs/fakelibc-1'], ['dev-libs/libgreet-1.0']]))).toEqual(['app-misc/hello-1.0']);
  });

  it('does not replace an installed package, and says so', () => {
    expect(failure(['app-misc/hello'], installedOf([['sys-libs/fakelibc-1']]))).toBe(
      'cannot satisfy app-misc/hello-2.0 -> dev-libs/libgreet-2.0 -> >=sys-libs/fakelibc-2: sys-libs/fakelibc-1 is installed in slot sys-libs/fakelibc:0 and does not match; the binhosts have sys-libs/fakelibc-2, but installed packages are not replaced: add it to the base tree\'s packages',
    );
  });

  it('is deterministic, and prefers the earlier binhost for the same build', () => {
    const mirror = parsePackagesIndex(BINHOST, 'https://second.example', 'second').packages;
    const twice = [...available, ...mirror];
    const first = resolve({ atoms: ['app-misc/hello', 'app-alt/user', 'app-p/main', 'app-u/plain', 'app-u/wantsfoo'], available: twice });
    const again = resolve({ atoms: ['app-misc/hello', 'app-alt/user', 'app-p/main', 'app-u/plain', 'app-u/wantsfoo'], available: twice });
    expect(names(again)).toEqual(names(first));
    expect(new Set(first.install.map((p) => p.binhost))).toEqual(new Set([HOST]));
    expect(resolve({ atoms: ['app-misc/hello'], available: [...mirror, ...available] }).install.map((p) => p.binhost)).toEqual(Array(3).fill('https://second.example'));
  });

  it('rejects blockers and invalid atoms as requests', () => {
    expect(failure(['!app-x/b'])).toBe('"!app-x/b" is a blocker: ask for packages to install, blockers only make sense in dependencies');
    expect(failure(['app-misc/hello-2.0'])).toContain('invalid atom "app-misc/hello-2.0": "app-misc/hello-2.0" has a version but no operator');
  });

  it('names the package whose dependencies do not parse', () => {
    expect(failure(['app-misc/badrdep'])).toBe(`app-misc/badrdep-1 from ${HOST}: RDEPEND: invalid dependency string "sys-libs/fakelibc )": ")" (word 2) closes no group`);
  });

  it('reports IDEPEND (with USE evaluated) instead of installing it', () => {
    const tools = resolve({ atoms: ['app-misc/tools'], available }).install;
    expect(names({ install: tools, world: [] })).toEqual(['sys-libs/fakelibc-2', 'app-misc/tools-1']);
    expect(idependsOf(tools)).toEqual(['sys-apps/sandbox', 'dev-libs/x', '|| ( a/b c/d )']);
  });
});
