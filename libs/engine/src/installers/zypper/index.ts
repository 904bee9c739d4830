/**
 * openSUSE (Tumbleweed, Leap) through zypper (libzypp) and rpm.
 *
 * zypper runs from the host or the tools tree (ToolsTree=), with --installroot at the image and a
 * configuration of kiln's own (setup.ts), in the sandbox dnf runs in (installers/dnf): the host
 * read-only, the image, the work directory and the package cache writable, empty /var/cache and
 * /var/log, and rpm's scriptlets chrooted into the image in a user namespace of their own
 * (sandbox.ts). An install is two steps, as for dnf and apt: the download (--download-only), with
 * the network, then the transaction from the cache (--no-refresh, --download in-advance), without
 * it unless WithNetwork=yes, so that scriptlets never reach a network.
 *
 * The package cache (PackageCacheDirectory=) holds zypper's cache directory (`zypp/`: raw/ the
 * repositories' metadata, solv/ libsolv's, packages/ the downloaded packages with keeppackages=1),
 * seen by zypper at /var/cache/zypp (--cache-dir is not prefixed with the root, unlike dnf's).
 * zypper's own lock is a PID file in the root, which says nothing across sandboxes: kiln holds the
 * cache's lock (flock on its .lock) around each run, as for dnf.
 *
 * The signing keys are imported into the image's rpm database before zypper first runs on it
 * (`rpm --root --import`, as mkosi does), so that libzypp trusts exactly them. Metadata signed by
 * any other key is refused, even when the repository publishes that key (zypperOptions).
 *
 * What zypper leaves in the image of its own accord (reproducible databases):
 * - var/log/zypp/history: the transaction log, with wall-clock times and kiln's command lines.
 *   Removed after each run: nothing reads it, zypper starts a new one on the running system.
 * - var/lib/zypp/AutoInstalled: which packages came as dependencies (remove --clean-deps reads it).
 *   Kept, normalised: its header's generation date goes, its names are sorted. The other state
 *   files there (SoftLocks, RequestedLocales, LastDistributionFlavor) keep their content, without
 *   the date; AnonymousUniqueId (a random id libzypp sends to mirrors) is removed.
 * - run/zypp.pid, and libsolv's cache of the installed packages under the root's cache path: removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { opensuseEssential, type LockedPackage } from '@kiln/config';
import { cfg, required, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { toolEnv } from '../../exec';
import { ensureDir } from '../../fsutil';
import * as img from '../../image-fs';
import { packageManager, runIn, type Sandbox } from '../../sandbox';
import type { Installed, Installer } from '../index';
import { treeTools } from '../tree-tools';
import {
  checkLockAvailable, checkLockInstalled, missingError, nevra, refusedError, repositoryError, rpmInstalled, searchedText, settleDatabases, toLocked,
  RPM_DBPATH, type RpmInstalled,
} from '../rpm';
import { dryRunInstalls, readRepoIndex } from './metadata';
import { sourcesOf, zypperSetup, type ZypperSetup } from './setup';

/** zypper's cache inside the package cache. */
const cacheDir = (ctx: BuildContext) => ensureDir(path.join(ctx.packageCache, 'zypp'));
const lockFile = (ctx: BuildContext) => path.join(ctx.packageCache, '.lock');
/** Where zypper sees its cache. */
const CACHE = '/var/cache/zypp';

function zypperSandbox(ctx: BuildContext, s: ZypperSetup, root: string, net: boolean): Sandbox {
  return packageManager({
    tools: ctx.tools,
    work: ctx.work,
    packageCache: ctx.packageCache,
    root,
    net,
    env: { ...toolEnv(), HOME: s.home, RPM_FORCE_DEBIAN: '1', SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch), ZYPP_CONF: s.conf, ZYPP_LOGFILE: s.logfile },
    mounts: [
      { type: 'tmpfs', target: '/var/cache' },
      { type: 'tmpfs', target: '/var/log' },
      // libzypp attaches each repository's medium under /var/adm/mount or /var/tmp, and stops without a writable one.
      { type: 'tmpfs', target: '/var/tmp' },
      { type: 'bind', source: cacheDir(ctx), target: CACHE },
    ],
  });
}

