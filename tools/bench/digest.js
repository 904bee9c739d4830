#!/usr/bin/env node
/**
 * The cost of the fingerprint Nx hashes for every preset on every `nx run` (kiln-digest, the
 * runtime input): cold (no cache: the project is read, every file hashed) and warm (the project's
 * facts and file hashes come from the stat-checked cache), for the demo and for a generated
 * project of 200 presets; beside starting node and doing nothing (the floor of any runtime input).
 * Target: warm, at most 50 ms per preset above that floor. And a variant target's digest (the Nx
 * plugin's `variants`): settings in the plugin's `--Name=value` form, beside the same settings
 * spelled as on kiln's command line, which loads the settings table.
 *
 *   node tools/bench/digest.js [RUNS]        (after npm run build)
 */
const path = require('node:path');
const fs = require('node:fs');
const { benchDir, median, repo, runsArg, sh, table, timeIt, makePresetProject } = require('./lib');

const runs = runsArg(0, 9);
const tmp = benchDir('digest');
const digestBin = path.join(repo, 'apps/kiln/dist/digest.js');

/** kiln-digest as Nx runs it (a new node process), with the cache in `cacheDir`. */
const cli = (dir, preset, cacheDir, settings = []) => sh(process.execPath, [digestBin, '-C', dir, '-p', preset, ...settings], { env: { ...process.env, KILN_DIGEST_CACHE: cacheDir } });

/** A variant's digest, warm: the same settings in the plugin's form and in kiln build's spelling. */
function variant(dir, preset) {
  const warmDir = path.join(tmp, 'warm-variant');
  const rows = [];
  for (const [label, settings] of [
    ['variant --Hostname=bench', ['--Hostname=bench']],
    ['--hostname bench (+table)', ['--hostname', 'bench']],
  ]) {
    cli(dir, preset, warmDir, settings);
    rows.push([`demo: ${label}, warm`, median(Array.from({ length: runs }, () => cli(dir, preset, warmDir, settings))), `${runs} runs`]);
  }
  return rows;
}

function measure(label, dir, presets) {
  const rows = [];
  const cold = Array.from({ length: runs }, (_, i) => cli(dir, presets[0], path.join(tmp, `cold-${label}-${i}`)));
  const warmDir = path.join(tmp, `warm-${label}`);
  for (const p of presets) cli(dir, p, warmDir);
  const warm = presets.flatMap((p) => Array.from({ length: Math.max(1, Math.floor(runs / presets.length) || 1) }, () => cli(dir, p, warmDir)));
  rows.push([`${label}: kiln-digest, cold`, median(cold), `${runs} runs`]);
  rows.push([`${label}: kiln-digest, warm`, median(warm), `${warm.length} runs over ${presets.length} presets`]);
  // In process: what a preset costs beyond starting node (the same function, warm cache).
  process.env.KILN_DIGEST_CACHE = warmDir;
  const { fingerprint } = require(path.join(repo, 'libs/config/dist/fingerprint.js'));
  const each = presets.map((p) => timeIt(() => fingerprint(dir, p, { identity: 'bench' })));
  rows.push([`${label}: in process, warm`, median(each), `${presets.length} presets`]);
  return rows;
}

const floor = Array.from({ length: runs }, () => sh(process.execPath, ['-e', '0']));
const demo = path.join(tmp, 'system');
fs.cpSync(path.join(repo, 'examples/system'), demo, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
const big = makePresetProject(path.join(tmp, 'big'), 200);
const bigPresets = Array.from({ length: 200 }, (_, i) => `p${String(i).padStart(3, '0')}`);

console.log('The fingerprint of one preset (kiln-digest), median wall time; target: warm <= 50 ms per preset above node\'s start\n');
table([
  ['node -e 0 (starting node: the floor)', median(floor), `${runs} runs`],
  ...measure('demo', demo, ['base', 'initrd', 'system']),
  ...variant(demo, 'system'),
  ...measure('200 presets', big, bigPresets.filter((_, i) => i % 20 === 0)),
]);
fs.rmSync(tmp, { recursive: true, force: true });
