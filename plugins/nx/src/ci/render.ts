/**
 * A plan as each CI system takes it.
 *
 * GitHub Actions cannot add jobs at run time, so the workflow has a fixed number of level jobs,
 * each a matrix over the outputs `level1`, `level2`, ... of the plan job (a JSON list of shares,
 * `[]` when the level has nothing to build, and the job is then skipped).
 *
 * GitLab fans out with a child pipeline the plan job writes as an artifact (`trigger: include:
 * artifact:`): one stage per level, one job per share, so a GitLab plan has no depth limit. The
 * jobs extend a template the generator wrote (`.kiln-image` in .gitlab/kiln-ci.yml: image, host
 * tools, tokens, the build command), so what runs is in the repository, not in the planner.
 */
import { stringify } from 'yaml';
import type { Plan } from './plan';

/**
 * One runner's work at one level: the projects (comma-separated, as `nx run-many -p` takes them),
 * their output files and their `DIRECTORY:PRESET` pairs for `kiln verify`, one a line.
 */
export interface Share {
  projects: string;
  outputs: string;
  verify: string;
}

/** What the plan knows of each project: its output files and its kiln preset. */
export interface ProjectFiles {
  outputs: Record<string, string[]>;
  presets: Record<string, string>;
}

/** Each level's non-empty shares. */
export function shares(plan: Plan, files: ProjectFiles): Share[][] {
  return plan.levels.map((level) =>
    level
      .filter((s) => s.length)
      .map((s) => ({
        projects: s.join(','),
        outputs: s.flatMap((p) => files.outputs[p] ?? []).join('\n'),
        verify: s.flatMap((p) => files.presets[p] ?? []).join('\n'),
      })),
  );
}

/** The plan job's outputs, as `name=value` lines for $GITHUB_OUTPUT: `plan` (the whole plan), `depth`, `level1`..`level<jobs>`. */
export function githubOutput(plan: Plan, files: ProjectFiles, jobs: number): string {
  const byLevel = shares(plan, files);
  const lines = [`plan=${JSON.stringify(plan)}`, `depth=${plan.levels.length}`];
  for (let l = 0; l < jobs; l++) lines.push(`level${l + 1}=${JSON.stringify(byLevel[l] ?? [])}`);
  return `${lines.join('\n')}\n`;
}

export interface GitlabOptions {
  /** The file holding the job template, included by the child pipeline. */
  include: string;
  /** The template's name. */
  template: string;
}

/** The child pipeline: a stage per level, a job per share, each extending the template. */
export function gitlabPipeline(plan: Plan, files: ProjectFiles, options: GitlabOptions): string {
  const byLevel = shares(plan, files);
  const doc: Record<string, unknown> = { include: [{ local: options.include }] };
  if (!byLevel.length) {
    // A pipeline without jobs is an error in GitLab; say plainly that there was nothing to do.
    doc['kiln nothing affected'] = { image: 'busybox', script: ['echo "no preset is affected: nothing to build"'] };
    return stringify(doc);
  }
  doc.stages = byLevel.map((_, l) => `kiln-level-${l + 1}`);
  byLevel.forEach((level, l) =>
    level.forEach((share, r) => {
      doc[`kiln level ${l + 1} runner ${r + 1}`] = {
        extends: options.template,
        stage: `kiln-level-${l + 1}`,
        variables: { KILN_PROJECTS: share.projects, KILN_VERIFY: share.verify },
        artifacts: { name: `kiln-level${l + 1}-runner${r + 1}`, paths: share.outputs.split('\n').filter(Boolean), when: 'on_success' },
      };
    }),
  );
  return stringify(doc);
}
