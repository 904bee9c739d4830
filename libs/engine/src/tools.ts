/**
 * The identity of the tools a build runs, for the build manifest and the layer key: the
 * installer's own (apt: the host's mmdebstrap, apt-get and dpkg; Gentoo: see @kiln/config's
 * tools-identity.ts), computed by the function the Nx fingerprint uses, from the same caches, so
 * both name the same tools with the same lines. Asked once per process.
 */
import { digestCacheDir, toolsIdentity as identityOf, toolSourceOf, type Preset, type Project } from '@kiln/config';

const known = new Map<string, Record<string, string>>();

/** name -> version line (or a tools tree and its digest), as the preset's installer runs them. */
export function toolsIdentity(project: Project, preset: Preset): Record<string, string> {
  const source = toolSourceOf(preset.config);
  const key = JSON.stringify([project.root, source]);
  let id = known.get(key);
  if (!id) {
    id = identityOf(source, { root: project.root, env: process.env, cacheDir: digestCacheDir() });
    known.set(key, id);
  }
  return { ...id };
}
