#!/usr/bin/env node
/**
 * Benchmark: what the builder's PATH costs a build. mmdebstrap unpacks each package of the
 * essential set through mmtarfilter (`#!/usr/bin/env python3`, for the WithDocs=no filters), so a
 * builder whose PATH starts with a Python version manager's shims (pyenv, asdf) pays the shim
 * once per package. kiln now gives tools a fixed PATH; this compares a cold `kiln build` of the
 * demo's `base` preset (fresh root, warm package cache) with a slow `python3` shim first on the
 * builder's PATH (which kiln leaves out) against the same shim put on the tools' PATH with
 * KILN_TOOLS_PATH (what every build got before: the builder's PATH was passed on).
 *
 * The shim stands for a version manager's: it sleeps SHIM_MS (default 120 ms, about what a pyenv
 * shim costs: 8.3 s over the 69 packages of base, measured 45.9 s against 37.6 s), counts its
 * calls, and runs the real python3.
 *
 *   node tools/bench/tool-path.js [RUNS]        (as root; after npm run build)
 */
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, kiln, median, repo, runsArg, sh, table } = require('./lib');

const runs = runsArg(0, 3);
const shimMs = Number(process.env.SHIM_MS ?? 120);
const work = benchDir('tool-path');

const shims = path.join(work, 'shims');
const calls = path.join(work, 'shim-calls');
fs.mkdirSync(shims);
fs.writeFileSync(
  path.join(shims, 'python3'),
  `#!/bin/sh\necho x >> "${calls}"\nsleep ${(shimMs / 1000).toFixed(3)}\nexec /usr/bin/python3 "$@"\n`,
  { mode: 0o755 },
);
const shimCalls = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);

const project = path.join(work, 'system');
fs.cpSync(path.join(repo, 'examples/system'), project, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
const build = (env) => sh(process.execPath, [kiln, 'build', '-C', project, '--preset', 'base', '--force'], { env: { ...process.env, ...env } });
build({}); // warm the package cache

// The two sides alternate, so that the other work of a shared machine weighs on both alike.
const sides = [
  { env: { PATH: `${shims}:${process.env.PATH}` }, times: [], calls: 0 },
  { env: { KILN_TOOLS_PATH: shims }, times: [], calls: 0 },
];
for (let i = 0; i < runs; i++) {
  // ABBA order: neither side always runs right after the other.
  for (const side of i % 2 ? [...sides].reverse() : sides) {
    fs.rmSync(calls, { force: true });
    side.times.push(build(side.env));
    side.calls += shimCalls();
  }
}
const [fixed, shimmed] = sides.map((s) => ({ ms: median(s.times), calls: s.calls / runs, each: s.times.map((t) => (t / 1000).toFixed(1)).join(' ') }));

console.log(`Cold build of base (bookworm + systemd, udev, dbus; warm package cache), python3 shim of ${shimMs} ms, median wall time\n`);
table([
  ['shim first on the builder\'s PATH (fixed tools PATH)', fixed.ms, `runs ${fixed.each} s; shim ran ${fixed.calls} times`],
  ['shim first on the tools\' PATH (as before)', shimmed.ms, `runs ${shimmed.each} s; shim ran ${shimmed.calls} times`],
], 's');
console.log(`\nsaved by the fixed PATH: ${((shimmed.ms - fixed.ms) / 1000).toFixed(1)} s (${((1 - fixed.ms / shimmed.ms) * 100).toFixed(0)} %); ` +
  `the shim's own cost: ${shimmed.calls - fixed.calls} calls x ${shimMs} ms = ${(((shimmed.calls - fixed.calls) * shimMs) / 1000).toFixed(1)} s per build`);
fs.rmSync(work, { recursive: true, force: true });
