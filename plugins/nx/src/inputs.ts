/**
 * The inputs and outputs of a preset's `image` target (measured behaviour of Nx 24 in
 * shared/DESIGN.md): everything that can change the image, nothing that cannot.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TargetConfiguration } from '@nx/devkit';
import { cachedOutputNames, presetInputs, type Preset, type Project } from '@kiln/config';

type Inputs = NonNullable<TargetConfiguration['inputs']>;

/** A path of the kiln package: relative to the workspace when inside it (the same on every checkout). */
export function kilnBin(workspaceRoot: string, file: string): string {
  const abs = require.resolve(`@kiln/cli/dist/${file}`);
  const rel = path.relative(workspaceRoot, abs);
  return rel.startsWith('..') ? abs : rel;
}

let identity: string | undefined;
/** kiln's version and a hash of its engine's code (@kiln/cli/dist/version.js), once per graph creation. */
function kilnIdentity(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  identity ??= (require('@kiln/cli/dist/version.js') as { buildIdentity(): string }).buildIdentity();
  return identity;
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The output files of a dependency that go into the hash (Nx's glob engine takes the !(...) form). */
export const DEPENDENCY_IMAGE_FILES = '**/!(*.manifest.json)';

export function imageInputs(project: Project, preset: Preset, dir: string, workspaceRoot: string): Inputs {
  const inputs = presetInputs(project, preset);
  const inWorkspace = (p: string) => !path.relative(workspaceRoot, p).startsWith('..');
  const ws = (p: string) => `{workspaceRoot}/${path.relative(workspaceRoot, p)}`;
  const result: Inputs = [];

  // Config files and trees by content, gitignored ones too (mkosi.local.conf usually is).
  for (const f of [...inputs.configFiles, inputs.lockfile].filter(inWorkspace)) result.push({ fileset: ws(f), includeIgnored: true } as never);
  for (const p of inputs.paths.filter(inWorkspace)) {
    result.push({ fileset: ws(p), includeIgnored: true } as never, { fileset: `${ws(p)}/**/*`, includeIgnored: true } as never);
  }

  // What file hashes miss: modes, symlinks, empty directories, trees outside the workspace; and
  // the resolved settings and kiln's build identity. Runs in the workspace root on every `nx run`.
  const cacheFile = path.join(os.tmpdir(), 'kiln-digest', createHash('sha256').update(workspaceRoot).digest('hex').slice(0, 12), `${project.main.name}-${preset.name}.json`);
  const digestArgs = [
    '--root', dir,
    '--cache', cacheFile,
    '--extra', `kiln:${kilnIdentity()}`,
    '--extra', `settings:${inputs.settingsHash}`,
    ...inputs.paths.map((p) => (inWorkspace(p) ? path.relative(workspaceRoot, p) : p)),
  ];
  result.push({ runtime: `node ${kilnBin(workspaceRoot, 'digest.js')} ${digestArgs.map(quote).join(' ')}` });

  for (const name of inputs.environment) result.push({ env: name });
  // A base tree or initrd built by another preset: its image files, as Nx restored or built them;
  // not its build manifest (a rebuild giving the same image must not rebuild this preset).
  if (inputs.readsOutputsOf.length) result.push({ dependentTasksOutputFiles: DEPENDENCY_IMAGE_FILES });
  // kiln's own version is in the digest; no npm package can change the image otherwise.
  result.push({ externalDependencies: [] });
  return result;
}

export function imageOutputs(project: Project, preset: Preset, workspaceRoot: string): string[] {
  const dir = preset.config.OutputDirectory as string;
  return cachedOutputNames(preset.config).map((n) => `{workspaceRoot}/${path.relative(workspaceRoot, path.join(dir, n))}`);
}
