/**
 * GentooInstaller=emerge: portage installs the binary packages. Portage comes from the host when
 * the host is Gentoo, else from ToolsTree=, else from a stage3 kiln fetched (stage3.ts). Either
 * way it runs in a bubblewrap namespace whose `/` is that tools tree, read-only, with the image
 * at /buildroot as ROOT and PORTAGE_CONFIGROOT. Only scratch space is writable: PORTAGE_TMPDIR,
 * PKGDIR and DISTDIR (in kiln's cache and work directory, on a tmpfs /tmp), and tmpfs over the
 * tools tree's /var/log, /var/cache/edb and /etc/portage/gnupg. The host's /etc, /var/db/pkg and
 * /var/cache are never written.
 *
 * A tools tree without a gentoo repository (a stage3 ships none) gets a verified snapshot's
 * profiles (snapshot.ts) grafted at /var/db/repos/gentoo: the directories on the way become
 * tmpfs assembled from the tools tree's entries, so it needs no mount point there.
 *
 * The image's /etc/portage is generated and minimal: make.conf with the FEATURES that work in a
 * namespace, the make.profile, binrepos.conf from Binhosts=, and profile/packages with `-*` so the
 * profile's @system does not come along: only what Packages= asks for is installed. A locked
 * build hands portage exactly the locked packages, downloaded and verified by kiln, as a local
 * PKGDIR without --getbinpkg. BinpkgSignatures=required has portage verify every package with a
 * GnuPG home kiln makes from GentooKeyring=. Afterwards the vdb's mtimes are clamped as the files
 * are (portage records a symlink's merge time).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { portageTools, type LockedPackage, type LockedTool } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import * as img from '../../image-fs';
import { bwrapArgs, ROOT_IN_IMAGE, runIn, type Mount, type Sandbox } from '../../sandbox';
import { binhosts, verifyLocked } from './native';
import { trustedHome } from './openpgp';
import { gentooProfile } from './profile';
import { repoSnapshot } from './snapshot';
import { stage3Tree } from './stage3';
import { clampContents } from './vdb';

/** Where portage looks for the gentoo repository (its profiles). */
const REPO = 'var/db/repos/gentoo';

/** FEATURES that need privileges or a network namespace a build does not have. */
export const NAMESPACE_FEATURES = '-sandbox -usersandbox -ipc-sandbox -network-sandbox -pid-sandbox -userpriv -userfetch -usersync -ebuild-locks -merge-sync -news -pkgdir-index-trusted';
/** Where things are inside the namespace. */
export const IN = { root: '/buildroot', tmp: '/tmp/kiln/portage-tmp', pkgdir: '/tmp/kiln/binpkgs', distdir: '/tmp/kiln/distfiles', gnupg: '/tmp/kiln/gnupg' } as const;

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
  /** Read-only mounts into the tools tree (the repository snapshot). */
  grafts?: Graft[];
  /** The GnuPG home portage verifies signed packages with (GentooKeyring=, trusted). */
  gnupg?: string;
}

