/**
 * Archives and trees from outside (ExtraTrees=, SkeletonTrees=, SandboxTrees=, BaseTrees=) never
 * write the host: members that escape, write through a link of their own, are device nodes of a
 * user tree or hard links to unseen members are refused naming the archive and the member; a
 * damaged archive is refused with the reason; links met in the image send files inside it.
 * Real archives, made here by GNU tar, cpio or tar-stream (for members GNU tar will not write).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeFiles } from '../src/cleanup';
import { applyImageSettings } from '../src/image-settings';
import { copyTree } from '../src/trees';
import { buildIn, failure, imageContext, imageSetup, removeTempDirs, tempDir, tempProject, USER_TREE } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tarStream = require('tar-stream');

afterAll(removeTempDirs);

const setup = () => imageSetup('kiln-arch-');

const ctx = imageContext;
const USER = USER_TREE;
const BASE = { rootOwned: false, what: 'base tree' };

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device';
  linkname?: string;
  data?: string;
  devmajor?: number;
  devminor?: number;
}

/** A tar archive with exactly these members, in this order. */
function makeTar(file: string, entries: Entry[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const pack = tarStream.pack();
    const out = fs.createWriteStream(file);
    out.on('finish', () => resolve(file));
    out.on('error', reject);
    pack.pipe(out);
    for (const e of entries) {
      const type = e.type ?? 'file';
      pack.entry({ name: e.name, type, linkname: e.linkname, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: new Date(0), devmajor: e.devmajor, devminor: e.devminor }, type === 'file' ? (e.data ?? '') : undefined);
    }
    pack.finalize();
  });
}

const hostUntouched = (host: string) => {
  expect(fs.readdirSync(host)).toEqual(['keep']);
  expect(fs.readFileSync(path.join(host, 'keep'), 'utf8')).toBe('the host\'s\n');
};

async function refused(p: Promise<void>): Promise<string> {
  try {
    await p;
  } catch (e) {
    const m = (e as Error).message;
    expect(m.split('\n')).toHaveLength(1);
    return m;
  }
  throw new Error('the archive was unpacked');
}

