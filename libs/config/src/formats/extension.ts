/**
 * Format=sysext, confext and portable: one GPT disk image, NAME.raw, holding an erofs root
 * partition of the image's /usr and /opt (sysext), /etc (confext) or whole tree (portable), plus
 * its dm-verity hash and signature partitions when Verity= asks for them, and the split-out
 * partitions and root hash SplitArtifacts= asks for. It is a regular file
 * of its own size (systemd-repart --size=auto), so it is cached as it is: CompressOutput= is none
 * by default, as mkosi's; when set, NAME.raw plus the compression's suffix.
 *
 * What goes into each partition, and how, is the engine's (libs/engine/src/outputs/extension.ts).
 */
import { compressionSuffix, type Compression, type FormatName, type OutputFile, type OutputFormat } from './format';
import { partitionTypeId, wantedArtifacts } from './split';

/**
 * The dm-verity partitions an extension image gets, by mkosi 26's rules: Verity=auto signs when
 * both VerityKey= and VerityCertificate= are set and adds no verity otherwise; defer allocates the
 * signature partition and leaves it to be signed later. (The engine says why a combination that
 * cannot be built is refused: outputs/extension-verity.ts.)
 */
export type ExtensionVerity = 'none' | 'hash' | 'signed' | 'defer';

export function extensionVerity(config: Record<string, unknown>): ExtensionVerity {
  switch (config.Verity) {
    case 'disabled':
      return 'none';
    case 'hash':
    case 'signed':
    case 'defer':
      return config.Verity;
    default:
      return config.VerityKey && config.VerityCertificate ? 'signed' : 'none';
  }
}

/** The partitions of an extension image, as repart.d Type= values, in order. */
export function extensionPartitionTypes(verity: ExtensionVerity): string[] {
  return ['root', ...(verity === 'none' ? [] : ['root-verity']), ...(verity === 'signed' || verity === 'defer' ? ['root-verity-sig'] : [])];
}

/**
 * SplitArtifacts= of an extension image, as mkosi 26 writes them: `partitions` (IMAGE.<type>.raw
 * per partition, compressed as the image; a deferred signature partition may have none) and
 * `roothash` (with verity).
 */
function splitFiles(output: string, compression: Compression, config: Record<string, unknown>): OutputFile[] {
  const wanted = wantedArtifacts(config);
  const verity = extensionVerity(config);
  const files: OutputFile[] = [];
  if (wanted.includes('partitions')) {
    for (const type of extensionPartitionTypes(verity)) {
      const id = partitionTypeId(type, String(config.Architecture));
      files.push({ name: `${output}.${id}.raw${compressionSuffix(compression)}`, kind: 'file', compression, optional: verity === 'defer' && type === 'root-verity-sig' });
    }
  }
  if (wanted.includes('roothash') && verity !== 'none') files.push({ name: `${output}.roothash`, kind: 'file', compression: 'none' });
  return files;
}

function extension(name: FormatName & ('sysext' | 'confext' | 'portable')): OutputFormat {
  return {
    name,
    buildable: true,
    image: true,
    compression: 'none',
    files: (output, compression, config) => [{ name: `${output}.raw${compressionSuffix(compression)}`, kind: 'file', compression }, ...splitFiles(output, compression, config)],
  };
}

export const sysext = extension('sysext');
export const confext = extension('confext');
export const portable = extension('portable');
