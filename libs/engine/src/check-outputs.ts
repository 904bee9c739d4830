/**
 * Whether a preset's outputs (restored from a cache, say) may be used: the outputs against their
 * manifest (@kiln/config output-check.ts) and, when KILN_ALLOWED_SIGNERS is set, the manifest
 * against its signature (signing.ts) and against the inputs here (build-manifest.ts). A signature
 * only says that the team's CI built it at some time; that it is a build of *these* inputs (not a
 * build from before a security update, or of a commit since reverted, replayed under today's
 * cache key) is what the comparison with the inputs manifest adds. Under Nx a genuine restore has
 * the same inputs by construction (the task hash covers them). Without signers the manifest is
 * anyone's to write, so comparing its inputs would prove nothing: that check runs only with them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPresetOutputs, diffIsEmpty, diffManifests, readManifest, signatureName, type OutputCheck, type Preset, type Project } from '@kiln/config';
import { inputsManifest } from './build-manifest';
import { BuildError } from './errors';
import { signatureProblem, sshKeygen } from './signing';

export interface VerifyOptions {
  env?: Record<string, string | undefined>;
  /** kiln's build identity, as the builds record it (the CLI's buildIdentity). */
  identity?: string;
}

/**
 * The outputs of `preset` against its manifest and, when KILN_ALLOWED_SIGNERS is set, the
 * manifest against its signature and against the inputs here. The outputs of the presets it
 * reads are taken as they are (check them first: its manifest records their hashes).
 */
export function verifyPresetOutputs(project: Project, preset: Preset, opts: VerifyOptions = {}): OutputCheck {
  const env = opts.env ?? process.env;
  const check = checkPresetOutputs(preset);
  const allowed = env.KILN_ALLOWED_SIGNERS;
  if (!allowed || check.status === 'unbuilt') return check;
  checkAllowedSigners(env);
  const manifest = check.manifest;
  if (!fs.existsSync(manifest)) return check; // no manifest: said already
  const sig = path.join(path.dirname(manifest), signatureName(preset.config)!);
  const problem = signatureProblem(manifest, sig, allowed, env);
  if (problem) {
    const line = { file: manifest, expected: `a signature by a key in KILN_ALLOWED_SIGNERS`, found: problem };
    return { status: 'refused', manifest, problems: [line, ...(check.status === 'refused' ? check.problems : [])] };
  }
  if (check.status === 'refused') return check;
  const read = readManifest(manifest);
  const now = inputsManifest(project, preset, { identity: opts.identity, env });
  if (read.status !== 'found' || !now) return check; // read by checkPresetOutputs already
  if (diffIsEmpty(diffManifests({ ...read.manifest, outputs: undefined }, now))) return check;
  // The command as it runs from here (the directory the build runs in).
  const dir = path.relative(process.cwd(), project.root);
  const against = `kiln explain${dir ? ` -C ${dir}` : ''} --against ${path.relative(process.cwd(), manifest)}`;
  return { status: 'refused', manifest, problems: [{ file: manifest, expected: 'a build of the inputs here', found: `a build of other inputs (${against} shows which)` }] };
}

/** KILN_ALLOWED_SIGNERS, when set, names an allowed-signers file and ssh-keygen is there to use it: an error otherwise. */
export function checkAllowedSigners(env: Record<string, string | undefined>): void {
  const allowed = env.KILN_ALLOWED_SIGNERS;
  if (!allowed) return;
  if (!path.isAbsolute(allowed) || !fs.existsSync(allowed)) throw new BuildError(`KILN_ALLOWED_SIGNERS=${allowed}: no such file (give the absolute path of an allowed-signers file, ssh-keygen(1) ALLOWED SIGNERS)`);
  sshKeygen(env, 'KILN_ALLOWED_SIGNERS');
}
