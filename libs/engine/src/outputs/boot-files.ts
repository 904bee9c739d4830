/**
 * What a bootable image's ESP holds, staged in the image's /efi (the ESP's mount point): systemd-boot
 * installed by bootctl (from the image's systemd-boot-efi) and the UKI in /efi/EFI/Linux/TOKEN-KVER.efi,
 * or with Bootloader=uki the UKI as /efi/EFI/BOOT/BOOTX64.EFI. mkosi stages the UKI in /boot and its
 * default ESP copies /boot too; on Debian /boot holds the kernel package's own vmlinuz and
 * initramfs-tools' initrd.img, which have no business in the ESP, so kiln stages everything in /efi
 * and its default ESP definition copies /efi only (a project's definitions copy what they name).
 * Their mtimes are the build's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildContext } from '../context';
import { BASH } from '../exec';
import { hostPath, mkdirp } from '../image-fs';
import { runTool } from './boot-tools';
import type { Boot } from './kernel';
import { entryToken } from './uki';

/** Installs the boot loader and the UKI (built at `uki`) into the image's /efi. */
export async function stageEsp(ctx: BuildContext, boot: Boot, uki: string): Promise<void> {
  mkdirp(ctx.root, 'efi');
  if (boot.bootloader === 'systemd-boot') {
    await runTool(
      ctx,
      // The root partition is written already: what bootctl writes besides /efi does not reach it.
      [ctx.root],
      ['bootctl', 'install', `--root=${ctx.root}`, '--install-source=image', '--all-architectures', '--no-variables', '--random-seed=no', '--make-entry-directory=no'],
      'installing systemd-boot (bootctl)',
      // No XBOOTLDR: /boot is Debian's, and the ESP holds the UKI too.
      { SYSTEMD_ESP_PATH: '/efi', SYSTEMD_RELAX_ESP_CHECKS: '1' },
    );
    mkdirp(ctx.root, 'efi/EFI/Linux');
    const dir = hostPath(ctx.root, 'efi/EFI/Linux', { follow: true });
    fs.copyFileSync(uki, path.join(dir, `${entryToken(ctx)}-${boot.kernel.kver}.efi`));
  } else if (boot.bootloader === 'none') {
    // No boot loader (mkosi's Bootloader=none): the UKI where a loader or the firmware's menu finds it.
    mkdirp(ctx.root, 'efi/EFI/Linux');
    fs.copyFileSync(uki, path.join(hostPath(ctx.root, 'efi/EFI/Linux', { follow: true }), `${entryToken(ctx)}-${boot.kernel.kver}.efi`));
  } else if (boot.bootloader === 'uki') {
    mkdirp(ctx.root, 'efi/EFI/BOOT');
    const dir = hostPath(ctx.root, 'efi/EFI/BOOT', { follow: true });
    fs.copyFileSync(uki, path.join(dir, 'BOOTX64.EFI'));
  }
  await clampTimes(ctx, ['efi']);
}

/** Sets the mtime of everything under the image's `dirs` to the build's time (mcopy keeps them). */
export async function clampTimes(ctx: BuildContext, dirs: string[]): Promise<void> {
  const paths = dirs.map((d) => hostPath(ctx.root, d, { follow: true })).filter((p) => fs.existsSync(p));
  if (!paths.length) return;
  await runTool(ctx, paths, ['bash', ...BASH, '-c', 'find "${@:2}" -exec touch -h -d "@$1" {} +', 'clamp', String(ctx.sourceDateEpoch), ...paths], 'setting the boot files\' times');
}
