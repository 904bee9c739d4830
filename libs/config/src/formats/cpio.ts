/** Format=cpio: NAME.cpio plus the compression's suffix (an initrd); zstd by default, as mkosi. */
import { compressionSuffix, type OutputFormat } from './format';

export const cpio: OutputFormat = {
  name: 'cpio',
  buildable: true,
  image: true,
  compression: 'zstd',
  files: (output, compression) => [{ name: `${output}.cpio${compressionSuffix(compression)}`, kind: 'file', compression, baseTree: true }],
};
