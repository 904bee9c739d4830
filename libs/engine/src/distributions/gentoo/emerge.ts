/**
 * GentooInstaller=emerge: portage installs the binary packages. Portage comes from the host when
 * the host is Gentoo, else from ToolsTree=, else from a stage3 kiln fetched (stage3.ts). Either
 * way it runs in a bubblewrap namespace whose `/` is that tools tree, read-only, with the image
 * at /buildroot as ROOT and PORTAGE_CONFIGROOT. Only scratch space is writable: PORTAGE_TMPDIR,
 * PKGDIR and DISTDIR (in kiln's cache and work directory, on a tmpfs /tmp), and tmpfs over the
 * tools tree's /var/log, /var/cache/edb and /etc/portage/gnupg. The host's /etc, /var/db/pkg and
 * /var/cache are never written.
 *
 * The image's /etc/portage is generated and minimal: make.conf with the FEATURES that work in a
 * namespace, the make.profile, binrepos.conf from Binhosts=, and profile/packages with `-*` so the
 * profile's @system does not come along: only what Packages= asks for is installed. A locked
 * build hands portage exactly the locked packages, downloaded and verified by kiln, as a local
 * PKGDIR without --getbinpkg.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LockedPackage } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { run } from '../../exec';
import { binhosts, downloadLocked } from './native';
import { gentooProfile } from './profile';
import { stage3Tree } from './stage3';

/** FEATURES that need privileges or a network namespace a build does not have. */
export const NAMESPACE_FEATURES = '-sandbox -usersandbox -ipc-sandbox -network-sandbox -pid-sandbox -userpriv -userfetch -usersync -ebuild-locks -merge-sync -news -pkgdir-index-trusted';
/** Where things are inside the namespace. */
export const IN = { root: '/buildroot', tmp: '/tmp/kiln/portage-tmp', pkgdir: '/tmp/kiln/binpkgs', distdir: '/tmp/kiln/distfiles' } as const;

export interface EmergePlan {
  /** The tools tree that becomes `/`. */
  tools: string;
  /** Files written into the image (relative to it): its /etc/portage. */
  config: Record<string, string>;
  /** The make.profile symlink's target. */
  profileLink: string;
  bwrap: string[];
  command: string[];
}

export interface PlanInput {
  tools: string;
  root: string;
  pkgdir: string;
  distdir: string;
  tmpdir: string;
  atoms: string[];
  /** A local PKGDIR holds exactly the packages to install (a locked build): no --getbinpkg. */
  local: boolean;
  jobs: number;
}

/** binrepos.conf from Binhosts=, in priority order; `extra` adds lines to repository number i. */
export function binreposConf(ctx: BuildContext, extra: (i: number) => string = () => ''): string {
  const repos = binhosts(ctx).map((uri, i) => `[kiln-${i + 1}]\npriority = ${100 - i}\nsync-uri = ${uri}\n${extra(i + 1)}`);
  return `# Written by kiln from Binhosts=.\n${repos.join('\n')}`;
}

/** The image's portage configuration for an emerge run. */
export function portageConfig(ctx: BuildContext, local: boolean): { files: Record<string, string>; profileLink: string } {
  const profile = gentooProfile(ctx);
  const verify = cfg<boolean>(ctx, 'RepositoryKeyCheck');
  const required = cfg<string>(ctx, 'BinpkgSignatures') === 'required';
  const features = [NAMESPACE_FEATURES, local ? '' : 'getbinpkg', verify && required ? 'binpkg-request-signature' : '', verify ? '' : '-binpkg-request-signature binpkg-ignore-signature'].filter(Boolean).join(' ');
  const makeConf = [
    '# Written by kiln for installing binary packages in a namespace.',
    `FEATURES="${features}"`,
    'PORTAGE_USERNAME="root"',
    'PORTAGE_GRPNAME="root"',
    `PORTAGE_TMPDIR="${IN.tmp}"`,
    `PKGDIR="${IN.pkgdir}"`,
    `DISTDIR="${IN.distdir}"`,
    'BINPKG_FORMAT="gpkg"',
    `EMERGE_DEFAULT_OPTS="--usepkgonly${local ? '' : ' --getbinpkg'} --binpkg-respect-use=y --with-bdeps=n"`,
    '',
  ].join('\n');
  // location: portage downloads into /var/cache/binhost/<name> by default (read-only tools tree).
  // verify-signature: portage's own binrepos.conf defaults it to true (signatures required).

  return {
    profileLink: `/var/db/repos/gentoo/profiles/${profile.path}`,
    files: {
      'etc/portage/make.conf': makeConf,
      'etc/portage/binrepos.conf/kiln.conf': binreposConf(ctx, (i) => `location = /tmp/kiln/binhost/kiln-${i}\nverify-signature = ${verify && required}\n`),
      // "-*" takes every package out of the profile's @system set: only what is asked comes in.
      'etc/portage/profile/packages': '# Written by kiln: install what Packages= asks for, not the profile\'s @system.\n-*\n',
    },
  };
}

