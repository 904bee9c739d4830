#!/usr/bin/env node
/**
 * kiln-ci-plan: the plan job of the CI files `nx g @kiln/nx:ci` writes. Asks the workspace's nx
 * for the affected presets and the project graph, and prints which runner builds which preset at
 * which level (plan.ts) as JSON; with --github-output also appends the level jobs' matrices to
 * $GITHUB_OUTPUT, with --gitlab-pipeline FILE writes GitLab's child pipeline.
 *
 *   kiln-ci-plan [--base REF --head REF | --all] [--runners 3] [--target image] [--levels 4]
 *                [--read-only] [--github-output] [--gitlab-pipeline FILE] [--gitlab-include FILE]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkDepth, planComponents, planLevels, PlanError } from './plan';
import { githubOutput, gitlabPipeline } from './render';
import { affectedProjects, graphFacts, NxError } from './workspace-graph';

export const GITLAB_INCLUDE = '.gitlab/kiln-ci.yml';
export const GITLAB_TEMPLATE = '.kiln-image';

export function main(argv: string[], cwd = process.cwd()): number {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        base: { type: 'string' },
        head: { type: 'string' },
        all: { type: 'boolean', default: false },
        runners: { type: 'string', default: '3' },
        target: { type: 'string', default: 'image' },
        levels: { type: 'string' },
        'read-only': { type: 'boolean', default: false },
        'github-output': { type: 'boolean', default: false },
        'gitlab-pipeline': { type: 'string' },
        'gitlab-include': { type: 'string', default: GITLAB_INCLUDE },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`kiln-ci-plan: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const runners = Number(values.runners);
    const planned = affectedProjects(cwd, values.target, { all: values.all, base: values.base, head: values.head });
    const graph = graphFacts(cwd, values.target);
    const plan = values['read-only'] ? planComponents(planned, graph.deps, runners) : planLevels(planned, graph.deps, runners);
    const jobs = values.levels === undefined ? undefined : Number(values.levels);
    if (jobs !== undefined) checkDepth(plan, jobs);
    if (values['github-output']) {
      const file = process.env.GITHUB_OUTPUT;
      if (!file) throw new PlanError('--github-output: GITHUB_OUTPUT is not set (it is in a GitHub Actions step)');
      if (jobs === undefined) throw new PlanError('--github-output needs --levels, the number of level jobs in the workflow');
      fs.appendFileSync(file, githubOutput(plan, graph, jobs));
    }
    if (values['gitlab-pipeline']) {
      // Written whole or not at all: a half-written pipeline must not reach the trigger job.
      const file = path.resolve(cwd, values['gitlab-pipeline']);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(`${file}.tmp`, gitlabPipeline(plan, graph, { include: values['gitlab-include'], template: GITLAB_TEMPLATE }));
      fs.renameSync(`${file}.tmp`, file);
    }
    process.stdout.write(`${JSON.stringify(plan)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof PlanError || e instanceof NxError) {
      process.stderr.write(`kiln-ci-plan: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
