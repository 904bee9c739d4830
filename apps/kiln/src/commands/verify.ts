import { runScript } from '../config-scripts';
import * as path from 'node:path';
import { formatProblem, loadProject, manifestPath, type Override } from '@kiln/config';
import { BuildError, verifyPresetOutputs } from '@kiln/engine';
import { reportWarnings } from '../report';
import { buildIdentity } from '../version';

/**
 * `kiln verify`: checks each preset's outputs (or one preset's) against the manifest its build
 * wrote (SHA-256 and size of every output file), and the manifest's signature when
 * KILN_ALLOWED_SIGNERS is set (and then that it is a build of the inputs here): what a build does before it uses another preset's output, for
 * outputs restored from a cache. One line per problem (`FILE: expected ..., found ...`) and exit
 * code 1 when there is any; a preset never built is named, and fails only when asked for by name.
 */
export function verifyCommand(opts: { directory: string; preset?: string; overrides?: readonly Override[] }): void {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  const named = opts.preset ? project.presets.find((p) => p.name === opts.preset) : undefined;
  if (opts.preset && !named) throw new BuildError(`no preset named "${opts.preset}" (accepted: ${project.presets.map((p) => p.name).join(', ')})`);
  const show = (f: string) => path.relative(project.root, f);
  let failed = false;
  for (const preset of named ? [named] : project.presets) {
    if (!manifestPath(preset)) {
      process.stdout.write(`${preset.name}: Format=${preset.config.Format} writes no outputs, nothing to verify\n`);
      continue;
    }
    const check = verifyPresetOutputs(project, preset, { identity: buildIdentity() });
    if (check.status === 'ok') {
      const signed = process.env.KILN_ALLOWED_SIGNERS ? ', signed by an allowed signer' : '';
      process.stdout.write(`${preset.name}: ok (${check.files} ${check.files === 1 ? 'file matches' : 'files match'} ${show(check.manifest)}${signed})\n`);
    } else if (check.status === 'unbuilt') {
      process.stdout.write(`${preset.name}: not built, nothing to verify (kiln build --preset ${preset.name})\n`);
      if (named) failed = true;
    } else {
      for (const p of check.problems) process.stdout.write(`${formatProblem(p, show)}\n`);
      process.stdout.write(`${preset.name}: failed the check against ${show(check.manifest)}, not to be used: rebuild it (kiln build --preset ${preset.name} --force)\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}
