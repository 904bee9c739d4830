/**
 * What the benchmarks share: where the repository and the built kiln CLI are, the run count and a
 * scratch directory, timing, medians, the table they print, and the generated project of N
 * presets (the graph and parser benchmarks read the same one).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '../..');
/** The built CLI (npm run build first). */
const kiln = path.join(repo, 'apps/kiln/dist/main.js');

/** The run count: command-line argument `index` (after the script), else `fallback`. */
const runsArg = (index, fallback) => Number(process.argv[2 + index] ?? fallback);

/** A fresh scratch directory for one benchmark. */
const benchDir = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `kiln-bench-${name}-`));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs a command, throws with its stderr when it fails, returns the wall time in ms. */
function sh(cmd, args, opts = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stdout || '').slice(-2000)}\n${(r.stderr || '').slice(-2000)}`);
  return ms;
}

function timeIt(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Prints rows of [label, ms, note]; NaN prints as "-" (a peer that is not installed). */
function table(rows, unit = 'ms') {
  const fmt = (ms) => (Number.isNaN(ms) ? '      -' : unit === 's' ? `${(ms / 1000).toFixed(1).padStart(6)} s` : `${ms.toFixed(1).padStart(7)} ms`);
  for (const [name, ms, note] of rows) console.log(`${name.padEnd(52)} ${fmt(ms)}   ${note}`);
}

/**
 * A project of n presets in ROOT: each a directory with its own mkosi.conf, a drop-in with a
 * [Match], an extra tree and a script, depending on the preset before it.
 */
function makePresetProject(root, n) {
  const write = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  write('mkosi.conf', '[Distribution]\nDistribution=debian\nRelease=bookworm\n\n[Output]\nImageId=bench\nFormat=tar\n');
  write('mkosi.conf.d/10-common.conf', '[Match]\nDistribution=|debian\nDistribution=|ubuntu\n\n[Content]\nPackages=systemd,udev\n');
  for (let i = 0; i < n; i++) {
    const name = `p${String(i).padStart(3, '0')}`;
    const deps = i > 0 ? `[Config]\nDependencies=p${String(i - 1).padStart(3, '0')}\n\n` : '';
    write(`mkosi.images/${name}/mkosi.conf`, `${deps}[Output]\nFormat=tar\n\n[Content]\nPackages=\n        pkg-${i}-a\n        pkg-${i}-b\nHostname=${name}\nKernelCommandLine=console=ttyS0 quiet\n`);
    write(`mkosi.images/${name}/mkosi.conf.d/20-arch.conf`, '[Match]\nArchitecture=|x86-64\nArchitecture=|arm64\n\n[Content]\nRemoveFiles=/var/cache\n');
    write(`mkosi.images/${name}/mkosi.extra/etc/${name}.conf`, `name=${name}\n`);
    write(`mkosi.images/${name}/mkosi.postinst`, '#!/bin/sh\ntrue\n');
    fs.chmodSync(path.join(root, `mkosi.images/${name}/mkosi.postinst`), 0o755);
  }
  return root;
}

module.exports = { repo, kiln, runsArg, benchDir, median, sh, timeIt, table, makePresetProject };
