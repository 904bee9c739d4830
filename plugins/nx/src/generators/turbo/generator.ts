/**
 * `nx g @kiln/nx:turbo --directory=DIR`: the same files as `kiln turbo -C DIR` (one Turborepo
 * package per preset in kiln.turbo/, turbo.json and package.json merged; @kiln/cli's turbo.ts
 * says why), written through Nx's tree. The presets are read from the project on disk, as the
 * plugin reads them. Idempotent: running it again rewrites only what the configuration changed.
 */
import * as path from 'node:path';
import type { Tree } from '@nx/devkit';
import { isFactsError, projectFacts } from '@kiln/config/dist/facts';
import { runScript } from '@kiln/cli/dist/config-scripts';
import { planTurbo, TurboError } from '@kiln/cli/dist/turbo';

export interface TurboOptions {
  /** The kiln project directory (holding mkosi.conf or kiln.toml), relative to the workspace. */
  directory: string;
}

export async function turboGenerator(tree: Tree, options: TurboOptions): Promise<void> {
  const dir = path.posix.normalize(options.directory).replace(/\/$/, '');
  if (dir.startsWith('..') || path.posix.isAbsolute(dir)) throw new Error(`kiln: --directory ${dir} must be inside the workspace`);
  const facts = projectFacts(path.join(tree.root, dir), { runScript });
  if (isFactsError(facts)) throw new Error(`kiln: ${facts.error.message}`);
  let plan;
  try {
    plan = planTurbo(facts, tree.root, {
      read: (rel) => (tree.exists(rel) ? (tree.read(rel, 'utf-8') ?? undefined) : undefined),
      list: (rel) => (tree.exists(rel) ? tree.children(rel).filter((c) => !tree.isFile(`${rel}/${c}`)) : []),
    });
  } catch (e) {
    if (e instanceof TurboError) throw new Error(`kiln: ${e.message}`);
    throw e;
  }
  for (const [rel, text] of plan.write) if (tree.read(rel, 'utf-8') !== text) tree.write(rel, text);
  for (const rel of plan.remove) tree.delete(rel);
}

export default turboGenerator;
