#!/usr/bin/env node
/**
 * Benchmarks of kiln under Nx (real nx, temp workspaces, NX_DAEMON=false as in CI):
 *
 *  1. Graph creation for a workspace of 200 presets (`nx show projects`), cold (no workspace data)
 *     and warm, beside the same workspace without the kiln plugin (Nx's own floor), and the
 *     plugin's createNodes in process. Target: under 1 s.
 *  2. `nx run system:image` when everything is cached (the "nothing changed" path), beside a
 *     cached no-op target in the same workspace (Nx's floor). Target: under 2 s.
 *  3. A change to system's extra tree: only `system` rebuilds; its time beside a full build
 *     of the demo (--skip-nx-cache: base, initrd and system rebuilt).
 *
 *   node tools/bench/nx.js [RUNS]        (as root, after npm run build; network for the first build)
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, median, repo, runsArg, sh, table, makePresetProject } = require('./lib');

const runs = runsArg(0, 5);
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

async function graph() {
  const presets = 200;
  const rows = [];
  for (const [label, nxJson] of [['with @kiln/nx', { plugins: ['@kiln/nx'] }], ['without a plugin (Nx floor)', {}]]) {
    const ws = workspace(label.startsWith('with ') ? 'graph-kiln' : 'graph-plain', nxJson);
    makePresetProject(path.join(ws, 'images'), presets);
    git(ws, 'init', '-q');
    git(ws, 'add', '-A');
    git(ws, 'commit', '-qm', 'bench');
    const cold = times(runs, () => {
      fs.rmSync(path.join(ws, '.nx/workspace-data'), { recursive: true, force: true });
      return nx(ws, 'show', 'projects', '--json');
    });
    const warm = times(runs, () => nx(ws, 'show', 'projects', '--json'));
    rows.push([`nx show projects, cold, ${label}`, median(cold), `${runs} runs`], [`nx show projects, warm, ${label}`, median(warm), `${runs} runs`]);
    if (!label.startsWith('with ')) continue;
    const out = spawnSync(process.execPath, [nxBin, 'show', 'projects', '--json'], { cwd: ws, env: env(ws), encoding: 'utf8' }).stdout;
    const count = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)).length;
    if (count !== presets + 1) throw new Error(`expected ${presets + 1} projects, nx shows ${count}`);
    // The plugin's own share: createNodes in process, as Nx calls it.
    const { createNodes } = require('@kiln/nx');
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      await createNodes[1](['images/mkosi.conf'], {}, { workspaceRoot: ws, nxJsonConfiguration: {} });
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    rows.push(['@kiln/nx createNodes (in process)', median(ms), `${runs} runs`]);
  }
  console.log(`1. Graph creation, ${presets} presets (+ the main image), median wall time; target: under 1000 ms\n`);
  table(rows);
}

async function main() {
  await graph();

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
