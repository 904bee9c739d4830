/**
 * CI fan-out for real: `nx g @kiln/nx:ci` writes the workflow; its plan step (kiln-ci-plan, run
 * with the flags the workflow gives it) plans the demo; each level job's shares then run as the
 * workflow runs them, every job on a fresh clone with an empty Nx cache, the read-write token and
 * the daemon off (CI's default), all sharing one cache server. Checks: each preset's image task is
 * a cache miss in exactly one job overall (every other job restores it from the remote cache), and
 * every job's outputs, the last level's image included, are byte-identical to a single-machine
 * build (clone S, its own local cache, no remote). The plan is the same with the daemon on, and
 * the GitLab child pipeline holds the same shares. A pull request's run (read-only token) plans
 * one level, rebuilds only the preset it changed and stores nothing. The level jobs' Build and
 * check steps (kiln verify) are run from the generated workflow's text.
 *
 * Cost: the demo as a tar (copyDemoAsTar) built twice, once by S and once spread over the jobs,
 * each preset starting from its package layer (testLayers()), so a second run on a machine
 * installs no package.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { testLayers } from '../../libs/engine/test/test-cache';
import { type CacheServer, startCacheServer } from './cache-server';
import { copyDemoAsTar, gitIn, initWorkspace, nxBin, nxEnv, removeWorkspace, repo } from './workspace';

jest.setTimeout(1_800_000);

type Env = Record<string, string | undefined>;
type Task = { projectName: string; hash: string; cacheStatus: string; status: number };
type Share = { projects: string; outputs: string };

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-ci-'));
const origin = path.join(top, 'origin');
const store = path.join(top, 'store');
const RUNNERS = 3;
const PRESETS = ['system', 'system-base', 'system-initrd'];
/** The planner as `npx kiln-ci-plan` finds it: @kiln/nx's bin. */
const planBin = path.join(repo, 'plugins/nx', (JSON.parse(fs.readFileSync(path.join(repo, 'plugins/nx/package.json'), 'utf8')) as { bin: Record<string, string> }).bin['kiln-ci-plan']);

let server: CacheServer;
let first: string;
let workflow: string;
const remote = (token: string): Env => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token });
const clean = (env: Env): Env => {
  delete env.SOURCE_DATE_EPOCH;
  return env;
};

function run(cmd: string, args: string[], cwd: string, env: Env): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${cwd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const nx = (ws: string, env: Env, args: string[]) => run(process.execPath, [nxBin, ...args], ws, env);

/** A fresh clone of origin (a new machine's checkout). */
function clone(name: string): string {
  const ws = path.join(top, name);
  gitIn(top, 'clone', '-q', origin, ws);
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  return ws;
}

const tasks = (ws: string): Task[] => (JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: Task[] }).tasks;
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
/** The files in the demo's output directory with their content hashes. */
function outputs(ws: string): Record<string, string> {
  const dir = path.join(ws, 'system/mkosi.output');
  const found: Record<string, string> = {};
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (fs.lstatSync(path.join(dir, f)).isFile()) found[f] = sha(path.join(dir, f));
  return found;
}

/** The plan step of the generated workflow, run as the workflow runs it (npx kiln-ci-plan being @kiln/nx's bin). */
function planStep(workflow: string): string {
  const steps = (parse(workflow) as { jobs: { plan: { steps: { id?: string; run?: string }[] } } }).jobs.plan.steps;
  const step = steps.find((s) => s.id === 'plan')?.run;
  if (!step?.startsWith('npx kiln-ci-plan ')) throw new Error(`the workflow's plan step is not kiln-ci-plan: ${step}`);
  return step.replace(/^npx kiln-ci-plan/, `"${process.execPath}" "${planBin}"`);
}

type Step = { name?: string; run?: string; env?: Record<string, string> };
/**
 * Runs a level job's steps that build and check (the checkout, host tools and npm ci are this
 * machine's already), as the workflow runs them: `sh -e`, the step's env with the matrix's share
 * put in. npx only finds commands here (offline: it must never fetch one).
 */
