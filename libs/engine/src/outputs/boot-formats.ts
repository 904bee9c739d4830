/**
 * The writers of the bootable formats (the registry's formats/boot.ts says what they write):
 *
 * - disk: systemd-repart's first pass writes every partition but the ESP (deferred) from the
 *   image as it is; then the boot loader and a UKI of the image's kernel (Initrds=, then the
 *   kernel-modules initrd; the command line with root=PARTUUID of the new root partition) are
 *   staged in /efi, and a second pass fills the ESP from them. As mkosi's build_image.
 * - uki: a UKI of the image's kernel whose initrd is the image itself (a cpio compressed per
 *   CompressOutput=), as mkosi's make_uki: the format of an initrd preset that boots on its own.
 * - esp: that UKI (with systemd-boot, or as BOOTX64.EFI with Bootloader=uki) in an ESP image.
 *
 * Raw images are compressed last (CompressOutput=, zstd by default: formats/boot.ts says why).
 * SplitArtifacts= files are copied out of what the build made; a disk's partitions and root hash
 * come from its last repart pass (split.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { splitArtifacts, unwrittenArtifacts } from '@kiln/config';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { hostPath } from '../image-fs';
import type { StagedFile, Writer } from '.';
import { clampTimes, stageEsp } from './boot-files';
import { writeCpio } from './cpio';
import { decideBoot, type Boot } from './kernel';
import { buildModulesInitrd } from './modules-initrd';
import { defaultDefinitions, repart } from './repart';
import { publishPartitions, refusePcrs, wants, writeRootHash, compressInto } from './split';
import { writeTar } from './tar';
import { buildUki, finalCmdline, osRelease } from './uki';

/** What a bootable build made, for SplitArtifacts=. */
interface Made {
  boot: Boot;
  uki: string;
  initrds: string[];
  modules: string | null;
}

/** The initrds of a disk's UKI: Initrds= in order, then the kernel-modules initrd (KernelModulesInitrd=). */
async function diskInitrds(ctx: BuildContext, boot: Boot): Promise<{ initrds: string[]; modules: string | null }> {
  const initrds = [...cfg(ctx, 'Initrds')];
  for (const i of initrds) if (!fs.existsSync(i)) throw new BuildError(`Initrds=${i} does not exist: build the preset that writes it first, or fix the path`, ctx.preset.name);
  let modules: string | null = null;
  if (cfg(ctx, 'KernelModulesInitrd')) {
    modules = path.join(ctx.work, `kernel-modules-${boot.kernel.kver}.initrd`);
    await buildModulesInitrd(ctx, boot.kernel.kver, modules);
    initrds.push(modules);
  }
  return { initrds, modules };
}

/**
 * The initrds one after the other, as ukify joins them into the UKI's .initrd section (each padded
 * to 4 bytes when there are several), so that NAME.initrd is the same bytes as the UKI's.
 */
export function joinInitrds(initrds: string[]): Buffer {
  if (initrds.length === 1) return fs.readFileSync(initrds[0]);
  return Buffer.concat(initrds.flatMap((i) => {
    const data = fs.readFileSync(i);
    return [data, Buffer.alloc((4 - (data.length % 4)) % 4)];
  }));
}

/** The single-file split artifacts (formats/split.ts), from what the build made. */
async function writeSplit(ctx: BuildContext, files: StagedFile[], made: Made | null, skip: string[] = []): Promise<void> {
  for (const { artifact, why } of unwrittenArtifacts(ctx.preset.config)) ctx.note?.(`SplitArtifacts=${artifact}: not written: ${why}`);
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const { artifact, name } of splitArtifacts(ctx.preset.config, skip)) {
    const file = byName.get(name);
    if (!file) continue;
    const dest = file.path;
    // The image tree, as it went into the image (mkosi's make_tar after the disk): whatever boots or not.
    if (artifact === 'tar') await writeTar(ctx, dest, file.compression, cfg(ctx, 'CompressLevel'));
    if (!made) continue;
    switch (artifact) {
      case 'uki':
        fs.copyFileSync(made.uki, dest);
        break;
      case 'kernel':
        fs.copyFileSync(hostPath(ctx.root, made.boot.kernel.image, { follow: true }), dest);
        break;
      case 'initrd':
        fs.writeFileSync(dest, joinInitrds(made.initrds));
        break;
      case 'kernel-modules-initrd':
        if (made.modules) fs.copyFileSync(made.modules, dest);
        break;
      case 'os-release':
        fs.copyFileSync(osRelease(ctx), dest);
        break;
    }
  }
}

