/**
 * The identity of the tools a build runs, for the build manifest: a new mmdebstrap, apt or dpkg
 * can change an image, so `kiln explain` names it. Without ToolsTree= these are the host's tools,
 * by their version lines; with ToolsTree=PATH, the tree's path and a digest of its contents.
 * Asked once per process (the version commands take a few tens of milliseconds).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { digestInputs, type Preset, type Project } from '@kiln/config';

/** The host tools the Debian engine runs, with the argument printing their version. */
const HOST_TOOLS: [string, string][] = [
  ['mmdebstrap', '--version'],
  ['apt-get', '--version'],
  ['dpkg', '--version'],
];

let host: Record<string, string> | undefined;
const trees = new Map<string, Record<string, string>>();

function firstLine(cmd: string, arg: string): string {
  const r = spawnSync(cmd, [arg], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, timeout: 30_000 });
  if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : `unknown (${r.error.message})`;
  return (r.stdout || r.stderr).split('\n')[0].trim() || `unknown (exit code ${r.status})`;
}

/** name -> version line (or, with ToolsTree=, the tree and its digest). */
export function toolsIdentity(project: Project, preset: Preset): Record<string, string> {
  const tree = preset.config.ToolsTree;
  if (typeof tree === 'string' && path.isAbsolute(tree)) {
    let id = trees.get(tree);
    if (!id) {
      id = { ToolsTree: path.relative(project.root, tree) || '.', digest: digestInputs([tree], { root: tree }) };
      trees.set(tree, id);
    }
    return { ...id };
  }
  host ??= Object.fromEntries(HOST_TOOLS.map(([cmd, arg]) => [cmd, firstLine(cmd, arg)]));
  return { ...host, ...(typeof tree === 'string' ? { ToolsTree: tree } : {}) };
}
