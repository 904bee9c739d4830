import { runScript } from '../config-scripts';
import { loadProject, SETTINGS, type Override, type Preset, type SettingDef } from '@kiln/config';
import { buildIdentity } from '../version';
import { BuildError, runVm } from '@kiln/engine';
import { reportWarnings } from '../report';

/** The [Runtime] settings: how the main image says it runs (mkosi's scope `main`, set nowhere else). */
const RUNTIME = (SETTINGS as readonly SettingDef[]).filter((d) => d.section === 'Runtime').map((d) => d.name);

/**
 * The preset as `kiln vm` boots it: its own image, with the main image's [Runtime] settings (RAM=,
 * Credentials=, KVM=, ...), as mkosi's `vm` takes them from the main image whichever image it boots.
 */
export function withMainRuntime(preset: Preset, main: Preset): Preset {
  if (preset === main) return preset;
  const config = { ...preset.config } as Record<string, unknown>;
  const origins = { ...preset.origins };
  for (const name of RUNTIME) {
    config[name] = (main.config as Record<string, unknown>)[name];
    if (main.origins[name]) origins[name] = main.origins[name]!;
    else delete origins[name];
  }
  return { ...preset, config: config as Preset['config'], origins };
}

/**
 * `kiln vm`: boots a built preset (default: the main image) in qemu with the serial console on
 * the terminal (libs/engine/src/vm.ts). Arguments after `--` go to qemu. The exit code is qemu's:
 * 0 when the guest powers off. The [Runtime] settings are the main image's (and the command
 * line's: `kiln vm --RAM=4G`).
 */
export async function vmCommand(opts: { directory: string; preset?: string; overrides?: readonly Override[] }, qemuArgs: string[]): Promise<void> {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  const preset = opts.preset ? project.presets.find((p) => p.name === opts.preset) : project.main;
  if (!preset) throw new BuildError(`no preset named "${opts.preset}" (accepted: ${project.presets.map((p) => p.name).join(', ')})`);
  // The identity is compared with signed manifests only (KILN_ALLOWED_SIGNERS); computing it keeps
  // a digest cache in $TMPDIR, which a vm run otherwise leaves untouched.
  const identity = process.env.KILN_ALLOWED_SIGNERS ? buildIdentity() : undefined;
  const status = await runVm(withMainRuntime(preset, project.main), { project, identity, extraArgs: qemuArgs, log: (line) => process.stderr.write(`${line}\n`) });
  process.exitCode = status;
}
