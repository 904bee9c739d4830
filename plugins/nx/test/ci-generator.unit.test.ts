/**
 * nx g @kiln/nx:ci on Nx's in-memory tree: the files written, checked with GitHub's own workflow
 * parser and expression evaluator (tools/validate-github-workflow.mjs) or parsed as GitLab reads
 * them; which token each kind of run gets; idempotence and the refusal to replace a hand-edited file.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { parse } from 'yaml';
import { GITLAB_INCLUDE, GITLAB_TEMPLATE } from '../src/ci/main';
import { ciGenerator, GITHUB_WORKFLOW, GITLAB_CI, GITLAB_PIPELINE } from '../src/generators/ci/generator';
import { VERIFY } from '../src/generators/ci/files';

const repo = path.resolve(__dirname, '../../..');
const changes = (tree: Tree) => tree.listChanges().map((c) => `${c.type} ${c.path}`).sort();

type Checked = { errors: string[]; jobs: { id: string; needs: string[] }[]; env?: Record<string, string> };
/** GitHub's parser on the tree's workflow; with `contexts`, its env evaluated against them. */
function checkWorkflow(tree: Tree, contexts?: unknown): Checked {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-gen-'));
  try {
    fs.writeFileSync(path.join(dir, 'kiln.yml'), tree.read(GITHUB_WORKFLOW, 'utf-8') as string);
    const args = [path.join(repo, 'tools/validate-github-workflow.mjs'), ...(contexts ? ['--env', JSON.stringify(contexts)] : []), path.join(dir, 'kiln.yml')];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (!r.stdout) throw new Error(`validate-github-workflow failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Checked;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('GitHub Actions', () => {
  it('writes one workflow GitHub accepts: a plan job, then level jobs each after the one before', async () => {
    const tree = createTreeWithEmptyWorkspace();
    const before = changes(tree);
    await ciGenerator(tree, { levels: 3 });
    expect(changes(tree).filter((c) => !before.includes(c))).toEqual([`CREATE ${GITHUB_WORKFLOW}`]);
    const checked = checkWorkflow(tree);
    expect(checked.errors).toEqual([]);
    expect(checked.jobs).toEqual([
      { id: 'plan', needs: [] },
      { id: 'level1', needs: ['plan'] },
      { id: 'level2', needs: ['plan', 'level1'] },
      { id: 'level3', needs: ['plan', 'level2'] },
    ]);
    const wf = parse(tree.read(GITHUB_WORKFLOW, 'utf-8') as string);
    expect(Object.keys(wf.on)).toEqual(['push', 'pull_request']);
    expect(wf.jobs.level2.strategy.matrix.share).toBe('${{ fromJSON(needs.plan.outputs.level2) }}');
    expect(wf.jobs.level2.if).toBe("needs.plan.outputs.level2 != '[]'");
    expect(wf.jobs.plan.steps.find((s: { id?: string }) => s.id === 'plan').run).toMatch(/^npx kiln-ci-plan --base="\$NX_BASE" --head="\$NX_HEAD" --runners=3 --target=image --levels=3 --github-output /);
    const steps = wf.jobs.level1.steps as { uses?: string; run?: string; with?: Record<string, string> }[];
    expect(steps.find((s) => s.run?.startsWith('npx nx run-many'))?.run).toBe('npx nx run-many -t image -p "$KILN_PROJECTS" --outputStyle=static');
    expect(steps.find((s) => s.run?.startsWith('printf'))?.run).toBe(`${VERIFY}\n`);
    // Checked, then published.
    expect(steps.findIndex((s) => s.run?.startsWith('printf'))).toBeLessThan(steps.findIndex((s) => s.uses?.startsWith('actions/upload-artifact')));
    expect(steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))?.with?.path).toBe('${{ matrix.share.outputs }}');
  });

  it('gives the read-write token to pushes to the default branch only; pull requests and other branches get the read-only one', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await ciGenerator(tree, { branch: 'trunk' });
    const contexts = (event_name: string, ref_name: string) => ({
      github: { event_name, ref_name },
      secrets: { NX_CACHE_RW_TOKEN: 'rw-secret', NX_CACHE_RO_TOKEN: 'ro-secret' },
      vars: { NX_CACHE_URL: 'https://cache.example.org' },
    });
    const token = (event: string, ref: string) => {
      const env = checkWorkflow(tree, contexts(event, ref)).env as Record<string, string>;
      return [env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN, env.KILN_CACHE_WRITE, env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER];
    };
    expect(token('push', 'trunk')).toEqual(['rw-secret', 'true', 'https://cache.example.org']);
    expect(token('pull_request', 'trunk')).toEqual(['ro-secret', 'false', 'https://cache.example.org']);
    expect(token('push', 'feature')).toEqual(['ro-secret', 'false', 'https://cache.example.org']);
    // A run without write access plans --read-only (one level of independent groups).
    const plan = parse(tree.read(GITHUB_WORKFLOW, 'utf-8') as string).jobs.plan.steps.find((s: { id?: string }) => s.id === 'plan').run as string;
    const flag = (write: string) => spawnSync('sh', ['-c', `echo ${plan.slice(plan.indexOf('$('))}`], { env: { KILN_CACHE_WRITE: write }, encoding: 'utf8' }).stdout.trim();
    expect([flag('true'), flag('false')]).toEqual(['', '--read-only']);
  });
});

describe('GitLab CI', () => {
  it('writes .gitlab-ci.yml (plan job, child pipeline trigger) and the job templates the child pipeline extends', async () => {
    const tree = createTreeWithEmptyWorkspace();
    const before = changes(tree);
    await ciGenerator(tree, { provider: 'gitlab', runners: 2 });
    expect(changes(tree).filter((c) => !before.includes(c))).toEqual([`CREATE ${GITLAB_INCLUDE}`, `CREATE ${GITLAB_CI}`].sort());
    const ci = parse(tree.read(GITLAB_CI, 'utf-8') as string);
    const templates = parse(tree.read(GITLAB_INCLUDE, 'utf-8') as string);
    expect(ci.include).toEqual([{ local: GITLAB_INCLUDE }]);
    expect(ci.stages).toEqual(['kiln-plan', 'kiln-images']);
    expect(ci['kiln plan'].stage).toBe('kiln-plan');
    expect(ci['kiln plan'].artifacts.paths).toEqual([GITLAB_PIPELINE]);
    expect(ci['kiln plan'].script.join('\n')).toContain(`--runners=2 --target=image --gitlab-pipeline=${GITLAB_PIPELINE} --gitlab-include=${GITLAB_INCLUDE}`);
    expect(ci['kiln images'].trigger).toEqual({ include: [{ artifact: GITLAB_PIPELINE, job: 'kiln plan' }], strategy: 'depend' });
    // Every job extends a template that exists; the child pipeline's jobs extend GITLAB_TEMPLATE.
    expect(Object.keys(templates)).toEqual(['.kiln-node', GITLAB_TEMPLATE]);
    expect(templates[GITLAB_TEMPLATE].script.slice(1)).toEqual(['npx nx run-many -t image -p "$KILN_PROJECTS" --outputStyle=static', `${VERIFY}\n`]);
  });

  it('the plan job compares a merge request with its base, a push with the commit before, and a first push plans everything; only the default branch writes', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await ciGenerator(tree, { provider: 'gitlab' });
    const ci = parse(tree.read(GITLAB_CI, 'utf-8') as string);
    // The script with kiln-ci-plan replaced by printing its arguments.
    const script = (ci['kiln plan'].script as string[]).join('\n').replace('npx kiln-ci-plan', 'echo');
    const args = (env: Record<string, string>) => spawnSync('sh', ['-c', script], { env, encoding: 'utf8' }).stdout.trim().split(' --runners')[0];
    expect(args({ CI_MERGE_REQUEST_DIFF_BASE_SHA: 'abc' })).toBe('--base=abc --head=HEAD --read-only');
    expect(args({ CI_COMMIT_BEFORE_SHA: 'def', KILN_CACHE_WRITE: 'true' })).toBe('--base=def --head=HEAD');
    expect(args({ CI_COMMIT_BEFORE_SHA: '0000000000000000000000000000000000000000', KILN_CACHE_WRITE: 'true' })).toBe('--all');
    expect(ci.workflow.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }, { if: '$CI_COMMIT_BRANCH == "main"', variables: { KILN_CACHE_WRITE: 'true' } }]);
    // The image jobs' token: read-write only where KILN_CACHE_WRITE is true.
    const templates = parse(tree.read(GITLAB_INCLUDE, 'utf-8') as string);
    const pick = templates[GITLAB_TEMPLATE].script[0] as string;
    const token = (write?: string) =>
      spawnSync('sh', ['-c', `${pick}; echo "$NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN"`], { env: { NX_CACHE_RW_TOKEN: 'rw', NX_CACHE_RO_TOKEN: 'ro', ...(write ? { KILN_CACHE_WRITE: write } : {}) }, encoding: 'utf8' }).stdout.trim();
    expect([token('true'), token(), token('false')]).toEqual(['rw', 'ro', 'ro']);
  });
});

describe('the check before publishing', () => {
  it('runs kiln verify for each DIRECTORY:PRESET line of the share, and fails at the first that fails', () => {
    const run = (lines: string, failOn = '') => {
      // npx stands in for the real command: it logs its arguments and fails for `failOn`.
      const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-npx-'));
      fs.writeFileSync(path.join(bin, 'npx'), `#!/bin/sh\necho "$*"\n[ "$6" != "${failOn}" ]\n`, { mode: 0o755 });
      const r = spawnSync('sh', ['-e', '-c', VERIFY], { env: { PATH: `${bin}:${process.env.PATH}`, KILN_VERIFY: lines }, encoding: 'utf8' });
      fs.rmSync(bin, { recursive: true, force: true });
      return [r.status, r.stdout.trim().split('\n')];
    };
    expect(run('images/a b:base\nsys:system')).toEqual([0, ['kiln verify -C images/a b -p base', 'kiln verify -C sys -p system']]);
    expect(run('sys:base\nsys:system', 'base')).toEqual([1, ['kiln verify -C sys -p base']]);
  });
});

