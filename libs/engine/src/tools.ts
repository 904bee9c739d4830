/**
 * The identity of the tools a build runs, for the build manifest: a new mmdebstrap, apt or dpkg
 * can change an image, so `kiln explain` names it. Without ToolsTree= these are the host's tools,
 * by their version lines; with ToolsTree=PATH, the tree's path and a digest of its contents.
 * Asked once per process (the version commands take a few tens of milliseconds).
 */
import * as path from 'node:path';
import { digestCacheDir, digestInputs, hostToolVersions, type Preset, type Project } from '@kiln/config';

let host: Record<string, string> | undefined;
const trees = new Map<string, Record<string, string>>();

/** name -> version line (or, with ToolsTree=, the tree and its digest). */
export function toolsIdentity(project: Project, preset: Preset): Record<string, string> {
  const tree = preset.config.ToolsTree;
  if (typeof tree === 'string' && path.isAbsolute(tree)) {
    let id = trees.get(tree);
    if (!id) {
      id = { ToolsTree: path.relative(project.root, tree) || '.', digest: digestInputs([tree], { root: tree, modes: 'exact' }) };
      trees.set(tree, id);
    }
    return { ...id };
  }
  // The same answers the fingerprint gets (tools-identity.ts), from the same cache.
  host ??= hostToolVersions(process.env, path.join(digestCacheDir(), 'tools.json'));
  return { ...host, ...(typeof tree === 'string' ? { ToolsTree: tree } : {}) };
}
