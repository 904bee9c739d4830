/**
 * Tar outputs: POSIX pax format, members sorted by name, numeric owners, xattrs kept, mtimes
 * clamped to SOURCE_DATE_EPOCH and no atime/ctime headers, so two builds give the same bytes.
 */
import type { BuildContext } from '../context';
import { run } from '../exec';

/** A compressor reading stdin and writing stdout, deterministic (single-threaded, no names or times). */
export function compressor(compression: string, level: number): string {
  switch (compression) {
    case 'zstd':
      return `zstd -q -c -${Math.min(Math.max(level, 1), 19)}`;
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
  await run(ctx, 'bash', ['-o', 'pipefail', '-c', script, 'tar', ctx.root, file, String(ctx.sourceDateEpoch)], { step: `writing ${file.split('/').pop()}` });
}