describe('running it again', () => {
  it('leaves an unchanged file alone and replaces it when the options change', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await ciGenerator(tree, {});
    const first = tree.read(GITHUB_WORKFLOW, 'utf-8');
    await ciGenerator(tree, {});
    expect(tree.read(GITHUB_WORKFLOW, 'utf-8')).toBe(first);
    await ciGenerator(tree, { runners: 5 });
    expect(tree.read(GITHUB_WORKFLOW, 'utf-8')).toContain('--runners=5');
  });

  it('refuses to replace a file edited by hand, or one it did not write, unless --force; a refusal writes nothing', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await ciGenerator(tree, { provider: 'gitlab' });
    const edited = `${tree.read(GITLAB_CI, 'utf-8')}\nmy job:\n  script: [make]\n`;
    tree.write(GITLAB_CI, edited);
    const templates = tree.read(GITLAB_INCLUDE, 'utf-8');
    await expect(ciGenerator(tree, { provider: 'gitlab', runners: 4 })).rejects.toThrow(`kiln: ${GITLAB_CI}:1: was edited since nx g @kiln/nx:ci wrote it: keep it, or pass --force to replace it`);
    expect([tree.read(GITLAB_CI, 'utf-8'), tree.read(GITLAB_INCLUDE, 'utf-8')]).toEqual([edited, templates]);
    await ciGenerator(tree, { provider: 'gitlab', runners: 4, force: true });
    expect(tree.read(GITLAB_CI, 'utf-8')).not.toContain('my job');
    expect(tree.read(GITLAB_CI, 'utf-8')).toContain('--runners=4');

    const own = createTreeWithEmptyWorkspace();
    own.write(GITHUB_WORKFLOW, 'name: ours\n');
    await expect(ciGenerator(own, {})).rejects.toThrow(`kiln: ${GITHUB_WORKFLOW}:1: was not written by nx g @kiln/nx:ci: keep it, or pass --force to replace it`);
  });

  it('refuses options it cannot use, naming them', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await expect(ciGenerator(tree, { runners: 0 })).rejects.toThrow('--runners 0');
    await expect(ciGenerator(tree, { provider: 'jenkins' as 'github' })).rejects.toThrow('--provider jenkins: use github or gitlab');
    await expect(ciGenerator(tree, { target: 'a b' })).rejects.toThrow('--target a b');
  });
});
