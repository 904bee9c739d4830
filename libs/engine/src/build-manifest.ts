/**
 * The build manifest's part in a build (the manifest itself: @kiln/config manifest.ts). Before a
 * preset is built, its inputs are recorded and compared with the manifest of its last build, and
 * the reason for rebuilding goes to the log, so that it shows in Nx's output of a cache miss;
 * the manifest is published with the outputs as one set, last (publish.ts), so that it exists
 * only beside the outputs of the build it describes. It records the SHA-256 and size of each
 * output file, so that a restored output is checked before use (@kiln/config output-check.ts),
 * and is signed when KILN_SIGNING_KEY is set (signing.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentManifest, formatManifest, lockfilePath, manifestName, readLockfile, readManifest, rebuildReason, recordOutputs, signatureName, withLock, type Manifest, type Preset, type Project } from '@kiln/config';
import { isNoSpace, noSpaceError } from './errors';
import { signManifest } from './signing';
import { toolsIdentity } from './tools';

export interface ManifestContext {
  identity?: string;
  env: Record<string, string | undefined>;
  step?: (preset: string, what: string) => void;
}

/** The preset's inputs now; null for a preset without outputs. */
export function inputsManifest(project: Project, preset: Preset, opts: ManifestContext): Manifest | null {
  if (!manifestName(preset.config)) return null;
  return currentManifest(project, preset, { identity: opts.identity ?? null, tools: toolsIdentity(project, preset), env: opts.env });
}

/** The preset's inputs now, after logging why it is rebuilt; null for a preset without outputs. */
export function startManifest(project: Project, preset: Preset, opts: ManifestContext): Manifest | null {
  const name = manifestName(preset.config);
  const manifest = inputsManifest(project, preset, opts);
  if (!name || !manifest) return null;
  const previous = path.join(preset.config.OutputDirectory, name);
  for (const line of rebuildReason(readManifest(previous), manifest, path.relative(project.root, previous))) opts.step?.(preset.name, line);
  return manifest;
}

/**
 * Writes the manifest into `work`, for publishing with the outputs (last: publish.ts): the
 * packages are the lock's as the build leaves it, `outputs` ([staged path, name]) are recorded by
 * SHA-256 and size. Returns what to publish after the outputs: the signature (with
 * KILN_SIGNING_KEY), then the manifest.
 */
export async function writeManifest(preset: Preset, manifest: Manifest | null, work: string, outputs: readonly [string, string][], env: Record<string, string | undefined>): Promise<[string, string][]> {
  const name = manifestName(preset.config);
  if (!manifest || !name) return [];
  const tmp = path.join(work, name);
  try {
    fs.writeFileSync(tmp, formatManifest({ ...withLock(manifest, readLockfile(lockfilePath(preset))), outputs: recordOutputs(outputs) }));
  } catch (e) {
    if (isNoSpace(e)) throw noSpaceError(`writing the build manifest ${name}`, work, preset.name);
    throw e;
  }
  const sig = signManifest(tmp, env, preset.name);
  return sig ? [[sig, signatureName(preset.config)!], [tmp, name]] : [[tmp, name]];
}
