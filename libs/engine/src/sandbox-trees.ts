/**
 * SandboxTrees= laid once per build into one directory of the work space, each tree (a directory
 * or an archive, checked as every tree from outside is: trees.ts) at its target, later ones over
 * earlier ones. The installers read the package managers' configuration and keys from it (the
 * RPM family's repo files and keys, pacman's keyring, portage's make.profile), so an archive
 * counts as a directory does. It is what mkosi calls the sandbox tree.
 */
import * as path from 'node:path';
import { cfg, type BuildContext } from './context';
import { ensureDir } from './fsutil';
import { copyTree } from './trees';

/** The laid tree, or null when the preset has no sandbox trees. */
export async function laySandboxTrees(ctx: BuildContext): Promise<string | null> {
  const trees = cfg(ctx, 'SandboxTrees');
  if (!trees.length) return null;
  const dir = ensureDir(path.join(ctx.work, 'sandbox-tree'));
  for (const tree of trees) await copyTree(ctx, tree, dir, { rootOwned: true, userTree: true, what: 'sandbox tree' });
  return dir;
}
