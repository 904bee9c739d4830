/** Format=tar: NAME.tar plus the compression's suffix; zstd by default so cached images stay small. */
import { compressionSuffix, type OutputFormat } from './format';

export const tar: OutputFormat = {
  name: 'tar',
  buildable: true,
  image: true,
  compression: 'zstd',
  files: (output, compression) => [{ name: `${output}.tar${compressionSuffix(compression)}`, kind: 'file', compression, baseTree: true }],
};