describe('members that escape or write through their own links are refused', () => {
  it('refuses "../x" and absolute members, naming the archive and the member', async () => {
    const { root, host, project } = setup();
    const up = await makeTar(path.join(project, 'up.tar'), [{ name: 'etc/' , type: 'directory' }, { name: `../../../../../../..${host}/x`, data: 'up\n' }]);
    expect(await refused(copyTree(ctx(root, project), { source: up, target: null }, root, USER))).toBe(
      `test: extra tree ${up}: member "../../../../../../..${host}/x" escapes the image (an absolute name or ".."): refusing to unpack it`,
    );
    const abs = await makeTar(path.join(project, 'abs.tar'), [{ name: `${host}/x`, data: 'abs\n' }]);
    expect(await refused(copyTree(ctx(root, project), { source: abs, target: null }, root, USER))).toContain(`member "${host}/x" escapes the image`);
    hostUntouched(host);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('refuses a member below a symlink member of the same archive (absolute, relative to an image link, "..")', async () => {
    const { root, host, project } = setup();
    fs.mkdirSync(path.join(root, 'var'));
    fs.symlinkSync(host, path.join(root, 'var/run'));
    const cases: Entry[][] = [
      [{ name: 'l', type: 'symlink', linkname: host }, { name: 'l/x', data: 'through\n' }],
      // Relative and without "..": GNU tar makes it at once, and it leads to the image's var/run -> host.
      [{ name: 'l', type: 'symlink', linkname: 'var/run' }, { name: 'l/x', data: 'through\n' }],
      [{ name: './d/l', type: 'symlink', linkname: '../../..' + host }, { name: './d/l/sub/', type: 'directory' }, { name: './d/l/sub/x', data: 'x\n' }],
      // A directory member over the link would get its owner and mode set through it.
      [{ name: 'l', type: 'symlink', linkname: host }, { name: 'l/', type: 'directory' }],
    ];
    for (const [i, entries] of cases.entries()) {
      const a = await makeTar(path.join(project, `link${i}.tar`), entries);
      const m = await refused(copyTree(ctx(root, project), { source: a, target: null }, root, USER));
      expect(m).toMatch(new RegExp(`^test: extra tree ${a}: member ".*" lies below the archive's own symlink "(d/)?l" \\(it would be written through the link\\): refusing to unpack it$`));
    }
    hostUntouched(host);
    expect(fs.readdirSync(root)).toEqual(['var']);
  });

  it('a symlink in one ExtraTrees= archive and a file through it in a second: the file lands inside the image', async () => {
    const { root, host, project } = setup();
    const first = await makeTar(path.join(project, 'first.tar'), [{ name: 'etc/', type: 'directory' }, { name: 'etc/esc', type: 'symlink', linkname: host }]);
    const second = await makeTar(path.join(project, 'second.tar'), [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/esc/', type: 'directory' },
      { name: 'etc/esc/keep', data: 'second\n' },
      { name: 'etc/esc/new', data: 'new\n' },
      // A hard link to a member of this archive that went through the image's link moves with it.
      { name: 'etc/h', type: 'link', linkname: 'etc/esc/keep' },
    ]);
    await copyTree(ctx(root, project), { source: first, target: null }, root, USER);
    await copyTree(ctx(root, project), { source: second, target: null }, root, USER);
    hostUntouched(host);
    expect(fs.readlinkSync(path.join(root, 'etc/esc'))).toBe(host);
    expect(fs.readFileSync(path.join(root, host, 'keep'), 'utf8')).toBe('second\n');
    expect(fs.readFileSync(path.join(root, host, 'new'), 'utf8')).toBe('new\n');
    // Appended to in the image (as a postinst would): the host's file stays.
    fs.appendFileSync(path.join(root, 'etc/h'), 'appended\n');
    expect(fs.readFileSync(path.join(root, host, 'keep'), 'utf8')).toBe('second\nappended\n');
    hostUntouched(host);
  });

  it('two directory trees, a symlink in the first and a file through it in the second: inside the image', async () => {
    const { root, host, project } = setup();
    fs.mkdirSync(path.join(project, 'one/etc'), { recursive: true });
    fs.symlinkSync(host, path.join(project, 'one/etc/esc'));
    fs.mkdirSync(path.join(project, 'two/etc/esc'), { recursive: true });
    fs.writeFileSync(path.join(project, 'two/etc/esc/keep'), 'two\n');
    await copyTree(ctx(root, project), { source: path.join(project, 'one'), target: null }, root, USER);
    await copyTree(ctx(root, project), { source: path.join(project, 'two'), target: null }, root, USER);
    hostUntouched(host);
    expect(fs.readFileSync(path.join(root, host, 'keep'), 'utf8')).toBe('two\n');
  });
});

describe('device nodes and hard links', () => {
  it('refuses device nodes in a tree of the project (archive or directory) and unpacks them from a base tree', async () => {
    const { root, host, project } = setup();
    const dev = await makeTar(path.join(project, 'dev.tar'), [{ name: 'dev/', type: 'directory' }, { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }]);
    for (const what of ['extra tree', 'skeleton tree', 'sandbox tree']) {
      expect(await refused(copyTree(ctx(root, project), { source: dev, target: null }, root, { ...USER, what }))).toBe(
        `test: ${what} ${dev}: member "dev/mem" is a device node, which a tree of the project may not carry (put device nodes in the image with a script, or use BaseTrees=): refusing to unpack it`,
      );
    }
    const blk = await makeTar(path.join(project, 'blk.tar'), [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]);
    expect(await refused(copyTree(ctx(root, project), { source: blk, target: null }, root, USER))).toContain('member "sda" is a device node');
    expect(fs.readdirSync(root)).toEqual([]);
    await copyTree(ctx(root, project), { source: dev, target: null }, root, BASE);
    expect(fs.statSync(path.join(root, 'dev/mem')).isCharacterDevice()).toBe(true);
    // A directory tree likewise (made here: git cannot hold one).
    const tree = path.join(project, 'tree');
    fs.mkdirSync(tree);
    expect(spawnSync('mknod', [path.join(tree, 'null'), 'c', '1', '3']).status).toBe(0);
    expect(await refused(copyTree(ctx(root, project), { source: tree, target: null }, root, USER))).toBe(
      `test: extra tree ${tree}: ${tree}/null is a device node, which a tree of the project may not carry (put device nodes in the image with a script, or use BaseTrees=)`,
    );
    hostUntouched(host);
  });

  it('refuses a hard link to a member not seen before it, also one made through a symlink (a postinst could append to it)', async () => {
    const { root, host, project } = setup();
    const unseen = await makeTar(path.join(project, 'unseen.tar'), [{ name: 'h', type: 'link', linkname: 'later' }, { name: 'later', data: 'x\n' }]);
    expect(await refused(copyTree(ctx(root, project), { source: unseen, target: null }, root, USER))).toBe(
      `test: extra tree ${unseen}: member "h" is a hard link to "later", which is not a member before it: refusing to unpack it`,
    );
    // The image (an earlier tree) has etc/esc -> host; the archive links to etc/esc/keep.
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync(host, path.join(root, 'etc/esc'));
    const through = await makeTar(path.join(project, 'through.tar'), [{ name: 'etc/h', type: 'link', linkname: 'etc/esc/keep' }]);
    expect(await refused(copyTree(ctx(root, project), { source: through, target: null }, root, USER))).toContain('member "etc/h" is a hard link to "etc/esc/keep", which is not a member before it');
    const own = await makeTar(path.join(project, 'own.tar'), [{ name: 'l', type: 'symlink', linkname: host }, { name: 'h', type: 'link', linkname: 'l/keep' }]);
    expect(await refused(copyTree(ctx(root, project), { source: own, target: null }, root, USER))).toContain('member "h" is a hard link to "l/keep", which is not a member before it');
    const abs = await makeTar(path.join(project, 'abs.tar'), [{ name: 'h', type: 'link', linkname: `${host}/keep` }]);
    expect(await refused(copyTree(ctx(root, project), { source: abs, target: null }, root, USER))).toContain(`member "h" is a hard link to "${host.slice(1)}/keep"`); // tar strips the leading "/"
    expect(fs.readdirSync(path.join(root, 'etc'))).toEqual(['esc']);
    expect(fs.statSync(path.join(host, 'keep')).nlink).toBe(1);
    hostUntouched(host);
  });
});

describe('damaged archives', () => {
  it('refuses a truncated tar and a corrupt compressed stream with one line naming the archive and the reason', async () => {
    const { root, project } = setup();
    const src = path.join(project, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(200_000, 7));
    const whole = path.join(project, 'whole.tar');
    expect(spawnSync('tar', ['-C', src, '-cf', whole, '.']).status).toBe(0);
    const cut = path.join(project, 'cut.tar');
    fs.writeFileSync(cut, fs.readFileSync(whole).subarray(0, 100_000));
    expect(await refused(copyTree(ctx(root, project), { source: cut, target: null }, root, USER))).toBe(
      `test: extra tree ${cut} cannot be read (Unexpected EOF in archive): refusing to unpack it; replace the archive with a whole one`,
    );
    const zst = path.join(project, 'bad.tar.zst');
    expect(spawnSync('zstd', ['-q', '-o', zst, whole]).status).toBe(0);
    const bytes = fs.readFileSync(zst);
    for (let i = 40; i < bytes.length - 8; i += 7) bytes[i] ^= 0xff;
    fs.writeFileSync(zst, bytes);
    const m = await refused(copyTree(ctx(root, project), { source: zst, target: null }, root, USER));
    expect(m).toMatch(new RegExp(`^test: extra tree ${zst} cannot be read \\(.+\\): refusing to unpack it; replace the archive with a whole one$`));
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('checks cpio archives by the same rules', async () => {
    const { root, host, project } = setup();
    const src = path.join(project, 'src');
    fs.mkdirSync(src);
    fs.symlinkSync(host, path.join(src, 'l'));
    const file = path.join(project, 'bad.cpio');
    // "l -> other" then "l/x": cpio archives "l/x" as a file, read through the link when writing.
    const other = path.join(project, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'x'), 'x\n');
    fs.rmSync(path.join(src, 'l'));
    fs.symlinkSync(other, path.join(src, 'l'));
    const a = spawnSync('bash', ['-c', `cd "$1" && printf 'l\\nl/x\\n' | cpio -o -H newc --quiet > "$2"`, 'mk', src, file]);
    // Unpacked as is, the link would lead to the host directory.
    fs.rmSync(path.join(src, 'l'));
    fs.symlinkSync(host, path.join(src, 'l'));
    expect(a.status).toBe(0);
    const m = await refused(copyTree(ctx(root, project), { source: file, target: null }, root, USER));
    expect(m).toMatch(/member "l\/x" lies below the archive's own symlink "l"/);
    hostUntouched(host);
  });
});

describe('image settings and RemoveFiles= on a base tree whose links lead to the host', () => {
  it('BaseTrees= with etc -> a host directory: Hostname= and machine-id stay inside the image', async () => {
    const { root, host, project } = setup();
    fs.writeFileSync(path.join(host, 'hostname'), 'host\n');
    fs.writeFileSync(path.join(host, 'machine-id'), 'hostid\n');
    const base = path.join(project, 'base');
    fs.mkdirSync(base);
    fs.symlinkSync(host, path.join(base, 'etc'));
    await copyTree(ctx(root, project), { source: base, target: null }, root, BASE);
    await applyImageSettings(ctx(root, project, { Hostname: 'image', Locale: 'C.UTF-8' }));
    expect(fs.readFileSync(path.join(host, 'hostname'), 'utf8')).toBe('host\n');
    expect(fs.readFileSync(path.join(root, host, 'hostname'), 'utf8')).toBe('image\n');
    expect(fs.readFileSync(path.join(root, host, 'locale.conf'), 'utf8')).toBe('LANG=C.UTF-8\n');
    expect(fs.readdirSync(host).sort()).toEqual(['hostname', 'keep', 'machine-id']);
  });

  it('a whole build on such a base tree (no packages: no network) keeps every step inside the image', async () => {
    const host = tempDir('kiln-host-');
    for (const f of ['keep', 'hostname', 'machine-id', 'locale.conf']) fs.writeFileSync(path.join(host, f), `host ${f}\n`);
    const data = tempDir('kiln-host-');
    fs.writeFileSync(path.join(data, 'keep'), 'host data\n');
    const project = tempProject({
      'mkosi.conf': [
        '[Distribution]', 'Distribution=debian', 'Release=bookworm',
        '[Output]', 'Format=directory', 'ImageId=img',
        '[Content]', 'BaseTrees=base', 'Hostname=image', 'Locale=C.UTF-8', 'RemoveFiles=/etc/keep,/data/*', 'SourceDateEpoch=1700000000', '',
      ].join('\n'),
      'base/etc': { symlink: host },
      'base/data': { symlink: data },
      [`base${data}/gone`]: 'image data\n',
      // Where the link leads inside the image: the base tree's own copy of the host directory.
      [`base${host}/machine-id`]: 'the image\'s id\n',
      'mkosi.extra/etc/from-extra': 'extra\n',
    });
    const run = await buildIn(project);
    expect(failure(run)).toBe('');
    for (const f of ['keep', 'hostname', 'machine-id', 'locale.conf']) expect(fs.readFileSync(path.join(host, f), 'utf8')).toBe(`host ${f}\n`);
    expect(fs.readdirSync(host).sort()).toEqual(['hostname', 'keep', 'locale.conf', 'machine-id']);
    expect(fs.readdirSync(data)).toEqual(['keep']);
    expect(fs.readFileSync(path.join(data, 'keep'), 'utf8')).toBe('host data\n');
    expect(fs.readdirSync(path.join(project, 'mkosi.output/img', data))).toEqual([]);
    const inImage = path.join(project, 'mkosi.output/img', host);
    expect(fs.readFileSync(path.join(inImage, 'hostname'), 'utf8')).toBe('image\n');
    expect(fs.readFileSync(path.join(inImage, 'from-extra'), 'utf8')).toBe('extra\n');
    expect(fs.readFileSync(path.join(inImage, 'machine-id'), 'utf8')).toBe('uninitialized\n');
  }, 300_000);

  it('RemoveFiles=/data/* with data -> a host directory removes nothing on the host; 80k entries in linear time', async () => {
    const { root, host, project } = setup();
    fs.symlinkSync(host, path.join(root, 'data'));
    fs.mkdirSync(path.join(root, host), { recursive: true });
    fs.writeFileSync(path.join(root, host, 'in-image'), 'x\n');
    await removeFiles(ctx(root, project, { RemoveFiles: ['/data/*'] }));
    hostUntouched(host);
    expect(fs.readdirSync(path.join(root, host))).toEqual([]);

    const many = path.join(root, 'many');
    fs.mkdirSync(many);
    const names = Array.from({ length: 80_000 }, (_, i) => `f${i}`);
    for (const n of names.slice(0, 40_000)) fs.writeFileSync(path.join(many, n), '');
    const started = process.hrtime.bigint();
    await removeFiles(ctx(root, project, { RemoveFiles: names.map((n) => `/many/${n}`) }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(fs.readdirSync(many)).toEqual([]);
    // Quadratic matching took minutes; linear work is a few seconds even on a loaded machine.
    expect(seconds).toBeLessThan(30);
  }, 120_000);
});
