import * as path from 'node:path';
import { describeInputs, digestInputs, loadProject, presetInputs } from '@kiln/config';
import { reportWarnings } from '../report';
import { version } from '../version';

/**
 * `kiln digest`: the fingerprint of a preset's inputs that the Nx target hashes, or with --list
 * what goes into it (settings hash, then every file, directory and link with its mode).
 */
export function digestCommand(opts: { directory: string; preset?: string; list?: boolean; json?: boolean }): void {
  const project = loadProject(opts.directory);
  reportWarnings(project.warnings);
  const preset = opts.preset ? project.presets.find((p) => p.name === opts.preset) : project.main;
  if (!preset) {
    process.stderr.write(`kiln: no preset named "${opts.preset}" (accepted: ${project.presets.map((p) => p.name).join(', ')})\n`);
    process.exitCode = 1;
    return;
  }
  const inputs = presetInputs(project, preset);
  const extra = [`kiln ${version}`, `settings ${inputs.settingsHash}`];
  const digestOpts = { root: project.root, extra };
  if (opts.json) {
    const rel = (p: string) => path.relative(project.root, p) || '.';
    process.stdout.write(`${JSON.stringify({ ...inputs, configFiles: inputs.configFiles.map(rel), paths: inputs.paths.map(rel), digest: digestInputs(inputs.paths, digestOpts) }, null, 2)}\n`);
  } else if (opts.list) {
    process.stdout.write(`${describeInputs(inputs.paths, digestOpts).join('\n')}\n`);
  } else {
    process.stdout.write(`${digestInputs(inputs.paths, digestOpts)}\n`);
  }
}
