/**
 * The named inputs of a preset's project: Nx's own and the workspace's (nx.json), each
 * `{projectRoot}` fileset said again as a `{workspaceRoot}` one.
 *
 * Why: a preset's project is rooted where the preset is defined, and that is often a file
 * (mkosi.images/NAME.conf) or a path that does not exist (the generated presets' mkosi.tools.conf
 * and mkosi.default-initrd.conf). Nx 24's native hasher finds a `{projectRoot}` fileset's files
 * in its project file map, which gives a project only the files under a root that is a
 * directory, and has no entry at all for a project owning no file: every task hashing such a
 * fileset of the preset failed with "project system-tools not found". That is any target with
 * Nx's default inputs (`default` and `^default`) on a project depending on a preset (a user's
 * `lint` or `test` target in the main image's project.json, or one inferred by another plugin),
 * and `^production`-like inputs of nx.json. The same fileset under `{workspaceRoot}` is matched
 * against the workspace's files instead, which needs no project entry and selects the same files.
 * Out of reach: a target input `{ fileset: '{projectRoot}/…', dependencies: true }` is applied to
 * each dependency as written, not through its named inputs, and still fails (only a root that is
 * a directory owning a file would do; measured with Nx 24.0.6).
 *
 * The result depends on the project root and nx.json alone, never on which files exist: Nx hashes
 * a project's named inputs into every task of that project (its project configuration hash), so
 * a list of config files found at graph time would make the image targets miss when a gitignored
 * mkosi.local.conf appears, and only without the daemon (which does not see it).
 */
import type { ProjectConfiguration } from '@nx/devkit';

type NamedInputs = NonNullable<ProjectConfiguration['namedInputs']>;
type Input = NamedInputs[string][number];

/** Nx's `default` when nx.json has none: every file of the project. */
const NX_DEFAULT: NamedInputs = { default: ['{projectRoot}/**/*'] };

const PROJECT_ROOT = /^(!?)\{projectRoot\}(?=\/|$)/;

/** `{projectRoot}/GLOB` -> `{workspaceRoot}/ROOT/GLOB`, negations too; any other string unchanged. */
function swapRoot(fileset: string, root: string): string {
  return fileset.replace(PROJECT_ROOT, (_, not: string) => `${not}{workspaceRoot}/${root}`);
}

/**
 * A fileset taking every file of the project (`{projectRoot}/**` or `{projectRoot}/**\/*`) takes
 * ROOT itself as well: for a root that is a file, that file (the preset's definition) is the
 * project's one file, as a directory's files are for a directory.
 */
function rewriteFileset(fileset: string, root: string): string[] {
  const swapped = swapRoot(fileset, root);
  return /^\{projectRoot\}\/\*\*(\/\*)?$/.test(fileset) ? [`{workspaceRoot}/${root}`, swapped] : [swapped];
}

function rewriteInput(input: Input, root: string): Input[] {
  // A string is a named input's name or a fileset: only filesets start with a root token.
  if (typeof input === 'string') return rewriteFileset(input, root);
  if ('fileset' in input) return rewriteFileset(input.fileset, root).map((fileset) => ({ ...input, fileset }));
  if ('json' in input && typeof input.json === 'string') return [{ ...input, json: swapRoot(input.json, root) }];
  return [input];
}

/**
 * Every named input the project has (Nx's `default`, then nx.json's), with its `{projectRoot}`
 * filesets rewritten against `root` (relative to the workspace). Other inputs (named input
 * references, `{workspaceRoot}` filesets, runtime, env, external dependencies) stay as they are.
 */
export function presetNamedInputs(root: string, workspace: NamedInputs | undefined): NamedInputs {
  const all = { ...NX_DEFAULT, ...workspace };
  return Object.fromEntries(Object.entries(all).map(([name, inputs]) => [name, inputs.flatMap((i) => rewriteInput(i, root))]));
}
