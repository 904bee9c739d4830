/**
 * cpio outputs in the newc format the kernel unpacks as an initrd: members sorted, no "./"
 * prefix, --reproducible (no inode or device numbers), mtimes already clamped by the build.
 */
import * as path from 'node:path';
import { cfg, type BuildContext } from '../context';
import { BASH, run } from '../exec';
import type { StagedFile } from '.';
import { archiveProgress, compressor } from './tar';

export async function writeCpio(ctx: BuildContext, file: string, compression: string, level: number): Promise<void> {
  const script =
    'cd "$1" && find . -mindepth 1 -printf "%P\\0" | LC_ALL=C sort -z | ' +
    `cpio --quiet --null --create --format=newc --reproducible | ${compressor(compression, level)} > "$2"`;
  await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', script, 'cpio', ctx.root, file], { step: `writing ${path.basename(file)}`, progress: archiveProgress(file) });
}

/** Format=cpio: each file is a cpio of the image root, compressed as the registry says. */
export async function writeCpioFiles(ctx: BuildContext, files: StagedFile[]): Promise<void> {
  for (const f of files) await writeCpio(ctx, f.path, f.compression, cfg(ctx, 'CompressLevel'));
}
