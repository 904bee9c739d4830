/**
 * `kiln vm` booting real images under qemu, as a user runs it (the built CLI): a kiln-built cpio
 * of bookworm's busybox-static whose /init is busybox (it prints a marker, the kernel command line
 * and the SMBIOS OEM strings, then powers off), with the kernel of the shared bookworm test base
 * (test-base.ts: Debian's linux-image-cloud-amd64; Linux= naming that tree). The cpio is built
 * from a tree holding busybox alone (BaseTrees=, no packages), so the suite installs nothing.
 * Booted by direct kernel boot, then as a UKI made with ukify from the test tools tree (kernel +
 * that cpio) under OVMF, and as a disk image (an ESP holding that UKI, made by systemd-repart,
 * zstd-compressed) under OVMF. Each run ends
 * when the guest powers off (qemu exits 0): the waits are that event, or a line on the console;
 * the jest timeout only stops a hang. This machine's /dev/kvm cannot run guests, so the probe's
 * fallback to TCG is what runs here (the log says which was chosen, and why).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostTools, runIn } from '../../../libs/engine/src/sandbox';
import { toolEnv } from '../../../libs/engine/src/exec';
import { removeTempDirs, tempDir, tempProject, waitForLine } from '../../../libs/engine/test/kiln';
import { testBase } from '../../../libs/engine/test/test-base';
import { testToolsTree } from '../../../libs/engine/test/tools-tree';
import { kiln, startKiln, type Result } from './run-kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

const MARKER = 'kiln-vm-test: init reached';

/** busybox as the whole userland: no systemd, so the boot is the kernel's own few seconds. */
const INIT = [
  '#!/bin/busybox sh',
  '/bin/busybox mount -t proc proc /proc',
  '/bin/busybox mount -t sysfs sysfs /sys',
  // The kernel's own messages off the console from here: a late one (TCG boots slowly) printed in
  // the middle of a line below would break the line the test reads.
  '/bin/busybox dmesg -n 1',
  `echo "${MARKER}"`,
  'echo "cmdline: $(/bin/busybox cat /proc/cmdline)"',
  // SMBIOS type 11 strings are in the raw DMI table (CONFIG_DMI: every x86 kernel has it).
  "/bin/busybox strings /sys/firmware/dmi/tables/DMI | /bin/busybox grep '^io.systemd' | /bin/busybox sed 's/^/smbios: /'",
  // The UKI's second initrd brings virtio-blk's modules (the test adds them, in modules.dep's order):
  // with them, the boot disk's size in 512-byte sectors, once the kernel has it.
  'if [ -e /modules/order ]; then',
  '  for m in $(/bin/busybox cat /modules/order); do /bin/busybox insmod /modules/$m; done',
  '  for i in $(/bin/busybox seq 100); do [ -e /sys/block/vda/size ] && break; /bin/busybox sleep 0.1; done',
  '  [ -e /sys/block/vda/size ] && echo "vda: $(/bin/busybox cat /sys/block/vda/size)"',
  'fi',
  'case "$(/bin/busybox cat /proc/cmdline)" in *kiln-test-hang*) echo "kiln-vm-test: waiting"; while :; do /bin/busybox sleep 1000; done;; esac',
  '/bin/busybox poweroff -f',
  '',
].join('\n');

