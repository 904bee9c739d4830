/**
 * Reading tar's and cpio's member listings exactly (names with quotes, " -> ", newlines, UTF-8)
 * and the rules archive-members.ts applies to them. The listings are real: GNU tar and cpio run
 * on archives made here.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCpioListing, parseTarListing, refusal } from '../src/archive-members';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tarStream = require('tar-stream');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-members-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function makeTar(file: string, entries: { name: string; type?: string; linkname?: string }[]): Promise<void> {
  return new Promise((resolve) => {
    const pack = tarStream.pack();
    const out = fs.createWriteStream(file);
    out.on('finish', () => resolve());
    pack.pipe(out);
    for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644, mtime: new Date(0) }, e.type ? undefined : 'x');
    pack.finalize();
  });
}

const listing = (file: string) =>
  spawnSync('tar', ['-tvf', file, '--quoting-style=c', '--numeric-owner'], { encoding: 'utf8', env: { LC_ALL: 'C.UTF-8', PATH: '/usr/bin:/bin' } }).stdout;

describe('tar listings', () => {
  it('reads every name exactly, whatever characters it has', async () => {
    const file = path.join(dir, 'odd.tar');
    const names = ['plain', 'with space', 'quote"d', 'arrow -> x', 'line\nbreak', 'back\\slash', 'été', 'link to x'];
    await makeTar(file, [...names.map((name) => ({ name })), { name: 'sym', type: 'symlink', linkname: 'a " -> b' }, { name: 'hard', type: 'link', linkname: 'quote"d' }]);
    expect(parseTarListing(listing(file))).toEqual([
      ...names.map((name) => ({ type: '-', name, link: undefined })),
      { type: 'l', name: 'sym', link: 'a " -> b' },
      { type: 'h', name: 'hard', link: 'quote"d' },
    ]);
  });
});

describe('cpio listings', () => {
  it('reads types, names and link targets; refuses a symlink line it cannot split for sure', () => {
    const src = path.join(dir, 'cpio');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'd/f'), 'x');
    fs.symlinkSync('/etc', path.join(src, 'l'));
    fs.symlinkSync('x -> y', path.join(src, 'odd'));
    const r = spawnSync('bash', ['-c', 'cd "$1" && printf "d\\nd/f\\nl\\nodd\\n" | cpio -o -H newc --quiet | cpio -itvn --quiet', 'x', src], { encoding: 'utf8' });
    const members = parseCpioListing(r.stdout);
    expect(members.slice(0, 3)).toEqual([{ type: 'd', name: 'd' }, { type: '-', name: 'd/f' }, { type: 'l', name: 'l', link: '/etc' }]);
    expect(members[3].type).toBe('?');
    expect(refusal(members, { devices: false })).toBe('member "odd -> x -> y" cannot be checked (a name with " -> " in a cpio archive)');
  });
});

describe('the rules', () => {
  const m = (type: string, name: string, link?: string) => ({ type, name, link });
  it('allows an ordinary archive: directories, files, links inside it, hard links to earlier members, FIFOs', () => {
    expect(refusal([m('d', './'), m('d', './etc/'), m('-', './etc/a'), m('l', './etc/b', '/usr/lib/x'), m('h', './etc/c', './etc/a'), m('p', './run/fifo'), m('l', './lib', 'usr/lib'), m('d', './usr/lib/')], { devices: false })).toBeNull();
  });
  it('refuses what escapes or goes through its own links, devices only where not allowed', () => {
    expect(refusal([m('-', 'a/../../b')], { devices: true })).toMatch(/escapes the image/);
    expect(refusal([m('l', './a', 'b'), m('-', 'a/c')], { devices: true })).toMatch(/lies below the archive's own symlink "a"/);
    expect(refusal([m('h', 'x', 'y')], { devices: true })).toMatch(/hard link to "y", which is not a member before it/);
    expect(refusal([m('c', 'dev/null')], { devices: false })).toMatch(/is a device node/);
    expect(refusal([m('c', 'dev/null'), m('b', 'dev/sda')], { devices: true })).toBeNull();
    expect(refusal([m('V', 'label')], { devices: true })).toBe('member "label" is of a type kiln does not unpack ("V")');
  });
});
