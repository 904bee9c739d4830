#!/usr/bin/env node
/**
 * Benchmarks of kiln under Nx (real nx, temp workspaces, NX_DAEMON=false as in CI):
 *
 *  1. Graph creation for a workspace of 200 presets (`nx show projects`), interleaved, beside the
 *     same workspace without the kiln plugin (Nx's own floor) and with a stand-in plugin that
 *     returns the same projects from a file (the floor of any plugin: Nx runs each plugin in a
 *     worker process and merges what it returns). kiln is timed with its facts cache warm (nothing
 *     changed since the last command) and cold (a fresh CI machine, a new kiln, or a config
 *     change: every preset is read). Wall time, and the CPU time of nx and its plugin workers,
 *     which the load of a shared machine disturbs less. Aim: the plugin adds at most 300 ms.
 *  2. `nx run system:image` when everything is cached (the "nothing changed" path), beside a
 *     cached no-op target in the same workspace (Nx's floor). Target: under 2 s.
 *  3. A change to system's extra tree: only `system` rebuilds; its time beside a full build
 *     of the demo (--skip-nx-cache: base, initrd and system rebuilt).
 *
 *   node tools/bench/nx.js [RUNS] [--graph]   (as root, after npm run build; network for the first
 *                                             build; --graph: part 1 only)
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, median, repo, runsArg, sh, table, makePresetProject } = require('./lib');

const runs = process.argv[2] === '--graph' ? 5 : runsArg(0, 5);
const nxBin = path.join(repo, 'node_modules/nx/dist/bin/nx.js');
const tmp = benchDir('nx');

/** A temp workspace using this repository's node_modules, with the given nx.json. */
function workspace(name, nxJson) {
  const ws = path.join(tmp, name);
  fs.mkdirSync(ws, { recursive: true });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), `{ "name": "${name}", "private": true }\n`);
  fs.writeFileSync(path.join(ws, 'nx.json'), JSON.stringify(nxJson));
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules\nmkosi.output/\n.nx/\n');
  return ws;
}
function env(ws) {
  return {
    ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false',
    NX_CACHE_DIRECTORY: path.join(ws, '.nx/cache'), NX_WORKSPACE_DATA_DIRECTORY: path.join(ws, '.nx/workspace-data'),
  };
}
const nx = (ws, ...args) => sh(process.execPath, [nxBin, ...args], { cwd: ws, env: env(ws) });
const git = (ws, ...args) => sh('git', ['-c', 'user.email=bench@kiln', '-c', 'user.name=bench', ...args], { cwd: ws });
const times = (n, fn) => Array.from({ length: n }, fn);

/**
 * A preload that adds each node process's CPU time (ms) to $KILN_BENCH_CPU when it ends: nx and
 * its plugin workers (stopped by a signal, hence the handlers).
 */
const cpuPreload = path.join(tmp, 'cpu-preload.js');
fs.writeFileSync(cpuPreload, `const fs = require('fs');
let done = false;
const note = () => { if (done) return; done = true; const u = process.cpuUsage(); fs.appendFileSync(process.env.KILN_BENCH_CPU, (u.user + u.system) / 1000 + '\\n'); };
process.on('exit', note);
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => { note(); process.exit(0); });
`);

/** `nx show projects` in ws: [wall ms, CPU ms of nx and its workers]. */
function showProjects(ws, extraEnv = {}) {
  const cpuFile = path.join(tmp, 'cpu.txt');
  fs.rmSync(cpuFile, { force: true });
  const wall = sh(process.execPath, [nxBin, 'show', 'projects', '--json'], {
    cwd: ws, env: { ...env(ws), ...extraEnv, KILN_BENCH_CPU: cpuFile, NODE_OPTIONS: `--require ${cpuPreload}` },
  });
  spawnSync('sleep', ['0.3']); // the workers end after nx
  const cpu = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').reduce((a, l) => a + Number(l), 0);
  return [wall, cpu];
}

/** The stand-in plugin: a package in ws's node_modules returning fixed createNodes and createDependencies results. */
function fixedPlugin(ws, results) {
  // Its own node_modules: this repository's packages and the stand-in.
  fs.rmSync(path.join(ws, 'node_modules'));
  fs.mkdirSync(path.join(ws, 'node_modules'));
  for (const e of fs.readdirSync(path.join(repo, 'node_modules'))) fs.symlinkSync(path.join(repo, 'node_modules', e), path.join(ws, 'node_modules', e));
  const dir = path.join(ws, 'node_modules/fixed-plugin');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "fixed-plugin", "main": "index.js" }\n');
  fs.writeFileSync(path.join(dir, 'index.js'), `const { nodes, deps } = require('./results.json');
exports.createNodesV2 = ['**/{mkosi.conf,kiln.toml}', async (files) => nodes.filter(([f]) => files.includes(f))];
exports.createDependencies = async () => deps;
`);
}

