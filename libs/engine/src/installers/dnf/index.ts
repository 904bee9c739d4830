/**
 * Fedora, CentOS Stream, AlmaLinux and Rocky Linux through dnf (4) and rpm.
 *
 * dnf runs from the host or the tools tree (ToolsTree=), with --installroot at the image and a
 * configuration of kiln's own (setup.ts), in the sandbox every tool runs in: the host read-only,
 * the image, the work directory and the package cache writable, and rpm's scriptlets chrooted into
 * the image in a user namespace of their own (sandbox.ts), where root is root over the image only.
 * As for apt, an install is two steps: the download, with the network, and the transaction, from
 * the cache alone (`-C`), without it unless WithNetwork=yes, so that scriptlets never reach a
 * network.
 *
 * The package cache (PackageCacheDirectory=) holds dnf's cache directory (`dnf/`: metadata and,
 * with keepcache, the packages), seen by dnf at /var/cache/dnf. dnf locks it with PID files,
 * which PID namespaces make meaningless (two sandboxes may both run dnf as PID 2), so kiln holds
 * the cache's lock (flock on its .lock) around each dnf run instead.
 *
 * dnf writes some of its state relative to the install root whatever it is told (its logs, and
 * expired_repos.json under the cache directory): those are removed after each run, as mkosi does.
 * rpm takes install times from SOURCE_DATE_EPOCH; dnf's history and the SQLite write-ahead logs
 * are settled after each transaction (query-scripts.ts SETTLE_DATABASES), so that the same packages
 * give the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RPM_ESSENTIAL, type LockedPackage } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { toolEnv } from '../../exec';
import { ensureDir } from '../../fsutil';
import * as img from '../../image-fs';
import { packageManager, runIn, type Sandbox } from '../../sandbox';
import type { Installed, Installer } from '../index';
import { treeTools } from '../tree-tools';
import {
  checkLockAvailable, checkLockInstalled, missingError, nevra, refusedError, repositoryError, rpmInstalled, searchedText, settleDatabases, toLocked,
  RPM_DBPATH, type RepoRecord, type RpmInstalled,
} from '../rpm';
import { DNF_QUERY } from './query-scripts';
import { dnfSetup, sourcesOf, type DnfSetup } from './setup';

/** dnf's cache inside the package cache. */
function cacheDir(ctx: BuildContext): string {
  return ensureDir(path.join(ctx.packageCache, 'dnf'));
}

const lockFile = (ctx: BuildContext) => path.join(ctx.packageCache, '.lock');

/** The sandbox of a dnf or rpm run on `root`: see the header. */
function dnfSandbox(ctx: BuildContext, s: DnfSetup, root: string, net: boolean): Sandbox {
  // dnf fails when its log directory (inside the root, whatever it is told) is missing.
  img.mkdirp(root, 'var/log');
  return packageManager({
    tools: ctx.tools,
    work: ctx.work,
    packageCache: ctx.packageCache,
    root,
    net,
    env: { ...toolEnv(), HOME: s.home, RPM_FORCE_DEBIAN: '1', SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch) },
    mounts: [
      // dnf's cache at the path it is told, over an empty /var/cache: nothing of the host's shows.
      { type: 'tmpfs', target: '/var/cache' },
      // hawkey logs to the log directory as given, dnf's own logs go under the root: both are dropped.
      { type: 'tmpfs', target: '/var/log' },
      { type: 'bind', source: cacheDir(ctx), target: '/var/cache/dnf' },
    ],
  });
}

/** dnf's options for `root`: everything from kiln's configuration, nothing from the host's. */
function dnfOptions(ctx: BuildContext, s: DnfSetup, root: string): string[] {
  return [
    '--assumeyes',
    '--best',
    `--releasever=${cfg(ctx, 'Release')}`,
    `--installroot=${root}`,
    `--config=${s.conf}`,
    `--setopt=reposdir=${s.reposdir}`,
    `--setopt=varsdir=${s.varsdir}`,
    '--setopt=cachedir=/var/cache/dnf',
    '--setopt=keepcache=1',
    '--setopt=logdir=/var/log',
    `--setopt=persistdir=${path.join(root, 'var/lib/dnf')}`,
    `--setopt=install_weak_deps=${cfg(ctx, 'WithRecommends') ? 1 : 0}`,
    '--setopt=check_config_file_age=0',
    ...(cfg(ctx, 'RepositoryKeyCheck') ? [] : ['--nogpgcheck']),
    ...cfg(ctx, 'Repositories').map((r) => `--enablerepo=${r}`),
    ...(cfg(ctx, 'WithDocs') ? [] : ['--nodocs']),
    ...(s.forceArch ? [`--forcearch=${s.arch}`] : []),
  ];
}