describe('kiln vm', () => {
  let root: string;
  let out: string;
  let kernelTree: string;
  let build: Result;

  beforeAll(async () => {
    kernelTree = (await testBase()).root;
    root = tempProject({
      'mkosi.conf': [
        '[Distribution]',
        'Distribution=debian',
        'Release=bookworm',
        '[Output]',
        'ImageId=guest',
        'Format=cpio',
        '[Content]',
        'SourceDateEpoch=1700000000',
        'BaseTrees=guest.tree',
        '[Runtime]',
        `Linux=${kernelTree}`,
        'RAM=1G',
        'Credentials=kiln.test=from-smbios',
        'KernelCommandLineExtra=kiln.extra=1',
        '',
      ].join('\n'),
      'mkosi.extra/init': { text: INIT, mode: 0o755 },
      // mkosi.credentials/: a file's contents, an executable's output; Credentials= overrides a file of the same name.
      'mkosi.credentials/kiln.file': 'from a file\n',
      'mkosi.credentials/kiln.run': { text: '#!/bin/sh\nprintf "run in %s" "$(basename "$PWD")"\n', mode: 0o755 },
      'mkosi.credentials/kiln.test': 'overridden\n',
      // The UKI preset's image is made by the test (ukify), not built: kiln vm boots what is in the output directory.
      // [Runtime] settings are the main image's (mkosi's scope `main`): a preset says none, the command line does.
      'mkosi.images/uki.conf': '[Output]\nFormat=uki\n',
      'mkosi.images/disk.conf': '[Output]\nFormat=disk\n',
      'mkosi.images/tar.conf': '[Output]\nFormat=tar\n',
      // A directory image of the same guest: kiln vm packs the tree into a temporary cpio.
      'mkosi.images/dir/mkosi.conf': '[Output]\nFormat=directory\n[Content]\nBaseTrees=../../guest.tree\n',
      'mkosi.images/dir/mkosi.extra/init': { text: INIT, mode: 0o755 },
    });
    // The guest's userland: bookworm's static busybox, and the mount points /init uses.
    for (const dir of ['bin', 'proc', 'sys']) fs.mkdirSync(path.join(root, 'guest.tree', dir), { recursive: true });
    fs.copyFileSync(path.join(kernelTree, 'usr/bin/busybox'), path.join(root, 'guest.tree/bin/busybox'));
    fs.chmodSync(path.join(root, 'guest.tree/bin/busybox'), 0o755);
    out = path.join(root, 'mkosi.output');
    // The main image alone (its dependencies, the presets, are kept: mkosi drops images the main
    // image does not reach): the other presets' images are made by the test.
    build = await kiln(['build', '-C', root, '--no-deps']);
  }, 1_800_000); // the test base, when this suite is the first to ask for it

  it('boots a cpio by direct kernel boot with the kernel of Linux=, the console on stdout, credentials and the extra command line in the guest, and exits 0 when it powers off', async () => {
    expect(build.stderr).not.toMatch(/^kiln: /m);
    expect(build.code).toBe(0);
    const r = await kiln(['vm', '-C', root], { env: { TMPDIR: tempDir('kiln-vm-tmp-') } });
    expect(r.stderr).toMatch(/^kiln vm: booting proj \(cpio, direct kernel boot, (KVM|TCG)\)$/m);
    // KVM or TCG, and when TCG under KVM=auto, why.
    const tcg = r.stderr.includes(', TCG)');
    expect(/^kiln vm: KVM unusable \(.+\), using TCG \(slow\)$/m.test(r.stderr)).toBe(tcg);
    expect(r.stdout).toContain(MARKER);
    expect(r.stdout).toMatch(/^cmdline: console=ttyS0 kiln\.extra=1\r?$/m);
    expect(r.stdout).toMatch(/^smbios: io\.systemd\.credential:kiln\.test=from-smbios\r?$/m);
    const binary = (name: string) => new RegExp(`^smbios: io\\.systemd\\.credential\\.binary:${name.replace('.', '\\.')}=(\\S+)\\r?$`, 'm').exec(r.stdout)?.[1];
    expect(Buffer.from(binary('kiln.file') ?? '', 'base64').toString()).toBe('from a file\n');
    expect(Buffer.from(binary('kiln.run') ?? '', 'base64').toString()).toBe('run in mkosi.credentials');
    expect(binary('kiln.test')).toBeUndefined();
    expect(r.code).toBe(0);
  });

  it('boots a directory image by direct kernel boot, its tree packed into a temporary cpio that is gone afterwards', async () => {
    const built = await kiln(['build', '-C', root, '--preset', 'dir']);
    expect(built.stderr).not.toMatch(/^kiln: /m);
    expect(built.code).toBe(0);
    const tmp = tempDir('kiln-vm-tmp-');
    const r = await kiln(['vm', '-C', root, '--preset', 'dir'], { env: { TMPDIR: tmp } });
    expect(r.stderr).toMatch(/^kiln vm: booting dir \(directory, direct kernel boot, (KVM|TCG)\)$/m);
    expect(r.stdout).toContain(MARKER);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });

  /** A UKI made by ukify from the test tools tree: the test base's kernel and the main image's cpio. */
  let ukiMade: Promise<string> | undefined;
  const makeUki = () =>
    (ukiMade ??= (async () => {
      const tools = await testToolsTree();
      const vmlinuz = path.join(kernelTree, 'boot', fs.readdirSync(path.join(kernelTree, 'boot')).find((f) => f.startsWith('vmlinuz-'))!);
      const cpio = path.join(out, 'guest.cpio.zst');
      const modules = await modulesCpio(tools, kernelTree);
      const uki = path.join(out, 'uki.efi');
      await runIn({ log: () => {} }, sandbox(tools, [vmlinuz, cpio]), ['ukify', 'build', `--linux=${vmlinuz}`, `--initrd=${cpio}`, `--initrd=${modules}`, '--cmdline=console=ttyS0 kiln.uki=1', `--output=${uki}`], { step: 'ukify build' });
      return uki;
    })());

  /**
   * An uncompressed cpio (the kernel unpacks several initrds one over the other) with virtio_blk
   * and the modules it needs from the kernel tree, in load order, and /modules/order listing them.
   */
  async function modulesCpio(tools: string, tree: string): Promise<string> {
    const [moddir] = fs.readdirSync(path.join(tree, 'usr/lib/modules')).map((v) => path.join(tree, 'usr/lib/modules', v));
    const deps = new Map(fs.readFileSync(path.join(moddir, 'modules.dep'), 'utf8').split('\n').filter(Boolean).map((l) => {
      const [mod, rest] = l.split(':');
      return [mod, rest.trim().split(/\s+/).filter(Boolean)] as const;
    }));
    const order: string[] = [];
    const visit = (m: string) => {
      if (order.includes(m)) return;
      for (const d of [...(deps.get(m) ?? [])].reverse()) visit(d);
      order.push(m);
    };
    for (const m of ['kernel/drivers/virtio/virtio_pci.ko', 'kernel/drivers/block/virtio_blk.ko']) visit(m);
    const stage = tempDir('kiln-vm-modules-');
    fs.mkdirSync(path.join(stage, 'modules'));
    for (const m of order) fs.copyFileSync(path.join(moddir, m), path.join(stage, 'modules', path.basename(m)));
    fs.writeFileSync(path.join(stage, 'modules/order'), order.map((m) => path.basename(m)).join('\n'));
    const file = path.join(out, 'modules.cpio');
    await runIn({ log: () => {} }, sandbox(tools, [stage]), ['bash', '-o', 'pipefail', '-c', 'cd "$1" && find modules | cpio --quiet -o -H newc > "$2"', 'cpio', stage, file], { step: 'cpio' });
    return file;
  }

  /** The tools tree's tools, writing only into the output directory (and their TMPDIR there), reading `inputs`. */
  function sandbox(tools: string, inputs: string[]) {
    const box = hostTools({ ...toolEnv(), TMPDIR: out }, [out], tools);
    box.mounts = [...(box.mounts ?? []), ...inputs.map((f) => ({ type: 'ro-bind' as const, source: f, target: f }))];
    return box;
  }

  it('boots a UKI made by ukify (that kernel and cpio) under OVMF, KVM=no forcing TCG', async () => {
    await makeUki();
    const r = await kiln(['vm', '-C', root, '--preset', 'uki', '--KVM=no', '--credential', 'kiln.test=uki']);
    // The [Runtime] settings are the main image's whichever preset boots (mkosi's scope `main`), the
    // command line's winning (a list: the main image's credentials, then kiln.test=uki over
    // kiln.test=from-smbios); a UKI has its own kernel.
    expect(r.stderr).toBe('kiln vm: Linux= is not used: a Format=uki image boots its own kernel\nkiln vm: KVM=no, using TCG (slow)\nkiln vm: booting uki (uki, OVMF, TCG)\n');
    expect(r.stdout).toContain(MARKER);
    // The UKI's own command line, then what systemd-stub added from SMBIOS.
    expect(r.stdout).toMatch(/^cmdline: console=ttyS0 kiln\.uki=1 console=ttyS0 kiln\.extra=1\r?$/m);
    expect(r.stdout).toMatch(/^smbios: io\.systemd\.credential:kiln\.test=uki\r?$/m);
    expect(r.stdout).not.toMatch(/^vda: /m);
    expect(r.code).toBe(0);
  });

  it('boots a zstd-compressed disk image (an ESP with that UKI as EFI/BOOT/BOOTX64.EFI, made by systemd-repart) under OVMF from a private copy grown to RuntimeSize=', async () => {
    const uki = await makeUki();
    const tools = await testToolsTree();
    const defs = tempDir('kiln-vm-repart-');
    fs.writeFileSync(path.join(defs, '10-esp.conf'), `[Partition]\nType=esp\nFormat=vfat\nCopyFiles=${uki}:/EFI/BOOT/BOOTX64.EFI\nSizeMinBytes=100M\n`);
    const disk = path.join(out, 'disk.raw');
    // 512-byte sectors: a 100 MB FAT32 with repart's default 4096-byte ones has too few clusters for OVMF to read it.
    await runIn({ log: () => {} }, sandbox(tools, [defs, uki]), ['systemd-repart', '--offline=yes', '--empty=create', '--size=auto', '--sector-size=512', '--dry-run=no', `--definitions=${defs}`, '--seed=0e9a6fe0-68f6-408c-bbeb-136054d20445', disk], { step: 'systemd-repart' });
    await runIn({ log: () => {} }, sandbox(tools, []), ['zstd', '-q', '--rm', disk], { step: 'zstd' });
    const compressed = fs.readFileSync(`${disk}.zst`);

    const r = await kiln(['vm', '-C', root, '--preset', 'disk', '--runtime-size=1G']);
    expect(r.stderr).toMatch(/^kiln vm: booting disk \(disk, OVMF, (KVM|TCG)\)$/m);
    expect(r.stdout).toContain(MARKER);
    expect(r.stdout).toMatch(/^smbios: io\.systemd\.credential:kiln\.test=from-smbios\r?$/m);
    const binary = (name: string) => new RegExp(`^smbios: io\\.systemd\\.credential\\.binary:${name.replace('.', '\\.')}=(\\S+)\\r?$`, 'm').exec(r.stdout)?.[1];
    expect(Buffer.from(binary('kiln.file') ?? '', 'base64').toString()).toBe('from a file\n');
    expect(Buffer.from(binary('kiln.run') ?? '', 'base64').toString()).toBe('run in mkosi.credentials');
    expect(binary('kiln.test')).toBeUndefined();
    expect(r.stdout).toMatch(/^vda: 2097152\r?$/m); // RuntimeSize=1G
    expect(r.code).toBe(0);
    // The output, a cache's file, is as it was; nothing else was left there.
    expect(fs.readFileSync(`${disk}.zst`).equals(compressed)).toBe(true);
    expect(fs.existsSync(disk)).toBe(false);
  });

  it('passes arguments after -- to qemu, and on SIGTERM ends qemu and removes its temporary files', async () => {
    const tmp = tempDir('kiln-vm-tmp-');
    const { child, done } = startKiln(['vm', '-C', root, '--', '-append', 'console=ttyS0 kiln-test-hang'], root, { TMPDIR: tmp });
    await waitForLine(child.stdout!, /kiln-vm-test: waiting/);
    expect(fs.readdirSync(tmp)).toHaveLength(1); // kiln-vm-XXXXXX, while qemu runs
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect(fs.readdirSync(tmp)).toEqual([]);
    // qemu is gone with it: its process group (kiln's) is empty.
    expect(() => process.kill(-child.pid!, 0)).toThrow();
  });

  it('refuses what it cannot boot, naming the preset, setting and fix, and leaves nothing behind', async () => {
    const tmp = tempDir('kiln-vm-tmp-');
    const env = { TMPDIR: tmp };
    const unknown = await kiln(['vm', '-C', root, '--preset', 'nothing'], { env });
    expect(unknown.stderr).toMatch(/^kiln: no preset named "nothing" \(accepted: .*\btar\b.*\)\n$/);
    expect(unknown.code).toBe(1);
    const tar = await kiln(['vm', '-C', root, '--preset', 'tar'], { env });
    expect(tar.stderr).toBe('kiln: tar: Format=tar images cannot be booted by kiln vm (bootable formats: disk, esp, uki, cpio, directory)\n');
    expect(tar.code).toBe(1);
    fs.appendFileSync(path.join(root, 'mkosi.images/tar.conf'), 'Format=disk\n');
    const missing = await kiln(['vm', '-C', root, '--preset', 'tar'], { env });
    expect(missing.stderr).toBe(`kiln: tar: no image to boot: ${out}/tar.raw.zst does not exist (build it first: kiln build --preset tar)\n`);
    // [Runtime] settings are the main image's: a preset setting one is refused where it does.
    const conf = fs.readFileSync(path.join(root, 'mkosi.images/tar.conf'), 'utf8');
    fs.appendFileSync(path.join(root, 'mkosi.images/tar.conf'), '[Runtime]\nCredentials=a/b=x\n');
    const scoped = await kiln(['vm', '-C', root, '--preset', 'tar'], { env });
    expect(scoped.stderr).toBe(`${root}/mkosi.images/tar.conf:5: Credentials= cannot be set in preset "tar": it says how the main image runs or is its own (move it to the project's mkosi.conf or kiln.toml)\n`);
    expect(scoped.code).toBe(1);
    fs.writeFileSync(path.join(root, 'mkosi.images/tar.conf'), conf);
    const cred = await kiln(['vm', '-C', root, '--preset', 'tar', '--Credentials=a/b=x'], { env });
    expect(cred.stderr).toBe('<command line>: tar: Credentials=: "a/b=x" is not NAME=VALUE (kiln vm passes credentials as NAME=VALUE, NAME a file name)\n');
    expect(cred.code).toBe(1);
    // A value without "=" is a path (as in mkosi), which must exist: said when the option is read.
    const path_ = await kiln(['vm', '-C', root, '--preset', 'tar', '--credential', 'novalue'], { env });
    expect(path_.stderr).toMatch(/^--Credentials=novalue: \S*\/novalue does not exist/);
    expect(path_.code).toBe(1);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
