/**
 * SplitArtifacts= (mkosi 26's ArtifactOutput): the files a bootable or repart-made image writes
 * beside itself, named as mkosi names them (its output_split_* names) and, for `partitions`, as
 * systemd-repart --split=yes names them: IMAGE.<SplitName=>.raw, SplitName= defaulting to `%t`,
 * the partition type's identifier (root-x86-64, esp, ...), then compressed per CompressOutput=
 * as the disk is. A cache declares its outputs before the build, so kiln names the partition
 * files from the definitions (kiln's default ones, or the project's RepartDirectories=) here.
 *
 * What kiln does not write, and why (the build says so when asked):
 * - pcrs: the TPM2 PCR signatures of a signed UKI (SignExpectedPcrKey=/Certificate=, and
 *   systemd-measure 258; the tools tree has 257): kiln does not sign UKIs.
 * - repart-definitions: mkosi writes a directory (NAME.repart.d), and a cached output of kiln is a
 *   regular file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compressionSuffix, type Compression, type OutputFile } from './format';

/** The files of the artifacts that are one file whatever the image holds, by artifact. */
const SPLIT_NAMES: Record<string, (output: string, compression: Compression) => string> = {
  uki: (o) => `${o}.efi`,
  kernel: (o) => `${o}.vmlinuz`,
  initrd: (o) => `${o}.initrd`,
  'kernel-modules-initrd': (o) => `${o}.kernel-modules-initrd`,
  'os-release': (o) => `${o}.osrelease`,
  roothash: (o) => `${o}.roothash`,
  // The image tree as a tar, compressed per CompressOutput= (mkosi's output_tar).
  tar: (o, c) => `${o}.tar${compressionSuffix(c)}`,
};

/** The SplitArtifacts= values kiln does not write (see the module comment). */
export const UNWRITTEN_ARTIFACTS: Readonly<Record<string, string>> = {
  pcrs: 'the TPM2 PCR signatures of a signed UKI (SignExpectedPcrKey=, systemd-measure 258): kiln does not sign UKIs',
  'repart-definitions': 'mkosi writes it as a directory (NAME.repart.d), and kiln\'s outputs are regular files',
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

/** The single-file split artifacts of a preset, in SplitArtifacts= order, but those in `skip`. */
export function splitArtifacts(config: Record<string, unknown>, skip: string[] = []): { artifact: string; name: string }[] {
  const compression = config.CompressOutput as Compression;
  return wantedArtifacts(config)
    .filter((a) => SPLIT_NAMES[a] && !skip.includes(a))
    .map((a) => ({ artifact: a, name: SPLIT_NAMES[a](config.Output as string, compression) }));
}

/** The SplitArtifacts= values asked for that kiln does not write, with why. */
export function unwrittenArtifacts(config: Record<string, unknown>): { artifact: string; why: string }[] {
  return wantedArtifacts(config).filter((a) => UNWRITTEN_ARTIFACTS[a]).map((a) => ({ artifact: a, why: UNWRITTEN_ARTIFACTS[a] }));
}

/** A partition definition as far as its split file goes. */
export interface SplitDefinition {
  /** The definition file (for messages). */
  file: string;
  /** IMAGE.<suffix>.raw; null when SplitName= has a specifier kiln cannot resolve before the build. */
  suffix: string | null;
  /** SplitName= as written (for messages). */
  splitName: string;
  /** Written only on some builds (kiln's default ESP of a Bootable=auto disk). */
  optional: boolean;
}

/** Type= values whose identifier names the architecture (repart resolves them so: root -> root-x86-64). */
const ARCH_TYPES = ['root', 'root-verity', 'root-verity-sig', 'usr', 'usr-verity', 'usr-verity-sig'];

/** repart's `%t` of a Type= value: the identifier of the partition type for the architecture. */
export function partitionTypeId(type: string, architecture: string): string {
  const t = type.trim().toLowerCase();
  if (!ARCH_TYPES.includes(t)) return t;
  const [base, ...rest] = t.split('-');
  return [base, architecture, ...rest].join('-');
}

/** IMAGE.<suffix>.raw's suffix: SplitName= with `%t` (and `%%`) resolved; null with any other specifier. */
function splitSuffix(splitName: string, typeId: string): string | null {
  if (/%[^t%]/.test(splitName)) return null;
  return splitName.replace(/%(t|%)/g, (_, c: string) => (c === 't' ? typeId : '%'));
}

/** The [Partition] Type= and SplitName= of a repart.d file. */
function readDefinition(file: string): { type: string; splitName: string } {
  let section = '';
  let type = '';
  let splitName = '%t';
  for (const raw of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) section = line;
    else if (section === '[Partition]') {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq).trim();
      if (key === 'Type') type = line.slice(eq + 1).trim();
      if (key === 'SplitName') splitName = line.slice(eq + 1).trim() || '%t';
    }
  }
  return { type, splitName };
}

/**
 * The partitions a disk's SplitArtifacts=partitions writes, from its definitions: the project's
 * RepartDirectories= (*.conf, one name once, the first directory's winning as repart reads them),
 * else kiln's defaults (an ESP when bootable, the root).
 */
export function splitDefinitions(config: Record<string, unknown>): SplitDefinition[] {
  const arch = String(config.Architecture);
  const dirs = (config.RepartDirectories as string[] | undefined) ?? [];
  if (!dirs.length) {
    const root: SplitDefinition = { file: "kiln's default root definition", suffix: partitionTypeId('root', arch), splitName: '%t', optional: false };
    if (config.Bootable === 'disabled') return [root];
    return [{ file: "kiln's default ESP definition", suffix: 'esp', splitName: '%t', optional: config.Bootable !== 'enabled' }, root];
  }
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith('.conf'));
    } catch {
      continue; // a missing directory is the build's error to report
    }
    for (const n of names) if (!byName.has(n)) byName.set(n, path.join(dir, n));
  }
  return [...byName.keys()].sort().flatMap((n) => {
    const file = byName.get(n)!;
    const { type, splitName } = readDefinition(file);
    if (splitName === '-') return [];
    return [{ file, suffix: splitSuffix(splitName, partitionTypeId(type, arch)), splitName, optional: false }];
  });
}

/** The split-out partition files of a disk (SplitArtifacts=partitions), compressed as the disk. */
export function partitionFiles(config: Record<string, unknown>, compression: Compression): OutputFile[] {
  if (!wantedArtifacts(config).includes('partitions')) return [];
  return splitDefinitions(config)
    .filter((d) => d.suffix !== null)
    .map((d) => ({ name: `${config.Output as string}.${d.suffix}.raw${compressionSuffix(compression)}`, kind: 'file', compression, optional: d.optional }));
}

/** The single-file split artifacts as registry files (optional: a Bootable=auto image without a kernel has none). */
export function splitFiles(config: Record<string, unknown>, skip: string[]): OutputFile[] {
  const compression = config.CompressOutput as Compression;
  return splitArtifacts(config, skip).map(({ artifact, name }) => ({ name, kind: 'file', compression: artifact === 'tar' ? compression : 'none', optional: artifact !== 'tar' }));
}