function runLevelJob(ws: string, env: Env, level: number, share: Share): void {
  const steps = (parse(workflow) as { jobs: Record<string, { steps: Step[] }> }).jobs[`level${level}`].steps;
  const wanted = steps.filter((s) => s.name === 'Build' || s.name === 'Check the outputs against their manifests');
  expect(wanted.map((s) => s.name)).toEqual(['Build', 'Check the outputs against their manifests']);
  for (const step of wanted) {
    const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, v.replace(/^\$\{\{ matrix\.share\.(\w+) \}\}$/, (_, key: keyof Share) => share[key])]));
    run('sh', ['-e', '-c', step.run as string], ws, { ...env, ...stepEnv, npm_config_offline: 'true' });
  }
}

/** $GITHUB_OUTPUT after the plan step: name -> value. */
function githubPlan(ws: string, env: Env, step: string): Record<string, string> {
  const file = path.join(ws, '.nx-data', `github-output-${Date.now()}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  run('sh', ['-c', step], ws, { ...env, GITHUB_OUTPUT: file });
  return Object.fromEntries(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

beforeAll(async () => {
  server = await startCacheServer(store, ['rw:main-token', 'ro:pull-request-token']);
  fs.mkdirSync(origin);
  initWorkspace(origin, 'e2e-ci');
  first = gitIn(origin, 'rev-parse', 'HEAD').trim();
  // The demo arrives in a second commit: its first push, where every preset is affected.
  copyDemoAsTar(path.join(origin, 'system'), testLayers());
  gitIn(origin, 'add', '-A');
  gitIn(origin, 'commit', '-qm', 'the demo');
}, 120_000);

afterAll(async () => {
  await server?.stop();
  fs.rmSync(top, { recursive: true, force: true });
});

describe('nx g @kiln/nx:ci, and its plan run over three runners sharing one cache server', () => {
  let plan: Record<string, string>;
  let reference: Record<string, string>;

  it('nx g @kiln/nx:ci writes the workflow, and running it again changes nothing', () => {
    const gen = clone('generate');
    const env = nxEnv(gen);
    nx(gen, env, ['g', '@kiln/nx:ci', `--runners=${RUNNERS}`, '--no-interactive']);
    workflow = fs.readFileSync(path.join(gen, '.github/workflows/kiln.yml'), 'utf8');
    const again = nx(gen, env, ['g', '@kiln/nx:ci', `--runners=${RUNNERS}`, '--no-interactive']);
    // eslint-disable-next-line no-control-regex
    expect(again.replace(/\x1b\[[0-9;]*m/g, '')).not.toMatch(/^(CREATE|UPDATE|DELETE) /m);
    expect(fs.readFileSync(path.join(gen, '.github/workflows/kiln.yml'), 'utf8')).toBe(workflow);
  });

  it('the single-machine reference build (clone S: its own cache, no remote)', () => {
    const s = clone('s');
    nx(s, clean(nxEnv(s)), ['run', 'system:image', '--outputStyle=static']);
    expect(Object.fromEntries(tasks(s).map((t) => [t.projectName, t.cacheStatus]))).toEqual(Object.fromEntries(PRESETS.map((p) => [p, 'cache-miss'])));
    reference = outputs(s);
    expect(Object.keys(reference)).toEqual(expect.arrayContaining(['system.tar.zst', 'base.tar.zst', 'initrd.cpio.zst']));
  });

  it("the workflow's plan step puts base and initrd on level 1 and system on level 2, the same with the daemon on", () => {
    const planner = clone('plan');
    const env = { ...clean(nxEnv(planner)), NX_BASE: first, NX_HEAD: 'HEAD', KILN_CACHE_WRITE: 'true' };
    plan = githubPlan(planner, env, planStep(workflow));
    expect(JSON.parse(plan.plan)).toEqual({ levels: [[['system-base'], ['system-initrd'], []], [['system'], [], []]] });
    expect(plan.depth).toBe('2');
    expect((JSON.parse(plan.level1) as Share[]).map((s) => s.projects)).toEqual(['system-base', 'system-initrd']);
    expect(JSON.parse(plan.level3)).toEqual([]);

    const daemon = { ...env, NX_DAEMON: 'true' };
    try {
      expect(githubPlan(planner, daemon, planStep(workflow))).toEqual(plan);
    } finally {
      removeWorkspace(planner, daemon, true);
    }
  });

  it('each level runs on its runners in order: every preset built exactly once overall, every output identical to S', () => {
    const status: Record<string, string[]> = Object.fromEntries(PRESETS.map((p) => [p, []]));
    let last: Record<string, string> = {};
    for (let level = 1; plan[`level${level}`] && plan[`level${level}`] !== '[]'; level++) {
      (JSON.parse(plan[`level${level}`]) as Share[]).forEach((share, r) => {
        const runner = clone(`level${level}-runner${r + 1}`);
        runLevelJob(runner, { ...clean(nxEnv(runner)), ...remote('main-token') }, level, share);
        for (const t of tasks(runner)) {
          expect(t.status).toBe(0);
          status[t.projectName].push(t.cacheStatus);
        }
        const got = outputs(runner);
        // What the job uploads as its artifact: its share's outputs (the signature only when signed).
        expect(Object.keys(got)).toEqual(expect.arrayContaining(share.outputs.split('\n').filter((f) => !f.endsWith('.sig')).map((f) => path.basename(f))));
        for (const [f, h] of Object.entries(got)) expect([f, h]).toEqual([f, reference[f]]);
        last = got;
      });
    }
    for (const p of PRESETS) {
      expect([p, status[p].filter((s) => s === 'cache-miss')]).toEqual([p, ['cache-miss']]);
      expect([p, status[p].filter((s) => s !== 'cache-miss' && s !== 'remote-cache-hit')]).toEqual([p, []]);
    }
    expect(last['system.tar.zst']).toBe(reference['system.tar.zst']);
  });

  it("a pull request's run (read-only token): one level of independent groups; the changed preset builds, the rest are remote hits, nothing is stored", async () => {
    const main = gitIn(origin, 'rev-parse', 'HEAD').trim();
    gitIn(origin, 'checkout', '-qb', 'pull-request');
    fs.appendFileSync(path.join(origin, 'system/mkosi.extra/etc/motd'), 'A change under review.\n');
    gitIn(origin, 'commit', '-qam', 'a pull request');
    const stored = fs.readdirSync(store).filter((f) => !f.startsWith('.')).sort();

    const planner = clone('plan-pr');
    const pr = githubPlan(planner, { ...clean(nxEnv(planner)), NX_BASE: main, NX_HEAD: 'HEAD', KILN_CACHE_WRITE: 'false' }, planStep(workflow));
    expect(JSON.parse(pr.plan)).toEqual({ levels: [[['system'], [], []]] });
    const [share] = JSON.parse(pr.level1) as Share[];
    const runner = clone('pr-runner1');
    runLevelJob(runner, { ...clean(nxEnv(runner)), ...remote('pull-request-token') }, 1, share);
    expect(Object.fromEntries(tasks(runner).map((t) => [t.projectName, t.cacheStatus]))).toEqual({ system: 'cache-miss', 'system-base': 'remote-cache-hit', 'system-initrd': 'remote-cache-hit' });
    const system = tasks(runner).find((t) => t.projectName === 'system') as Task;
    expect(await server.waitFor(new RegExp(`^PUT ${system.hash} `))).toMatch(new RegExp(`^PUT ${system.hash} 403 `));
    expect(fs.readdirSync(store).filter((f) => !f.startsWith('.')).sort()).toEqual(stored);
    gitIn(origin, 'checkout', '-q', '-');
  });

  it('the GitLab child pipeline has the same shares, a stage per level', () => {
    const planner = clone('plan-gitlab');
    run(process.execPath, [planBin, `--base=${first}`, '--head=HEAD', `--runners=${RUNNERS}`, '--gitlab-pipeline=kiln-pipeline.yml'], planner, clean(nxEnv(planner)));
    type Job = { stage?: string; variables?: { KILN_PROJECTS: string }; extends?: string };
    const child = parse(fs.readFileSync(path.join(planner, 'kiln-pipeline.yml'), 'utf8')) as Record<string, unknown>;
    expect(child.stages).toEqual(['kiln-level-1', 'kiln-level-2']);
    const jobs = Object.entries(child as Record<string, Job>).filter(([, j]) => j.extends === '.kiln-image');
    const byStage = (stage: string) => jobs.filter(([, j]) => j.stage === stage).map(([, j]) => j.variables?.KILN_PROJECTS);
    expect([byStage('kiln-level-1'), byStage('kiln-level-2')]).toEqual([
      (JSON.parse(plan.level1) as Share[]).map((s) => s.projects),
      (JSON.parse(plan.level2) as Share[]).map((s) => s.projects),
    ]);
  });
});
