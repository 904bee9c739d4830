#!/usr/bin/env node
/**
 * Benchmark: `kiln build` of the demo's `base` preset (Debian bookworm, essential set + systemd,
 * udev, dbus, no docs) against mmdebstrap building the same package set, and mkosi when it is
 * installed, each with a warm package cache. Prints the median of several runs and the ratio.
 * Aim: kiln no slower than mmdebstrap (kiln drives mmdebstrap, then normalises the tree and
 * writes a directory plus base.tar.zst; the mmdebstrap run writes base.tar.zst).
 *
 *   node tools/bench/build-base.js [RUNS]        (as root; after npm run build)
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, kiln, median, repo, runsArg, sh, table } = require('./lib');

const runs = runsArg(0, 3);
const work = benchDir('build');

// kiln: a copy of the demo project, base rebuilt with --force.
const project = path.join(work, 'system');
fs.cpSync(path.join(repo, 'examples/system'), project, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
const kilnBuild = () => sh(process.execPath, [kiln, 'build', '-C', project, '--preset', 'base', '--force']);
kilnBuild(); // warm the package cache
const kilnTimes = Array.from({ length: runs }, kilnBuild);

// mmdebstrap: the same packages and dpkg filters, its own warm cache synced in and out by hooks
// (the way mmdebstrap's manual shows).
const cache = path.join(work, 'mmdebstrap-cache');
fs.mkdirSync(cache);
const target = path.join(work, 'base.tar.zst');
const mmdebstrap = () =>
  sh('mmdebstrap', [
    '--mode=root', '--variant=essential', '--include=systemd,udev,dbus', '--components=main',
    '--aptopt=Acquire::Languages "none"', '--aptopt=APT::Install-Recommends "false"',
    '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/info/*',
    '--skip=essential/unlink', '--skip=download/empty',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" && cp -al "${cache}/." "$1/var/cache/apt/archives/"`,
    `--customize-hook=find "$1/var/cache/apt/archives" -maxdepth 1 -name "*.deb" -exec cp -aln -t "${cache}" {} +`,
    'bookworm', target, 'http://deb.debian.org/debian',
  ], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
mmdebstrap();
const mmTimes = Array.from({ length: runs }, mmdebstrap);

const rows = [
  ['kiln build --preset base --force', median(kilnTimes), `${runs} runs`],
  ['mmdebstrap (same packages)', median(mmTimes), `${runs} runs`],
];

// mkosi, for reference, when installed (Debian bookworm ships mkosi 14).
if (spawnSync('sh', ['-c', 'command -v mkosi']).status === 0) {
  const mk = path.join(work, 'mkosi');
  fs.mkdirSync(path.join(mk, 'cache'), { recursive: true });
  // mkosi 14 fails with --with-docs=no (its doc removal command errors), so it keeps the docs.
  const args = ['-d', 'debian', '-r', 'bookworm', '-t', 'directory', '-p', 'systemd,udev,dbus', '--cache', path.join(mk, 'cache'), '-o', path.join(mk, 'image'), '-f', 'build'];
  try {
    sh('mkosi', args, { cwd: mk });
    rows.push(['mkosi build (reference)', median(Array.from({ length: runs }, () => sh('mkosi', args, { cwd: mk }))), `${runs} runs, ${spawnSync('mkosi', ['--version'], { encoding: 'utf8' }).stdout.trim()}, with docs`]);
  } catch (e) {
    rows.push(['mkosi build (reference)', NaN, `failed: ${String(e.message).split('\n').filter(Boolean).slice(-1)[0]}`]);
  }
} else {
  rows.push(['mkosi build (reference)', NaN, 'not installed (apt-get install mkosi)']);
}

console.log('Building base (bookworm + systemd, udev, dbus; warm package cache), median wall time\n');
table(rows, 's');
console.log(`\nkiln / mmdebstrap: ${(median(kilnTimes) / median(mmTimes)).toFixed(2)} (aim: <= 1.00)`);
fs.rmSync(work, { recursive: true, force: true });
