#!/usr/bin/env node
'use strict';
/**
 * A tools tree for kiln's emerge path, built from this (Debian) host, for tests: the host's /usr
 * as hard links (no copy; the host's files are never opened for writing), the merged-usr
 * top-level symlinks, a minimal /etc, and, given a checkout of portage's public repository,
 * portage run from source (`usr/bin/emerge` -> the checkout's bin/emerge). Like a real stage3 it
 * has no Gentoo repository (kiln brings a snapshot's profiles); it provides sys-apps/locale-gen,
 * which a stage3 has installed and glibc-like packages name as IDEPEND.
 *
 *   node tools/gentoo-fixtures/tools-tree.js OUTDIR [PORTAGE_CHECKOUT]
 *
 * Also a library: `makeToolsTree(dir, { portage }) -> dir`. The tree must be on the same
 * filesystem as /usr (hard links): `toolsTreeParent()` picks a temporary directory that is.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PROFILE = 'default/linux/amd64/23.0/systemd';

/** A temporary directory on /usr's filesystem, or null when there is none. */
function toolsTreeParent() {
  const dev = fs.statSync('/usr').dev;
  return [os.tmpdir(), '/var/tmp'].find((d) => fs.existsSync(d) && fs.statSync(d).dev === dev) ?? null;
}

/**
 * @param {string} dir  created; must not exist
 * @param {{ portage?: string }} [opts]
 */
function makeToolsTree(dir, opts = {}) {
  if (fs.existsSync(dir)) throw new Error(`${dir} exists`);
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('cp', ['-al', '/usr', path.join(dir, 'usr')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -al /usr ${dir}/usr failed (a tools tree needs /usr's filesystem): ${r.stderr}`);
  for (const [name, target] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) {
    if (fs.existsSync(`/${target}`)) fs.symlinkSync(target, path.join(dir, name));
  }
  for (const d of ['etc/portage/profile', 'root', 'tmp', 'var/db', 'var/cache', 'var/log', 'var/tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  // New files, never writes into the hard-linked ones.
  for (const f of ['passwd', 'group', 'nsswitch.conf', 'hosts', 'ld.so.conf', 'ld.so.cache']) {
    if (fs.existsSync(`/etc/${f}`)) fs.copyFileSync(`/etc/${f}`, path.join(dir, 'etc', f));
  }
  if (fs.existsSync('/etc/ld.so.conf.d')) fs.cpSync('/etc/ld.so.conf.d', path.join(dir, 'etc/ld.so.conf.d'), { recursive: true, verbatimSymlinks: true });
  fs.writeFileSync(path.join(dir, 'etc/os-release'), 'NAME=Gentoo\nID=gentoo\nPRETTY_NAME="Gentoo Linux (kiln test tools tree)"\n');
  fs.symlinkSync(`../../var/db/repos/gentoo/profiles/${PROFILE}`, path.join(dir, 'etc/portage/make.profile'));
  fs.writeFileSync(path.join(dir, 'etc/portage/make.conf'), '');
  fs.writeFileSync(path.join(dir, 'etc/portage/profile/package.provided'), 'sys-apps/locale-gen-2.23\n');
  if (opts.portage) {
    const src = path.join(dir, 'usr/lib/portage-src');
    fs.cpSync(opts.portage, src, { recursive: true, verbatimSymlinks: true, filter: (s) => !s.split(path.sep).includes('.git') });
    // Portage runs from a checkout when this file is there (its own test and development mode).
    fs.writeFileSync(path.join(src, '.portage_not_installed'), '');
    fs.rmSync(path.join(dir, 'usr/bin/emerge'), { force: true }); // (a new link, not a write into the host's)
    fs.symlinkSync('../lib/portage-src/bin/emerge', path.join(dir, 'usr/bin/emerge'));
    // Names a stage3 has and Debian lacks: portage's scripts start with "#!/usr/bin/env python"
    // (Debian has python3), and it unpacks XPAK packages with gtar (Gentoo's tar installs it).
    for (const [name, target] of [['python', 'python3'], ['gtar', 'tar']]) {
      if (!fs.existsSync(path.join(dir, 'usr/bin', name))) fs.symlinkSync(target, path.join(dir, 'usr/bin', name));
    }
  }
  return dir;
}

module.exports = { makeToolsTree, toolsTreeParent, PROFILE };

if (require.main === module) {
  const [out, portage] = process.argv.slice(2);
  if (!out) {
    process.stderr.write('usage: node tools/gentoo-fixtures/tools-tree.js OUTDIR [PORTAGE_CHECKOUT]\n');
    process.exit(2);
  }
  makeToolsTree(path.resolve(out), { portage: portage && path.resolve(portage) });
  process.stdout.write(`tools tree in ${path.resolve(out)}${portage ? ' (with portage)' : ''}\n`);
}
