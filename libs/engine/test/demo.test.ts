/**
 * The README's demo, for real: the engine's build of examples/system (on a copy; what
 * `kiln build -C examples/system` runs) builds the tools tree, base, initrd and system from the
 * Debian mirror in dependency order, each image holds what its config asks, and system, a
 * bootable disk, boots under qemu to multi-user.target (what `kiln vm` and `nx run system:vm` do).
 * With Incremental=yes and the layers the demo's suites keep per machine (test-cache.ts:
 * testLayers): the first run on a machine installs every package, later ones start each preset
 * from its layer (the same bytes: layers.test.ts) and test what comes after.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import { runVm } from '../src/vm';
import { sandboxCommand, hostTools } from '../src/sandbox';
import { buildIn, removeTempDirs, repo, tempDir, unpack } from './kiln';
import { testLayers } from './test-cache';

const ROOT_X86_64 = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

describe('the demo project examples/system', () => {
  let root: string;
  let out: string;
  let result: Awaited<ReturnType<typeof buildIn>>;

  beforeAll(async () => {
    root = path.join(tempDir('kiln-demo-'), 'system');
    fs.cpSync(path.join(repo, 'examples/system'), root, { recursive: true, filter: (src) => !src.includes('mkosi.output') });
    fs.appendFileSync(path.join(root, 'mkosi.conf'), `\n[Build]\nIncremental=yes\nCacheDirectory=${testLayers()}\n`);
    out = path.join(root, 'mkosi.output');
    result = await buildIn(root);
    // Cold (no kept layers yet, every package installed) beside another jest worker: over ten minutes.
  }, 1_800_000);

  /** A command of the demo's own tools tree (its directory output), with `dirs` writable. */
  const inTools = (command: string[], dirs: string[]) => {
    const { file, args } = sandboxCommand(hostTools({ PATH: '/usr/sbin:/usr/bin', LC_ALL: 'C.UTF-8' }, dirs, path.join(out, 'mkosi.tools')), command);
    return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  };

  /** The root partition's file `rel` of system's disk image, read with the tools tree's debugfs. */
  const diskFile = (rel: string): string => {
    const scratch = tempDir('kiln-demo-disk-');
    const raw = path.join(scratch, 'system.raw');
    inTools(['zstd', '-q', '-d', '-o', raw, path.join(out, 'system.raw.zst')], [scratch, out]);
    const table = JSON.parse(inTools(['sfdisk', '--json', raw], [scratch])).partitiontable;
    const rootPart = table.partitions.find((p: { type: string }) => p.type === ROOT_X86_64);
    const text = inTools(['debugfs', '-R', `cat /${rel}`, `${raw}?offset=${rootPart.start * table.sectorsize}`], [scratch]);
    fs.rmSync(scratch, { recursive: true });
    return text;
  };

  it('builds the tools tree, base, initrd and system, dependencies first', () => {
    expect(result.error).toBeUndefined();
    expect(result.results?.map((r) => [r.preset, r.status])).toEqual([['tools', 'built'], ['base', 'built'], ['initrd', 'built'], ['system', 'built']]);
    expect(fs.readdirSync(out).sort()).toEqual([
      'base', 'base.manifest.json', 'base.tar.zst', 'initrd.cpio.zst', 'initrd.manifest.json', 'mkosi.tools', 'mkosi.tools.manifest.json', 'mkosi.tools.tar.zst',
      'system.efi', 'system.initrd', 'system.manifest.json', 'system.raw.zst', 'system.vmlinuz',
    ]);
    // The first build of each: nothing to compare with.
    for (const p of ['tools', 'base', 'initrd', 'system']) expect(result.log).toContain(`${p}: no previous build (no manifest)\n`);
    // The disk is assembled with the tools tree's systemd-repart, ukify and bootctl.
    expect(result.log).toMatch(/^system: tools from .*\/kiln\/tools\/[0-9a-f]{64}$/m);
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

  it('initrd is a newc cpio with systemd, udev and kmod, a systemd initrd (MakeInitrd=), without the files it removes', () => {
    const tree = unpack(path.join(out, 'initrd.cpio.zst'));
    for (const f of ['usr/lib/systemd/systemd', 'usr/bin/udevadm', 'usr/bin/kmod']) expect(fs.existsSync(path.join(tree, f))).toBe(true);
    expect(fs.readlinkSync(path.join(tree, 'init'))).toBe('/usr/lib/systemd/systemd');
    expect(fs.readlinkSync(path.join(tree, 'etc/initrd-release'))).toBe('/etc/os-release');
    expect(fs.existsSync(path.join(tree, 'usr/share/man'))).toBe(false);
    expect(fs.readdirSync(path.join(tree, 'var'))).not.toContain('log');
  });

  it("system is a GPT disk (an ESP and a root partition) whose root starts from base and adds the kernel, its extra tree and settings", () => {
    const scratch = tempDir('kiln-demo-table-');
    const raw = path.join(scratch, 'system.raw');
    inTools(['zstd', '-q', '-d', '-o', raw, path.join(out, 'system.raw.zst')], [scratch, out]);
    const table = JSON.parse(inTools(['sfdisk', '--json', raw], [scratch])).partitiontable;
    expect(table.partitions.map((p: { type: string }) => p.type)).toEqual([ESP, ROOT_X86_64]);
    expect(diskFile('etc/motd')).toBe('Welcome to the kiln demo image.\n');
    expect(diskFile('etc/hostname')).toBe('kiln-demo\n');
    expect(diskFile('etc/locale.conf')).toBe('LANG=C.UTF-8\n');
    expect(diskFile('var/lib/dpkg/status')).toMatch(/^Package: linux-image-6\.1\.\S+-cloud-amd64$/m);
  });

  it('system boots under qemu (OVMF, systemd-boot, the UKI with the initrd preset and the kernel modules) to multi-user.target', async () => {
    const project = loadProject(root);
    let serial = '';
    const lines: string[] = [];
    // The credential makes the demo's unit power the machine off once it has said it is up.
    const status = await runVm(project.main, {
      project,
      extraArgs: ['-smbios', 'type=11,value=io.systemd.credential:kiln-demo.poweroff=1'],
      log: (line) => lines.push(line),
      console: (chunk) => (serial += chunk.toString()),
    });
    const tail = serial.slice(-4000);
    expect({ status, tail: status === 0 ? '' : tail }).toEqual({ status: 0, tail: '' });
    // KVM when it works, TCG otherwise, and the log says which.
    expect(lines.join('\n')).toMatch(/^kiln vm: booting system \(disk, OVMF, (KVM|TCG)\)$/m);
    expect(serial).toContain('Hostname set to <kiln-demo>');
    expect(serial).toContain('kiln-demo: reached multi-user.target');
  });

  it('system builds from base.tar.zst when the base directory is gone (as after a cache restore), and says why it rebuilds', async () => {
    const motd = diskFile('etc/motd');
    fs.rmSync(path.join(out, 'base'), { recursive: true });
    fs.writeFileSync(path.join(root, 'mkosi.extra/etc/issue'), 'kiln demo\n');
    const r = await buildIn(root, { force: true });
    expect(r.error).toBeUndefined();
    expect(r.log).toContain('base: up to date');
    expect(r.log).toContain('system: rebuilding because:\nsystem:   file mkosi.extra/etc/issue added\n');
    expect(diskFile('etc/motd')).toBe(motd);
    expect(diskFile('etc/issue')).toBe('kiln demo\n');
    expect(diskFile('usr/lib/os-release')).toMatch(/^ID=debian$/m);
  });

  it('a second build leaves the outputs alone', async () => {
    const before = fs.statSync(path.join(out, 'system.raw.zst')).mtimeMs;
    const again = await buildIn(root);
    expect(again.error).toBeUndefined();
    expect(again.log).toBe(['tools', 'base', 'initrd', 'system'].map((p) => `${p}: up to date (its outputs exist; --force rebuilds)\n`).join(''));
    expect(fs.statSync(path.join(out, 'system.raw.zst')).mtimeMs).toBe(before);
  });
});
