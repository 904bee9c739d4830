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
 * SplitArtifacts= adds files beside the image (split.ts names them): uki, kernel, initrd,
 * kernel-modules-initrd, os-release (optional: a Bootable=auto disk without a kernel has none),
 * tar, and for a disk partitions and roothash, as mkosi 26 does (it splits no partitions out of
 * an ESP image).
 */
import { compressionSuffix, type Compression, type FormatName, type OutputFile, type OutputFormat } from './format';
import { partitionFiles, splitFiles } from './split';

export { splitArtifacts, unwrittenArtifacts, wantedArtifacts } from './split';

const rawImage = (output: string, compression: Compression): OutputFile => ({ name: `${output}.raw${compressionSuffix(compression)}`, kind: 'file', compression });

/** A raw image made by systemd-repart (disk, esp): NAME.raw, compressed per CompressOutput=, and its split artifacts. */
function rawFormat(name: FormatName, opts: { partitions: boolean }): OutputFormat {
  return {
    name,
    buildable: true,
    image: true,
    compression: 'zstd',
    files: (output, compression, config) => [
      rawImage(output, compression),
      ...(opts.partitions ? partitionFiles(config, compression) : []),
      ...splitFiles(config, opts.partitions ? [] : ['roothash']),
    ],
  };
}

export const disk = rawFormat('disk', { partitions: true });
export const esp = rawFormat('esp', { partitions: false });

export const uki: OutputFormat = {
  name: 'uki',
  buildable: true,
  image: true,
  compression: 'zstd',
  // The UKI is the image: SplitArtifacts=uki names the same file. No partitions, no root hash.
  files: (output, _compression, config) => [{ name: `${output}.efi`, kind: 'file', compression: 'none' }, ...splitFiles(config, ['uki', 'roothash'])],
};
