import * as os from 'node:os';
import { ValueError } from '../src/errors';
import {
  boolean,
  choice,
  commaHint,
  environment,
  imagePathList,
  packageList,
  pathList,
  quotedList,
  feature,
  integer,
  ParseContext,
  parseBoolean,
  parseSize,
  parseTree,
  spaceList,
  splitList,
  splitQuoted,
  stringList,
  packageOrder,
  expandVars,
  resolvePath,
} from '../src/values';

const ctx: ParseContext = { dir: '/proj', env: { HOME_VAR: 'from-host' }, expand: (t) => t };

describe('booleans (mkosi parse_boolean)', () => {
  it.each(['1', 'true', 'yes', 'y', 't', 'on', 'always', 'YES', 'True'])('"%s" is true', (w) => {
    expect(parseBoolean(w)).toBe(true);
  });
  it.each(['0', 'false', 'no', 'n', 'f', 'off', 'never', 'No'])('"%s" is false', (w) => {
    expect(parseBoolean(w)).toBe(false);
  });
  it('refuses anything else and lists what is accepted', () => {
    expect(() => parseBoolean('maybe')).toThrow(/"maybe" is not a boolean \(accepted: 1 true yes y t on always \/ 0 false no n f off never\)/);
  });
  it('the boolean kind shows yes/no', () => {
    expect(boolean().show(true, { root: '/' })).toBe('yes');
  });
});

