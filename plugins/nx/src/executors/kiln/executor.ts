/** @kiln/nx:kiln: the kiln commands that are not cached (summary, lock, clean, explain, vm). */
import type { ExecutorContext } from '@nx/devkit';
import { runKiln, verbose } from '../run-kiln';

export interface KilnExecutorOptions {
  command: 'summary' | 'lock' | 'clean' | 'explain' | 'vm';
  directory: string;
  preset?: string;
  /** A variant's settings (`--Profiles=debug`): the vm target of a variant. */
  args?: string[];
}

export default async function kilnExecutor(options: KilnExecutorOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  const args = [options.command, '-C', options.directory];
  if (options.preset) args.push('--preset', options.preset);
  args.push(...(options.args ?? []));
  if (options.command === 'lock' && verbose()) args.push('--verbose');
  return runKiln(context.root, args);
}
