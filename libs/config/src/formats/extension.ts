/**
 * Format=sysext, confext and portable: one GPT disk image, NAME.raw, holding an erofs root
 * partition of the image's /usr and /opt (sysext), /etc (confext) or whole tree (portable), plus
 * its dm-verity hash and signature partitions when Verity= asks for them. It is a regular file
 * of its own size (systemd-repart --size=auto), so it is cached as it is: CompressOutput= is none
 * by default, as mkosi's; when set, NAME.raw plus the compression's suffix.
 *
 * What goes into each partition, and how, is the engine's (libs/engine/src/outputs/extension.ts).
 */
import { compressionSuffix, type FormatName, type OutputFormat } from './format';

function extension(name: FormatName & ('sysext' | 'confext' | 'portable')): OutputFormat {
  return {
    name,
    buildable: true,
    image: true,
    compression: 'none',
    files: (output, compression) => [{ name: `${output}.raw${compressionSuffix(compression)}`, kind: 'file', compression }],
  };
}

export const sysext = extension('sysext');
export const confext = extension('confext');
export const portable = extension('portable');