describe('sizes (mkosi parse_bytes)', () => {
  it.each([
    ['1', 4096],
    ['4096', 4096],
    ['4097', 8192],
    ['8000', 8192],
    ['1K', 4096],
    ['512M', 512 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['1.9M', 1994752],
    ['7.3G', 7838318592],
  ])('%s is %d bytes (1024-based, rounded up to 4096)', (raw, bytes) => {
    expect(parseSize(raw as string)).toBe(bytes);
  });
  it('refuses a size it cannot read', () => {
    expect(() => parseSize('lots')).toThrow(ValueError);
    expect(() => parseSize('12X')).toThrow(/accepted: a number with an optional K, M, G or T suffix/);
  });
});

describe('lists split as mkosi 26 splits them (config_make_list_parser)', () => {
  it('comma lists split on commas and newlines only: a space stays inside its item', () => {
    expect(splitList('a,b c\nd\te,,f')).toEqual(['a', 'b c', 'd\te', 'f']);
    expect(stringList().parse('vim less', ctx)).toEqual(['vim less']);
  });
  it('comma items lose the spaces around them (mkosi keeps " b", which nothing holds)', () => {
    expect(splitList('a, b ,c')).toEqual(['a', 'b', 'c']);
  });
  it('space lists split on spaces and newlines, not tabs, and keep commas and quotes (KernelCommandLine=, PassEnvironment=, Drives=)', () => {
    expect(splitList('console=ttyS0,115200  quiet\nro', ' ')).toEqual(['console=ttyS0,115200', 'quiet', 'ro']);
    expect(spaceList().parse('a\tb "c d"', ctx)).toEqual(['a\tb', '"c', 'd"']);
  });
  it('quoted space lists split as shlex: quotes and backslashes keep spaces in an item (QemuArgs=, UnitProperties=, Environment=)', () => {
    expect(splitList('-device "virtio-net,a b" x\\ y\n\'z w\'', ' ', true)).toEqual(['-device', 'virtio-net,a b', 'x y', 'z w']);
    expect(quotedList().parse('A=1 "B=two words"', ctx)).toEqual(['A=1', 'B=two words']);
    // As mkosi's shlex.shlex(posix=True): in "..." a backslash escapes only " and \\.
    expect(splitList('"a\\$b" "c\\"d" "e\\\\f"', ' ', true)).toEqual(['a\\$b', 'c"d', 'e\\f']);
  });
  it('each kind says its delimiter, the fact the settings table is checked against', () => {
    expect([stringList().delimiter, spaceList().delimiter, quotedList().delimiter, environment().delimiter]).toEqual([',', ' ', ' ', ' ']);
    expect([stringList().quoted, spaceList().quoted, quotedList().quoted, environment().quoted]).toEqual([false, false, true, true]);
  });
  it('Packages= are kept sorted: names, then paths, then conditionals', () => {
    const kind = stringList({ sort: packageOrder });
    const v = kind.merge!(kind.parse('zsh,/pkgs/x.deb\n(cond),bash', ctx), kind.parse('apt', ctx));
    expect(v).toEqual(['apt', 'bash', 'zsh', '/pkgs/x.deb', '(cond)']);
  });
});

describe('list items holding a space their kind cannot hold', () => {
  it('a package name with a space is kept whole and marked, to be refused at build; an rpm rich dependency is not', () => {
    const k = packageList();
    expect(k.parse('vim less', ctx)).toEqual(['vim less']);
    expect(k.spaced).toMatchObject({ build: 'refuse' });
    expect([k.spaced!.test('vim less'), k.spaced!.test('vim'), k.spaced!.test('(foo if bar)')]).toEqual([true, false, false]);
  });
  it("each word of such an item must still be a valid item (an option is refused at read)", () => {
    expect(() => packageList().parse('-oAPT::Get::Simulate=true hello', ctx)).toThrow(/"-oAPT::Get::Simulate=true" starts with "-"/);
    expect(() => stringList({ words: 'refuse', pattern: /^[a-z]+$/, hint: 'lower-case words' }).parse('ok NO', ctx)).toThrow('"NO" is not valid (accepted: lower-case words)');
  });
  it('image paths (RemoveFiles=) warn but are not refused at build: a file name may hold a space', () => {
    expect(imagePathList().spaced).toMatchObject({ build: 'allow' });
  });
  it('a path with a space is suspect only when it does not exist', () => {
    const k = pathList();
    expect([k.spaced!.test(`${os.tmpdir()}/no such dir`), k.spaced!.test(os.tmpdir())]).toEqual([true, false]);
    expect(pathList({ required: true }).spaced).toBeUndefined();
  });
  it('the fix is said in the syntax the item was written in', () => {
    expect(commaHint('Packages', 'vim  less', false)).toBe('mkosi 26 separates list items with commas or newlines, not spaces: write Packages=vim,less');
    expect(commaHint('Packages', 'vim less', true)).toBe('in kiln.toml each item is a string of its own: write Packages = ["vim", "less"]');
  });
});

describe('choices, features and integers', () => {
  it('a choice accepts its values and aliases, and lists them when wrong', () => {
    const k = choice(['tar', 'cpio'] as const, { tarball: 'tar' });
    expect(k.parse('cpio', ctx)).toBe('cpio');
    expect(k.parse('tarball', ctx)).toBe('tar');
    expect(() => k.parse('zip', ctx)).toThrow('"zip" is not a valid value (accepted: tar, cpio)');
  });
  it("features take mkosi's enabled, disabled and auto, and any boolean word", () => {
    const k = feature();
    expect([k.parse('auto', ctx), k.parse('yes', ctx), k.parse('off', ctx)]).toEqual(['auto', 'enabled', 'disabled']);
    expect([k.parse('enabled', ctx), k.parse('disabled', ctx)]).toEqual(['enabled', 'disabled']);
    for (const w of ['1', 'true', 'yes', 'y', 't', 'on', 'always', 'TRUE']) expect(k.parse(w, ctx)).toBe('enabled');
    for (const w of ['0', 'false', 'no', 'n', 'f', 'off', 'never']) expect(k.parse(w, ctx)).toBe('disabled');
    expect(() => k.parse('sometimes', ctx)).toThrow(/accepted: enabled, disabled, auto, or a boolean/);
    expect(k.toml.safeParse('enabled').success).toBe(true);
  });
  it('integers are checked against their range', () => {
    const k = integer({ min: 0, max: 22 });
    expect(k.parse('19', ctx)).toBe(19);
    expect(() => k.parse('23', ctx)).toThrow('"23" is not valid (accepted: an integer from 0 to 22)');
    expect(() => k.parse('3.5', ctx)).toThrow(ValueError);
  });
});

describe('trees (SOURCE[:TARGET])', () => {
  it('resolve the source against the config directory and keep an absolute target', () => {
    expect(parseTree('mkosi.extra', ctx)).toEqual({ source: '/proj/mkosi.extra', target: null });
    expect(parseTree('files:/usr/share/x', ctx)).toEqual({ source: '/proj/files', target: '/usr/share/x' });
  });
  it('split at the first colon, as mkosi does', () => {
    expect(parseTree('a:/b:c', ctx)).toEqual({ source: '/proj/a', target: '/b:c' });
  });
  it('refuse a relative target and a target escaping the image', () => {
    expect(() => parseTree('files:usr/share', ctx)).toThrow(/must be an absolute path inside the image/);
    expect(() => parseTree('files:/usr/../../etc', ctx)).toThrow(/must not contain "\.\."/);
  });
  it('expand ~ to the home directory', () => {
    expect(parseTree('~/trees/x', ctx).source).toBe(`${os.homedir()}/trees/x`);
  });
});

describe('$VAR in paths (mkosi parse_path: os.path.expandvars)', () => {
  const env = { A: 'x', B: '/abs', EMPTY: '', DOLLAR: '$A' };
  it.each([
    ['$A/y', 'x/y'],
    ['${A}y', 'xy'],
    ['$A$A', 'xx'],
    ['$UNSET/y', '$UNSET/y'],
    ['${UNSET}', '${UNSET}'],
    ['${}', '${}'],
    ['$', '$'],
    ['a-$EMPTY-b', 'a--b'],
    ['$DOLLAR', '$A'],
    ['$A-b.c', 'x-b.c'],
  ])('%s -> %s', (text, want) => expect(expandVars(text, env)).toBe(want));

  it('resolves the expanded path against the config directory', () => {
    expect(resolvePath('$A/y', { ...ctx, env })).toBe('/proj/x/y');
    expect(resolvePath('$B/y', { ...ctx, env })).toBe('/abs/y');
  });

  it('expands a tree target too, after splitting at the colon', () => {
    expect(parseTree('$A:$B/t', { ...ctx, env: { ...env, A: 'p:q' } })).toEqual({ source: '/proj/p:q', target: '/abs/t' });
  });
});

describe('Environment=', () => {
  const env = environment();
  it('reads KEY=VALUE pairs with shell quoting, later keys winning', () => {
    const v = env.merge!(env.parse('A="b c" D=e', ctx), env.parse("D='f g'", ctx));
    expect(v).toEqual({ A: 'b c', D: 'f g' });
  });
  it('passes a bare KEY through from the environment ("" when unset, as mkosi)', () => {
    expect(env.parse('HOME_VAR UNSET_VAR', ctx)).toEqual({ HOME_VAR: 'from-host', UNSET_VAR: '' });
  });
  it('refuses something that is not an assignment', () => {
    expect(() => env.parse('1A=b', ctx)).toThrow(/is not a variable assignment/);
  });
  it('splitQuoted keeps ; and | literal and refuses an open quote', () => {
    expect(splitQuoted('A=x;y B=a|b')).toEqual(['A=x;y', 'B=a|b']);
    expect(() => splitQuoted('A="open')).toThrow(/unterminated " quote/);
  });
});
