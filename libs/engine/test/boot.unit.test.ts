/**
 * The logic of the bootable formats that needs no image: which modules the kernel-modules initrd
 * takes (modules.dep and modules.softdep), the kernel command line (mkosi's finalize_cmdline and
 * finalize_root), the seed, Bootable=/Bootloader= deciding from what an image holds, and the
 * root hash SplitArtifacts=roothash writes (mkosi's finalize_roothash).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { derivedUuid, mkfsEnv, repartSeed } from '../src/outputs/seed';
import { decideBoot, findKernels } from '../src/outputs/kernel';
import { moduleName, selectModules } from '../src/outputs/modules-initrd';
import { rootHash } from '../src/outputs/split';
import { finalCmdline } from '../src/outputs/uki';
import { imageContext, imageSetup, removeTempDirs } from './kiln';

afterAll(removeTempDirs);

const DEP = [
  'kernel/drivers/virtio/virtio.ko:',
  'kernel/drivers/virtio/virtio_ring.ko:',
  'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko',
  'kernel/drivers/net/virtio_net.ko: kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko',
  'kernel/net/core/failover.ko:',
  'kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko',
  'kernel/fs/fat/fat.ko:',
  'kernel/fs/nls/nls_iso8859-1.ko:',
  'kernel/crypto/crc32c_generic.ko:',
  'kernel/fs/erofs/erofs.ko.zst: kernel/lib/libcrc32c.ko.zst',
  'kernel/lib/libcrc32c.ko.zst:',
  '',
].join('\n');

describe('the kernel-modules initrd', () => {
  it('names modules as modprobe does', () => {
    expect(moduleName('kernel/fs/nls/nls_iso8859-1.ko')).toBe('nls_iso8859_1');
    expect(moduleName('kernel/fs/erofs/erofs.ko.zst')).toBe('erofs');
  });

  it('takes the matching modules and what they depend on, and nothing else', () => {
    expect(selectModules(DEP, '', ['virtio_blk', 'vfat'])).toEqual([
      'kernel/drivers/block/virtio_blk.ko',
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/fs/fat/fat.ko',
      'kernel/fs/fat/vfat.ko',
    ]);
  });

  it('matches whole names as regular expressions, "-" and "_" alike', () => {
    expect(selectModules(DEP, '', ['nls_iso8859-1'.replace('-', '_'), 'virtio_p.*'])).toEqual([
      'kernel/drivers/virtio/virtio.ko',
      'kernel/drivers/virtio/virtio_pci.ko',
      'kernel/drivers/virtio/virtio_ring.ko',
      'kernel/fs/nls/nls_iso8859-1.ko',
    ]);
    expect(selectModules(DEP, '', ['virtio'])).toEqual(['kernel/drivers/virtio/virtio.ko']);
  });

  it("follows soft dependencies (ext4's crc32c) by module name", () => {
    expect(selectModules(DEP, 'softdep erofs pre: crc32c_generic\nsoftdep vfat post: nls-iso8859-1\n', ['erofs'])).toEqual([
      'kernel/crypto/crc32c_generic.ko',
      'kernel/fs/erofs/erofs.ko.zst',
      'kernel/lib/libcrc32c.ko.zst',
    ]);
  });
});

describe('the kernel command line', () => {
  const setup = (files: Record<string, string>, config: Record<string, unknown>) => {
    const { root, project } = imageSetup('kiln-cmdline-');
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    return imageContext(root, project, config);
  };

  it("is the image's /etc/kernel/cmdline, then KernelCommandLine=, with root=PARTUUID of the disk's root first", () => {
    const ctx = setup({ 'etc/kernel/cmdline': 'rw quiet\n' }, { KernelCommandLine: ['console=ttyS0'] });
    expect(finalCmdline(ctx, 'abcd')).toEqual(['root=PARTUUID=abcd', 'rw', 'quiet', 'console=ttyS0']);
    expect(finalCmdline(ctx, null)).toEqual(['rw', 'quiet', 'console=ttyS0']);
  });

  it('fills in a bare root=PARTUUID, and keeps a root= the user gave', () => {
    expect(finalCmdline(setup({}, { KernelCommandLine: ['root=PARTUUID', 'ro'] }), 'abcd')).toEqual(['root=PARTUUID=abcd', 'ro']);
    expect(finalCmdline(setup({}, { KernelCommandLine: ['root=/dev/vda2'] }), 'abcd')).toEqual(['root=/dev/vda2']);
  });
});

describe('the seed', () => {
  const ctx = (Seed: string | null, name = 'disk') => ({ preset: { name, config: { Seed, Output: name } } }) as never;

  it('is Seed= when set, else a UUID derived from the preset name, the same every time', () => {
    expect(repartSeed(ctx('0f7a2a5c-1a8e-4f5e-9c33-1c5ad1e4c2b1'))).toBe('0f7a2a5c-1a8e-4f5e-9c33-1c5ad1e4c2b1');
    expect(repartSeed(ctx(null))).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(repartSeed(ctx(null))).toBe(repartSeed(ctx(null)));
    expect(repartSeed(ctx(null, 'other'))).not.toBe(repartSeed(ctx(null)));
  });

  it("gives ext4's hash seed from it, except for Seed=random", () => {
    expect(mkfsEnv(ctx(null)).SYSTEMD_REPART_MKFS_OPTIONS_EXT4).toBe(`-E hash_seed=${derivedUuid(`kiln ext4 hash seed\0${repartSeed(ctx(null))}`)}`);
    expect(mkfsEnv(ctx('random'))).toEqual({});
  });
});

describe('Bootable= and Bootloader=', () => {
  const image = (files: string[], config: Record<string, unknown>) => {
    const { root, project } = imageSetup('kiln-bootable-');
    for (const rel of files) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), '');
    }
    const ctx = imageContext(root, project, { Bootable: 'auto', Bootloader: 'systemd-boot', ...config });
    return { ...ctx, tools: path.join(root, 'no-tools') };
  };
  const KERNEL = ['usr/lib/modules/6.1.0-9-amd64/modules.dep', 'boot/vmlinuz-6.1.0-9-amd64'];
  const STUB = 'usr/lib/systemd/boot/efi/linuxx64.efi.stub';
  const SDBOOT = 'usr/lib/systemd/boot/efi/systemd-bootx64.efi';

  it("finds Debian's kernels, newest first, and mkosi's layout", () => {
    const { root } = image([...KERNEL, 'usr/lib/modules/6.10.0-1-amd64/vmlinuz', 'usr/lib/modules/6.2.0-1-amd64/modules.dep'], {});
    expect(findKernels(root)).toEqual([
      { kver: '6.10.0-1-amd64', image: 'usr/lib/modules/6.10.0-1-amd64/vmlinuz' },
      { kver: '6.1.0-9-amd64', image: 'boot/vmlinuz-6.1.0-9-amd64' },
    ]);
  });

  it('auto: bootable with a kernel, a stub and the boot loader; not bootable without one of them', () => {
    expect(decideBoot(image([...KERNEL, STUB, SDBOOT], {}), { needsBootloader: true })?.kernel.kver).toBe('6.1.0-9-amd64');
    expect(decideBoot(image([STUB, SDBOOT], {}), { needsBootloader: true })).toBeNull();
    expect(decideBoot(image([...KERNEL, SDBOOT], {}), { needsBootloader: true })).toBeNull();
    expect(decideBoot(image([...KERNEL, STUB], {}), { needsBootloader: true })).toBeNull();
    expect(decideBoot(image([...KERNEL, STUB], { Bootloader: 'uki' }), { needsBootloader: true })?.bootloader).toBe('uki');
  });

  it('no: never; yes: an error naming what is missing and the fix', () => {
    expect(decideBoot(image([...KERNEL, STUB, SDBOOT], { Bootable: 'disabled' }), { needsBootloader: true })).toBeNull();
    expect(() => decideBoot(image([STUB, SDBOOT], { Bootable: 'enabled' }), { needsBootloader: true })).toThrow(/^test: Bootable=yes: the image has no kernel .*add one to Packages=/);
    expect(() => decideBoot(image([...KERNEL, SDBOOT], { Bootable: 'enabled' }), { needsBootloader: true })).toThrow(/no UKI stub: .*add systemd-boot-efi to Packages=/);
    expect(() => decideBoot(image([...KERNEL, STUB], { Bootable: 'enabled' }), { needsBootloader: true })).toThrow(/Bootloader=systemd-boot needs .*set Bootloader=uki/);
  });

  it('a boot loader kiln cannot install yet is refused, naming those it can', () => {
    expect(() => decideBoot(image([...KERNEL, STUB, SDBOOT], { Bootloader: 'grub' }), { needsBootloader: true })).toThrow(
      'test: Bootloader=grub is not supported by kiln yet (supported: systemd-boot, uki, none): set Bootloader=systemd-boot or Bootloader=uki',
    );
  });

  it('Format=uki needs a kernel and a stub whatever Bootable= says, and says so', () => {
    const noKernel = () => decideBoot(image([STUB], { Bootable: 'disabled' }), { needsBootloader: false, required: 'Format=uki' });
    expect(noKernel).toThrow(/^test: Format=uki: the image has no kernel .*for VMs\)$/);
    expect(decideBoot(image([...KERNEL, STUB], { Bootable: 'disabled' }), { needsBootloader: false, required: 'Format=uki' })?.kernel.kver).toBe('6.1.0-9-amd64');
  });
});

describe('the root hash (SplitArtifacts=roothash)', () => {
  const part = (type: string, roothash?: string) => ({ type, uuid: 'u', ...(roothash ? { roothash } : {}) });

  it("is the first root partition's, else the first /usr's; a deferred one (TBD) and partitions without one do not count", () => {
    expect(rootHash([part('esp'), part('usr-x86-64', 'bb'), part('root-x86-64', 'TBD'), part('root-x86-64', 'aa'), part('root-x86-64', 'cc')])).toBe('aa');
    expect(rootHash([part('esp'), part('usr-x86-64', 'bb'), part('usr-x86-64', 'dd')])).toBe('bb');
    expect(rootHash([part('esp'), part('root-x86-64'), part('root-x86-64', 'TBD')])).toBeNull();
  });
});
