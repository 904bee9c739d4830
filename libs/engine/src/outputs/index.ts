/**
 * Output formats. Each writes into the staging directory under a temporary name; the build
 * publishes the files by rename only once everything succeeded, so an output is whole or absent.
 *
 * Format=directory is for people to look at; since a cached artifact must be regular files (Nx
 * copies outputs file by file, and device nodes break it), a directory image is also written as
 * NAME.tar.zst: presets reading it (BaseTrees=%O/base) and the cache use that archive.
 */
import * as path from 'node:path';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { writeCpio } from './cpio';
import { writeTar } from './tar';
import { outputNames } from '@kiln/config';

export { outputNames };

export const SUPPORTED_FORMATS = ['directory', 'tar', 'cpio', 'none'];

/** Writes the outputs into `staging`; returns [temporary path, final name] pairs. */
export async function writeOutputs(ctx: BuildContext, staging: string): Promise<[string, string][]> {
  const format = cfg(ctx, 'Format');
  const names = outputNames(ctx.preset.config);
  const level = cfg(ctx, 'CompressLevel');
  switch (format) {
    case 'none':
      return [];
    case 'tar': {
      const tmp = path.join(staging, names[0]);
      await writeTar(ctx, tmp, cfg(ctx, 'CompressOutput'), level);
      return [[tmp, names[0]]];
    }
    case 'cpio': {
      const tmp = path.join(staging, names[0]);
      await writeCpio(ctx, tmp, cfg(ctx, 'CompressOutput'), level);
      return [[tmp, names[0]]];
    }
    case 'directory': {
      const archive = path.join(staging, names[1]);
      await writeTar(ctx, archive, 'zstd', level);
      // The tree itself is renamed into place: no copy.
      return [[archive, names[1]], [ctx.root, names[0]]];
    }
    default:
      throw new BuildError(`Format=${format} cannot be built yet (supported: ${SUPPORTED_FORMATS.join(', ')})`, ctx.preset.name);
  }
}