/** The namespace and the emerge command line. */
export function emergeCommand(p: PlanInput): { bwrap: string[]; command: string[] } {
  // `/` is a tmpfs with the tools tree's top-level entries bound read-only into it: a read-only
  // bind of the whole tree as `/` cannot get the mount points bwrap needs (/buildroot, /dev, ...).
  const bwrap = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--clearenv'];
  const resolv = !p.local && fs.existsSync('/etc/resolv.conf') && !fs.lstatSync(path.join(p.tools, 'etc/resolv.conf'), { throwIfNoEntry: false })?.isFile();
  const entries = (dir: string, at: string, skip: string[]): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (skip.includes(e.name)) continue;
      if (e.isSymbolicLink()) bwrap.push('--symlink', fs.readlinkSync(path.join(dir, e.name)), `${at}/${e.name}`);
      else if (at || e.isDirectory()) bwrap.push('--ro-bind', path.join(dir, e.name), `${at}/${e.name}`);
    }
  };
  entries(p.tools, '', ['dev', 'proc', 'sys', 'tmp', 'run', 'buildroot', ...(resolv ? ['etc'] : [])]);
  // No resolv.conf in the tools tree (a stage3 has none): /etc is assembled on a tmpfs to add the host's.
  if (resolv) {
    bwrap.push('--tmpfs', '/etc');
    if (fs.existsSync(path.join(p.tools, 'etc'))) entries(path.join(p.tools, 'etc'), '/etc', ['resolv.conf']);
  }
  bwrap.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp');
  // The tools tree stays read-only; what portage writes there lands on throw-away tmpfs.
  for (const rel of ['var/log', 'var/cache/edb', 'etc/portage/gnupg', 'var/tmp']) {
    if (fs.existsSync(path.join(p.tools, rel))) bwrap.push('--tmpfs', `/${rel}`);
  }
  bwrap.push('--bind', p.root, IN.root, '--bind', p.tmpdir, IN.tmp, '--bind', p.pkgdir, IN.pkgdir, '--bind', p.distdir, IN.distdir);
  if (!p.local && fs.existsSync('/etc/resolv.conf')) bwrap.push('--ro-bind', '/etc/resolv.conf', '/etc/resolv.conf');
  if (resolv) bwrap.push('--remount-ro', '/etc');
  for (const [k, v] of Object.entries({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LC_ALL: 'C.UTF-8', TERM: 'dumb', PORTAGE_CONFIGROOT: IN.root, ROOT: IN.root })) {
    bwrap.push('--setenv', k, v);
  }
  const command = ['emerge', `--root=${IN.root}`, `--config-root=${IN.root}`, '--usepkgonly', ...(p.local ? [] : ['--getbinpkg']), '--binpkg-respect-use=y', '--with-bdeps=n', '--noreplace', '--package-moves=n', `--jobs=${p.jobs}`, '--quiet-build=y', '--color=n', ...p.atoms];
  return { bwrap, command };
}

/** Where portage comes from: the Gentoo host, ToolsTree=, or a verified stage3. */
async function toolsTree(ctx: BuildContext): Promise<string> {
  const tree = cfg<string | null>(ctx, 'ToolsTree');
  if (tree && path.isAbsolute(tree)) return tree;
  if (fs.existsSync('/etc/gentoo-release') && fs.existsSync('/usr/bin/emerge')) return '/';
  return (await stage3Tree(ctx)).tree;
}

/** Writes the image's portage config (files plus the make.profile symlink). */
export function writePortageConfig(root: string, config: { files: Record<string, string>; profileLink: string }): void {
  for (const [rel, text] of Object.entries(config.files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  const link = path.join(root, 'etc/portage/make.profile');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(config.profileLink, link);
}

export async function installEmerge(ctx: BuildContext, atoms: string[], locked?: LockedPackage[]): Promise<void> {
  const tools = await toolsTree(ctx);
  if (!fs.existsSync(path.join(tools, 'usr/bin/emerge'))) {
    throw new BuildError(`GentooInstaller=emerge: ${tools} has no usr/bin/emerge (a stage3 or a tree with portage is needed)`, ctx.preset.name);
  }
  const dirs = Object.fromEntries(['tmpdir', 'pkgdir', 'distdir'].map((d) => [d, fs.mkdtempSync(path.join(ctx.work, `${d}-`))])) as Record<'tmpdir' | 'pkgdir' | 'distdir', string>;
  if (locked) {
    // Exactly the locked packages, verified by kiln, as a local binary package repository.
    for (const { p, file } of await downloadLocked(ctx, locked)) {
      const dest = path.join(dirs.pkgdir, p.path!);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.linkSync(file, dest);
    }
  }
  writePortageConfig(ctx.root, portageConfig(ctx, !!locked));
  const { bwrap, command } = emergeCommand({ tools, root: ctx.root, ...dirs, atoms, local: !!locked, jobs: Math.max(1, Math.min(os.cpus().length, 4)) });
  await run(ctx, 'bwrap', [...bwrap, ...command], { step: 'installing packages (emerge)' });
}