/** zypper's global options for `root`: everything from kiln's configuration, nothing from the host's. */
function zypperOptions(ctx: BuildContext, s: ZypperSetup, root: string): string[] {
  const check = cfg(ctx, 'RepositoryKeyCheck');
  return [
    `--config=${s.zypperConf}`,
    `--installroot=${root}`,
    `--reposd-dir=${s.reposdir}`,
    `--cache-dir=${CACHE}`,
    '--non-interactive',
    `--releasever=${required(ctx, 'Release')}`,
    // Never --gpg-auto-import-keys for keys kiln found: it also accepts the key a repository
    // publishes beside its metadata (repodata/repomd.xml.key), so a mirror could sign with a key of
    // its own and have it trusted (measured). The found keys are in the root's rpm database, which
    // libzypp trusts. Keys given as URLs (RepositoryKeyFetch=yes, none found) need it, as in mkosi.
    ...(!check ? ['--no-gpg-checks'] : s.keyUrls ? ['--gpg-auto-import-keys'] : []),
    ...cfg(ctx, 'Repositories').map((r) => `--plus-content=${r}`),
  ];
}

/** A tools tree must have them (the host's are in the tools' identity); the log says which versions run. */
const checkTools = (ctx: BuildContext) => treeTools(ctx, ['zypper', 'rpm', 'flock', 'python3'], 'zypper --version; rpm --version');

function searched(ctx: BuildContext, s: ZypperSetup): string {
  return searchedText(s.repositories, cfg(ctx, 'Repositories'));
}

const enabledAliases = (ctx: BuildContext, s: ZypperSetup) => s.repositories.filter((r) => r.enabled || cfg(ctx, 'Repositories').includes(r.id)).map((r) => r.id);

/** The keys into the root's rpm database (rpm skips a key it has: importing again is harmless, and a base tree or layer may lack one). */
async function importKeys(ctx: BuildContext, s: ZypperSetup, root: string): Promise<void> {
  if (!s.keys.length) return;
  await runIn({ ...ctx, log: () => undefined }, zypperSandbox(ctx, s, root, false), ['rpm', `--root=${root}`, '--import', ...s.keys], {
    step: 'importing the signing keys into the RPM database',
  });
}

