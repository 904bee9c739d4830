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
const os = require('node:os');
const path = require('node:path');
const { loadProject } = require('@kiln/config');

const presets = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 15);

function makeProject(n) {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-')), 'bench');
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  write('mkosi.conf', '[Distribution]\nDistribution=debian\nRelease=bookworm\n\n[Output]\nImageId=bench\nFormat=tar\n');
  write('mkosi.conf.d/10-common.conf', '[Match]\nDistribution=|debian\nDistribution=|ubuntu\n\n[Content]\nPackages=systemd udev\n');
  for (let i = 0; i < n; i++) {
    const name = `p${String(i).padStart(3, '0')}`;
    const deps = i > 0 ? `[Config]\nDependencies=p${String(i - 1).padStart(3, '0')}\n\n` : '';
    write(`mkosi.images/${name}/mkosi.conf`, `${deps}[Output]\nFormat=tar\n\n[Content]\nPackages=\n        pkg-${i}-a\n        pkg-${i}-b\nHostname=${name}\nKernelCommandLine=console=ttyS0 quiet\n`);
    write(`mkosi.images/${name}/mkosi.conf.d/20-arch.conf`, '[Match]\nArchitecture=|x86-64\nArchitecture=|arm64\n\n[Content]\nRemoveFiles=/var/cache\n');
    write(`mkosi.images/${name}/mkosi.extra/etc/${name}.conf`, `name=${name}\n`);
    write(`mkosi.images/${name}/mkosi.postinst`, '#!/bin/sh\ntrue\n');
  }
  return root;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const root = makeProject(presets);
loadProject(root); // warm the file cache, as a second `nx` invocation would see it
const kiln = Array.from({ length: runs }, () => timeIt(() => loadProject(root)));
const project = loadProject(root);
if (project.presets.length !== presets + 1) throw new Error(`expected ${presets + 1} images, read ${project.presets.length}`);

const rows = [['kiln loadProject (in process)', median(kiln), `${runs} runs`]];

// The whole CLI, as a user or an Nx target runs it: node start-up included.
const cli = path.join(__dirname, '../../apps/kiln/dist/main.js');
const cliTimes = Array.from({ length: Math.min(runs, 7) }, () => timeIt(() => spawnSync(process.execPath, [cli, 'summary', '--json', '-C', root], { stdio: 'ignore' })));
rows.push(['kiln summary --json (CLI process)', median(cliTimes), `${cliTimes.length} runs`]);

const mkosi = spawnSync('sh', ['-c', 'command -v mkosi'], { encoding: 'utf8' }).stdout.trim();
if (mkosi) {
  const t = Array.from({ length: 3 }, () => timeIt(() => spawnSync(mkosi, ['-C', root, 'summary'], { stdio: 'ignore' })));
  rows.push(['mkosi summary (peer, for reference)', median(t), '3 runs']);
} else {
  rows.push(['mkosi summary (peer)', NaN, 'not installed: apt-get install mkosi to compare']);
}

console.log(`Reading a project of ${presets} presets (+ the main image), median wall time; target: well under 1000 ms\n`);
for (const [name, ms, note] of rows) console.log(`${name.padEnd(40)} ${Number.isNaN(ms) ? '     -' : `${ms.toFixed(1).padStart(7)} ms`}   ${note}`);
fs.rmSync(path.dirname(root), { recursive: true, force: true });
