/**
 * What makes an image bootable: its kernel(s), the EFI stub ukify wraps them with, and
 * Bootable=/Bootloader= deciding from those. A Debian image has /boot/vmlinuz-KVER and
 * /usr/lib/modules/KVER/ (mkosi's layout, usr/lib/modules/KVER/vmlinuz, counts too); every path is
 * resolved inside the image root (image-fs.ts).
 */
import * as fs from 'node:fs';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { exists, hostPath, isDirectory } from '../image-fs';

export interface Kernel {
  kver: string;
  /** The kernel image, an image path ("boot/vmlinuz-6.1.0-28-cloud-amd64"). */
  image: string;
}

/** The stub ukify puts in front of the kernel (x86-64). */
export const STUB = 'usr/lib/systemd/boot/efi/linuxx64.efi.stub';
/** systemd-boot, as the image's systemd-boot-efi ships it. */
export const SYSTEMD_BOOT = 'usr/lib/systemd/boot/efi/systemd-bootx64.efi';

/** Orders kernel versions newest first (numeric runs compared as numbers). */
function newestFirst(a: string, b: string): number {
  return b.localeCompare(a, 'en', { numeric: true });
}

/** The image's kernels, newest first: a modules directory with a kernel image beside it or in /boot. */
export function findKernels(root: string): Kernel[] {
  if (!isDirectory(root, 'usr/lib/modules')) return [];
  const kernels: Kernel[] = [];
  for (const kver of fs.readdirSync(hostPath(root, 'usr/lib/modules')).sort(newestFirst)) {
    if (!isDirectory(root, `usr/lib/modules/${kver}`)) continue;
    const image = [`usr/lib/modules/${kver}/vmlinuz`, `boot/vmlinuz-${kver}`].find((p) => exists(root, p));
    if (image) kernels.push({ kver, image });
  }
  return kernels;
}

/**
 * The stub: the image's own (systemd-boot-efi), as mkosi 26 takes it (systemd_stub_binary: the
 * image's, never the tools tree's), so that the UKI's stub matches the image's systemd; null when
 * the image has none.
 *
 * With a bookworm image (stub 252) and the tools tree's ukify 257 the firmware says "Overlapping PE
 * sections detected" and boots anyway, with mkosi as with kiln: ukify merges the kernel's SBAT
 * entries into the stub's .sbat section in place, which grows past the 256 bytes the 252 stub
 * leaves before its .sdmagic section (0x19000 + 0x134 > 0x19100), and no ukify option leaves
 * the kernel's entries out. The 252 stub only warns, and the image boots (the demo test boots
 * one). Taking the tools tree's stub instead would pair the image's systemd with another
 * version's stub, which mkosi does not do.
 */
export function findStub(ctx: BuildContext): string | null {
  return exists(ctx.root, STUB) ? hostPath(ctx.root, STUB, { follow: true }) : null;
}

/** What a bootable build uses, or null when the image is not to be bootable. */
export interface Boot {
  kernel: Kernel;
  stub: string;
  bootloader: 'systemd-boot' | 'uki' | 'none';
}

const SUPPORTED_BOOTLOADERS = ['systemd-boot', 'uki', 'none'];

/**
 * Bootable=: no: never; yes: a kernel, a stub and the boot loader must be there (an error naming
 * the preset and the fix otherwise); auto: bootable when they are.
 */
export function decideBoot(ctx: BuildContext, opts: { needsBootloader: boolean; required?: string }): Boot | null {
  const mode = cfg(ctx, 'Bootable');
  // `required`: what needs a kernel whatever Bootable= says (Format=uki is one).
  const required = opts.required ?? (mode === 'enabled' ? 'Bootable=yes' : null);
  if (mode === 'disabled' && !opts.required) return null;
  const fail = (msg: string) => {
    if (required) throw new BuildError(`${required}: ${msg}`, ctx.preset.name);
    return null;
  };
  const bootloader = cfg(ctx, 'Bootloader');
  if (!SUPPORTED_BOOTLOADERS.includes(bootloader)) {
    throw new BuildError(`Bootloader=${bootloader} is not supported by kiln yet (supported: ${SUPPORTED_BOOTLOADERS.join(', ')}): set Bootloader=systemd-boot or Bootloader=uki`, ctx.preset.name);
  }
  const [kernel] = findKernels(ctx.root);
  if (!kernel) return fail(`the image has no kernel (no /usr/lib/modules/KVER with /boot/vmlinuz-KVER): add one to Packages= (linux-image-amd64, or linux-image-cloud-amd64 for VMs)${required === 'Bootable=yes' ? ', or set Bootable=no' : ''}`);
  const stub = findStub(ctx);
  if (!stub) return fail(`no UKI stub: the image has no /${STUB} (kiln takes the image's stub, as mkosi does): add systemd-boot-efi to Packages=`);
  if (opts.needsBootloader && bootloader === 'systemd-boot' && !exists(ctx.root, SYSTEMD_BOOT)) {
    return fail(`Bootloader=systemd-boot needs /${SYSTEMD_BOOT} in the image: add systemd-boot-efi to Packages=, or set Bootloader=uki`);
  }
  return { kernel, stub, bootloader: bootloader as Boot['bootloader'] };
}