/** A word inside a make.conf double-quoted value: portage's getconfig expands "$" there (make.globals writes \$). */
function shellWord(v: string): string {
  return v.replace(/[\\"$`]/g, (c) => `\\${c}`);
}

/** binrepos.conf from Binhosts=, in priority order; `extra` adds lines to repository number i. */
export function binreposConf(ctx: BuildContext, extra: (i: number) => string = () => ''): string {
  const repos = binhosts(ctx).map((uri, i) => `[kiln-${i + 1}]\npriority = ${100 - i}\nsync-uri = ${uri}\n${extra(i + 1)}`);
  return `# Written by kiln from Binhosts=.\n${repos.join('\n')}`;
}

/** The image's portage configuration for an emerge run. */
export function portageConfig(ctx: BuildContext, local: boolean): { files: Record<string, string>; profileLink: string } {
  const profile = gentooProfile(ctx);
  const verify = cfg(ctx, 'RepositoryKeyCheck');
  const required = cfg(ctx, 'BinpkgSignatures') === 'required';
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
    // The rules the native installer follows too (masks.ts, collisions.ts, config-protect.ts):
    // ACCEPT_KEYWORDS adds to the profile's; CONFIG_PROTECT* replace it ("-*": incremental variables).
    ...(cfg(ctx, 'AcceptKeywords').length ? [`ACCEPT_KEYWORDS="${cfg(ctx, 'AcceptKeywords').join(' ')}"`] : []),
    `COLLISION_IGNORE="${cfg(ctx, 'CollisionIgnore').map(shellWord).join(' ')}"`,
    `CONFIG_PROTECT="-* ${cfg(ctx, 'ConfigProtect').map(shellWord).join(' ')}"`,
    `CONFIG_PROTECT_MASK="-* ${cfg(ctx, 'ConfigProtectMask').map(shellWord).join(' ')}"`,
    // Signatures are checked with the keys kiln put in a GnuPG home (no getuto, as root in the namespace).
    ...(verify && required ? [`BINPKG_GPG_VERIFY_GPG_HOME="${IN.gnupg}"`, 'PORTAGE_TRUST_HELPER=""', 'GPG_VERIFY_USER_DROP="root"', 'GPG_VERIFY_GROUP_DROP="root"'] : []),
    '',
  ].join('\n');
  // location: portage downloads into /var/cache/binhost/<name> by default (read-only tools tree).
  // verify-signature: portage's own binrepos.conf defaults it to true (signatures required), and
  // false ignores bad signatures too: portage has no "check those present" for downloads.

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

/** A host path mounted read-only at a path of the tools tree that may not exist there. */
export interface Graft {
  /** Path in the namespace, relative to `/` (var/db/repos/gentoo). */
  at: string;
  source: string;
}

/** Tools-tree entries that never come along: the namespace has its own (or they are scratch). */
const OWN = ['dev', 'proc', 'sys', 'tmp', 'run', 'buildroot'];

/**
 * Mounts the tools tree's directory `dir` at `at` (already a tmpfs) entry by entry, read-only.
 * Where a graft goes, that entry is the graft's source instead; a directory a graft goes into
 * becomes a tmpfs assembled the same way, so the tools tree is never written and a graft needs
 * no mount point in it.
 */
function assemble(mounts: Mount[], dir: string | null, at: string, grafts: Graft[]): void {
  const below = new Map<string, Graft[]>();
  for (const g of grafts) {
    const [first, ...rest] = g.at.split('/');
    below.set(first, [...(below.get(first) ?? []), { at: rest.join('/'), source: g.source }]);
  }
  for (const e of dir ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    if (!at && OWN.includes(e.name)) continue;
    const inner = below.get(e.name);
    const here = `${at}/${e.name}`;
    if (inner?.some((g) => !g.at)) continue; // replaced by a graft, mounted below
    if (inner && !e.isDirectory()) throw new BuildError(`the tools tree's ${path.join(dir!, e.name)} is not a directory: cannot mount ${inner[0].source} below it`);
    if (inner) {
      mounts.push({ type: 'tmpfs', target: here });
      assemble(mounts, path.join(dir!, e.name), here, inner);
      mounts.push({ type: 'remount-ro', target: here });
      below.delete(e.name);
    } else if (e.isSymbolicLink()) mounts.push({ type: 'symlink', source: fs.readlinkSync(path.join(dir!, e.name)), target: here });
    else if (at || e.isDirectory()) mounts.push({ type: 'ro-bind', source: path.join(dir!, e.name), target: here });
  }
  // Grafts where the tools tree has nothing: bwrap creates the mount points in the tmpfs.
  for (const [first, inner] of below) for (const g of inner) mounts.push({ type: 'ro-bind', source: g.source, target: [at, first, g.at].filter(Boolean).join('/') });
}

/**
 * The namespace (sandbox.ts) and the emerge command line. `/` is a tmpfs with the tools tree's
 * entries bound read-only into it: a read-only bind of the whole tree as `/` cannot get the mount
 * points bwrap needs (/buildroot, /dev, ...). Portage acts as root in the image only: in a user
 * namespace of its own, whose root cannot remount the tools tree writable, make device nodes or
 * use any capability on the host.
 */
export function emergeSandbox(p: PlanInput): Sandbox {
  const mounts: Mount[] = [];
  const grafts = [...(p.grafts ?? [])];
  // Downloads need the host's resolver config (a stage3 has none).
  if (!p.local && fs.existsSync('/etc/resolv.conf')) grafts.push({ at: 'etc/resolv.conf', source: '/etc/resolv.conf' });
  assemble(mounts, p.tools, '', grafts);
  // The tools tree stays read-only; what portage writes there lands on throw-away tmpfs.
  for (const rel of ['var/log', 'var/cache/edb', 'etc/portage/gnupg', 'var/tmp']) {
    if (fs.existsSync(path.join(p.tools, rel))) mounts.push({ type: 'tmpfs', target: `/${rel}` });
  }
  const bind = (source: string, target: string): Mount => ({ type: 'bind', source, target });
  mounts.push(bind(p.root, IN.root), bind(p.tmpdir, IN.tmp), bind(p.pkgdir, IN.pkgdir), bind(p.distdir, IN.distdir));
  if (p.gnupg) mounts.push(bind(p.gnupg, IN.gnupg));
  return {
    root: null,
    dev: 'minimal',
    unshare: ['pid', 'ipc', 'uts'],
    caps: ROOT_IN_IMAGE,
    // A package's pkg_* phases run in here: root over the image only, never the host's (sandbox.ts).
    userns: 'identity',
    // A locked build's packages are all in PKGDIR already: no network. An unlocked one downloads
    // them in the same run (portage fetches and merges package by package), so it keeps it.
    net: !p.local,
    mounts,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LC_ALL: 'C.UTF-8', TERM: 'dumb', PORTAGE_CONFIGROOT: IN.root, ROOT: IN.root },
  };
}

/** The sandbox, its bwrap arguments, and the emerge command line. */
export function emergeCommand(p: PlanInput): { box: Sandbox; bwrap: string[]; command: string[] } {
  const box = emergeSandbox(p);
  const command = ['emerge', `--root=${IN.root}`, `--config-root=${IN.root}`, '--usepkgonly', ...(p.local ? [] : ['--getbinpkg']), '--binpkg-respect-use=y', '--with-bdeps=n', '--noreplace', '--package-moves=n', `--jobs=${p.jobs}`, '--quiet-build=y', '--color=n', ...p.atoms];
  return { box, bwrap: bwrapArgs(box), command };
}

/**
 * Where portage comes from: ToolsTree=PATH (a Gentoo tree with portage), the Gentoo host, or a
 * verified stage3 (the tools identity names the same). ToolsTree=default is kiln's Debian tools
 * tree, which has no portage: emerge then runs from the host's or the stage3 kiln.lock pins,
 * and only the output steps run from the Debian tree.
 */
async function toolsTree(ctx: BuildContext): Promise<{ tree: string; tools: LockedTool[] }> {
  const from = portageTools(cfg(ctx, 'ToolsTree'));
  if (from.from === 'tree') return { tree: from.tree, tools: [] };
  if (from.from === 'host') return { tree: '/', tools: [] };
  const { tree: stage3, ...tool } = await stage3Tree(ctx, ctx.lockedTools?.find((t) => t.name.startsWith('stage3-')));
  return { tree: stage3, tools: [tool] };
}

/**
 * What the emerge run works from, ready: the tools tree, the grafts it needs (a repository
 * snapshot when it has none), and the downloads among them as kiln.lock records them.
 */
export async function emergeTools(ctx: BuildContext): Promise<{ tree: string; grafts: Graft[]; tools: LockedTool[] }> {
  const { tree, tools } = await toolsTree(ctx);
  if (!fs.existsSync(path.join(tree, 'usr/bin/emerge'))) {
    throw new BuildError(`GentooInstaller=emerge: ${tree} has no usr/bin/emerge (a stage3 or a tree with portage is needed)`, ctx.preset.name);
  }
  const grafts: Graft[] = [];
  if (!fs.existsSync(path.join(tree, REPO, 'profiles/repo_name'))) {
    const { tree: repo, ...tool } = await repoSnapshot(ctx, ctx.lockedTools?.find((t) => t.path.startsWith('snapshots/')));
    grafts.push({ at: REPO, source: repo });
    tools.push(tool);
  }
  return { tree, grafts, tools };
}

/** Writes the image's portage config (files plus the make.profile symlink). */
export function writePortageConfig(root: string, config: { files: Record<string, string>; profileLink: string }): void {
  // Inside the image (image-fs.ts): a link of the image never leads these writes onto the host.
  for (const [rel, text] of Object.entries(config.files)) img.writeFile(root, rel, text);
  img.symlink(root, 'etc/portage/make.profile', config.profileLink);
}

export async function installEmerge(ctx: BuildContext, atoms: string[], locked?: LockedPackage[]): Promise<void> {
  const required = cfg(ctx, 'BinpkgSignatures') === 'required' && cfg(ctx, 'RepositoryKeyCheck');
  const keyring = cfg(ctx, 'GentooKeyring');
  if (required && !keyring) throw new BuildError('BinpkgSignatures=required: set GentooKeyring= to the keys the binary packages are signed with', ctx.preset.name);
  const { tree: tools, grafts } = await emergeTools(ctx);
  const dirs = Object.fromEntries(['tmpdir', 'pkgdir', 'distdir'].map((d) => [d, fs.mkdtempSync(path.join(ctx.work, `${d}-`))])) as Record<'tmpdir' | 'pkgdir' | 'distdir', string>;
  if (locked) {
    // Exactly the locked packages, verified by kiln as the native installer does (checksums,
    // Manifest, signatures), as a local binary package repository.
    for (const { p, file } of await verifyLocked(ctx, locked)) {
      const dest = path.join(dirs.pkgdir, p.path!);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.linkSync(file, dest);
    }
    fs.rmSync(path.join(ctx.work, 'binpkgs'), { recursive: true, force: true });
  } else if (!required) {
    (ctx.note ?? ctx.log)('emerge downloads the packages and does not check their signatures (BinpkgSignatures=auto); kiln verifies them on a locked build (kiln lock), or set BinpkgSignatures=required');
  }
  let gnupg: string | undefined;
  if (required) {
    gnupg = path.join(ctx.work, 'gnupg');
    await trustedHome(gnupg, keyring!).catch((e: Error) => {
      throw new BuildError(e.message, ctx.preset.name);
    });
  }
  writePortageConfig(ctx.root, portageConfig(ctx, !!locked));
  const { box, command } = emergeCommand({ tools, root: ctx.root, ...dirs, atoms, local: !!locked, jobs: Math.max(1, Math.min(os.cpus().length, 4)), grafts, gnupg });
  await runIn(ctx, box, command, { step: 'installing packages (emerge)' });
  clampContents(ctx.root, ctx.sourceDateEpoch);
}