async function graph() {
  const presets = 200;
  // Three copies of one workspace: with @kiln/nx, with the stand-in plugin, with no plugin.
  const make = (name, nxJson) => {
    const ws = workspace(name, nxJson);
    makePresetProject(path.join(ws, 'images'), presets);
    git(ws, 'init', '-q');
    git(ws, 'add', '-A');
    git(ws, 'commit', '-qm', 'bench');
    return ws;
  };
  const kilnWs = make('graph-kiln', { plugins: ['@kiln/nx'] });
  const plainWs = make('graph-plain', {});
  // The facts cache of this benchmark alone, so that "cold" is cold.
  const factsCache = path.join(tmp, 'kiln-digest');
  const kilnEnv = { KILN_DIGEST_CACHE: factsCache };
  const out = spawnSync(process.execPath, [nxBin, 'show', 'projects', '--json'], { cwd: kilnWs, env: { ...env(kilnWs), ...kilnEnv }, encoding: 'utf8' }).stdout;
  const count = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)).length;
  if (count !== presets + 1) throw new Error(`expected ${presets + 1} projects, nx shows ${count}`);

  // The stand-in returns what @kiln/nx returns (in process, as Nx calls it), from a file.
  const { createNodes, createDependencies } = require('@kiln/nx');
  process.env.KILN_DIGEST_CACHE = factsCache;
  const ms = [];
  let nodes;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    nodes = await createNodes[1](['images/mkosi.conf'], {}, { workspaceRoot: kilnWs, nxJsonConfiguration: {} });
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const deps = await createDependencies({}, { workspaceRoot: kilnWs, projects: Object.assign({}, ...nodes.map(([, r]) => r.projects)), nxJsonConfiguration: {} });
  const fixedWs = make('graph-fixed', { plugins: ['fixed-plugin'] });
  fixedPlugin(fixedWs, { nodes, deps });

  const cases = [
    ['no plugin (Nx floor)', () => showProjects(plainWs)],
    ['stand-in plugin, same projects', () => showProjects(fixedWs)],
    ['@kiln/nx, facts cached', () => showProjects(kilnWs, kilnEnv)],
    ['@kiln/nx, facts cold (all read)', () => {
      fs.rmSync(factsCache, { recursive: true, force: true });
      return showProjects(kilnWs, kilnEnv);
    }],
  ];
  const results = cases.map(() => ({ wall: [], cpu: [] }));
  for (let i = 0; i < runs; i++) {
    cases.forEach(([, fn], j) => {
      const [wall, cpu] = fn();
      results[j].wall.push(wall);
      results[j].cpu.push(cpu);
    });
  }
  const floor = results[0];
  const rows = cases.map(([label], j) => {
    const r = results[j];
    const added = j === 0 ? '' : `, +${(median(r.wall) - median(floor.wall)).toFixed(0)} ms wall`;
    return [`nx show projects: ${label}`, median(r.wall), `${runs} runs, CPU ${median(r.cpu).toFixed(0)} ms${j === 0 ? '' : ` (+${(median(r.cpu) - median(floor.cpu)).toFixed(0)})`}${added}`];
  });
  rows.push(['@kiln/nx createNodes (in process, facts cached)', median(ms.slice(1)), `${runs - 1} runs after the first`]);
  console.log(`1. Graph creation, ${presets} presets (+ the main image), daemon off, median wall time; aim: @kiln/nx adds at most 300 ms\n`);
  table(rows);
}

async function main() {
  await graph();
  if (process.argv.includes('--graph')) return fs.rmSync(tmp, { recursive: true, force: true });

  // 2. The cached path ---------------------------------------------------------------------------
  const ws = workspace('demo', { plugins: ['@kiln/nx'] });
  fs.cpSync(path.join(repo, 'examples/system'), path.join(ws, 'system'), { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  fs.mkdirSync(path.join(ws, 'noop'));
  fs.writeFileSync(path.join(ws, 'noop/project.json'), JSON.stringify({ name: 'noop', targets: { build: { command: 'true', cache: true, inputs: ['{projectRoot}/**/*'], outputs: [] } } }));
  git(ws, 'init', '-q');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-qm', 'bench');
  const cold = nx(ws, 'run', 'system:image', '--outputStyle=static');
  nx(ws, 'run', 'noop:build');
  const cached = times(runs, () => nx(ws, 'run', 'system:image', '--outputStyle=static'));
  const noop = times(runs, () => nx(ws, 'run', 'noop:build', '--outputStyle=static'));
  console.log('\n2. Nothing changed: nx run system:image, three cache hits; target: under 2000 ms\n');
  table([
    ['nx run system:image (3 cached presets)', median(cached), `${runs} runs`],
    ['nx run noop:build (1 cached no-op, Nx floor)', median(noop), `${runs} runs`],
  ]);

  // 3. A change to system's extra tree -------------------------------------------------------------
  const motd = path.join(ws, 'system/mkosi.extra/etc/motd');
  const extra = times(Math.min(runs, 3), (_, i) => {
    fs.appendFileSync(motd, `bench change ${Date.now()} ${i}\n`);
    return nx(ws, 'run', 'system:image', '--outputStyle=static');
  });
  const run = JSON.parse(fs.readFileSync(path.join(ws, '.nx/cache/run.json'), 'utf8'));
  const missed = run.tasks.filter((t) => t.cacheStatus === 'cache-miss').map((t) => t.projectName);
  if (missed.join() !== 'system') throw new Error(`an extra-tree change should rebuild system only; rebuilt: ${missed.join(', ')}`);
  const full = times(Math.min(runs, 3), () => nx(ws, 'run', 'system:image', '--skip-nx-cache', '--outputStyle=static'));
  const e = median(extra);
  const f = median(full);
  console.log('\n3. A change to system\'s extra tree (only system rebuilds) against a full build of the demo\n');
  table([
    ['extra-tree change: nx run system:image', e, `${extra.length} runs, rebuilt: ${missed.join(', ')}`],
    ['full build: nx run system:image --skip-nx-cache', f, `${full.length} runs (first cold run: ${(cold / 1000).toFixed(1)} s)`],
  ], 's');
  console.log(`\nextra-tree change / full build: ${(e / f).toFixed(2)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
