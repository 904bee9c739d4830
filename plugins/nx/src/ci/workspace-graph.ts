/**
 * What the planner asks the workspace's own nx (the one its package.json installed, run as a
 * child process with the caller's environment: daemon, cache and base/head settings as CI has
 * them): the affected projects having the target, and the project graph.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Dependencies } from './plan';

export interface Affected {
  /** `--all`, or the commits to compare (as `nx affected` takes them; unset: nx.json's defaultBase and HEAD). */
  all?: boolean;
  base?: string;
  head?: string;
}

export interface GraphFacts {
  deps: Dependencies;
  /** project -> the target's output files, relative to the workspace root. */
  outputs: Record<string, string[]>;
  /** project -> `DIRECTORY:PRESET` for `kiln verify -C DIRECTORY -p PRESET` (the image executor's options). */
  presets: Record<string, string>;
}

interface GraphFile {
  graph: {
    nodes: Record<string, { data: { root: string; targets?: Record<string, { outputs?: string[]; options?: { directory?: string; preset?: string } }> } }>;
    dependencies: Record<string, { target: string }[]>;
  };
}

export class NxError extends Error {}

function nxBin(root: string): string {
  let pkg: string;
  try {
    pkg = require.resolve('nx/package.json', { paths: [root] });
  } catch {
    throw new NxError(`no nx installed in ${root}: run npm install (kiln-ci-plan runs the workspace's nx)`);
  }
  const bin = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { bin: Record<string, string> }).bin.nx;
  return path.join(path.dirname(pkg), bin);
}

function nx(root: string, args: string[]): string {
  const r = spawnSync(process.execPath, [nxBin(root), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new NxError(`nx ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The projects having `target` that the change affects (every one with `all`), sorted. */
export function affectedProjects(root: string, target: string, affected: Affected): string[] {
  const args = ['show', 'projects', '--withTarget', target, '--json'];
  if (affected.all) args.push('--all');
  else {
    args.push('--affected');
    if (affected.base) args.push(`--base=${affected.base}`);
    if (affected.head) args.push(`--head=${affected.head}`);
  }
  const out = nx(root, args);
  // The JSON is the last line; nx may print notices before it.
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('['));
  if (!line) throw new NxError(`nx ${args.join(' ')} printed no project list:\n${out}`);
  return (JSON.parse(line) as string[]).sort();
}

/** The project graph's edges and the target's outputs (from `nx graph --file`). */
export function graphFacts(root: string, target: string): GraphFacts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-plan-'));
  try {
    const file = path.join(dir, 'graph.json');
    nx(root, ['graph', `--file=${file}`]);
    const { graph } = JSON.parse(fs.readFileSync(file, 'utf8')) as GraphFile;
    const deps = Object.fromEntries(Object.entries(graph.dependencies).map(([p, ds]) => [p, ds.map((d) => d.target)]));
    const outputs: Record<string, string[]> = {};
    const presets: Record<string, string> = {};
    for (const [name, node] of Object.entries(graph.nodes)) {
      const t = node.data.targets?.[target];
      if (t?.outputs) outputs[name] = t.outputs.map((o) => o.replace('{projectRoot}', node.data.root).replace(/^\{workspaceRoot\}\/?/, ''));
      if (t?.options?.directory && t.options.preset) presets[name] = `${t.options.directory}:${t.options.preset}`;
    }
    return { deps, outputs, presets };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
