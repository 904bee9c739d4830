/**
 * Format=directory: the image tree itself, for people to look at, plus NAME.tar.zst. A cached
 * artifact must be regular files, so the archive is what a cache keeps and what presets reading
 * the tree (BaseTrees=%O/NAME) unpack. The archive is zstd whatever CompressOutput= says (it
 * names no compression of the tree), so its name never changes.
 */
import type { OutputFormat } from './format';

export const directory: OutputFormat = {
  name: 'directory',
  buildable: true,
  image: true,
  compression: 'none',
  files: (output) => [
    { name: output, kind: 'tree', compression: 'none' },
    { name: `${output}.tar.zst`, kind: 'file', compression: 'zstd', baseTree: true },
  ],
};
