/**
 * The engine never follows an image's symlinks onto the host: trees copied into the image, the
 * image settings and RemoveFiles= resolve every path inside the image root (image-fs.ts). Each
 * image here has a link pointing at a host directory the test made; the host directory must stay
 * as it was, and the file must land where the image itself sees it (the link's target inside the
 * image), as mkosi puts it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeFiles } from '../src/cleanup';
import { applyImageSettings } from '../src/image-settings';
import { glob, hostPath, resolveIn } from '../src/image-fs';
import { copyTree } from '../src/trees';
import { imageContext, imageSetup, removeTempDirs, USER_TREE } from './kiln';

afterAll(removeTempDirs);

const setup = () => imageSetup('kiln-imgfs-');

const write = (file: string, text: string, mode = 0o644) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
};
const ls = (dir: string) => fs.readdirSync(dir).sort();
const ctx = imageContext;
const USER = USER_TREE;

describe('resolving a path inside the image', () => {
  it('starts an absolute link again at the image root, clamps "..", follows the last link only when asked', () => {
    const { root, host } = setup();
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync('usr/lib', path.join(root, 'lib'));
    fs.symlinkSync(host, path.join(root, 'etc/escape'));
    fs.symlinkSync('../../../../..', path.join(root, 'etc/up'));
    fs.symlinkSync('loop2', path.join(root, 'etc/loop1'));
    fs.symlinkSync('loop1', path.join(root, 'etc/loop2'));
    expect(resolveIn(root, '/lib/x')).toBe('usr/lib/x');
    expect(resolveIn(root, 'etc/escape/x')).toBe(`${host.slice(1)}/x`);
    expect(resolveIn(root, 'etc/escape')).toBe('etc/escape');
    expect(resolveIn(root, 'etc/escape', { follow: true })).toBe(host.slice(1));
    expect(resolveIn(root, 'etc/up/etc/x')).toBe('etc/x');
    expect(resolveIn(root, '../../etc')).toBe('etc');
    expect(hostPath(root, '/')).toBe(root);
    expect(() => resolveIn(root, 'etc/loop1/x')).toThrow(/too many levels of symbolic links/);
  });
});

describe('copying trees into the image', () => {
  it('writes an extra tree through a skeleton tree\'s absolute link inside the image, not on the host', async () => {
    const { root, host, project } = setup();
    fs.symlinkSync(host, path.join(project, 'escape-link'));
    fs.mkdirSync(path.join(project, 'mkosi.skeleton/etc'), { recursive: true });
    fs.symlinkSync(host, path.join(project, 'mkosi.skeleton/etc/escape'));
    write(path.join(project, 'mkosi.extra/etc/escape/x'), 'extra\n');
    write(path.join(project, 'mkosi.extra/etc/escape/sub/y'), 'deeper\n');
    write(path.join(project, 'mkosi.extra/etc/plain'), 'plain\n');
    await copyTree(ctx(root, project), { source: path.join(project, 'mkosi.skeleton'), target: null }, root, { ...USER, what: 'skeleton tree' });
    await copyTree(ctx(root, project), { source: path.join(project, 'mkosi.extra'), target: null }, root, USER);
    expect(ls(host)).toEqual(['keep']);
    expect(fs.readlinkSync(path.join(root, 'etc/escape'))).toBe(host);
    expect(fs.readFileSync(path.join(root, host, 'x'), 'utf8')).toBe('extra\n');
    expect(fs.readFileSync(path.join(root, host, 'sub/y'), 'utf8')).toBe('deeper\n');
    expect(fs.statSync(path.join(root, host, 'x')).mode & 0o7777).toBe(0o644);
    expect(fs.readFileSync(path.join(root, 'etc/plain'), 'utf8')).toBe('plain\n');
  });

  it('sends var/run/x of an extra tree to the image\'s /run when the image has var/run -> /run', async () => {
    const { root, project } = setup();
    fs.mkdirSync(path.join(root, 'var'));
    fs.mkdirSync(path.join(root, 'run'));
    fs.symlinkSync('/run', path.join(root, 'var/run'));
    const name = `kiln-test-${process.pid}-${Date.now()}`;
    write(path.join(project, 'mkosi.extra/var/run', name), 'x\n');
    try {
      await copyTree(ctx(root, project), { source: path.join(project, 'mkosi.extra'), target: null }, root, USER);
      expect(fs.existsSync(path.join('/run', name))).toBe(false);
      expect(fs.readFileSync(path.join(root, 'run', name), 'utf8')).toBe('x\n');
      expect(fs.readlinkSync(path.join(root, 'var/run'))).toBe('/run');
    } finally {
      fs.rmSync(path.join('/run', name), { force: true });
    }
  });

  it('follows relative links (usr-merge) as before, keeping hard links and leaving the link alone', async () => {
    const { root, project } = setup();
    fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true });
    fs.chmodSync(path.join(root, 'usr/lib'), 0o750);
    fs.symlinkSync('usr/lib', path.join(root, 'lib'));
    write(path.join(project, 'mkosi.extra/lib/systemd/a'), 'a\n');
    fs.linkSync(path.join(project, 'mkosi.extra/lib/systemd/a'), path.join(project, 'mkosi.extra/b'));
    await copyTree(ctx(root, project), { source: path.join(project, 'mkosi.extra'), target: null }, root, USER);
    expect(fs.lstatSync(path.join(root, 'lib')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(root, 'usr/lib/systemd/a')).ino).toBe(fs.statSync(path.join(root, 'b')).ino);
    // The linked directory keeps its own attributes (as tar --keep-directory-symlink leaves them).
    expect(fs.statSync(path.join(root, 'usr/lib')).mode & 0o7777).toBe(0o750);
  });

  it('unpacks an archive and a TARGET through the image\'s links inside the image', async () => {
    const { root, host, project } = setup();
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync(host, path.join(root, 'etc/escape'));
    write(path.join(project, 'src/etc/escape/from-archive'), 'archive\n');
    const archive = path.join(project, 'data.tar');
    expect(spawnSync('tar', ['-C', path.join(project, 'src'), '-cf', archive, '.']).status).toBe(0);
    await copyTree(ctx(root, project), { source: archive, target: null }, root, { rootOwned: true, what: 'extra tree' });
    write(path.join(project, 'dir/t'), 'target\n');
    await copyTree(ctx(root, project), { source: path.join(project, 'dir'), target: '/etc/escape/sub' }, root, USER);
    expect(ls(host)).toEqual(['keep']);
    expect(fs.readFileSync(path.join(root, host, 'from-archive'), 'utf8')).toBe('archive\n');
    expect(fs.readFileSync(path.join(root, host, 'sub/t'), 'utf8')).toBe('target\n');
  });
});

describe('settings and RemoveFiles= through the image\'s links', () => {
  it('RemoveFiles= with a glob through an absolute link removes inside the image only', async () => {
    const { root, host, project } = setup();
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync(host, path.join(root, 'etc/escape'));
    write(path.join(root, host, 'gone'), 'in the image\n');
    write(path.join(root, host, 'keep'), 'in the image\n');
    await removeFiles(ctx(root, project, { RemoveFiles: ['/etc/escape/*'] }));
    expect(ls(host)).toEqual(['keep']);
    expect(fs.readFileSync(path.join(host, 'keep'), 'utf8')).toBe('the host\'s\n');
    expect(ls(path.join(root, host))).toEqual([]);
    expect(fs.lstatSync(path.join(root, 'etc/escape')).isSymbolicLink()).toBe(true);
    expect(await glob(root, ['etc/**'])).toEqual(['etc/escape']);
  });

  it('Hostname= replaces an /etc/hostname that links to a host path; RootPassword= edits the image\'s shadow', async () => {
    const { root, host, project } = setup();
    fs.mkdirSync(path.join(root, 'etc'));
    write(path.join(host, 'hostname'), 'host\n');
    write(path.join(host, 'shadow'), 'root:host:1:0:99999:7:::\n');
    write(path.join(root, host, 'shadow'), 'root:*:1:0:99999:7:::\n');
    write(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    fs.symlinkSync(path.join(host, 'hostname'), path.join(root, 'etc/hostname'));
    fs.symlinkSync(path.join(host, 'shadow'), path.join(root, 'etc/shadow'));
    await applyImageSettings(ctx(root, project, { Hostname: 'image', RootPassword: 'hashed:$6$x$y' }));
    expect(fs.readFileSync(path.join(host, 'hostname'), 'utf8')).toBe('host\n');
    expect(fs.readFileSync(path.join(host, 'shadow'), 'utf8')).toBe('root:host:1:0:99999:7:::\n');
    expect(fs.lstatSync(path.join(root, 'etc/hostname')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(root, 'etc/hostname'), 'utf8')).toBe('image\n');
    expect(fs.readFileSync(path.join(root, host, 'shadow'), 'utf8')).toBe('root:$6$x$y:19675:0:99999:7:::\n');
  });

  it('MakeInitrd=: /init -> systemd in every image with systemd, /etc/initrd-release -> /etc/os-release with MakeInitrd=yes, inside the image, keeping what is there', async () => {
    const { root, host, project } = setup();
    write(path.join(root, 'usr/lib/systemd/systemd'), '#!/bin/sh\n', 0o755);
    fs.mkdirSync(path.join(root, 'etc'));
    await applyImageSettings(ctx(root, project));
    expect(fs.readlinkSync(path.join(root, 'init'))).toBe('/usr/lib/systemd/systemd');
    expect(fs.existsSync(path.join(root, 'etc/initrd-release'))).toBe(false);
    // An /etc that links to a host directory: the release file goes to the image's copy of it.
    fs.rmSync(path.join(root, 'etc'), { recursive: true });
    fs.symlinkSync(host, path.join(root, 'etc'));
    fs.mkdirSync(path.join(root, host), { recursive: true });
    await applyImageSettings(ctx(root, project, { MakeInitrd: true }));
    expect(fs.readdirSync(host)).toEqual(['keep']);
    expect(fs.readlinkSync(path.join(root, host, 'initrd-release'))).toBe('/etc/os-release');
    // An /init of the image's own stays; a system extension gets neither.
    const other = setup();
    write(path.join(other.root, 'usr/lib/systemd/systemd'), '#!/bin/sh\n', 0o755);
    write(path.join(other.root, 'init'), '#!/bin/sh\n', 0o755);
    await applyImageSettings(ctx(other.root, other.project, { MakeInitrd: true }));
    expect(fs.lstatSync(path.join(other.root, 'init')).isFile()).toBe(true);
    const ext = setup();
    write(path.join(ext.root, 'usr/lib/systemd/systemd'), '#!/bin/sh\n', 0o755);
    await applyImageSettings(ctx(ext.root, ext.project, { Format: 'sysext', MakeInitrd: true }));
    expect(fs.existsSync(path.join(ext.root, 'init'))).toBe(false);
  });
});
