#!/usr/bin/env node
/**
 * Benchmark: assembling the demo's bootable disk from its built tree, kiln against mkosi 26 with
 * the same tools tree, and the time the demo takes to boot to multi-user.target under qemu.
 *
 * First the demo is built once (a copy of examples/system, `system` as Format=directory), which
 * gives the system tree as system.tar.zst, the initrd preset's cpio and kiln's tools tree
 * (mkosi.output/mkosi.tools). Then each tool builds, RUNS times, a disk image from that tree:
 * BaseTrees=system.tar.zst, Bootable=yes (systemd-boot and a UKI with the initrd and
 * console=ttyS0), zstd-compressed, with ToolsTree= pointing at kiln's tree for both. What is
 * timed is the whole `build` command: unpacking the base tree, the image steps, two
 * systemd-repart passes, ukify, bootctl and the compression. mkosi builds it as
 * Distribution=custom, so that it runs no package manager (the tree has its packages already).
 *
 * mkosi 26 runs from a checkout of its source, as in build-base.js:
 *
 *   git clone --branch v26 https://github.com/systemd/mkosi ~/.cache/kiln/bench/mkosi-26
 *   KILN_MKOSI_SRC=~/.cache/kiln/bench/mkosi-26 node tools/bench/disk.js [RUNS]
 *
 * Then the demo's disk (kiln's Format=disk build of examples/system) is booted once with
 * `kiln vm` (KVM when it works, TCG otherwise) and the time from qemu's start to the demo's
 * "reached multi-user.target" line on the serial console is printed.
 * As root, after npm run build; Debian's mirror reachable.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, kiln, median, repo, runsArg, sh, table } = require('./lib');

const runs = runsArg(0, 3);
const work = benchDir('disk');
const rows = [];
const medians = {};

const write = (file, lines) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n') + '\n');
};

// The demo, built once: its system tree (Format=directory), initrd and tools tree.
const demo = path.join(work, 'demo', 'system');
fs.cpSync(path.join(repo, 'examples/system'), demo, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
const demoConf = path.join(demo, 'mkosi.conf');
fs.writeFileSync(demoConf, fs.readFileSync(demoConf, 'utf8').replace(/^Format=disk$/m, 'Format=directory'));
sh(process.execPath, [kiln, 'build', '-C', demo]);
const demoOut = path.join(demo, 'mkosi.output');
const tree = path.join(demoOut, 'system.tar.zst');
const initrd = path.join(demoOut, 'initrd.cpio.zst');
const tools = path.join(demoOut, 'mkosi.tools');

// kiln: the disk from the tree.
const kilnProject = path.join(work, 'kiln-disk');
write(path.join(kilnProject, 'mkosi.conf'), [
  '[Distribution]', 'Distribution=debian', 'Release=bookworm', '',
  '[Output]', 'ImageId=system', 'Format=disk', 'CompressOutput=zstd', '',
  '[Content]', `BaseTrees=${tree}`, 'Bootable=yes', `Initrds=${initrd}`, 'KernelCommandLine=console=ttyS0', 'SourceDateEpoch=1700000000', '',
  '[Build]', `ToolsTree=${tools}`,
]);
const kilnDisk = () => sh(process.execPath, [kiln, 'build', '-C', kilnProject, '--force']);
kilnDisk(); // the tools tree's digest, computed once
medians.kiln = median(Array.from({ length: runs }, kilnDisk));
const kilnSize = fs.statSync(path.join(kilnProject, 'mkosi.output/system.raw.zst')).size;
rows.push(['kiln build (Format=disk from the tree)', medians.kiln, `${runs} runs, system.raw.zst ${(kilnSize / 1e6).toFixed(0)} MB`]);

// mkosi 26, from its source, with the same tools tree.
const mkosiSrc = process.env.KILN_MKOSI_SRC && path.resolve(process.env.KILN_MKOSI_SRC);
const mkosiEnv = { ...process.env, PYTHONPATH: mkosiSrc, MKOSI_HOST_DISTRIBUTION: 'debian', MKOSI_HOST_RELEASE: 'bookworm' };
if (!mkosiSrc || !fs.existsSync(path.join(mkosiSrc, 'mkosi/__main__.py'))) {
  rows.push(['mkosi 26 (Format=disk from the tree)', NaN, `not run: ${mkosiSrc ? `KILN_MKOSI_SRC=${mkosiSrc} holds no mkosi source` : 'KILN_MKOSI_SRC is not set'} (git clone --branch v26 https://github.com/systemd/mkosi DIR)`]);
} else {
  const version = spawnSync('python3', ['-m', 'mkosi', '--version'], { env: mkosiEnv, encoding: 'utf8' }).stdout.trim();
  const mk = path.join(work, 'mkosi-disk');
  write(path.join(mk, 'mkosi.conf'), [
    '[Distribution]', 'Distribution=custom', 'Architecture=x86-64', '',
    '[Output]', 'ImageId=system', 'Format=disk', 'CompressOutput=zstd', `OutputDirectory=${path.join(mk, 'out')}`, '',
    '[Content]', `BaseTrees=${tree}`, 'Bootable=yes', 'Bootloader=systemd-boot', `Initrds=${initrd}`, 'KernelCommandLine=console=ttyS0', 'SourceDateEpoch=1700000000', '',
    '[Build]', `ToolsTree=${tools}`, 'Incremental=no',
  ]);
  fs.mkdirSync(path.join(mk, 'out'));
  // mkosi's bootctl step resolves /efi in the image, which a tree from elsewhere does not have
  // (mkosi's own distributions make it): an empty skeleton directory.
  fs.mkdirSync(path.join(mk, 'mkosi.skeleton/efi'), { recursive: true });
  const mkosi = () => sh('python3', ['-m', 'mkosi', '-C', mk, '-f', 'build'], { cwd: mk, env: mkosiEnv });
  try {
    mkosi();
    medians.mkosi = median(Array.from({ length: runs }, mkosi));
    const out = fs.readdirSync(path.join(mk, 'out')).find((f) => f.endsWith('.raw.zst'));
    const size = out ? `, ${out} ${(fs.statSync(path.join(mk, 'out', out)).size / 1e6).toFixed(0)} MB` : '';
    rows.push(['mkosi 26 (Format=disk from the tree)', medians.mkosi, `${runs} runs, ${version}, ToolsTree= kiln's${size}`]);
  } catch (e) {
    const lines = String(e.message).split('\n').map((l) => l.trim()).filter(Boolean);
    rows.push(['mkosi 26 (Format=disk from the tree)', NaN, `failed: ${(lines.filter((l) => /^‣ (?!")|error/i.test(l)).at(-1) ?? lines.at(-1) ?? '').slice(0, 300)}`]);
  }
}

// One boot of the demo's disk to multi-user.target.
async function boot() {
  fs.writeFileSync(demoConf, fs.readFileSync(demoConf, 'utf8').replace(/^Format=directory$/m, 'Format=disk'));
  sh(process.execPath, [kiln, 'build', '-C', demo, '--preset', 'system', '--force']);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [kiln, 'vm', '-C', demo, '--', '-smbios', 'type=11,value=io.systemd.credential:kiln-demo.poweroff=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  let reached = NaN;
  let accel = '';
  const seen = (chunk) => {
    text += chunk.toString();
    if (Number.isNaN(reached) && text.includes('kiln-demo: reached multi-user.target')) reached = Number(process.hrtime.bigint() - started) / 1e6;
    accel ||= (/booting system \(disk, OVMF, (\w+)\)/.exec(text) ?? [])[1] ?? '';
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', seen);
  const code = await new Promise((resolve) => child.on('exit', resolve));
  rows.push(['kiln vm: the demo to multi-user.target', reached, code === 0 ? `1 boot, ${accel || '?'}, from kiln vm's start (KVM probe, disk copy, OVMF, systemd-boot, kernel, initrd, switch-root)` : `qemu exit ${code}`]);
}

boot().then(() => {
  console.log('The demo\'s disk from its built tree (systemd-boot + UKI, zstd), median wall time\n');
  table(rows, 's');
  if (medians.kiln && medians.mkosi) console.log(`\nkiln / mkosi 26: ${(medians.kiln / medians.mkosi).toFixed(2)}`);
  fs.rmSync(work, { recursive: true, force: true });
});
