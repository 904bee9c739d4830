/**
 * systemd-repart from the tools tree, offline (--offline=yes: mkfs writes the file systems into
 * the image file directly, no loop devices), with the build's seed (partition and file system
 * UUIDs, seed.ts) and SOURCE_DATE_EPOCH (boot-tools.ts), so the same tree gives the same disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultFilesystem } from '@kiln/config';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { ensureDir } from '../fsutil';
import { runTool } from './boot-tools';
import { mkfsEnv, repartSeed } from './seed';

/** A partition as systemd-repart's --json reports it. */
export interface Partition {
  type: string;
  label?: string;
  uuid: string;
  file?: string;
  offset?: number;
  raw_size?: number;
  /** With --split=yes: the partition's own file, beside the image ("-" or absent when none). */
  split_path?: string;
  /** A verity data partition's root hash ("TBD" while its hash partition is deferred). */
  roothash?: string;
}

/**
 * mkosi's default definitions for a disk when the project has none (make_disk): an ESP of 512 MB
 * when bootable (OVMF refuses a FAT with too few clusters: smaller ones did not boot), filled from
 * the image's /efi, where the boot loader and UKI are staged before the second pass (mkosi copies
 * /boot too: boot-files.ts says why kiln does not), and a root partition of the distribution's
 * file system with the whole tree, as small as its contents (Minimize=guess).
 */
export function defaultDefinitions(ctx: BuildContext, bootable: boolean): string {
  const dir = ensureDir(path.join(ctx.work, 'repart-definitions'));
  if (bootable) {
    fs.writeFileSync(path.join(dir, '00-esp.conf'), ['[Partition]', 'Type=esp', 'Format=vfat', 'CopyFiles=/efi:/', 'SizeMinBytes=512M', 'SizeMaxBytes=512M', ''].join('\n'));
  }
  const fsType = defaultFilesystem(String(cfg(ctx, 'Distribution')));
  fs.writeFileSync(path.join(dir, '10-root.conf'), ['[Partition]', 'Type=root', `Format=${fsType}`, 'CopyFiles=/', 'Minimize=guess', ''].join('\n'));
  return dir;
}

export interface RepartRun {
  image: string;
  root: string;
  definitions: string[];
  /** Create the image (the first pass); later passes fill in what the first deferred. */
  create: boolean;
  /** Partition types left unformatted for a later pass (--defer-partitions=). */
  defer?: string[];
  /** Also write each partition to a file of its own beside the image (--split=yes, SplitArtifacts=partitions). */
  split?: boolean;
  /** Sign the verity root hash (Verity=signature partitions) with this key and certificate. */
  signing?: { key: string; certificate: string };
  step: string;
}

export async function repart(ctx: BuildContext, r: RepartRun): Promise<Partition[]> {
  const args = [
    'systemd-repart',
    '--dry-run=no',
    '--no-pager',
    '--json=short',
    '--offline=yes',
    `--seed=${repartSeed(ctx)}`,
    `--root=${r.root}`,
    '--size=auto',
    `--architecture=${cfg(ctx, 'Architecture')}`,
    r.create ? '--empty=create' : '--empty=allow',
    ...r.definitions.map((d) => `--definitions=${d}`),
    ...(r.defer?.length ? [`--defer-partitions=${r.defer.join(',')}`] : []),
    ...(r.split ? ['--split=yes'] : []),
    ...(r.signing ? [`--private-key=${r.signing.key}`, `--certificate=${r.signing.certificate}`] : []),
    r.image,
  ];
  let out: string;
  try {
    // The key and certificate may be anywhere on the host: shown to repart where they are, read-only.
    const read = r.signing ? [r.signing.key, r.signing.certificate] : [];
    out = await runTool(ctx, [path.dirname(r.image)], args, r.step, mkfsEnv(ctx), read);
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    const defs = r.definitions.map((d) => (d.startsWith(ctx.work + path.sep) ? `kiln's partition definitions for Format=${cfg(ctx, 'Format')}` : path.relative(ctx.project.root, d))).join(', ');
    const tooSmall = /fit|too small|No space left|Could not allocate|Disk quota|exceeds|minimize/i.test(e.message);
    const hint = tooSmall
      ? `a partition of ${defs} is too small for what it holds: raise its SizeMaxBytes= (or drop it and use Minimize=guess)`
      : `check the partition definitions in ${defs}`;
    // mkfs's "No space left on device" is about the partition, not the disk kiln writes to (build.ts's noSpace).
    const message = e.message.replace(`${ctx.preset.name}: `, '').replace(/No space left on device/gi, 'the partition is full');
    throw new BuildError(`${message}\n  ${hint}`, ctx.preset.name);
  }
  return JSON.parse(out.slice(out.indexOf('['))) as Partition[];
}
