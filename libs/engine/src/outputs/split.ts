/**
 * The SplitArtifacts= that come out of systemd-repart's run (the registry's formats/split.ts names
 * them): `partitions`, the files --split=yes wrote beside the raw image, compressed as the image;
 * and `roothash`, the dm-verity root hash of the image's root (else /usr) partition, as mkosi's
 * write_split_roothash (the hash alone, no newline). Also the refusal of `pcrs` (kiln builds no
 * signed UKIs, so it has no PCR signatures to write).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compressionSuffix, splitDefinitions, wantedArtifacts } from '@kiln/config';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { BASH } from '../exec';
import type { StagedFile } from '.';
import { runTool } from './boot-tools';
import type { Partition } from './repart';
import { compressor } from './tar';

export function wants(ctx: BuildContext, artifact: string): boolean {
  return wantedArtifacts(ctx.preset.config).includes(artifact);
}

/** Compresses `src` into the staged `dest` per its compression (or renames it), removing `src`. */
export async function compressInto(ctx: BuildContext, src: string, dest: StagedFile): Promise<void> {
  if (dest.compression === 'none') {
    if (src !== dest.path) fs.renameSync(src, dest.path);
    return;
  }
  await runTool(ctx, [path.dirname(dest.path)], ['bash', ...BASH, '-o', 'pipefail', '-c', `${compressor(dest.compression, cfg(ctx, 'CompressLevel'))} < "$1" > "$2"`, 'compress', src, dest.path], `compressing ${dest.name}`);
  fs.rmSync(src);
}

/**
 * The partition files repart wrote (IMAGE.<SplitName=>.raw beside the image), each to the output
 * the registry named for it. A file the registry could not name before the build (a SplitName=
 * with a specifier other than %t) is an error naming the definition and the fix.
 */
export async function publishPartitions(ctx: BuildContext, files: StagedFile[], partitions: Partition[]): Promise<void> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const unnamed = splitDefinitions(ctx.preset.config).find((d) => d.suffix === null);
  if (unnamed) {
    throw new BuildError(`SplitArtifacts=partitions: SplitName=${unnamed.splitName} in ${path.relative(ctx.project.root, unnamed.file)} has a specifier kiln cannot resolve before the build (the outputs of a cached preset are named in advance): use %t or a fixed name, or SplitName=- for no file`, ctx.preset.name);
  }
  for (const p of partitions) {
    if (!p.split_path || p.split_path === '-') continue;
    const base = path.basename(p.split_path);
    const dest = byName.get(`${base}${compressionSuffix(cfg(ctx, 'CompressOutput'))}`);
    if (!dest) throw new BuildError(`SplitArtifacts=partitions: systemd-repart wrote ${base}, which kiln did not expect from the partition definitions (type ${p.type}): this is a kiln bug, or set SplitName= in the definition`, ctx.preset.name);
    await compressInto(ctx, p.split_path, dest);
  }
}

/** mkosi's finalize_roothash: the first root partition's root hash, else the first /usr's; "TBD" (deferred) is none. */
export function rootHash(partitions: Partition[]): string | null {
  const hashes = partitions.filter((p) => p.roothash && p.roothash !== 'TBD');
  return (hashes.find((p) => p.type.startsWith('root')) ?? hashes.find((p) => p.type.startsWith('usr')))?.roothash ?? null;
}

/**
 * NAME.roothash, when the image has a verity-protected partition (SplitArtifacts=roothash), from
 * repart's passes, the last one's first: a pass that finds the partitions written already reports
 * no root hash, so the pass that wrote them has it (mkosi keeps the file of the pass that did).
 */
export function writeRootHash(ctx: BuildContext, files: StagedFile[], passes: Partition[][]): void {
  const file = files.find((f) => f.name === `${cfg(ctx, 'Output')}.roothash`);
  const hash = [...passes].reverse().map(rootHash).find((h) => h !== null);
  if (file && hash) fs.writeFileSync(file.path, hash);
}

/**
 * SplitArtifacts=pcrs asks for the TPM2 PCR signatures of a signed UKI (mkosi: SignExpectedPcrKey=
 * and SignExpectedPcrCertificate=, with systemd-measure 258), which kiln does not build: an error
 * when the build makes a UKI, rather than a missing file (mkosi stops there too).
 */
export function refusePcrs(ctx: BuildContext): void {
  if (wants(ctx, 'pcrs')) {
    throw new BuildError('SplitArtifacts=pcrs: the PCR signatures of a signed UKI (SignExpectedPcrKey=, SignExpectedPcrCertificate=, systemd-measure 258) are not supported by kiln, which builds unsigned UKIs: remove pcrs from SplitArtifacts=', ctx.preset.name);
  }
}
