/**
 * The inputs and outputs of a preset's `image` target (measured behaviour of Nx 24 in
 * shared/DESIGN.md): everything that can change the image, nothing that cannot.
 *
 * The verdict rests on the `runtime` input: kiln-digest computes the preset's fingerprint when
 * Nx hashes (resolved settings, modes, symlinks, empty directories, trees outside the workspace,
 * gitignored config files, tools, kiln itself, the variables the build reads), from the files as
 * they are then. Nothing that decides a hit is frozen into the graph, which the Nx daemon keeps
 * while only gitignored files change. The command holds no path of the machine or of the kiln
 * package: node resolves @kiln/nx from the workspace root (Nx loaded the plugin from there), and
 * @kiln/nx finds @kiln/cli wherever the package manager put it.
 *
 * Trees and the lockfile are file inputs as well, so that `nx affected -t image` sees their
 * changes (Nx decides affected tasks from their file inputs). Config files are not: a comment or a
 * reordered Packages= changes no resolved value, and the fingerprint hashes resolved values. They
 * are file inputs of the `lock` target instead, which keeps `nx show projects --affected` exact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TargetConfiguration } from '@nx/devkit';
import type { PresetFacts } from '@kiln/config/dist/facts';
import { shellQuote } from '@kiln/config/dist/shell-quote';

type Inputs = NonNullable<TargetConfiguration['inputs']>;

function realPath(p: string): string {
  try {
    // The native call: node's own realpathSync lstat()s every component in JavaScript, more than
    // ten times slower (40 ms against 3 ms for the 400 trees of 200 presets).
    return fs.realpathSync.native(p);
  } catch {
    return p; // not there (yet): its own path
  }
}

/**
 * The output files of a dependency that go into the hash: its image files, not its manifest nor
 * the manifest's signature (signed or not, the image is the same). Nx's glob engine takes the
 * !(a|b) form (its native matchGlobPaths says so).
 */
export const DEPENDENCY_IMAGE_FILES = '**/!(*.manifest.json|*.manifest.json.sig)';

/** The runtime input: kiln-digest of the preset (with a variant's settings), run by node from the workspace root. */
export function digestCommand(dir: string, preset: string, settings: readonly string[] = []): string {
  const args = ['-C', dir, '-p', preset, ...settings].map(shellQuote).join(' ');
  return `node -e "process.exitCode=require('@kiln/nx/dist/digest.js').main(process.argv.slice(1))" -- ${args}`;
}

export function imageInputs(preset: PresetFacts, dir: string, workspaceRoot: string, settings: readonly string[] = []): Inputs {
  const inWorkspace = (p: string) => !path.relative(workspaceRoot, p).startsWith('..');
  const ws = (p: string) => `{workspaceRoot}/${path.relative(workspaceRoot, p)}`;
  const result: Inputs = [{ fileset: ws(preset.lockfile), includeIgnored: true } as never];
  // A tree that is a symlink (mkosi.extra -> ../shared/extra) counts by where its files are too:
  // Nx matches changed files by their own paths, not through the link.
  const trees = preset.paths.flatMap((p) => [p, realPath(p)]).filter((p, i, all) => all.indexOf(p) === i);
  for (const p of trees.filter(inWorkspace)) {
    result.push({ fileset: ws(p), includeIgnored: true } as never, { fileset: `${ws(p)}/**/*`, includeIgnored: true } as never);
  }
  result.push({ runtime: digestCommand(dir, preset.name, settings) });
  // A base tree or initrd built by another preset: its image files, as Nx restored or built them;
  // not its build manifest (a rebuild giving the same image must not rebuild this preset).
  if (preset.readsOutputsOf.length) result.push({ dependentTasksOutputFiles: DEPENDENCY_IMAGE_FILES });
  // kiln's own identity is in the fingerprint; no npm package can change the image otherwise.
  result.push({ externalDependencies: [] });
  return result;
}

/**
 * The config files, as inputs of a target that is not cached: for `nx affected` only. A preset
 * starts from the main image's settings (universal and inherited ones), so the main image's
 * files count for it too.
 */
export function configInputs(preset: PresetFacts, main: PresetFacts, workspaceRoot: string): Inputs {
  return [...new Set([...(preset.main ? [] : main.files), ...preset.files])]
    .filter((f) => !path.relative(workspaceRoot, f).startsWith('..'))
    .map((f) => ({ fileset: `{workspaceRoot}/${path.relative(workspaceRoot, f)}`, includeIgnored: true }) as never);
}

export function imageOutputs(preset: PresetFacts, workspaceRoot: string): string[] {
  return preset.cachedOutputs.map((f) => `{workspaceRoot}/${path.relative(workspaceRoot, f)}`);
}
