#!/usr/bin/env node
/**
 * Benchmark: the incremental layer (Incremental=yes). The demo's base image (bookworm + systemd,
 * udev, dbus, no docs; tar output with an extra tree), locked, built:
 *
 *   cold            nothing cached: packages downloaded, installed, the layer stored
 *   no layer        Incremental=no, packages already downloaded (what every build costs without it)
 *   extra tree      an extra-tree file changed: the layer is reused     (aim: < 15% of cold)
 *   append          one package added to Packages= and locked: installed on top of the layer
 *                                                                      (aim: well under cold)
 *
 * Prints medians side by side and the ratios.
 *
 *   node tools/bench/layer.js [RUNS]        (as root; after npm run build)
 */
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, kiln, median, runsArg, sh, table } = require('./lib');

const runs = runsArg(0, 3);
const work = benchDir('layer');
const project = path.join(work, 'base');
const layers = path.join(work, 'layers');
const packages = path.join(work, 'packages');

const config = (pkgs, incremental = 'yes') =>
  '[Distribution]\nDistribution=debian\nRelease=bookworm\n\n[Output]\nFormat=tar\n\n' +
  `[Content]\nPackages=${pkgs}\nWithDocs=no\nExtraTrees=extra\n\n` +
  `[Build]\nIncremental=${incremental}\nCacheDirectory=${layers}\nPackageCacheDirectory=${packages}\n`;
fs.mkdirSync(path.join(project, 'extra/etc'), { recursive: true });
fs.writeFileSync(path.join(project, 'mkosi.conf'), config('systemd,udev,dbus'));
fs.writeFileSync(path.join(project, 'extra/etc/motd'), 'bench 0\n');

const run = (...args) => sh(process.execPath, [kiln, ...args, '-C', project]);
const build = () => run('build', '--force');

run('lock'); // downloads the package lists; not part of any figure below
const cold = build();

fs.writeFileSync(path.join(project, 'mkosi.conf'), config('systemd,udev,dbus', 'no'));
const noLayer = Array.from({ length: runs }, build);
fs.writeFileSync(path.join(project, 'mkosi.conf'), config('systemd,udev,dbus'));

let n = 0;
const extraTree = Array.from({ length: runs }, () => {
  fs.writeFileSync(path.join(project, 'extra/etc/motd'), `bench ${++n}\n`);
  return build();
});

// Append: the layer of systemd/udev/dbus is there; less is added and locked, then built. The
// appended layer is removed after each run, so that every run appends.
const baseLayers = new Set(fs.readdirSync(layers));
const append = Array.from({ length: runs }, () => {
  fs.writeFileSync(path.join(project, 'mkosi.conf'), config('systemd,udev,dbus,less'));
  run('lock');
  const ms = build();
  for (const e of fs.readdirSync(layers)) if (!baseLayers.has(e)) fs.rmSync(path.join(layers, e), { recursive: true, force: true });
  fs.writeFileSync(path.join(project, 'mkosi.conf'), config('systemd,udev,dbus'));
  run('lock');
  return ms;
});

const pct = (xs) => `${((median(xs) / cold) * 100).toFixed(0)}% of cold, ${((median(xs) / median(noLayer)) * 100).toFixed(0)}% of no layer`;
console.log(`Incremental layer: bookworm + systemd, udev, dbus (tar output), median wall time of ${runs} runs\n`);
table([
  ['cold (downloads, installs, stores the layer)', cold, '1 run'],
  ['Incremental=no (packages already downloaded)', median(noLayer), 'every build without the layer'],
  ['extra-tree change, layer reused', median(extraTree), pct(extraTree)],
  ['one package added (less), appended to the layer', median(append), pct(append)],
], 's');
console.log(`\nextra tree / cold: ${(median(extraTree) / cold).toFixed(2)} (aim: < 0.15); append / cold: ${(median(append) / cold).toFixed(2)} (aim: well under 1)`);
fs.rmSync(work, { recursive: true, force: true });
