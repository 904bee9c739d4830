/**
 * Arch Linux through pacman, as mkosi installs it (mkosi/installer/pacman.py, distribution/arch.py):
 * a pacman.conf generated in the work directory (the repositories of Mirror=/LocalMirror= and
 * Repositories=, signatures required when RepositoryKeyCheck=yes, documentation left out with
 * WithDocs=no), a keyring made with pacman-key in the work directory from the keyrings of
 * SandboxTrees= (or the tools tree's, or the host's), and pacman run with --root on the image.
 *
 * Each install is three pacman runs in sandboxes (sandbox.ts): the databases are synchronised
 * (-Sy) and the packages downloaded (-Sw) with the network, then installed (-S) without it, so that
 * install scripts, which pacman runs chrooted into the image, never reach a network (WithNetwork=yes
 * gives them the host's). pacman sees the host read-only and writes only the image, the work
 * directory and the package cache, in a user namespace of its own (root over the image only). The
 * sync databases live in the image (var/lib/pacman/sync) and go with CleanPackageMetadata; the
 * packages are shared through the package cache (PACKAGE_CACHE/pkg), whose lock is held only while
 * pacman reads or writes it. Signatures are checked by pacman before anything is installed:
 * a database or package that is unsigned, or signed by a key the keyring does not trust, is refused.
 *
 * Reproducible: pacman's log is not written (--logfile /dev/null, as mkosi: it holds the clock
 * time of each action and nothing an image needs), and each package's %INSTALLDATE% in the local
 * database is set to SOURCE_DATE_EPOCH, so that two builds of the same inputs are the same bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { architectureName, distributionFacts, type LockedPackage } from '@kiln/config';
import { BuildError } from '../../errors';
import { cfg, type BuildContext } from '../../context';
import { toolEnv } from '../../exec';
import { ensureDir } from '../../fsutil';
import * as img from '../../image-fs';
import { packageManager, runIn, type Mount, type Sandbox } from '../../sandbox';
import { treeTools } from '../tree-tools';
import type { Installed, Installer } from '../index';
import { localDesc, localPackages, readSyncDb, type SyncPackage } from './alpm-db';
import { lockDifferences } from '../lock-check';

/** Arch's essential set, as mkosi's: the file system layout. */
const ESSENTIAL = ['filesystem'];

/** What WithDocs=no keeps out (mkosi's list). */
const NO_DOCS = ['usr/share/doc/*', 'usr/share/man/*', 'usr/share/groff/*', 'usr/share/gtk-doc/*', 'usr/share/info/*'];

/** The repositories Repositories= may add, in the order mkosi puts them (before core and extra: they take precedence). */
const OPTIONAL_REPOS = ['core-testing', 'core-testing-debug', 'extra-testing', 'extra-testing-debug', 'core-debug', 'extra-debug', 'multilib-testing', 'multilib'];

const isArm = (ctx: BuildContext) => ['arm64', 'arm'].includes(cfg(ctx, 'Architecture'));

export function pacmanArch(ctx: BuildContext): string {
  const arch = cfg(ctx, 'Architecture');
  const a = architectureName(cfg(ctx, 'Distribution'), arch);
  if (!a) throw new BuildError(`Architecture=${arch} is not built by Arch Linux (x86-64, arm64 and arm are)`, ctx.preset.name);
  return a;
}

/** The repositories pacman uses, in order, each with its Server URL (pacman expands $repo and $arch). */
export function repositories(ctx: BuildContext): { name: string; server: string }[] {
  const local = cfg(ctx, 'LocalMirror');
  if (local) return [{ name: 'core', server: local.replace(/\/$/, '') }];
  const mirror = (cfg(ctx, 'Mirror') ?? (isArm(ctx) ? 'http://mirror.archlinuxarm.org' : distributionFacts('arch')?.mirror ?? '')).replace(/\/$/, '');
  const server = isArm(ctx) ? `${mirror}/$arch/$repo` : `${mirror}/$repo/os/$arch`;
  const wanted = cfg(ctx, 'Repositories');
  const names = [...OPTIONAL_REPOS.filter((r) => wanted.includes(r)), 'core', 'extra', ...(isArm(ctx) ? ['alarm'] : [])];
  return names.map((name) => ({ name, server }));
}

const expand = (ctx: BuildContext, server: string, repo: string) => server.replace(/\$repo/g, repo).replace(/\$arch/g, pacmanArch(ctx));