/** zypper's lines of a failed run, as one line: a repository at fault, packages in no repository, packages whose signature does not verify. */
function explainFailure(ctx: BuildContext, s: ZypperSetup, lines: string[], e: unknown): unknown {
  // With --xmlout (kiln lock's dry run) the messages come as XML text: &apos; for the quotes matched below.
  const text = lines
    .join('\n')
    .replace(/&apos;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  const repoFault = text.match(/(?:File 'repomd\.xml' from repository '([^']+)' is (unsigned|signed with an unknown key)|Skipping repository '([^']+)'|Repository '([^']+)' is invalid|Problem retrieving files from '([^']+)'|Download \(curl\) error for '[^']*' .*|Valid metadata not found at specified URL)/);
  if (repoFault) {
    const alias = repoFault[1] ?? repoFault[3] ?? repoFault[4] ?? s.repositories.find((r) => text.includes(`'${r.id}'`))?.id ?? '?';
    const sig = /unsigned|unknown key|[Ss]ignature/.test(text);
    return repositoryError(ctx, alias, s.repositories.find((r) => r.id === alias)?.url, sig);
  }
  const missing = [...text.matchAll(/(?:No provider of|Package) '([^']+)'(?: not)? found/g)].map((m) => m[1]);
  if (missing.length) return missingError(ctx, [...new Set(missing)], searched(ctx, s));
  const sigs = [...text.matchAll(/^(\S+) \([^)]*\): Signature verification failed \[(\d+)-/gm)];
  const refused = refusedError(ctx, {
    unsigned: sigs.filter((m) => m[2] === '6').map((m) => m[1]),
    unknownKey: sigs.filter((m) => m[2] === '4').map((m) => m[1]),
    bad: sigs.filter((m) => !['4', '6'].includes(m[2])).map((m) => m[1]),
  });
  return refused ?? e;
}

/** Runs zypper in its sandbox under the cache's lock, keeping its lines for explainFailure. */
async function zypperRun(ctx: BuildContext, s: ZypperSetup, root: string, net: boolean, args: string[], step: string, quiet = false): Promise<string> {
  const lines: string[] = [];
  const progress = zypperProgress();
  try {
    return await runIn(quiet ? { ...ctx, log: () => undefined } : ctx, zypperSandbox(ctx, s, root, net), ['flock', lockFile(ctx), 'zypper', ...zypperOptions(ctx, s, root), ...args], {
      step,
      onLine: (l) => {
        lines.push(l);
        progress.onLine(l);
      },
      progress: progress.progress,
    });
  } catch (e) {
    throw explainFailure(ctx, s, lines, e);
  }
}

/** zypper's "(3/9) Installing: hello-1.1-1.noarch" lines say how far it is. */
function zypperProgress() {
  let note: string | undefined;
  return {
    onLine: (l: string) => {
      const m = l.match(/^\((\d+)\/(\d+)\) (Installing|Removing)/);
      if (m) note = `packages: ${m[1]} of ${m[2]}`;
      else if (/^Retrieving: \S+\.rpm/.test(l)) note = 'packages: downloading';
    },
    progress: () => note,
  };
}

/** Metadata refreshed once per build, in a scratch root that has the keys (later runs read the cache: they then agree with the lock checked against it). */
async function refresh(ctx: BuildContext, s: ZypperSetup): Promise<string> {
  const scratch = ensureDir(path.join(s.dir, 'scratch'));
  if (!s.refreshed) {
    s.refreshed = (async () => {
      await importKeys(ctx, s, scratch);
      await zypperRun(ctx, s, scratch, true, ['refresh', '--force'], 'updating the repository metadata (zypper)');
    })();
  }
  await s.refreshed;
  return scratch;
}

/** What zypper leaves in the root of its own accord (see the header). */
function tidy(root: string, hadCache: boolean): void {
  img.remove(root, 'var/log/zypp/history');
  if (img.isDirectory(root, 'var/log/zypp') && fs.readdirSync(img.hostPath(root, 'var/log/zypp')).length === 0) img.remove(root, 'var/log/zypp');
  img.remove(root, 'run/zypp.pid');
  // A random id libzypp sends with its downloads: each installed system makes its own, no image carries one.
  img.remove(root, 'var/lib/zypp/AnonymousUniqueId');
  if (!hadCache) img.remove(root, CACHE.slice(1));
  // libzypp's state files (AutoInstalled, SoftLocks, RequestedLocales) open with "# NAME generated <date>".
  if (img.isDirectory(root, 'var/lib/zypp')) {
    for (const f of fs.readdirSync(img.hostPath(root, 'var/lib/zypp'), { withFileTypes: true })) {
      if (!f.isFile()) continue;
      const rel = `var/lib/zypp/${f.name}`;
      const text = img.readFile(root, rel);
      const settled = text.replace(/^(# \S+) generated .*$/m, '$1');
      if (settled !== text) img.writeFile(root, rel, settled);
    }
  }
  normaliseAutoInstalled(root);
}

const AUTO = 'var/lib/zypp/AutoInstalled';

/** libzypp's AutoInstalled, sorted and without its date; `change` adds and removes names first. */
function normaliseAutoInstalled(root: string, change?: { add: string[]; drop: string[] }): void {
  if (!img.exists(root, AUTO) && !change?.add.length) return;
  const names = new Set(img.exists(root, AUTO) ? img.readFile(root, AUTO).split('\n').filter((l) => l && !l.startsWith('#')) : []);
  for (const n of change?.add ?? []) names.add(n);
  for (const n of change?.drop ?? []) names.delete(n);
  img.mkdirp(root, 'var/lib/zypp');
  img.writeFile(root, AUTO, `# AutoInstalled\n#\n${[...names].sort().map((n) => `${n}\n`).join('')}#\n`);
}

/** Runs a zypper command that changes `root`: the download with the network, then the transaction from the cache. */
async function zypper(ctx: BuildContext, root: string, args: string[], step: string): Promise<void> {
  await checkTools(ctx);
  const s = await zypperSetup(ctx);
  await refresh(ctx, s);
  await importKeys(ctx, s, root);
  const hadCache = img.isDirectory(root, CACHE.slice(1));
  const installs = args[0] === 'install';
  const opts = ['--no-refresh'];
  const recommends = cfg(ctx, 'WithRecommends') ? '--recommends' : '--no-recommends';
  try {
    if (installs) await zypperRun(ctx, s, root, true, [...opts, 'install', recommends, '--download-only', ...args.slice(1)], `${step}: downloading`);
    const run = installs ? ['install', recommends, '--download', 'in-advance', ...args.slice(1)] : args;
    await zypperRun(ctx, s, root, cfg(ctx, 'WithNetwork'), [...opts, ...run], step);
  } finally {
    tidy(root, hadCache);
  }
  await settleDatabases(ctx, zypperSandbox(ctx, s, root, false), root);
}

async function installed(ctx: BuildContext, root: string): Promise<RpmInstalled> {
  return rpmInstalled(ctx, zypperSandbox(ctx, await zypperSetup(ctx), root, false), root);
}

/** zypper's spelling of an exact package: name.arch=[epoch:]version-release. */
const exact = (p: { name: string; version: string; architecture: string }) => `${p.name}.${p.architecture}=${p.version}`;

async function resolve(ctx: BuildContext, names: string[], have: Installed, essential: boolean): Promise<LockedPackage[]> {
  await checkTools(ctx);
  const s = await zypperSetup(ctx);
  const scratch = await refresh(ctx, s);
  const pinned: { name: string; version: string; architecture: string }[] = [...have.locked];
  for (const tree of have.trees) for (const [name, p] of await installed(ctx, tree)) pinned.push({ name, ...p });
  const wanted = [...(essential ? opensuseEssential(required(ctx, 'Release'), cfg(ctx, 'Packages')) : []), ...names];
  if (!wanted.length) return [];
  const recommends = cfg(ctx, 'WithRecommends') ? '--recommends' : '--no-recommends';
  const xml = await zypperRun(ctx, s, scratch, false, ['--no-refresh', '--xmlout', 'install', '--dry-run', recommends, ...pinned.map(exact), ...wanted], 'resolving the packages (zypper)', true);
  const skip = new Set(pinned.map(nevra));
  const adds = dryRunInstalls(xml);
  const index = await readRepoIndex(cacheDir(ctx), enabledAliases(ctx, s), new Set(adds.map((p) => p.name)));
  const out: LockedPackage[] = [];
  for (const p of adds) {
    if (skip.has(nevra(p))) continue;
    const rec = index.get(nevra(p))?.[0];
    if (!rec) throw new BuildError(`${nevra(p)}: zypper would install it, but no enabled repository's metadata lists it (repositories: ${searched(ctx, s)})`, ctx.preset.name);
    out.push(toLocked(rec));
  }
  return out;
}

async function checkAvailable(ctx: BuildContext, locked: LockedPackage[]): Promise<void> {
  const s = await zypperSetup(ctx);
  await refresh(ctx, s);
  const index = await readRepoIndex(cacheDir(ctx), enabledAliases(ctx, s), new Set(locked.map((p) => p.name)));
  checkLockAvailable(ctx, locked, locked.map((p) => index.get(nevra(p)) ?? []));
}

/** The cached .rpm files by name (zypper keeps them in packages/<alias>/<arch>/). */
function cachedPackages(ctx: BuildContext): Map<string, string> {
  const out = new Map<string, string>();
  const top = path.join(cacheDir(ctx), 'packages');
  if (!fs.existsSync(top)) return out;
  for (const e of fs.readdirSync(top, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name.endsWith('.rpm')) out.set(e.name, path.join(e.parentPath, e.name));
  }
  return out;
}

async function installLocked(ctx: BuildContext, root: string, locked: LockedPackage[], manual: string[], step: string): Promise<void> {
  await checkAvailable(ctx, locked);
  const before = await installed(ctx, root);
  await zypper(ctx, root, ['install', '--oldpackage', ...locked.map(exact)], step);
  // Every exact spelling was a request: the dependencies among them are marked as a build from scratch marks them.
  const wanted = new Set(manual);
  normaliseAutoInstalled(root, { add: locked.filter((p) => !wanted.has(p.name)).map((p) => p.name), drop: locked.filter((p) => wanted.has(p.name)).map((p) => p.name) });
  checkLockInstalled(ctx, locked, before, await installed(ctx, root), cachedPackages(ctx));
}

async function bootstrap(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  const essential = opensuseEssential(required(ctx, 'Release'), cfg(ctx, 'Packages'));
  if (locked) return installLocked(ctx, ctx.root, locked, [...essential, ...packages], 'installing the locked packages (zypper)');
  await zypper(ctx, ctx.root, ['install', ...essential, ...packages], 'installing packages (zypper)');
}

async function install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  if (locked) return installLocked(ctx, ctx.root, locked, packages, 'installing the locked packages (zypper)');
  await zypper(ctx, ctx.root, ['install', ...packages], 'installing packages (zypper)');
}

/** As mkosi: zypper's cache always goes; its state when zypper is not in the image (or always), rpm's database when rpm is not (or always). */
async function cleanMetadata(ctx: BuildContext, always: boolean): Promise<void> {
  const r = ctx.root;
  img.remove(r, 'var/cache/zypp');
  if (always || !img.exists(r, 'usr/bin/zypper')) img.remove(r, 'var/lib/zypp');
  if (always || !img.exists(r, 'usr/bin/rpm')) for (const p of [RPM_DBPATH.slice(1), 'var/lib/rpm']) img.remove(r, p);
}

export const zypperInstaller: Installer = {
  sources: sourcesOf,
  resolve,
  bootstrap,
  install,
  append: (ctx, missing, manual) => installLocked(ctx, ctx.root, missing, manual, 'installing the new locked packages on the layer (zypper)'),
  remove: (ctx, packages) => zypper(ctx, ctx.root, ['--ignore-unknown', 'remove', '--clean-deps', ...packages], 'removing packages (zypper)'),
  cleanMetadata,
};
