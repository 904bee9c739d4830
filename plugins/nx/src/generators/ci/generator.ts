/**
 * `nx g @kiln/nx:ci [--provider github|gitlab] [--runners 3] [--target image] [--levels 4]`:
 * the CI files that build the affected presets on several runners in dependency order, sharing
 * the remote cache, and publish each runner's outputs as artifacts (files.ts; the plan job runs
 * kiln-ci-plan, ci/main.ts).
 *
 * Each file starts with a line recording the SHA-256 of what the generator wrote. Running the
 * generator again replaces a file still as written (new options take effect) and leaves an
 * identical one alone; a file edited by hand is refused unless --force is given, so no edit is
 * lost silently. (The init and turbo generators merge into files users share; these files are
 * the generator's own, so they are replaced whole.)
 */
import { createHash } from 'node:crypto';
import type { Tree } from '@nx/devkit';
import { GITLAB_INCLUDE } from '../../ci/main';
import { githubWorkflow, gitlabCi, gitlabTemplates, type CiFileOptions } from './files';

export interface CiOptions {
  provider?: 'github' | 'gitlab';
  runners?: number;
  target?: string;
  levels?: number;
  branch?: string;
  force?: boolean;
}

export const GITHUB_WORKFLOW = '.github/workflows/kiln.yml';
export const GITLAB_CI = '.gitlab-ci.yml';
export const GITLAB_PIPELINE = 'kiln-pipeline.yml';
const STAMP = /^# Written by `nx g @kiln\/nx:ci`[^\n]*sha256:([0-9a-f]{64})\n/;

export async function ciGenerator(tree: Tree, options: CiOptions): Promise<void> {
  const o = normalize(options);
  const files: Record<string, string> =
    (options.provider ?? 'github') === 'github'
      ? { [GITHUB_WORKFLOW]: githubWorkflow(o) }
      : { [GITLAB_CI]: gitlabCi(o, GITLAB_INCLUDE, GITLAB_PIPELINE), [GITLAB_INCLUDE]: gitlabTemplates(o) };
  // Every file is checked before any is written: a refusal leaves the tree as it was.
  for (const file of Object.keys(files)) if (!options.force) refuseHandEdited(tree, file);
  for (const [file, body] of Object.entries(files)) {
    const text = stamped(body);
    if (tree.read(file, 'utf-8') !== text) tree.write(file, text);
  }
}

export default ciGenerator;

function normalize(options: CiOptions): CiFileOptions {
  const runners = options.runners ?? 3;
  const levels = options.levels ?? 4;
  if (options.provider && !['github', 'gitlab'].includes(options.provider)) throw new Error(`kiln: --provider ${options.provider}: use github or gitlab`);
  if (!Number.isInteger(runners) || runners < 1) throw new Error(`kiln: --runners ${runners}: give a whole number of runners, 1 or more`);
  if (!Number.isInteger(levels) || levels < 1) throw new Error(`kiln: --levels ${levels}: give a whole number of level jobs, 1 or more`);
  const target = options.target ?? 'image';
  if (!/^[A-Za-z0-9][A-Za-z0-9_:.-]*$/.test(target)) throw new Error(`kiln: --target ${target} is not a target name`);
  const branch = options.branch ?? 'main';
  if (!/^[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(branch)) throw new Error(`kiln: --branch ${branch} is not a branch name`);
  return { runners, levels, target, branch };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The file as written: the stamp line, then the body. */
export function stamped(body: string): string {
  return `# Written by \`nx g @kiln/nx:ci\`: run it again to change this file (a file edited by hand is replaced only with --force). sha256:${sha256(body)}\n${body}`;
}

function refuseHandEdited(tree: Tree, file: string): void {
  const text = tree.read(file, 'utf-8');
  if (text === null) return;
  const stamp = STAMP.exec(text);
  if (stamp && sha256(text.slice(stamp[0].length)) === stamp[1]) return;
  throw new Error(`kiln: ${file}:1: ${stamp ? 'was edited since nx g @kiln/nx:ci wrote it' : 'was not written by nx g @kiln/nx:ci'}: keep it, or pass --force to replace it`);
}