/** What dnf leaves in the root of its own accord: its logs and a note under the cache directory's path. */
function tidy(root: string, hadCache: boolean): void {
  if (img.exists(root, 'var/log')) {
    for (const f of fs.readdirSync(img.hostPath(root, 'var/log'))) if (/^(dnf|hawkey|yum)/.test(f)) img.remove(root, `var/log/${f}`);
  }
  img.remove(root, 'var/cache/dnf/expired_repos.json');
  if (!hadCache && img.isDirectory(root, 'var/cache/dnf') && fs.readdirSync(img.hostPath(root, 'var/cache/dnf')).length === 0) img.remove(root, 'var/cache/dnf');
}

/** dnf's transaction lines ("  Installing : hello-1.1-1.noarch   3/9") say how far it is. */
function dnfProgress() {
  let done = 0;
  let total = 0;
  let downloaded = 0;
  return {
    onLine: (l: string) => {
      const m = l.match(/^\s*(?:Installing|Upgrading|Reinstalling|Downgrading|Erasing|Removing)\s*: .*\s(\d+)\/(\d+)\s*$/);
      if (m) [done, total] = [Number(m[1]), Number(m[2])];
      else if (/^\(\d+\/\d+\): /.test(l)) downloaded++;
    },
    progress: () => (total ? `packages: ${done} of ${total}` : downloaded ? `packages: ${downloaded} downloaded` : undefined),
  };
}

/** A tools tree must have them (the host's are in the tools' identity); the log says which versions run. */
const checkTools = (ctx: BuildContext) => treeTools(ctx, ['dnf', 'rpm', 'flock', 'python3'], 'echo "dnf $(dnf --version | head -n 1)"; rpm --version');

/** Metadata refreshed once per build (later runs read the cache: they then agree with the lock checked against it). */
async function refresh(ctx: BuildContext, s: DnfSetup): Promise<void> {
  if (!s.refreshed) {
    s.refreshed = (async () => {
      const scratch = ensureDir(path.join(ctx.work, 'dnf', 'scratch'));
      try {
        await runIn(ctx, dnfSandbox(ctx, s, scratch, true), ['flock', lockFile(ctx), 'dnf', ...dnfOptions(ctx, s, scratch), '--setopt=metadata_expire=0', 'makecache'], {
          step: 'updating the repository metadata (dnf)',
        });
      } catch (e) {
        throw unreachable(ctx, s, e);
      }
    })();
  }
  return s.refreshed;
}

/** A failed metadata load, said as one line naming the repositories (dnf's own words follow in the log). */
function unreachable(ctx: BuildContext, s: DnfSetup, e: unknown): Error {
  const text = e instanceof Error ? e.message : String(e);
  const failed = text.match(/Failed to download metadata for repo '([^']+)'/) ?? text.match(/repo '([^']+)'/);
  const sig = /GPG|signature|gpg/i.test(text);
  const where = searched(ctx, s);
  if (failed) {
    const repo = s.repositories.find((r) => r.id === failed[1]);
    return repositoryError(ctx, failed[1], repo?.url, sig);
  }
  return e instanceof Error ? e : new BuildError(`dnf failed on ${where}: ${text}`, ctx.preset.name);
}

