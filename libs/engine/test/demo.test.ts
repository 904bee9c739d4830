/**
 * The README's demo, for real: the engine's build of examples/system (on a copy; what
 * `kiln build -C examples/system` runs) builds base, initrd and
 * system from the Debian mirror in dependency order, and each image holds what its config asks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildIn, removeTempDirs, repo, tempDir, unpack } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

describe('the demo project examples/system', () => {
  let root: string;
  let out: string;
  let result: Awaited<ReturnType<typeof buildIn>>;

  beforeAll(async () => {
    root = path.join(tempDir('kiln-demo-'), 'system');
    fs.cpSync(path.join(repo, 'examples/system'), root, { recursive: true, filter: (src) => !src.includes('mkosi.output') });
    out = path.join(root, 'mkosi.output');
    result = await buildIn(root);
  });

  it('builds base, initrd and system, dependencies first', () => {
    expect(result.error).toBeUndefined();
    expect(result.results?.map((r) => [r.preset, r.status])).toEqual([['base', 'built'], ['initrd', 'built'], ['system', 'built']]);
    expect(fs.readdirSync(out).sort()).toEqual(['base', 'base.manifest.json', 'base.tar.zst', 'initrd.cpio.zst', 'initrd.manifest.json', 'system.manifest.json', 'system.tar.zst']);
    // The first build of each: nothing to compare with.
    for (const p of ['base', 'initrd', 'system']) expect(result.log).toContain(`${p}: no previous build (no manifest)\n`);
  });

  it('base holds systemd, udev and dbus, with dpkg\'s database kept for presets built on it', () => {
    const status = fs.readFileSync(path.join(out, 'base/var/lib/dpkg/status'), 'utf8');
    for (const p of ['systemd', 'udev', 'dbus']) expect(status).toMatch(new RegExp(`^Package: ${p}\\n(.*\\n)*?Status: install ok installed`, 'm'));
    expect(fs.existsSync(path.join(out, 'base/usr/lib/systemd/systemd'))).toBe(true);
    expect(fs.readFileSync(path.join(out, 'base/etc/machine-id'), 'utf8')).toBe('uninitialized\n');
  });

  it('the base archive holds the same tree as the base directory', () => {
    const tree = unpack(path.join(out, 'base.tar.zst'));
    for (const f of ['usr/lib/systemd/systemd', 'usr/bin/dbus-daemon', 'etc/os-release']) {
      expect(fs.readFileSync(path.join(tree, f))).toEqual(fs.readFileSync(path.join(out, 'base', f)));
    }
  });

  it('initrd is a newc cpio with systemd, udev and kmod and without the files it removes', () => {
    const tree = unpack(path.join(out, 'initrd.cpio.zst'));
    for (const f of ['usr/lib/systemd/systemd', 'usr/bin/udevadm', 'usr/bin/kmod']) expect(fs.existsSync(path.join(tree, f))).toBe(true);
    expect(fs.existsSync(path.join(tree, 'usr/share/man'))).toBe(false);
    expect(fs.readdirSync(path.join(tree, 'var'))).not.toContain('log');
  });

  it('system starts from base and adds its extra tree and settings', () => {
    const tree = unpack(path.join(out, 'system.tar.zst'));
    expect(fs.existsSync(path.join(tree, 'usr/lib/systemd/systemd'))).toBe(true);
    expect(fs.readFileSync(path.join(tree, 'etc/motd'), 'utf8')).toBe('Welcome to the kiln demo image.\n');
    expect(fs.statSync(path.join(tree, 'etc/motd')).uid).toBe(0);
    expect(fs.readFileSync(path.join(tree, 'etc/hostname'), 'utf8')).toBe('kiln-demo\n');
    expect(fs.readFileSync(path.join(tree, 'etc/locale.conf'), 'utf8')).toBe('LANG=C.UTF-8\n');
    expect(fs.readlinkSync(path.join(tree, 'etc/localtime'))).toBe('../usr/share/zoneinfo/UTC');
  });

  it('system builds from base.tar.zst when the base directory is gone (as after a cache restore), and says why it rebuilds', async () => {
    const before = unpack(path.join(out, 'system.tar.zst'));
    fs.rmSync(path.join(out, 'base'), { recursive: true });
    fs.writeFileSync(path.join(root, 'mkosi.extra/etc/issue'), 'kiln demo\n');
    const r = await buildIn(root, { force: true });
    expect(r.error).toBeUndefined();
    expect(r.log).toContain('base: up to date');
    expect(r.log).toContain('system: rebuilding because:\nsystem:   file mkosi.extra/etc/issue added\n');
    const after = unpack(path.join(out, 'system.tar.zst'));
    expect(fs.readFileSync(path.join(after, 'etc/motd'))).toEqual(fs.readFileSync(path.join(before, 'etc/motd')));
    expect(fs.existsSync(path.join(after, 'usr/lib/systemd/systemd'))).toBe(true);
    expect(fs.readFileSync(path.join(after, 'etc/issue'), 'utf8')).toBe('kiln demo\n');
  });

  it('a second build leaves the outputs alone', async () => {
    const before = fs.statSync(path.join(out, 'system.tar.zst')).mtimeMs;
    const again = await buildIn(root);
    expect(again.error).toBeUndefined();
    expect(again.log).toBe('base: up to date (its outputs exist; --force rebuilds)\ninitrd: up to date (its outputs exist; --force rebuilds)\nsystem: up to date (its outputs exist; --force rebuilds)\n');
    expect(fs.statSync(path.join(out, 'system.tar.zst')).mtimeMs).toBe(before);
  });
});