function pacmanConf(ctx: BuildContext): string {
  const file = path.join(ensureDir(path.join(ctx.work, 'pacman')), 'pacman.conf');
  const lines = [
    '[options]',
    `Architecture = ${pacmanArch(ctx)}`,
    `SigLevel = ${cfg(ctx, 'RepositoryKeyCheck') ? 'Required DatabaseRequired' : 'Never'}`,
    'LocalFileSigLevel = Optional',
    'ParallelDownloads = 5',
    ...(cfg(ctx, 'WithDocs') ? [] : NO_DOCS.map((p) => `NoExtract = ${p}`)),
    '',
    ...repositories(ctx).flatMap((r) => [`[${r.name}]`, `Server = ${r.server}`, '']),
  ];
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}

function cacheDirs(ctx: BuildContext) {
  return { pkg: ensureDir(path.join(ctx.packageCache, 'pkg')), lock: path.join(ctx.packageCache, '.lock') };
}

// ---------------------------------------------------------------------------------------------
// The keyring

/** Where pacman-key looks for keyrings: Arch's pacman in /usr/share/pacman/keyrings, Debian's in /usr/share/keyrings. */
const KEYRING_DIRS = ['usr/share/pacman/keyrings', 'usr/share/keyrings'];

/** The first directory with an archlinux.gpg: in a sandbox tree, the tools tree, or the host. */
function findKeyrings(ctx: BuildContext): string | null {
  const roots = [...(ctx.sandboxTree ? [ctx.sandboxTree] : []), ...(ctx.tools ? [ctx.tools] : []), '/'];
  for (const root of roots) {
    for (const d of KEYRING_DIRS) if (fs.existsSync(path.join(root, d, 'archlinux.gpg'))) return path.join(root, d);
  }
  return null;
}

const keyrings = new WeakMap<BuildContext, Promise<string>>();

/**
 * Where the keyring is bound in every sandbox: gpg-agent puts its sockets in the gpgdir, and a
 * socket's path must fit in ~107 bytes, which a work directory deep in a project may not; the
 * sandbox's own /tmp is short and private.
 */
const GPGDIR = '/tmp/kiln-gnupg';

/** Where the keyrings found are seen by a pacman-key that takes --populate-from. */
const KEYRINGS = '/tmp/kiln-keyrings';

/**
 * pacman's keyring for this build, made once (pacman-key --init, then --populate archlinux from
 * the keyrings found) in the work directory: the host's /etc/pacman.d/gnupg is never read or
 * written. pacman-key reads its keyrings from a fixed directory, so the sandbox binds the found
 * one over both places it may be looking.
 */
function keyring(ctx: BuildContext): Promise<string> {
  if (!keyrings.has(ctx)) keyrings.set(ctx, makeKeyring(ctx));
  return keyrings.get(ctx)!;
}

async function makeKeyring(ctx: BuildContext): Promise<string> {
  const gpgdir = ensureDir(path.join(ctx.work, 'pacman', 'gnupg'));
  if (!cfg(ctx, 'RepositoryKeyCheck')) return gpgdir;
  const found = findKeyrings(ctx);
  if (!found) {
    throw new BuildError(
      'no Arch Linux keyring to check the repositories with (archlinux.gpg in usr/share/pacman/keyrings of SandboxTrees=, the tools tree or the host): ' +
        'add a sandbox tree with the archlinux-keyring package\'s usr/share/pacman/keyrings, or set RepositoryKeyCheck=no',
      ctx.preset.name,
    );
  }
  const toolsRoot = ctx.tools ?? '/';
  // A newer pacman-key (7.0, trixie's) reads the keyrings from a directory it is given
  // (--populate-from); older ones only from their fixed one, which the found directory is bound
  // over (where the tools have it).
  const script = path.join(toolsRoot, 'usr/bin/pacman-key');
  const from = fs.existsSync(script) && fs.readFileSync(script, 'utf8').includes('--populate-from');
  const over: Mount[] = from
    ? [{ type: 'ro-bind', source: found, target: KEYRINGS }]
    : KEYRING_DIRS.filter((d) => fs.existsSync(path.join(toolsRoot, d))).map((d) => ({ type: 'ro-bind', source: found, target: `/${d}` }));
  const box: Sandbox = { root: 'host', tools: ctx.tools, dev: 'minimal', env: { ...toolEnv() }, mounts: [{ type: 'bind', source: gpgdir, target: GPGDIR }, ...over] };
  const quiet = { ...ctx, log: () => undefined };
  await runIn(quiet, box, ['pacman-key', '--gpgdir', GPGDIR, '--init'], { step: 'making the pacman keyring (pacman-key --init)' });
  await runIn(quiet, box, ['pacman-key', '--gpgdir', GPGDIR, ...(from ? ['--populate-from', KEYRINGS] : []), '--populate', 'archlinux'], {
    step: `trusting the Arch keyring ${found} (pacman-key --populate)`,
  });
  return gpgdir;
}

