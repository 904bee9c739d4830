/**
 * kiln.lock's [[tool]] tables (what a build runs from: Gentoo's stage3 and repository snapshot):
 * written in a fixed order, read back the same, absent from locks that have none, and refused
 * with the file named when damaged.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatLockfile, readLockfile, staleness, type Lock } from '../src';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-lockfile-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sha512 = (c: string) => c.repeat(128);
const base: Lock = {
  'lock-version': 1,
  request: { distribution: 'gentoo', release: '23.0', architecture: 'x86-64', mirror: ['http://b/binhost'], repositories: [], packages: ['app-misc/hello'], 'build-packages': [], base: [] },
  package: [{ name: 'app-misc/hello', version: '1.0', architecture: 'amd64', repository: 'http://b/binhost', size: 10, 'build-id': 1, path: 'app-misc/hello/hello-1.0-1.gpkg.tar', sha1: 'a'.repeat(40), md5: 'b'.repeat(32) }],
  'build-package': [],
};

function roundTrip(lock: Lock): { text: string; back: Lock } {
  const file = path.join(dir, `${Math.random()}.lock`);
  const text = formatLockfile(lock, 'proj');
  fs.writeFileSync(file, text);
  return { text, back: readLockfile(file)! };
}

describe('[[tool]] in kiln.lock', () => {
  it('is written after the packages, sorted by path, and read back the same', () => {
    const tool = [
      { name: 'gentoo-20261101.tar.xz', path: 'snapshots/gentoo-20261101.tar.xz', size: 2, sha512: sha512('d') },
      { name: 'stage3-amd64-systemd-20261101T000000Z.tar.xz', path: 'releases/amd64/autobuilds/20261101T000000Z/stage3-amd64-systemd-20261101T000000Z.tar.xz', size: 1, sha512: sha512('c') },
    ];
    const { text, back } = roundTrip({ ...base, tool });
    expect(text.indexOf('[[tool]]')).toBeGreaterThan(text.indexOf('[[package]]'));
    expect(text.indexOf('releases/')).toBeLessThan(text.indexOf('snapshots/'));
    expect(text).toContain(`[[tool]]\nname = "gentoo-20261101.tar.xz"\npath = "snapshots/gentoo-20261101.tar.xz"\nsize = 2\nsha512 = "${sha512('d')}"\n`);
    expect(back.tool).toEqual([tool[1], tool[0]]);
    expect(back.package).toEqual(base.package);
  });

  it('is absent from a lock without tools, which reads back without any', () => {
    const { text, back } = roundTrip(base);
    expect(text).not.toContain('[[tool]]');
    expect(back.tool).toBeUndefined();
  });

  it('refuses a tool path outside the mirror or a damaged digest, naming the file', () => {
    const file = path.join(dir, 'bad.lock');
    fs.writeFileSync(file, formatLockfile({ ...base, tool: [{ name: 'x', path: '../x', size: 1, sha512: sha512('c') }] }, 'proj'));
    expect(() => readLockfile(file)).toThrow(/bad\.lock.*tool\.0\.path: a path inside the mirror.*kiln lock/s);
    fs.writeFileSync(file, formatLockfile({ ...base, tool: [{ name: 'x', path: 'x', size: 1, sha512: 'abc' }] }, 'proj'));
    expect(() => readLockfile(file)).toThrow(/tool\.0\.sha512: a SHA-512 in hex/);
  });
});

describe("the request's mirror (the installer's sources)", () => {
  it('one source is written as a string, as kiln always wrote it', () => {
    const { text, back } = roundTrip(base);
    expect(text).toContain('\nmirror = "http://b/binhost"\n');
    expect(back.request.mirror).toEqual(['http://b/binhost']);
  });

  it('several (Gentoo binhosts, in order) as an array, read back in the same order', () => {
    const { text, back } = roundTrip({ ...base, request: { ...base.request, mirror: ['http://b/two', 'http://a/one'] } });
    expect(text).toContain('\nmirror = ["http://b/two", "http://a/one"]\n');
    expect(back.request.mirror).toEqual(['http://b/two', 'http://a/one']);
  });

  it('a lock of an older kiln, with binhosts joined by spaces, reads as the same list and is not stale', () => {
    const file = path.join(dir, 'old.lock');
    fs.writeFileSync(file, formatLockfile(base, 'proj').replace('mirror = "http://b/binhost"', 'mirror = "http://b/two http://a/one"'));
    const old = readLockfile(file)!;
    expect(old.request.mirror).toEqual(['http://b/two', 'http://a/one']);
    expect(staleness(old, { ...base.request, mirror: ['http://b/two', 'http://a/one'] })).toEqual([]);
    expect(staleness(old, { ...base.request, mirror: ['http://a/one', 'http://b/two'] })).toEqual(['mirror is http://a/one, http://b/two, the lock was made for http://b/two, http://a/one']);
  });
});
