import { loadProject, type Override } from '@kiln/config';
import { BuildError, runVm } from '@kiln/engine';
import { reportWarnings } from '../report';

/**
 * `kiln vm`: boots a built preset (default: the main image) in qemu with the serial console on
 * the terminal (libs/engine/src/vm.ts). Arguments after `--` go to qemu. The exit code is qemu's:
 * 0 when the guest powers off.
 */
export async function vmCommand(opts: { directory: string; preset?: string; overrides?: readonly Override[] }, qemuArgs: string[]): Promise<void> {
  const project = loadProject(opts.directory, { overrides: opts.overrides });
  reportWarnings(project.warnings);
  const preset = opts.preset ? project.presets.find((p) => p.name === opts.preset) : project.main;
  if (!preset) throw new BuildError(`no preset named "${opts.preset}" (accepted: ${project.presets.map((p) => p.name).join(', ')})`);
  const status = await runVm(preset, { project, extraArgs: qemuArgs, log: (line) => process.stderr.write(`${line}\n`) });
  process.exitCode = status;
}