/** Runs dnf on `root`: the download with the network, then the transaction from the cache. */
async function dnf(ctx: BuildContext, root: string, args: string[], step: string): Promise<void> {
  await checkTools(ctx);
  const s = await dnfSetup(ctx);
  await refresh(ctx, s);
  const hadCache = img.isDirectory(root, 'var/cache/dnf');
  const opts = [...dnfOptions(ctx, s, root), '--setopt=metadata_expire=never'];
  const progress = dnfProgress();
  const installs = args[0] === 'install';
  try {
    if (installs) await runIn(ctx, dnfSandbox(ctx, s, root, true), ['flock', lockFile(ctx), 'dnf', ...opts, '--downloadonly', ...args], { step: `${step}: downloading`, ...progress });
    await runIn(ctx, dnfSandbox(ctx, s, root, cfg(ctx, 'WithNetwork')), ['flock', lockFile(ctx), 'dnf', ...opts, ...(installs ? ['-C'] : []), ...args], { step, ...progress });
  } catch (e) {
    throw missingPackages(ctx, s, e);
  } finally {
    tidy(root, hadCache);
  }
  await settle(ctx, s, root);
}

/** What dnf says of a failed run, as one line: packages in no repository, packages whose signature does not verify, else the repository at fault. */
function missingPackages(ctx: BuildContext, s: DnfSetup, e: unknown): unknown {
  const text = e instanceof Error ? e.message : String(e);
  const names = [...text.matchAll(/No match for argument: (\S+)/g)].map((m) => m[1]);
  if (names.length) return missingError(ctx, names, searched(ctx, s));
  const unsigned = [...text.matchAll(/Package (\S+)\.rpm is not signed/g)].map((m) => m[1]);
  const unknownKey = [...text.matchAll(/Public key for (\S+)\.rpm is not installed/g)].map((m) => m[1]);
  const bad = [...text.matchAll(/Package (\S+)\.rpm has a bad signature|(\S+)\.rpm: (?:Header V\d \S+ Signature, key ID \S+: BAD|signature verification failed)/g)].map((m) => m[1] ?? m[2]);
  return refusedError(ctx, { unsigned, unknownKey, bad }) ?? unreachable(ctx, s, e);
}

function searched(ctx: BuildContext, s: DnfSetup): string {
  return searchedText(s.repositories, cfg(ctx, 'Repositories'));
}

const settle = async (ctx: BuildContext, s: DnfSetup, root: string) => settleDatabases(ctx, dnfSandbox(ctx, s, root, false), root);

/** The packages installed in `root`, by name. */
async function installed(ctx: BuildContext, root: string): Promise<RpmInstalled> {
  return rpmInstalled(ctx, dnfSandbox(ctx, await dnfSetup(ctx), root, false), root);
}

/** Asks dnf's API (query-scripts.ts) against the refreshed metadata, in a scratch root. */
async function query(ctx: BuildContext, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const s = await dnfSetup(ctx);
  await refresh(ctx, s);
  const scratch = ensureDir(path.join(ctx.work, 'dnf', 'scratch'));
  const script = path.join(s.dir, 'query.py');
  fs.writeFileSync(script, DNF_QUERY);
  const req = {
    conf: s.conf,
    root: scratch,
    reposdir: s.reposdir,
    varsdir: s.varsdir,
    logdir: ensureDir(path.join(s.dir, 'log')),
    weak: cfg(ctx, 'WithRecommends'),
    forcearch: s.forceArch,
    arch: s.arch,
    releasever: cfg(ctx, 'Release'),
    check: cfg(ctx, 'RepositoryKeyCheck'),
    enable: cfg(ctx, 'Repositories'),
    ...request,
  };
  const out = await runIn({ ...ctx, log: () => undefined }, dnfSandbox(ctx, s, scratch, false), ['flock', lockFile(ctx), 'python3', script], {
    step: 'asking dnf',
    input: JSON.stringify(req),
  });
  const answer = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  if (typeof answer.error === 'string') throw new BuildError(`dnf: ${answer.error.split('\n')[0]} (repositories: ${searched(ctx, s)})`, ctx.preset.name);
  if (Array.isArray(answer.missing)) throw missingError(ctx, answer.missing as string[], searched(ctx, s));
  return answer;
}

async function resolve(ctx: BuildContext, names: string[], have: Installed, essential: boolean): Promise<LockedPackage[]> {
  const pinned = have.locked.map(nevra);
  for (const tree of have.trees) for (const [name, p] of await installed(ctx, tree)) pinned.push(nevra({ name, ...p }));
  const wanted = [...(essential ? (RPM_ESSENTIAL[cfg(ctx, 'Distribution')] ?? []) : []), ...names];
  if (!wanted.length) return [];
  const answer = await query(ctx, { mode: 'resolve', installed: pinned, names: wanted });
  return (answer.packages as RepoRecord[]).map(toLocked);
}

