#!/usr/bin/env node
/**
 * Benchmark: reading a project of 200 presets (the work `kiln summary` and the Nx plugin's graph
 * creation do). Target: well under a second. Each preset is a directory with its own mkosi.conf,
 * a drop-in with a [Match], an extra tree and a script, and depends on the preset before it.
 * If mkosi is installed, `mkosi summary` on the same project is timed beside it for reference.
 *
 *   npm run bench            (or: node tools/bench/parse-presets.js [PRESETS] [RUNS])
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { loadProject } = require('@kiln/config');
const { benchDir, kiln, median, runsArg, timeIt, table, makePresetProject } = require('./lib');

const presets = runsArg(0, 200);
const runs = runsArg(1, 15);

const root = makePresetProject(path.join(benchDir('parse'), 'bench'), presets);
loadProject(root); // warm the file cache, as a second `nx` invocation would see it
const inProcess = Array.from({ length: runs }, () => timeIt(() => loadProject(root)));
const project = loadProject(root);
if (project.presets.length !== presets + 1) throw new Error(`expected ${presets + 1} images, read ${project.presets.length}`);

const rows = [['kiln loadProject (in process)', median(inProcess), `${runs} runs`]];

// The whole CLI, as a user or an Nx target runs it: node start-up included.
const cliTimes = Array.from({ length: Math.min(runs, 7) }, () => timeIt(() => spawnSync(process.execPath, [kiln, 'summary', '--json', '-C', root], { stdio: 'ignore' })));
rows.push(['kiln summary --json (CLI process)', median(cliTimes), `${cliTimes.length} runs`]);

const mkosi = spawnSync('sh', ['-c', 'command -v mkosi'], { encoding: 'utf8' }).stdout.trim();
if (mkosi) {
  const t = Array.from({ length: 3 }, () => timeIt(() => spawnSync(mkosi, ['-C', root, 'summary'], { stdio: 'ignore' })));
  const version = spawnSync(mkosi, ['--version'], { encoding: 'utf8' }).stdout.trim();
  // Multi-image projects (mkosi.images/) are not read by old mkosi (Debian 12 ships 14): only the main image.
  const whole = Number((version.match(/(\d+)/) ?? [])[1]) >= 20;
  rows.push(['mkosi summary (peer, for reference)', median(t), `3 runs, ${version}${whole ? '' : ': reads the main image only (no mkosi.images/)'}`]);
} else {
  rows.push(['mkosi summary (peer)', NaN, 'not installed: apt-get install mkosi to compare']);
}

console.log(`Reading a project of ${presets} presets (+ the main image), median wall time; target: well under 1000 ms\n`);
table(rows);
fs.rmSync(path.dirname(root), { recursive: true, force: true });
