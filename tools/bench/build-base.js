#!/usr/bin/env node
/**
 * Benchmark: building the demo's `base` image from scratch (Debian bookworm, essential set +
 * systemd, udev, dbus, no docs), as a directory and as a tar, with kiln, mmdebstrap and mkosi 26,
 * each with a warm package cache (one build first, not timed): what a cache miss costs. Prints
 * the median of RUNS builds per tool and format, and the ratios.
 * Aims: kiln <= 0.9x mmdebstrap and <= 0.5x mkosi 26, for directory and tar.
 *
 * What each writes: kiln, the tree and base.tar.zst for a directory (the archive is what Nx
 * caches), base.tar.zst for a tar; mmdebstrap and mkosi, the tree or a .tar.zst.
 *
 * mkosi 26 runs from a checkout of its source (`python3 -m mkosi`), without a tools tree (the
 * host's apt, dpkg and bubblewrap), from bookworm main only like the others (a sandbox tree
 * replaces mkosi's list, which adds bookworm-updates, -security and the debug archive):
 *
 *   git clone --branch v26 https://github.com/systemd/mkosi ~/.cache/kiln/bench/mkosi-26
 *   KILN_MKOSI_SRC=~/.cache/kiln/bench/mkosi-26 node tools/bench/build-base.js [RUNS]
 *
 * (as root; after npm run build; Debian's mirror reachable). Debian 12's own mkosi (14) is tried
 * too, for reference.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, kiln, median, repo, runsArg, sh, table } = require('./lib');

const runs = runsArg(0, 3);
const work = benchDir('build');
const formats = ['directory', 'tar'];
const PACKAGES = ['systemd', 'udev', 'dbus'];
const times = (fn) => Array.from({ length: runs }, fn);
const rows = [];
const medians = {};

/** The line of a failure worth showing: apt's or Python's error, else mkosi's last message. */
function why(e) {
  const lines = String(e.message).split('\n').map((l) => l.trim()).filter(Boolean);
  const pick = (re) => lines.filter((l) => re.test(l)).at(-1);
  // mkosi echoes a failed command as ‣ "apt-get ..." returned non-zero exit code N: not the reason.
  return (pick(/^(E:|error:|\w+Error\b)/i) ?? pick(/^‣ (?!")/) ?? lines.at(-1) ?? '').slice(0, 300);
}

// kiln: copies of the demo project, base rebuilt with --force; the second one with Format=tar.
// Their own package cache: the user's is shared, under a lock, with whatever else builds here.
const projects = {};
for (const format of formats) {
  const project = path.join(work, `kiln-${format}`, 'system');
  fs.cpSync(path.join(repo, 'examples/system'), project, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  fs.appendFileSync(path.join(project, 'mkosi.conf'), `\n[Build]\nPackageCacheDirectory=${path.join(work, 'kiln-packages')}\n`);
  const conf = path.join(project, 'mkosi.images/base/mkosi.conf');
  fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace(/^Format=.*$/m, `Format=${format}`));
  projects[format] = project;
}
const kilnBuild = (format) => () => sh(process.execPath, [kiln, 'build', '-C', projects[format], '--preset', 'base', '--force']);
kilnBuild('directory')(); // warm the package cache
for (const format of formats) {
  medians[`kiln ${format}`] = median(times(kilnBuild(format)));
  rows.push([`kiln build --preset base --force (${format})`, medians[`kiln ${format}`], `${runs} runs`]);
}

// mmdebstrap: the same packages and dpkg filters, its own warm cache synced in and out by hooks
// (the way mmdebstrap's manual shows).
const cache = path.join(work, 'mmdebstrap-cache');
fs.mkdirSync(cache);
const mmTargets = { directory: path.join(work, 'mmdebstrap-base'), tar: path.join(work, 'base.tar.zst') };
const mmdebstrap = (format) => () => {
  fs.rmSync(mmTargets[format], { recursive: true, force: true });
  return sh('mmdebstrap', [
    '--mode=root', '--variant=essential', `--include=${PACKAGES.join(',')}`, '--components=main',
    '--aptopt=Acquire::Languages "none"', '--aptopt=APT::Install-Recommends "false"',
    '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/info/*',
    '--skip=essential/unlink', '--skip=download/empty',
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" && cp -al "${cache}/." "$1/var/cache/apt/archives/"`,
    `--customize-hook=find "$1/var/cache/apt/archives" -maxdepth 1 -name "*.deb" -exec cp -aln -t "${cache}" {} +`,
    'bookworm', mmTargets[format], 'http://deb.debian.org/debian',
  ], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
};
mmdebstrap('tar')();
for (const format of formats) {
  medians[`mmdebstrap ${format}`] = median(times(mmdebstrap(format)));
  rows.push([`mmdebstrap, same packages (${format})`, medians[`mmdebstrap ${format}`], `${runs} runs`]);
}

// mkosi 26, from its source.
const mkosiSrc = process.env.KILN_MKOSI_SRC && path.resolve(process.env.KILN_MKOSI_SRC);
const mkosiEnv = { ...process.env, PYTHONPATH: mkosiSrc, MKOSI_HOST_DISTRIBUTION: 'debian', MKOSI_HOST_RELEASE: 'bookworm' };
const mkosiVersion = () => spawnSync('python3', ['-m', 'mkosi', '--version'], { env: mkosiEnv, encoding: 'utf8' });
if (!mkosiSrc || !fs.existsSync(path.join(mkosiSrc, 'mkosi/__main__.py'))) {
  const missing = mkosiSrc ? `KILN_MKOSI_SRC=${mkosiSrc} holds no mkosi source` : 'KILN_MKOSI_SRC is not set';
  for (const format of formats) rows.push([`mkosi 26 (${format})`, NaN, `not run: ${missing} (git clone --branch v26 https://github.com/systemd/mkosi DIR; KILN_MKOSI_SRC=DIR)`]);
} else if (mkosiVersion().status !== 0) {
  for (const format of formats) rows.push([`mkosi 26 (${format})`, NaN, `not run: python3 -m mkosi --version failed: ${why({ message: mkosiVersion().stderr })}`]);
} else {
  const version = mkosiVersion().stdout.trim();
  const mk = path.join(work, 'mkosi26');
  fs.mkdirSync(path.join(mk, 'mkosi.sandbox/etc/apt/sources.list.d'), { recursive: true });
  fs.writeFileSync(path.join(mk, 'mkosi.sandbox/etc/apt/sources.list.d/mkosi.sources'),
    'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n');
  fs.writeFileSync(path.join(mk, 'mkosi.conf'), [
    '[Distribution]', 'Distribution=debian', 'Release=bookworm', '',
    '[Output]', 'ImageId=base', `OutputDirectory=${path.join(mk, 'out')}`, '',
    // mkosi's lists are comma-separated: "systemd udev dbus" would be one package.
    '[Content]', `Packages=${PACKAGES.join(',')}`, 'WithDocs=no', 'CleanPackageMetadata=no', '',
    '[Build]', 'ToolsTree=', 'Incremental=no', `PackageCacheDirectory=${path.join(mk, 'pkgcache')}`, '',
  ].join('\n'));
  fs.mkdirSync(path.join(mk, 'out'));
  const mkosi = (format) => () => sh('python3', ['-m', 'mkosi', '-C', mk, `--format=${format}`, '-f', 'build'], { cwd: mk, env: mkosiEnv });
  try {
    mkosi('directory')(); // warm its package cache
    for (const format of formats) {
      try {
        medians[`mkosi ${format}`] = median(times(mkosi(format)));
        rows.push([`mkosi 26 (${format})`, medians[`mkosi ${format}`], `${runs} runs, ${version}, no tools tree`]);
      } catch (e) {
        rows.push([`mkosi 26 (${format})`, NaN, `failed: ${why(e)}`]);
      }
    }
  } catch (e) {
    for (const format of formats) rows.push([`mkosi 26 (${format})`, NaN, `failed: ${why(e)}`]);
  }
}

// Debian 12's mkosi, for reference, when installed.
if (spawnSync('sh', ['-c', 'command -v mkosi']).status === 0) {
  const mk = path.join(work, 'mkosi');
  fs.mkdirSync(path.join(mk, 'cache'), { recursive: true });
  // mkosi 14 fails with --with-docs=no (its doc removal command errors), so it keeps the docs.
  const args = ['-d', 'debian', '-r', 'bookworm', '-t', 'directory', '-p', PACKAGES.join(','), '--cache', path.join(mk, 'cache'), '-o', path.join(mk, 'image'), '-f', 'build'];
  try {
    sh('mkosi', args, { cwd: mk });
    rows.push(['mkosi, Debian 12\'s (directory, reference)', median(times(() => sh('mkosi', args, { cwd: mk }))), `${runs} runs, ${spawnSync('mkosi', ['--version'], { encoding: 'utf8' }).stdout.trim()}, with docs`]);
  } catch (e) {
    rows.push(['mkosi, Debian 12\'s (directory, reference)', NaN, `failed: ${why(e)}`]);
  }
} else {
  rows.push(['mkosi, Debian 12\'s (directory, reference)', NaN, 'not installed (apt-get install mkosi)']);
}

console.log('Building base from scratch (bookworm + systemd, udev, dbus; warm package cache), median wall time\n');
table(rows, 's');
console.log('');
for (const format of formats) {
  const ratio = (peer, aim) => {
    const r = medians[`kiln ${format}`] / medians[`${peer} ${format}`];
    return Number.isNaN(r) || r === undefined ? `kiln / ${peer}: -` : `kiln / ${peer}: ${r.toFixed(2)} (aim: <= ${aim})`;
  };
  console.log(`${format.padEnd(10)} ${ratio('mmdebstrap', '0.90')}   ${ratio('mkosi', '0.50')}`);
}
fs.rmSync(work, { recursive: true, force: true });