// ---------------------------------------------------------------------------------------------
// Running pacman

/** pacman's version from its banner ("Pacman v6.0.2 - libalpm v13.0.2"). */
const PACMAN_VERSION = "pacman --version | sed -n 's/.*\\(Pacman v[^ ]*\\).*/\\1/p'";

interface Run {
  /** pacman's arguments after the common ones (-Sy, -S --needed NAMES, ...). */
  args: string[];
  step: string;
  net: boolean;
  /** Hold the package cache's lock while pacman runs: it reads or writes the cache. */
  cache: boolean;
}

/** pacman's own progress: "Packages (N)" then one "installing NAME..." (or "upgrading", "removing") a package. */
function pacmanProgress() {
  let total = 0;
  let done = 0;
  const errors: string[] = [];
  return {
    errors,
    onLine: (l: string) => {
      const m = /^Packages \((\d+)\)/.exec(l);
      if (m) [total, done] = [Number(m[1]), 0];
      else if (/^(installing|upgrading|reinstalling|downgrading|removing) \S+\.\.\.$/.test(l)) done++;
      else if (l.startsWith('error: ')) errors.push(l.slice(7));
    },
    progress: () => (total && done ? `packages: ${Math.min(done, total)} of ${total}` : undefined),
  };
}

async function pacman(ctx: BuildContext, run: Run, onFail?: (errors: string[]) => BuildError | undefined): Promise<string> {
  await treeTools(ctx, ['pacman', 'pacman-key', 'makepkg', 'flock'], PACMAN_VERSION);
  const conf = pacmanConf(ctx);
  const gpgdir = await keyring(ctx);
  const c = cacheDirs(ctx);
  img.mkdirp(ctx.root, 'var/lib/pacman');
  const dbpath = img.hostPath(ctx.root, 'var/lib/pacman');
  // pacman chroots into the image for install scripts and hooks: they get /proc and bwrap's own /dev there.
  img.mkdirp(ctx.root, 'proc');
  img.mkdirp(ctx.root, 'dev');
  const box = packageManager({
    tools: ctx.tools,
    work: ctx.work,
    packageCache: ctx.packageCache,
    root: ctx.root,
    net: run.net,
    env: { ...toolEnv(), SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch) },
    mounts: [{ type: 'bind', source: gpgdir, target: GPGDIR }],
  });
  const command = [
    'pacman', '--root', ctx.root, '--dbpath', dbpath, '--cachedir', c.pkg, '--config', conf, '--gpgdir', GPGDIR,
    '--hookdir', path.join(ctx.root, 'etc/pacman.d/hooks'), '--logfile', '/dev/null', '--arch', pacmanArch(ctx), '--color', 'never', '--noconfirm',
    ...run.args,
  ];
  const progress = pacmanProgress();
  try {
    return await runIn(ctx, box, run.cache ? ['flock', c.lock, ...command] : command, { step: run.step, onLine: progress.onLine, progress: progress.progress });
  } catch (e) {
    const better = onFail?.(progress.errors);
    throw better ?? (progress.errors.length ? new BuildError(`${run.step}: ${[...new Set(progress.errors)].join('; ')}`, ctx.preset.name) : e);
  }
}

/** Synchronises the image's sync databases (-Sy) and reads them: one clear line when a mirror cannot be reached or is not signed. */
async function sync(ctx: BuildContext): Promise<SyncPackage[]> {
  const repos = repositories(ctx);
  await pacman(ctx, { args: ['-Sy'], step: 'downloading the package databases (pacman)', net: true, cache: false }, (errors) => {
    const which = repos.map((r) => expand(ctx, r.server, r.name)).join(', ');
    const sig = errors.find((e) => /signature|\.sig\b|PGP|key/i.test(e));
    if (sig) return new BuildError(`the package databases of ${which} are not signed by a trusted key (${sig}): refused; RepositoryKeyCheck=no skips the check`, ctx.preset.name);
    return new BuildError(`cannot download the package databases of ${which}: ${errors[0] ?? 'pacman failed'}`, ctx.preset.name);
  });
  const syncDir = img.hostPath(ctx.root, 'var/lib/pacman/sync');
  const out: SyncPackage[] = [];
  for (const r of repos) out.push(...(await readSyncDb(path.join(syncDir, `${r.name}.db`), r.name)));
  return out;
}

