/**
 * @kiln/nx:image: builds one preset (`kiln build --preset NAME --no-deps --force`). Nx decides
 * whether it runs at all (the cache), and builds the presets it reads first (dependsOn), so kiln
 * neither skips it nor builds its dependencies.
 */
import type { ExecutorContext } from '@nx/devkit';
import { runKiln, verbose } from '../run-kiln';

export interface ImageExecutorOptions {
  /** The project directory (holding mkosi.conf or kiln.toml), relative to the workspace root. */
  directory: string;
  /** The preset to build (the main image is named after the directory). */
  preset: string;
}

export default async function imageExecutor(options: ImageExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const args = ['build', '-C', options.directory, '--preset', options.preset, '--force', '--no-deps'];
  if (verbose()) args.push('--verbose');
  return runKiln(context.root, args);
}
