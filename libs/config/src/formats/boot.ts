/**
 * The bootable formats: Format=uki (NAME.efi, a unified kernel image of the image's kernel with
 * the image itself as its initrd, as mkosi's make_uki), Format=esp (an ESP image holding that UKI)
 * and Format=disk (a GPT disk image made by systemd-repart; when bootable, its ESP holds the boot
 * loader and a UKI of the image's kernel with Initrds= and the kernel-modules initrd).
 *
 * Compression, where kiln differs from mkosi: mkosi writes disk and esp images as NAME.raw and
 * compresses a disk only when CompressOutput= says so. A cached output must be a regular file and
 * Nx stores a sparse file in full (a 2 GB disk with 300 MB of data is 2 GB in the cache), so kiln
 * compresses both by default (zstd: NAME.raw.zst); CompressOutput=no gives NAME.raw. For uki,
 * CompressOutput= is mkosi's: the compression of the initrd inside; the .efi itself is not.
 *
 * SplitArtifacts= (uki, kernel, initrd, kernel-modules-initrd, os-release) adds files beside the
 * image, named as mkosi names them; they are optional outputs: a Bootable=auto disk without a
 * kernel has none.
 */
import { compressionSuffix, type Compression, type OutputFile, type OutputFormat } from './format';

/** The files SplitArtifacts= adds, by artifact, as mkosi 26 names them. */
const SPLIT_NAMES: Record<string, (output: string) => string> = {
  uki: (o) => `${o}.efi`,
  kernel: (o) => `${o}.vmlinuz`,
  initrd: (o) => `${o}.initrd`,
  'kernel-modules-initrd': (o) => `${o}.kernel-modules-initrd`,
  'os-release': (o) => `${o}.osrelease`,
};

/** SplitArtifacts= as artifacts: a boolean is what mkosi 26 still reads it as (compat_yes, compat_no). */
export function wantedArtifacts(config: Record<string, unknown>): string[] {
  const wanted = new Set<string>();
  for (const v of (config.SplitArtifacts as string[] | undefined) ?? []) {
    if (['yes', 'true', '1', 'on'].includes(v)) ['uki', 'kernel', 'initrd', 'partitions'].forEach((a) => wanted.add(a));
    else if (['no', 'false', '0', 'off'].includes(v)) ['uki', 'kernel', 'initrd'].forEach((a) => wanted.add(a));
    else wanted.add(v);
  }
  return [...wanted];
}

/** The split artifacts kiln writes for a preset, in SplitArtifacts= order, without `skip`. */
export function splitArtifacts(config: Record<string, unknown>, skip: string[] = []): { artifact: string; name: string }[] {
  return wantedArtifacts(config).filter((a) => SPLIT_NAMES[a] && !skip.includes(a)).map((a) => ({ artifact: a, name: SPLIT_NAMES[a](config.Output as string) }));
}

/** The SplitArtifacts= values kiln does not write yet (partitions, tar, pcrs, roothash, repart-definitions). */
export function unwrittenArtifacts(config: Record<string, unknown>): string[] {
  return wantedArtifacts(config).filter((a) => !SPLIT_NAMES[a]);
}

function splitFiles(config: Record<string, unknown>, skip: string[]): OutputFile[] {
  return splitArtifacts(config, skip).map(({ name }) => ({ name, kind: 'file', compression: 'none', optional: true }));
}

const rawImage = (output: string, compression: Compression): OutputFile => ({ name: `${output}.raw${compressionSuffix(compression)}`, kind: 'file', compression });

export const disk: OutputFormat = {
  name: 'disk',
  buildable: true,
  image: true,
  compression: 'zstd',
  files: (output, compression, config) => [rawImage(output, compression), ...splitFiles(config, [])],
};

export const esp: OutputFormat = {
  name: 'esp',
  buildable: true,
  image: true,
  compression: 'zstd',
  files: (output, compression, config) => [rawImage(output, compression), ...splitFiles(config, [])],
};

export const uki: OutputFormat = {
  name: 'uki',
  buildable: true,
  image: true,
  compression: 'zstd',
  // The UKI is the image: SplitArtifacts=uki names the same file.
  files: (output, _compression, config) => [{ name: `${output}.efi`, kind: 'file', compression: 'none' }, ...splitFiles(config, ['uki'])],
};