/** Every name must be a package, something a package provides, or a group of the repositories; says which are not, and where it looked. */
function checkNames(ctx: BuildContext, names: string[], db: SyncPackage[]): void {
  const known = new Set(db.flatMap((p) => [p.name, ...p.provides, ...p.groups]));
  const missing = names.map((n) => n.replace(/^[^/]+\//, '')).filter((n) => !known.has(n));
  if (missing.length) {
    const where = repositories(ctx).map((r) => `${r.name} (${expand(ctx, r.server, r.name)})`).join(', ');
    throw new BuildError(`${missing.join(', ')}: not in the repositories ${where}`, ctx.preset.name);
  }
}

/** %INSTALLDATE% of every local database entry set to SOURCE_DATE_EPOCH: the one clock time pacman writes into the image. */
function normaliseLocalDb(ctx: BuildContext): void {
  const local = 'var/lib/pacman/local';
  if (!img.isDirectory(ctx.root, local)) return;
  for (const dir of fs.readdirSync(img.hostPath(ctx.root, local))) {
    const rel = `${local}/${dir}/desc`;
    if (!img.isDirectory(ctx.root, `${local}/${dir}`) || !img.exists(ctx.root, rel)) continue;
    const text = img.readFile(ctx.root, rel);
    const fixed = text.replace(/^%INSTALLDATE%\n\d+$/m, `%INSTALLDATE%\n${ctx.sourceDateEpoch}`);
    if (fixed !== text) img.writeFile(ctx.root, rel, fixed);
  }
}

/** Downloads (with the network) then installs (without) `targets`. */
async function installTargets(ctx: BuildContext, targets: string[], what: string): Promise<void> {
  if (!targets.length) return;
  // pacman checks each package against its signature (from the database, else FILE.sig) before installing any.
  const refused = (errors: string[]) => {
    const sig = errors.find((e) => /signature|PGP|key|corrupted|\.sig\b/i.test(e));
    if (!sig) return undefined;
    return new BuildError(`${what}: refused, a package is not signed by a trusted key (${[...new Set(errors)].join('; ')}); nothing was installed (RepositoryKeyCheck=no skips the check)`, ctx.preset.name);
  };
  await pacman(ctx, { args: ['-Sw', '--needed', ...targets], step: `${what}: downloading (pacman)`, net: true, cache: true }, refused);
  await pacman(ctx, { args: ['-S', '--needed', ...targets], step: `${what} (pacman)`, net: cfg(ctx, 'WithNetwork'), cache: true }, refused);
  normaliseLocalDb(ctx);
}

// ---------------------------------------------------------------------------------------------
// Locks: what pacman would install, from its own resolver (-Sp) on a scratch database holding what
// is installed already; sizes and SHA-256 from the sync databases.

const toLocked = (p: SyncPackage): LockedPackage => ({ name: p.name, version: p.version, architecture: p.architecture, repository: p.repository, size: p.csize, sha256: p.sha256, path: p.filename });

/** name@version -> package, over the repositories in order (the first has it). */
const byVersion = (db: SyncPackage[]) => {
  const m = new Map<string, SyncPackage>();
  for (const p of db) if (!m.has(`${p.name}@${p.version}`)) m.set(`${p.name}@${p.version}`, p);
  return m;
};

let scratchCount = 0;

async function resolve(ctx: BuildContext, names: string[], installed: Installed, essential: boolean): Promise<LockedPackage[]> {
  // A scratch root whose local database holds what is installed, and whose sync databases are the mirror's.
  const scratch = ensureDir(path.join(ctx.work, `pacman-resolve-${scratchCount++}`));
  const sctx: BuildContext = { ...ctx, root: scratch };
  const db = await sync(sctx);
  const versions = byVersion(db);
  const local = ensureDir(path.join(scratch, 'var/lib/pacman/local'));
  fs.writeFileSync(path.join(local, 'ALPM_DB_VERSION'), '9\n');
  for (const l of installed.locked) {
    const p = versions.get(`${l.name}@${l.version}`);
    if (!p) throw new BuildError(`the base lock: ${l.name} ${l.version} is no longer in the repositories; run kiln lock for it first`, ctx.preset.name);
    ensureDir(path.join(local, `${p.name}-${p.version}`));
    fs.writeFileSync(path.join(local, `${p.name}-${p.version}`, 'desc'), localDesc(p, ctx.sourceDateEpoch));
  }
  for (const tree of installed.trees) {
    const from = path.join(tree, 'var/lib/pacman/local');
    if (!fs.existsSync(from)) throw new BuildError(`base tree ${tree} has no pacman database (var/lib/pacman/local) to lock against`, ctx.preset.name);
    for (const [, p] of localPackages(path.join(tree, 'var/lib/pacman'))) fs.cpSync(p.dir, path.join(local, path.basename(p.dir)), { recursive: true });
  }
  const wanted = [...new Set([...(essential ? ESSENTIAL : []), ...names])];
  if (!wanted.length) return [];
  checkNames(sctx, wanted, db);
  const out = await pacman({ ...sctx, log: () => undefined }, { args: ['-Sp', '--needed', '--print-format', '%r %n %v %a', ...wanted], step: `resolving ${names.join(' ') || 'the essential set'}`, net: false, cache: false });
  return out
    .split('\n')
    .filter((l) => /^\S+ \S+ \S+ \S+$/.test(l))
    .map((l) => {
      const [repo, name, version] = l.split(' ');
      const p = db.find((x) => x.repository === repo && x.name === name && x.version === version);
      if (!p) throw new BuildError(`pacman would install ${name} ${version} from ${repo}, which its database does not list`, ctx.preset.name);
      return toLocked(p);
    });
}

/** Before installing from a lock: every locked version is in the repository the lock names, with the locked SHA-256. */
function checkAvailable(ctx: BuildContext, locked: LockedPackage[], db: SyncPackage[]): void {
  const problems: string[] = [];
  for (const l of locked) {
    const p = db.find((x) => x.repository === l.repository && x.name === l.name);
    if (!p || p.version !== l.version) problems.push(`${l.repository}/${l.name} ${l.version} is gone from the repositories${p ? ` (${l.repository} has ${p.version})` : ''}`);
    else if (p.sha256 !== l.sha256) problems.push(`${l.repository}/${l.name} ${l.version}: the repository's SHA-256 ${p.sha256} is not the locked ${l.sha256}`);
  }
  if (problems.length) {
    throw new BuildError(
      `the lock does not match the mirror:\n  ${problems.join('\n  ')}\n` +
        'Run `kiln lock` to lock what the mirror has now (or build with --relock), or point Mirror= at an Arch archive snapshot that has the locked versions ' +
        '(such as https://archive.archlinux.org/repos/<yyyy>/<mm>/<dd>).',
      ctx.preset.name,
    );
  }
}

/** After installing from a lock: the local database holds exactly the locked versions (beside `before`), and each cached file has the locked SHA-256. */
function verifyInstalled(ctx: BuildContext, locked: LockedPackage[], before: Map<string, { version: string }>): void {
  const after = localPackages(img.hostPath(ctx.root, 'var/lib/pacman'));
  const problems = lockDifferences(locked, before, after);
  const pkg = cacheDirs(ctx).pkg;
  for (const l of locked) {
    const file = path.join(pkg, l.path ?? '');
    if (!l.path || !fs.existsSync(file) || before.get(l.name)?.version === l.version) continue;
    const sha = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (sha !== l.sha256) problems.push(`${l.path} has SHA-256 ${sha}, the lock says ${l.sha256}`);
  }
  if (problems.length) throw new BuildError(`the installed packages are not the locked ones:\n  ${problems.join('\n  ')}\nRun \`kiln lock\` (or build with --relock).`, ctx.preset.name);
}

const sha256Of = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Installs exactly the locked files: those the package cache lacks (or holds with other bytes) are
 * downloaded first (-Sw of `repo/name`, once the mirror is checked to still have the locked version
 * with the locked SHA-256; pacman checks their signatures), then every file is checked against the
 * lock's SHA-256 and installed with -U in one transaction (pacman orders it). The lock was taken
 * from signed databases, so a cached file with its SHA-256 is the signed package: a locked build
 * needs no mirror once its packages are cached, which matters for a rolling distribution whose
 * mirrors drop old versions. Those the configuration does not name are then marked as
 * dependencies, as a build without a lock marks them.
 */
async function installLocked(ctx: BuildContext, locked: LockedPackage[], what: string, manual: string[]): Promise<void> {
  const before = localPackages(img.hostPath(ctx.root, 'var/lib/pacman'));
  const todo = locked.filter((l) => before.get(l.name)?.version !== l.version);
  if (!todo.length) return;
  const pkg = cacheDirs(ctx).pkg;
  const fileOf = (l: LockedPackage) => {
    if (!l.path || l.path.includes('/')) throw new BuildError(`kiln.lock: ${l.name} ${l.version} has no package file name (path); run kiln lock again`, ctx.preset.name);
    return path.join(pkg, l.path);
  };
  const good = (l: LockedPackage) => fs.existsSync(fileOf(l)) && sha256Of(fileOf(l)) === l.sha256;
  const fetch = todo.filter((l) => !good(l));
  if (fetch.length) {
    const db = await sync(ctx);
    checkAvailable(ctx, fetch, db);
    // A cached file with other bytes is damaged (or from another mirror's build of that version): pacman would take it as it is.
    for (const l of fetch) for (const f of [fileOf(l), `${fileOf(l)}.sig`]) fs.rmSync(f, { force: true });
    // --nodeps twice: exactly these files, not what pacman would add for them (the lock has it).
    await pacman(ctx, { args: ['-Sw', '--nodeps', '--nodeps', ...fetch.map((l) => `${l.repository}/${l.name}`)], step: `${what}: downloading (pacman)`, net: true, cache: true });
  }
  const bad = todo.filter((l) => !good(l));
  if (bad.length) {
    throw new BuildError(`the package files are not the locked ones: ${bad.map((l) => `${l.path} (the lock says SHA-256 ${l.sha256})`).join(', ')}; run \`kiln lock\` (or build with --relock)`, ctx.preset.name);
  }
  await pacman(ctx, { args: ['-U', '--needed', ...todo.map(fileOf)], step: `${what} (pacman)`, net: cfg(ctx, 'WithNetwork'), cache: true });
  normaliseLocalDb(ctx);
  const wanted = new Set(manual);
  const deps = todo.filter((l) => !wanted.has(l.name)).map((l) => l.name);
  if (deps.length) await pacman(ctx, { args: ['-D', '--asdeps', ...deps], step: 'marking dependencies (pacman)', net: false, cache: false });
  verifyInstalled(ctx, locked, before);
}

async function install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  if (locked) return installLocked(ctx, locked, 'installing the locked packages', packages);
  const db = await sync(ctx);
  checkNames(ctx, packages, db);
  await installTargets(ctx, packages, 'installing packages');
}

async function bootstrap(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  // The image's own hooks directory (mkosi's choice): pacman runs the hooks the image's packages bring.
  img.mkdirp(ctx.root, 'etc/pacman.d/hooks');
  if (locked) return installLocked(ctx, locked, 'installing the locked packages', [...ESSENTIAL, ...packages]);
  const db = await sync(ctx);
  const targets = [...new Set([...ESSENTIAL, ...packages])];
  checkNames(ctx, targets, db);
  await installTargets(ctx, targets, 'installing packages');
}

async function append(ctx: BuildContext, missing: LockedPackage[], manual: string[]): Promise<void> {
  await installLocked(ctx, missing, 'installing the new locked packages on the layer', manual);
}

async function remove(ctx: BuildContext, packages: string[]): Promise<void> {
  const installed = localPackages(img.hostPath(ctx.root, 'var/lib/pacman'));
  // As mkosi: only what is installed (RemovePackages= may name a package a preset never had).
  const present = packages.filter((p) => installed.has(p));
  if (!present.length) return;
  await pacman(ctx, { args: ['-Rns', ...present], step: 'removing packages (pacman)', net: cfg(ctx, 'WithNetwork'), cache: false });
}

/**
 * As mkosi: the sync databases and the package cache never stay (they are caches, and differ from
 * one build to the next); the local database goes when pacman is not in the image, or always when asked.
 */
async function cleanMetadata(ctx: BuildContext, always: boolean): Promise<void> {
  const r = ctx.root;
  for (const p of ['var/lib/pacman/sync', 'var/cache/pacman']) img.remove(r, p);
  if (always || !img.exists(r, 'usr/bin/pacman')) img.remove(r, 'var/lib/pacman');
}

export const pacmanInstaller: Installer = {
  sources: (ctx) => repositories(ctx).map((r) => `${r.name} ${r.server}`),
  resolve,
  bootstrap,
  install,
  append,
  remove,
  cleanMetadata,
};