export const writeDisk: Writer = async (ctx, files) => {
  const [image] = files;
  const boot = decideBoot(ctx, { needsBootloader: true });
  if (boot) refusePcrs(ctx);
  const configured = cfg(ctx, 'RepartDirectories');
  const definitions = configured.length ? configured : [defaultDefinitions(ctx, boot !== null)];
  // Named as the image, so that repart names the split-out partitions IMAGE.<type>.raw (mkosi's names).
  const raw = path.join(path.dirname(image.path), `${cfg(ctx, 'Output')}.raw`);
  const created = await repart(ctx, { image: raw, root: ctx.root, definitions, create: true, defer: ['esp'], step: 'writing the disk image (systemd-repart, ESP deferred)' });
  let made: Made | null = null;
  if (boot) {
    const root = created.find((p) => p.type.startsWith('root'));
    const { initrds, modules } = await diskInitrds(ctx, boot);
    const uki = path.join(ctx.work, 'disk.efi');
    await buildUki(ctx, boot, initrds, finalCmdline(ctx, root?.uuid ?? null), uki);
    await stageEsp(ctx, boot, uki);
    made = { boot, uki, initrds, modules };
  } else {
    await clampTimes(ctx, ['efi']);
  }
  // The last pass writes the partition files too (SplitArtifacts=partitions): the disk is complete
  // when repart splits it, so they are its partitions byte for byte (mkosi runs a third pass for it).
  const split = wants(ctx, 'partitions');
  const partitions = await repart(ctx, { image: raw, root: ctx.root, definitions, create: false, split, step: split ? 'filling the ESP and splitting out the partitions (systemd-repart)' : 'filling the ESP (systemd-repart)' });
  await compressInto(ctx, raw, image);
  if (split) await publishPartitions(ctx, files, partitions);
  writeRootHash(ctx, files, [created, partitions]);
  await writeSplit(ctx, files, made);
};

/** Format=uki and esp: the UKI whose initrd is the image itself (mkosi's make_uki). */
async function imageUki(ctx: BuildContext, boot: Boot, out: string): Promise<Made> {
  const initrd = path.join(ctx.work, 'image.initrd');
  await writeCpio(ctx, initrd, cfg(ctx, 'CompressOutput'), cfg(ctx, 'CompressLevel'));
  await buildUki(ctx, boot, [initrd], cfg(ctx, 'KernelCommandLine'), out);
  return { boot, uki: out, initrds: [initrd], modules: null };
}

export const writeUkiFormat: Writer = async (ctx, files) => {
  const [efi] = files;
  // A UKI is the kernel: Bootable= cannot make it anything else (mkosi asserts the same).
  const boot = decideBoot(ctx, { needsBootloader: false, required: 'Format=uki' });
  refusePcrs(ctx);
  const made = await imageUki(ctx, boot!, efi.path);
  await writeSplit(ctx, files, made, ['uki']);
};

export const writeEsp: Writer = async (ctx, files) => {
  const [image] = files;
  const boot = decideBoot(ctx, { needsBootloader: true });
  let made: Made | null = null;
  if (boot) {
    refusePcrs(ctx);
    const uki = path.join(ctx.work, 'esp.efi');
    made = await imageUki(ctx, boot, uki);
    await stageEsp(ctx, boot, uki);
  }
  // The ESP holds what was staged in /efi; as mkosi, at least 36 MB (OVMF refuses a FAT too
  // small to be FAT32), plus 10 MB for the file system's own data.
  const stage = path.join(ctx.work, 'esp-root');
  fs.mkdirSync(stage, { recursive: true });
  const efi = hostPath(ctx.root, 'efi', { follow: true });
  if (fs.existsSync(efi)) fs.cpSync(efi, stage, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  const used = duBytes(stage);
  const size = Math.max(used, 26 * 1024 ** 2) + 10 * 1024 ** 2;
  const defs = path.join(ctx.work, 'esp-definitions');
  fs.mkdirSync(defs, { recursive: true });
  fs.writeFileSync(path.join(defs, '00-esp.conf'), ['[Partition]', 'Type=esp', 'Format=vfat', 'CopyFiles=/:/', `SizeMinBytes=${size}`, `SizeMaxBytes=${size + 4096}`, ''].join('\n'));
  await clampTimes({ ...ctx, root: stage }, ['.']);
  const raw = path.join(path.dirname(image.path), '.esp.raw');
  await repart(ctx, { image: raw, root: stage, definitions: [defs], create: true, step: 'writing the ESP image (systemd-repart)' });
  await compressInto(ctx, raw, image);
  await writeSplit(ctx, files, made);
};

function duBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return total;
}
