/**
 * The identity of the tools a build runs, for the build manifest and the layer key: the
 * installer's own (apt: the host's mmdebstrap, apt-get and dpkg; Gentoo: see @kiln/config's
 * tools-identity.ts), plus, for the manifest, the generated tools preset of ToolsTree=default
 * that the output steps run from (its settings and lock). Computed by the function the Nx
 * fingerprint uses, from the same caches, so both name the same tools with the same lines.
 * Asked once per process.
 */
import { digestCacheDir, lockfilePath, presetInputs, toolsIdentity as identityOf, toolSourceOf, type Preset, type Project } from '@kiln/config';
import { toolsPresetOf } from './tools-tree';

const known = new Map<string, Record<string, string>>();

/**
 * name -> version line (or a tools tree and its digest), as the preset's build runs them. The
 * layer key asks for the installer's alone (`outputTools: false`): the layer is made before any
 * output step, so another tools tree must not discard it.
 */
export function toolsIdentity(project: Project, preset: Preset, opts: { outputTools?: boolean } = {}): Record<string, string> {
  const tools = toolsPresetOf(project, preset);
  const toolsId = tools ? { name: tools.name, settingsHash: presetInputs(project, tools).settingsHash, lockfile: lockfilePath(tools) } : null;
  const source = toolSourceOf(preset.config, toolsId);
  const outputTools = opts.outputTools !== false;
  const key = JSON.stringify([project.root, source, outputTools]);
  let id = known.get(key);
  if (!id) {
    id = identityOf(source, { root: project.root, env: process.env, cacheDir: digestCacheDir(), outputTools });
    known.set(key, id);
  }
  return { ...id };
}
