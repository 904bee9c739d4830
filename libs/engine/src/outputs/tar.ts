/**
 * Tar outputs: POSIX pax format, members sorted by name, numeric owners, xattrs kept, mtimes
 * clamped to SOURCE_DATE_EPOCH and no atime/ctime headers, so two builds give the same bytes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cfg, type BuildContext } from '../context';
import { BASH, run } from '../exec';
import type { StagedFile } from '.';

/**
 * How far writing an archive is, for run()'s progress lines: the size of the file so far (what
 * the compressor has written; the same check works for every format and compressor).
 */
export function archiveProgress(file: string): () => string | undefined {
  const name = path.basename(file);
  return () => {
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
    return size ? `writing ${name}: ${(size / 1e6).toFixed(1)} MB so far` : undefined;
  };
}

/**
 * zstd's workers. Its CLI's default, -T1, is already its multi-threaded mode with one worker, and
 * that mode's output does not depend on the number of workers (only --single-thread differs), so
 * more workers give the same bytes sooner (outputs.test.ts checks it). At most 8: each holds its
 * own window and tables (about 90 MB more per worker at level 19).
 */
const ZSTD_THREADS = Math.min(os.availableParallelism(), 8);

/**
 * A compressor reading stdin and writing stdout, deterministic: no names or times, and the same
 * bytes whatever the machine (xz stays at -T1: its multi-threaded mode splits the stream into
 * blocks, which gives other bytes).
 */
export function compressor(compression: string, level: number): string {
  switch (compression) {
    case 'zstd':
      return `zstd -q -c -T${ZSTD_THREADS} -${Math.min(Math.max(level, 1), 19)}`;
    case 'xz':
      return `xz -c -T1 -${Math.min(level, 9)}`;
    case 'lzma':
      return `xz -c --format=lzma -${Math.min(level, 9)}`;
    case 'gz':
      return `gzip -c -n -${Math.min(Math.max(level, 1), 9)}`;
    case 'bz2':
      return `bzip2 -c -${Math.min(Math.max(level, 1), 9)}`;
    case 'lz4':
      return `lz4 -q -c -${Math.min(Math.max(level, 1), 12)}`;
    default:
      return 'cat';
  }
}

export async function writeTar(ctx: BuildContext, file: string, compression: string, level: number): Promise<void> {
  const script =
    'tar -C "$1" --sort=name --numeric-owner --xattrs --xattrs-include="*" ' +
    `--mtime="@$3" --clamp-mtime --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf - . | ${compressor(compression, level)} > "$2"`;
  await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', script, 'tar', ctx.root, file, String(ctx.sourceDateEpoch)], {
    step: `writing ${path.basename(file)}`,
    progress: archiveProgress(file),
  });
}

/** Format=tar: each file is a tar of the image root, compressed as the registry says. */
export async function writeTarFiles(ctx: BuildContext, files: StagedFile[]): Promise<void> {
  for (const f of files) await writeTar(ctx, f.path, f.compression, cfg(ctx, 'CompressLevel'));
}