/** Before installing from a lock: each locked package is still in the repositories with the locked checksum. */
async function checkAvailable(ctx: BuildContext, locked: LockedPackage[]): Promise<void> {
  const answer = await query(ctx, { mode: 'query', packages: locked.map((p) => ({ name: p.name, version: p.version, architecture: p.architecture })) });
  checkLockAvailable(ctx, locked, answer.found as RepoRecord[][]);
}

/** After installing from a lock: rpm's database has exactly the locked versions on top of `before`, and the cached packages have the locked checksums. */
async function verifyInstalled(ctx: BuildContext, root: string, locked: LockedPackage[], before: RpmInstalled): Promise<void> {
  checkLockInstalled(ctx, locked, before, await installed(ctx, root), cachedPackages(ctx));
}

/** The cached .rpm files by name (dnf keeps them in <repo>-<hash>/packages/). */
function cachedPackages(ctx: BuildContext): Map<string, string> {
  const out = new Map<string, string>();
  const dir = cacheDir(ctx);
  for (const repo of fs.readdirSync(dir)) {
    const pkgs = path.join(dir, repo, 'packages');
    if (fs.existsSync(pkgs)) for (const f of fs.readdirSync(pkgs)) out.set(f, path.join(pkgs, f));
  }
  return out;
}

/** Marks what was installed by request (`manual`) and what as a dependency, as a build from scratch marks them. */
async function mark(ctx: BuildContext, root: string, packages: LockedPackage[], manual: string[]): Promise<void> {
  const wanted = new Set(manual);
  const deps = packages.filter((p) => !wanted.has(p.name)).map((p) => p.name);
  if (deps.length) await dnf(ctx, root, ['mark', 'remove', ...deps], 'marking dependencies (dnf)');
}

async function installLocked(ctx: BuildContext, root: string, locked: LockedPackage[], manual: string[], step: string): Promise<void> {
  await checkAvailable(ctx, locked);
  const before = await installed(ctx, root);
  await dnf(ctx, root, ['install', ...locked.map(nevra)], step);
  await mark(ctx, root, locked, manual);
  await verifyInstalled(ctx, root, locked, before);
}

async function bootstrap(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  const essential = RPM_ESSENTIAL[cfg(ctx, 'Distribution')] ?? [];
  if (locked) return installLocked(ctx, ctx.root, locked, [...essential, ...packages], 'installing the locked packages (dnf)');
  await dnf(ctx, ctx.root, ['install', ...essential, ...packages], 'installing packages (dnf)');
}

async function install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  if (locked) return installLocked(ctx, ctx.root, locked, packages, 'installing the locked packages (dnf)');
  await dnf(ctx, ctx.root, ['install', ...packages], 'installing packages (dnf)');
}

/**
 * As mkosi: caches always go; dnf's state when dnf is not in the image (or always), rpm's database
 * when rpm is not (or always).
 */
async function cleanMetadata(ctx: BuildContext, always: boolean): Promise<void> {
  const r = ctx.root;
  const has = (bin: string) => img.exists(r, `usr/bin/${bin}`);
  for (const p of ['var/cache/dnf', 'var/cache/yum', 'var/cache/libdnf5']) img.remove(r, p);
  if (always || !(has('dnf') || has('dnf5') || has('yum'))) for (const p of ['var/lib/dnf', 'var/lib/yum', 'var/lib/libdnf5']) img.remove(r, p);
  if (always || !has('rpm')) for (const p of [RPM_DBPATH.slice(1), 'var/lib/rpm']) img.remove(r, p);
}

export const dnfInstaller: Installer = {
  sources: sourcesOf,
  resolve,
  bootstrap,
  install,
  append: (ctx, missing, manual) => installLocked(ctx, ctx.root, missing, manual, 'installing the new locked packages on the layer (dnf)'),
  remove: (ctx, packages) => dnf(ctx, ctx.root, ['remove', ...packages], 'removing packages (dnf)'),
  cleanMetadata,
};
