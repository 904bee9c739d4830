/**
 * Debian and Ubuntu through apt and dpkg.
 *
 * A fresh root is bootstrapped by mmdebstrap (Debian's package): it resolves the essential set
 * with apt, runs in root mode without touching the host's apt state, and its output is
 * reproducible with SOURCE_DATE_EPOCH (two builds give bit-identical trees). It is also faster
 * than debootstrap, and faster than an apt-in-chroot loop written here would be.
 *
 * Packages on top of an existing tree (BaseTrees=, build packages) use apt with a configuration
 * generated in the work directory: apt's state and lists live in kiln's cache and the image, and
 * dpkg runs chrooted into the image (DPkg::Chroot-Directory), in a private mount namespace so that
 * /proc and /dev mounts vanish with it.
 *
 * Which mmdebstrap and apt: the tools tree's when the build has one (ToolsTree=, ctx.tools), the
 * host's otherwise. Every sandbox here (the bootstrap, apt-get update and the resolver, the
 * installs) gets ctx.tools, so that the tree's /usr and its /etc/apt and /etc/dpkg stand in for the
 * host's (sandbox.ts): mmdebstrap, apt, apt-get's sqv and the shell, flock and unshare around them
 * all come from the tree, and the mirror is verified with the tree's debian-archive-keyring. The
 * programs that run inside the image (dpkg, chrooted, and maintainer scripts) are the image's own,
 * as ever. The tools preset itself builds with the host's (it has no tools tree: tools-tree.ts).
 *
 * Maintainer scripts never act on the host: mmdebstrap and apt run in user namespaces of their
 * own (sandbox.ts), where root is root over the image only, the host is read-only (locked binds)
 * and /dev is bwrap's; apt downloads with the network, dpkg installs without it (WithNetwork=).
 *
 * Downloads are shared through the package cache: .deb files are hard-linked in and out, lists
 * are kept so that apt only revalidates them; a lock serialises what builds sharing one cache do
 * to it (linking in and out, apt's list updates, installs from it), not whole bootstraps.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { architectureName, distributionFacts, which, type LockedPackage } from '@kiln/config';
import { BuildError } from '../../errors';
import { cfg, required, type BuildContext } from '../../context';
import { BASH, toolEnv } from '../../exec';
import { ensureDir } from '../../fsutil';
import * as img from '../../image-fs';
import { hostTools, packageManager, runIn, type Sandbox } from '../../sandbox';
import { requireTool } from '../../tool-check';
import { treeTools } from '../tree-tools';
import type { Installed, Installer } from '../index';
import { verifyDebCache } from './deb-cache';
import { debFileName, installedPackages, packageTargets, readIndexes, recordKey, simulatedInstalls, type IndexRecord } from './deb-index';
import { lockDifferences } from '../lock-check';

/** Documentation that WithDocs=no keeps out (copyright files stay: they are licences). */
const NO_DOCS = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
];

export function debianArch(ctx: BuildContext): string {
  const arch = cfg(ctx, 'Architecture');
  const a = architectureName(cfg(ctx, 'Distribution'), arch);
  if (!a) throw new BuildError(`Architecture=${arch} has no Debian name`, ctx.preset.name);
  return a;
}

/** Mirror= (or LocalMirror=, or the distribution's default), without a trailing slash. */
export function mirrorOf(ctx: BuildContext): string {
  const mirror = cfg(ctx, 'LocalMirror') ?? cfg(ctx, 'Mirror') ?? distributionFacts(cfg(ctx, 'Distribution'))?.mirror;
  if (!mirror) throw new BuildError(`Distribution=${cfg(ctx, 'Distribution')} has no default mirror: set Mirror=`, ctx.preset.name);
  return mirror.replace(/\/$/, '');
}

/** The apt source lines of the preset: Mirror= (or the default), Release=, main plus Repositories=. */
export function sourceLines(ctx: BuildContext): string[] {
  const distribution = cfg(ctx, 'Distribution');
  const mirror = mirrorOf(ctx);
  const release = required(ctx, 'Release');
  const components = [...new Set(['main', ...cfg(ctx, 'Repositories')])].join(' ');
  const options = cfg(ctx, 'RepositoryKeyCheck') ? '' : '[trusted=yes] ';
  const lines = [`deb ${options}${mirror} ${release} ${components}`];
  // The distribution's other suites of the release (Debian's -updates for a stable one); a local mirror has only what it has.
  const suites = cfg(ctx, 'LocalMirror') ? [] : (distributionFacts(distribution)?.extraSuites?.(release) ?? []);
  for (const suite of suites) lines.push(`deb ${options}${mirror} ${suite} ${components}`);
  return lines;
}

function cacheDirs(ctx: BuildContext) {
  return {
    archives: ensureDir(path.join(ctx.packageCache, 'archives')),
    lists: ensureDir(path.join(ctx.packageCache, 'lists')),
    lock: path.join(ctx.packageCache, '.lock'),
  };
}

/** What apt, dpkg and maintainer scripts get on top of run()'s environment (which fixes the locale). */
function aptEnv(ctx: BuildContext): Record<string, string> {
  return {
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch),
  };
}

// ---------------------------------------------------------------------------------------------
// Progress of an install, from apt's and dpkg's own output. apt can write machine-readable
// progress to a descriptor (APT::Status-Fd), but mmdebstrap claims that descriptor for its own
// progress bar, which it draws only on a terminal: what reaches kiln from a bootstrap is apt's and
// dpkg's output, which mmdebstrap passes through with --verbose. kiln's own apt-get runs print
// the same lines, so one parser serves both. These lines are apt's and dpkg's long-standing user
// interface (build logs and CI scripts have read them for decades), and run()'s C.UTF-8 locale
// keeps them untranslated:
//   "0 upgraded, 69 newly installed, 0 to remove and 0 not upgraded."   the packages of a run
//   "  Upgrading: 0, Installing: 69, Removing: 0, Not Upgrading: 0"    the same, apt >= 2.9
//   "Need to get 29.7 MB of archives." / "  Download size: 29.7 MB"     "0 B/29.7 MB": cached
//   "Get:12 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9 [2759 kB]"
//   "Unpacking libc6:amd64 (2.36-9) ..." and "Setting up libc6:amd64 (2.36-9) ..."  (dpkg)
// A bootstrap is several runs (the essential set, then Packages=); each summary starts a new count.

const UNITS = ['', 'k', 'M', 'G', 'T'];

/** apt's sizes ("2759 kB", "29.7 MB", "0 B": decimal units) in bytes; NaN when it is not one. */
export function aptSize(text: string): number {
  const m = text.trim().match(/^([\d.]+) ?([kMGT]?)B$/);
  return m ? Number(m[1]) * 1000 ** UNITS.indexOf(m[2]) : NaN;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

/** The number of packages a run installs, from apt's summary line (either form), or null. */
function runSize(line: string): number | null {
  const sum = (re: RegExp) => [...line.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  if (/^\d+ upgraded, \d+ newly installed, /.test(line)) return sum(/(\d+) (?:upgraded|newly installed|reinstalled|downgraded)/g);
  // Each count starts the line or follows ", ": "Not Upgrading" is not one.
  if (/^\s*Upgrading: \d+, /.test(line)) return sum(/(?:^\s*|, )(?:Upgrading|Installing|Reinstalling|Downgrading): (\d+)/g);
  return null;
}

/** run() options that read an install's output and say how far it is. */
export interface AptProgress {
  /** Every output line of apt, dpkg or mmdebstrap --verbose. */
  onLine: (line: string) => void;
  /** "packages: 57 of 212 downloaded (31.2 of 40.1 MB)", "packages: 120 of 212 unpacked, 80 set up"; undefined before anything moved. */
  progress: () => string | undefined;
}

export function aptProgress(): AptProgress {
  let total = 0;
  let need = 0;
  let cached = false;
  let fetched = 0;
  let fetchedBytes = 0;
  let unpacked = 0;
  let setUp = 0;
  const onLine = (l: string) => {
    const packages = runSize(l);
    if (packages !== null) {
      [total, need, cached, fetched, fetchedBytes, unpacked, setUp] = [packages, 0, false, 0, 0, 0, 0];
      return;
    }
    if (!total) return; // apt-get update's index downloads, messages before a summary
    const download = l.match(/^(?:Need to get|\s*Download size:) ([^/]+?)(?: ?\/ ?(.+?))?(?: of archives\.)?$/);
    if (download) {
      need = aptSize(download[1]) || 0;
      cached = download[2] !== undefined;
    } else if (/^Get:\d+ /.test(l)) {
      fetched++;
      fetchedBytes += aptSize(l.match(/\[([^\]]+)\]$/)?.[1] ?? '') || 0;
    } else if (l.startsWith('Unpacking ')) unpacked++;
    else if (l.startsWith('Setting up ')) setUp++;
  };
  const progress = () => {
    if (unpacked || setUp) return `packages: ${Math.min(unpacked, total)} of ${total} unpacked, ${Math.min(setUp, total)} set up`;
    if (!fetched) return undefined;
    const bytes = need ? ` (${mb(fetchedBytes)} of ${mb(need)} MB)` : '';
    // With some packages in the package cache, apt does not say how many it fetches: only their size.
    return cached ? `packages: ${fetched} downloaded${bytes}, the rest from the package cache` : `packages: ${fetched} of ${total} downloaded${bytes}`;
  };
  return { onLine, progress };
}

/**
 * `find -exec` commands that hard-link files into a directory (the first argument), or copy them
 * where a link cannot be made: in the sandbox, the image and the package cache are two bind
 * mounts, and link(2) never crosses mounts, even on one file system. LINK_NEW keeps existing files.
 */
const LINK = `sh -c 'cp -al -t "$0" "$@" 2>/dev/null || cp -a -t "$0" "$@"'`;
const LINK_NEW = `sh -c 'cp -aln -t "$0" "$@" 2>/dev/null || cp -an -t "$0" "$@"'`;

/** What the tools tree's install tools say of their versions (tree-tools.ts). */
const APT_VERSIONS = 'mmdebstrap --version 2>/dev/null; apt-get --version | head -n 1';

async function bootstrap(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  await treeTools(ctx, ['mmdebstrap', 'apt-get'], APT_VERSIONS);
  const c = cacheDirs(ctx);
  const withDocs = cfg(ctx, 'WithDocs');
  confSafe(ctx, ctx.root); // mmdebstrap writes it into its own apt configuration
  const records = await trustedCache(ctx);
  if (locked) checkAvailable(ctx, locked, records);
  // Locked: apt preferences make each locked version the candidate while mmdebstrap installs; they
  // are removed before the image is finished.
  const pins = locked ? pinFile(ctx, locked) : null;
  const args = [
    'mmdebstrap',
    // apt's and dpkg's output as it comes (not only on failure): the progress is read from it.
    '--verbose',
    '--mode=root',
    '--variant=essential',
    '--format=directory',
    `--architectures=${debianArch(ctx)}`,
    // The root may already hold skeleton and sandbox trees.
    '--skip=check/empty',
    // Keep downloaded .debs until the customize hook has linked them into the cache.
    '--skip=essential/unlink',
    '--skip=download/empty',
    '--aptopt=Acquire::Languages "none"',
    `--aptopt=APT::Install-Recommends "${cfg(ctx, 'WithRecommends')}"`,
    ...(withDocs ? [] : NO_DOCS.map((o) => `--dpkgopt=${o}`)),
    ...(cfg(ctx, 'RepositoryKeyCheck') ? [] : ['--aptopt=Acquire::AllowInsecureRepositories "true"', '--aptopt=APT::Get::AllowUnauthenticated "true"']),
    ...(packages.length ? [`--include=${packages.join(',')}`] : []),
    // apt runs dpkg in the chroot as `env <DPkg::Options> dpkg`: options first in its configuration
    // make that `env unshare --net -- env ... dpkg`, so maintainer scripts of Packages= run
    // without the network (kiln's user namespace lets unshare make one); gone before the image is.
    ...(cfg(ctx, 'WithNetwork') ? [] : [
      `--setup-hook=mkdir -p "$1/etc/apt/apt.conf.d" && printf '%s\\n' 'DPkg::Options:: "unshare";' 'DPkg::Options:: "--net";' 'DPkg::Options:: "--";' 'DPkg::Options:: "env";' > "$1/etc/apt/apt.conf.d/00kiln-dpkg-offline"`,
      '--customize-hook=rm -f "$1/etc/apt/apt.conf.d/00kiln-dpkg-offline"',
    ]),
    ...cacheHooks(pins !== null),
    required(ctx, 'Release'),
    ctx.root,
    ...sourceLines(ctx),
  ];
  // Presets built in parallel (by Nx, or two projects) share one cache: its hooks hold the cache's
  // lock while they link the cache in and out (cacheHooks), the bootstrap itself runs without it.
  // mmdebstrap --mode=root mounts /proc, /sys and device files into the root and chroots into it
  // for maintainer scripts: it runs in a user namespace of its own where it may (sandbox.ts,
  // "identity-mounting"), entered after bwrap has made the host read-only and bound only the
  // image, the work directory and the package cache writable, so that those binds are locked:
  // nothing in it can remount them, make device nodes or act on the host. It keeps the network:
  // apt needs it for the downloads; maintainer scripts go without it (below), unless WithNetwork=.
  // mmdebstrap installs the essential set with `chroot ROOT dpkg --install`, found on PATH: a
  // `chroot` first on it that enters a network namespace of its own first keeps those maintainer
  // scripts (and every other command mmdebstrap runs in the root) off the network; apt, which
  // downloads, runs outside the root and keeps it.
  const env: Record<string, string> = { ...toolEnv(), ...aptEnv(ctx), ...hookEnv(ctx, pins) };
  if (!cfg(ctx, 'WithNetwork')) {
    const realChroot = ctx.tools ? requireTool(ctx, 'chroot').path : which('chroot');
    if (!realChroot) throw new BuildError('chroot (coreutils) is not on the tools\' PATH', ctx.preset.name);
    const bin = ensureDir(path.join(ctx.work, 'offline-bin'));
    fs.writeFileSync(path.join(bin, 'chroot'), `#!/bin/sh\nexec unshare --net -- ${realChroot} "$@"\n`, { mode: 0o755 });
    env.PATH = `${bin}:${env.PATH}`;
  }
  const box: Sandbox = {
    root: 'host',
    tools: ctx.tools,
    dev: 'minimal',
    userns: 'identity-mounting',
    env,
    mounts: [ctx.work, ctx.packageCache, ctx.root].map((p) => ({ type: 'bind', source: p, target: p })),
  };
  await runIn(ctx, box, args, { step: 'installing packages (mmdebstrap)', ...aptProgress() });
  await recordCache(ctx, records);
  if (locked) verifyInstalled(ctx, locked, new Map());
}

/**
 * mmdebstrap's hooks that share the package cache with the root, and put the lock's pins in place
 * (then take them out). Hooks are shell code: the paths they use (the cache may be anywhere,
 * PackageCacheDirectory= or $XDG_CACHE_HOME) reach them as environment variables (hookEnv),
 * which mmdebstrap passes to its hooks, never spliced into the code, so that a `"` or `$(...)` in
 * a path is only a name.
 */
function cacheHooks(pinned: boolean): string[] {
  const pinDir = '"$1/etc/apt/preferences.d"';
  return [
    // Only .debs and lists are linked in: apt's lock files stay the cache's own, never shared with the image.
    `--setup-hook=${holdingCacheLock(`mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists" && find "$KILN_CACHE_ARCHIVES" -maxdepth 1 -name "*.deb" -exec ${LINK} "$1/var/cache/apt/archives/" {} + && find "$KILN_CACHE_LISTS" -maxdepth 1 -type f ! -name lock -exec ${LINK} "$1/var/lib/apt/lists/" {} +`)}`,
    ...(pinned ? [`--setup-hook=mkdir -p ${pinDir} && cp "$KILN_PINS" ${pinDir}/kiln-lock.pref`, `--customize-hook=rm -f ${pinDir}/kiln-lock.pref`] : []),
    `--customize-hook=${holdingCacheLock(`find "$1/var/cache/apt/archives" -maxdepth 1 -name "*.deb" -exec ${LINK_NEW} "$KILN_CACHE_ARCHIVES" {} + ; find "$KILN_CACHE_LISTS" -mindepth 1 -maxdepth 1 -type f -delete; find "$1/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -exec ${LINK} "$KILN_CACHE_LISTS" {} +`)}`,
  ];
}

/**
 * A hook running `code` (shell; $1 is the root) while holding the package cache's lock. The
 * bootstrap between the two hooks works on the root's links to the cache's files, which apt
 * replaces by rename and never writes in place, so it needs no lock: builds sharing the cache
 * wait for each other's linking only, not for a whole bootstrap (minutes, for a kernel).
 */
function holdingCacheLock(code: string): string {
  return `flock "$KILN_CACHE_LOCK" sh -c '${code.replace(/'/g, `'\\''`)}' hook "$1"`;
}

/** The values cacheHooks' shell code reads. */
function hookEnv(ctx: BuildContext, pins: string | null): Record<string, string> {
  const c = cacheDirs(ctx);
  return { KILN_CACHE_ARCHIVES: c.archives, KILN_CACHE_LISTS: c.lists, KILN_CACHE_LOCK: c.lock, ...(pins ? { KILN_PINS: pins } : {}) };
}

interface AptSetup {
  /** The tree apt works on: the image, or a scratch root for resolving. */
  root: string;
  /** Where apt.conf and apt's own scratch files go. */
  dir: string;
  /** dpkg runs chrooted into `root` (installing); false for resolving only. */
  chroot: boolean;
  /** An apt preferences file pinning the locked versions. */
  preferences?: string;
}

/** apt.conf for working on a tree from the host: apt's state in kiln's cache and the tree. */
function aptConfig(ctx: BuildContext, a: AptSetup): string {
  const c = cacheDirs(ctx);
  const dir = ensureDir(a.dir);
  ensureDir(path.join(dir, 'cache'));
  ensureDir(path.join(dir, 'log'));
  ensureDir(path.join(c.archives, 'partial'));
  ensureDir(path.join(c.lists, 'partial'));
  fs.writeFileSync(path.join(dir, 'sources.list'), sourceLines(ctx).join('\n') + '\n');
  for (const p of [a.root, dir, a.preferences ?? '']) confSafe(ctx, p);
  // The package cache may be anywhere (PackageCacheDirectory=, $XDG_CACHE_HOME): apt.conf reaches
  // it through a link of kiln's own naming, so that its path never lands in apt's config syntax.
  const lists = path.join(dir, 'cache-lists');
  fs.rmSync(lists, { force: true });
  fs.symlinkSync(c.lists, lists);
  const conf = [
    `Dir "${a.root}/";`,
    `Dir::State::Status "${a.root}/var/lib/dpkg/status";`,
    `Dir::Cache "${dir}/cache/";`,
    // The cache is bind-mounted here (see aptGet): dpkg runs chrooted and must find the .debs inside.
    `Dir::Cache::Archives "${a.root}/var/cache/apt/archives/";`,
    `Dir::State::Lists "${lists}/";`,
    `Dir::Etc::SourceList "${dir}/sources.list";`,
    `Dir::Etc::SourceParts "${a.root}/etc/apt/sources.list.d/";`,
    // The archive keys of the tools tree (its /etc/apt stands in for the host's: sandbox.ts) or of
    // the host verify the mirror (read only); the image need not ship a keyring.
    'Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d/";',
    `Dir::Log "${dir}/log/";`,
    ...(a.chroot ? [`DPkg::Chroot-Directory "${a.root}/";`] : []),
    ...(a.preferences ? [`Dir::Etc::Preferences "${a.preferences}";`, `Dir::Etc::PreferencesParts "${ensureDir(path.join(dir, 'preferences.d'))}/";`] : []),
    'APT::Sandbox::User "root";',
    `APT::Architecture "${debianArch(ctx)}";`,
    `APT::Architectures "${debianArch(ctx)}";`,
    'Acquire::Languages "none";',
    `APT::Install-Recommends "${cfg(ctx, 'WithRecommends')}";`,
    'DPkg::Use-Pty "false";',
  ];
  if (!cfg(ctx, 'RepositoryKeyCheck')) conf.push('Acquire::AllowInsecureRepositories "true";', 'APT::Get::AllowUnauthenticated "true";');
  const file = path.join(dir, 'apt.conf');
  fs.writeFileSync(file, conf.join('\n') + '\n');
  return file;
}

/**
 * A path written into apt's configuration, between double quotes: apt's syntax has no escape,
 * so a `"` or a line break in it would end the value and start options of the path's choosing
 * (DPkg::Pre-Invoke runs commands). Such paths are the work directory under OutputDirectory=.
 */
function confSafe(ctx: BuildContext, p: string): void {
  if (/["\n\r\\]|[\x00-\x1f]/.test(p)) {
    throw new BuildError(`the work directory ${JSON.stringify(p)} has a character apt's configuration cannot hold (a quote, backslash or control character): choose an OutputDirectory= without one`, ctx.preset.name);
  }
}

/** apt-mark after an install: which packages count as installed by request, which as dependencies. */
interface Marks {
  manual: string[];
  auto: string[];
}

/** Runs apt-get against the image in a sandbox: /proc and /dev for maintainer scripts, the host read-only. */
async function aptGet(ctx: BuildContext, args: string[], step: string, preferences?: string, marks?: Marks): Promise<void> {
  if (!fs.existsSync(path.join(ctx.root, 'var/lib/dpkg/status'))) {
    throw new BuildError(
      `${step}: the base tree has no dpkg database (var/lib/dpkg/status), so packages cannot be added to it; ` +
        'set CleanPackageMetadata=no in the preset that builds the base tree',
      ctx.preset.name,
    );
  }
  const conf = aptConfig(ctx, { root: ctx.root, dir: path.join(ctx.work, 'apt'), chroot: true, preferences });
  const c = cacheDirs(ctx);
  const policy = 'usr/sbin/policy-rc.d';
  const hadPolicy = img.exists(ctx.root, policy);
  // Services must not start inside a build.
  if (!hadPolicy) img.writeFile(ctx.root, policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  // The cache's mount point, made inside the image as everything else kiln writes there.
  img.mkdirp(ctx.root, 'var/cache/apt/archives');
  // Two steps: apt downloads with the network (into the package cache), then installs without it,
  // so that maintainer scripts never reach a network (WithNetwork=yes gives them the host's). The
  // install reads the lists the download used, hard-linked aside under the same lock: another
  // build sharing the cache may replace the cache's lists between the two steps.
  const lists = path.join(ctx.work, 'apt', 'lists');
  const fetch = [
    'set -e',
    'exec 9<>"$LOCK"',
    'flock 9',
    'apt-get -q update',
    'apt-get -q -y --download-only "$@"',
    'rm -rf "$LISTS"',
    'mkdir -p "$LISTS/partial"',
    // Hard links where the work directory shares the cache's file system, copies where not.
    'for f in "$CACHE_LISTS"/*; do if [ -f "$f" ] && [ "${f##*/}" != lock ]; then ln "$f" "$LISTS/" 2>/dev/null || cp -a "$f" "$LISTS/"; fi; done',
  ].join('\n');
  const script = [
    // -f: the package names in MARK_* are split into words, never expanded as globs.
    'set -ef',
    'flock "$LOCK" apt-get -q -y -o Dir::State::Lists="$LISTS/" "$@"',
    'if [ -n "$MARK_AUTO" ]; then apt-mark auto $MARK_AUTO >/dev/null; fi',
    'if [ -n "$MARK_MANUAL" ]; then apt-mark manual $MARK_MANUAL >/dev/null; fi',
  ].join('\n');
  const install = args[0] === 'install';
  // apt runs from the tools tree or the host, which it sees read-only: it writes only the image, kiln's work
  // directory (its config and logs) and the package cache. dpkg chroots into the image, where
  // maintainer scripts get /proc, bwrap's own /dev and the cached .debs; the mounts go with the
  // sandbox. In a user namespace of its own (sandbox.ts): root over the image's files only, no
  // device nodes, no mounts, the host's binds locked read-only.
  const box = (net: boolean): Sandbox =>
    packageManager({
      tools: ctx.tools,
      work: ctx.work,
      packageCache: ctx.packageCache,
      root: ctx.root,
      net,
      env: { ...toolEnv(), ...aptEnv(ctx), APT_CONFIG: conf, LOCK: c.lock, LISTS: install ? lists : c.lists, CACHE_LISTS: c.lists, MARK_AUTO: marks?.auto.join(' ') ?? '', MARK_MANUAL: marks?.manual.join(' ') ?? '' },
      mounts: [{ type: 'bind', source: c.archives, target: path.join(ctx.root, 'var/cache/apt/archives') }],
    });
  const progress = aptProgress();
  try {
    if (install) await runIn(ctx, box(true), ['bash', ...BASH, '-c', fetch, 'apt', ...args], { step: `${step}: downloading`, ...progress });
    await runIn(ctx, box(cfg(ctx, 'WithNetwork')), ['bash', ...BASH, '-c', script, 'apt', ...args], { step, ...progress });
  } finally {
    if (!hadPolicy) img.remove(ctx.root, policy);
  }
}

/**
 * As mkosi: each tool's state goes when the tool is not in the image (or always, when asked):
 * apt's lists and caches without apt, dpkg's database without dpkg. Downloaded lists and .debs
 * never stay: they are caches, and they differ from one build to the next.
 */
async function cleanMetadata(ctx: BuildContext, always: boolean): Promise<void> {
  const r = ctx.root;
  // Paths resolved inside the image (image-fs.ts): its links never lead a removal onto the host.
  const has = (bin: string) => img.exists(r, `usr/bin/${bin}`);
  const remove = ['var/lib/apt/lists', 'var/cache/apt', 'var/log/apt'];
  if (always || !has('apt-get')) remove.push('var/lib/apt');
  if (always || !has('dpkg')) remove.push('var/lib/dpkg', 'var/cache/debconf', 'var/lib/ucf');
  for (const p of remove) img.remove(r, p);
  if (has('apt-get') && !always) {
    img.mkdirp(r, 'var/lib/apt/lists/partial');
    img.mkdirp(r, 'var/cache/apt/archives/partial');
  }
}

// ---------------------------------------------------------------------------------------------
// Locking: apt resolves in a scratch root whose dpkg database holds what is already installed
// (nothing for a fresh root, the base's locked packages otherwise), and `--simulate` says what an
// install would add. The index records give each package's repository, size and SHA256.

interface Indexes {
  records: Map<string, IndexRecord>;
  /** apt.conf of the scratch root, for simulating installs. */
  conf: string;
  /** The scratch root's dpkg status file. */
  status: string;
}

let scratchCount = 0;

/**
 * apt resolving against kiln's lists: the host read-only, the work directory (its scratch root)
 * and the package cache writable; the tools tree's apt when the build has one (a lock written
 * without a build, `kiln lock`, runs no tools tree: the host's apt resolves it).
 */
function listsSandbox(ctx: BuildContext, conf: string): Sandbox {
  return hostTools({ ...toolEnv(), ...aptEnv(ctx), APT_CONFIG: conf }, [ctx.work, ctx.packageCache], ctx.tools);
}

/** Updates the lists in kiln's cache and reads the indexes, in a scratch root with nothing installed. */
async function openIndexes(ctx: BuildContext): Promise<Indexes> {
  await treeTools(ctx, ['apt-get'], APT_VERSIONS);
  const root = ensureDir(path.join(ctx.work, `resolve-${scratchCount++}`));
  for (const d of ['var/lib/dpkg', 'var/cache/apt/archives/partial', 'etc/apt/sources.list.d', 'etc/apt/preferences.d']) ensureDir(path.join(root, d));
  const status = path.join(root, 'var/lib/dpkg/status');
  fs.writeFileSync(status, '');
  const conf = aptConfig(ctx, { root, dir: path.join(root, '.apt'), chroot: false });
  const box = listsSandbox(ctx, conf);
  await runIn(ctx, box, ['flock', cacheDirs(ctx).lock, 'apt-get', '-q', 'update'], { step: 'updating the package lists' });
  const targets = packageTargets(await runIn({ ...ctx, log: () => undefined }, box, ['apt-get', 'indextargets'], { step: 'reading the package lists' }));
  return { records: readIndexes(targets), conf, status };
}

/**
 * Before apt or mmdebstrap may use the package cache, locked build or not: the lists are brought
 * up to date (apt checks them against the signed InRelease) and every cached .deb they list is
 * checked against their SHA256 (deb-cache.ts); a damaged one leaves the cache and apt fetches it
 * again. Returns the index records.
 */
async function trustedCache(ctx: BuildContext): Promise<Map<string, IndexRecord>> {
  const { records } = await openIndexes(ctx);
  await recordCache(ctx, records);
  return records;
}

/** Checks the cache's .debs not checked yet (after an install: what apt fetched) and records them. */
async function recordCache(ctx: BuildContext, records: Map<string, IndexRecord>): Promise<void> {
  const say = (line: string) => {
    ctx.log(line);
    ctx.note?.(line);
  };
  await verifyDebCache(cacheDirs(ctx).archives, path.join(ctx.packageCache, 'verified-debs.json'), records, say);
}

/** A dpkg status file listing `packages` as installed (their index records, marked installed). */
function statusOf(packages: LockedPackage[], records: Map<string, IndexRecord>, what: string): string {
  return packages
    .map((p) => {
      const r = records.get(recordKey(p.name, p.version, p.architecture));
      if (!r) throw new BuildError(`${what}: ${p.name} ${p.version} is no longer in the repositories; run kiln lock for it first`);
      return `${r.stanza.replace(/^Status:.*\n?/m, '')}\nStatus: install ok installed\n`;
    })
    .join('\n');
}

function toLocked(r: IndexRecord): LockedPackage {
  return { name: r.name, version: r.version, architecture: r.architecture, repository: r.repository, size: r.size, sha256: r.sha256 };
}

/** The dpkg databases of base trees that are not locked presets (a base directory), as one status file. */
function treesStatus(ctx: BuildContext, trees: string[]): string {
  return trees
    .map((tree) => {
      const db = path.join(tree, 'var/lib/dpkg/status');
      if (!fs.existsSync(db)) throw new BuildError(`base tree ${tree} has no package database (var/lib/dpkg/status) to lock against`, ctx.preset.name);
      return fs.readFileSync(db, 'utf8') + '\n';
    })
    .join('');
}

/**
 * The exact packages installing `names` adds on top of `installed` (with the essential set when
 * `essential`: a fresh root, as mmdebstrap's essential variant).
 */
async function resolve(ctx: BuildContext, names: string[], installed: Installed, essential: boolean): Promise<LockedPackage[]> {
  const trees = treesStatus(ctx, installed.trees);
  const idx = await openIndexes(ctx);
  // The installed packages' own index records make their dpkg status entries.
  fs.writeFileSync(idx.status, [trees, statusOf(installed.locked, idx.records, 'the base lock')].filter(Boolean).join('\n'));
  const wanted = [...names];
  const arch = debianArch(ctx);
  if (essential) wanted.push(...[...idx.records.values()].filter((r) => r.essential && (r.architecture === arch || r.architecture === 'all')).map((r) => r.name));
  if (!wanted.length) return [];
  const out = await runIn({ ...ctx, log: () => undefined }, listsSandbox(ctx, idx.conf), ['apt-get', 'install', '--simulate', '-q', '-y', ...new Set(wanted)], {
    step: `resolving ${names.join(' ') || 'the essential set'}`,
  });
  return simulatedInstalls(out).map((p) => {
    const r = idx.records.get(recordKey(p.name, p.version, p.architecture));
    if (!r) throw new BuildError(`apt would install ${p.name} ${p.version} (${p.architecture}), which no index lists`, ctx.preset.name);
    return toLocked(r);
  });
}

/** apt preferences that make each locked version the candidate (above 1000: even a downgrade). */
function pinFile(ctx: BuildContext, locked: LockedPackage[]): string {
  const file = path.join(ensureDir(path.join(ctx.work, 'lock')), 'kiln-lock.pref');
  fs.writeFileSync(file, locked.map((p) => `Package: ${p.name}\nPin: version ${p.version}\nPin-Priority: 1001\n`).join('\n'));
  return file;
}

/**
 * Before installing from a lock: every locked version must still be in the repositories, with the
 * checksum the lock recorded. Says which are not, and what to do.
 */
function checkAvailable(ctx: BuildContext, locked: LockedPackage[], records: Map<string, IndexRecord>): void {
  const problems: string[] = [];
  for (const p of locked) {
    const r = records.get(recordKey(p.name, p.version, p.architecture));
    if (!r) {
      const now = [...records.values()].filter((x) => x.name === p.name && x.architecture === p.architecture).map((x) => x.version);
      problems.push(`${p.name} ${p.version} is gone from the repositories${now.length ? ` (they have ${now.join(', ')})` : ''}`);
    } else if (r.sha256 !== p.sha256) {
      problems.push(`${p.name} ${p.version}: the repositories' SHA256 ${r.sha256} is not the locked ${p.sha256}`);
    }
  }
  if (problems.length) {
    throw new BuildError(
      `the lock does not match the mirror:\n  ${problems.join('\n  ')}\n` +
        'Run `kiln lock` to lock what the mirror has now (or build with --relock), or point Mirror= at a snapshot that has the locked versions ' +
        '(such as https://snapshot.debian.org/archive/debian/<date>/).',
      ctx.preset.name,
    );
  }
}

/**
 * After installing from a lock: dpkg's database holds exactly the locked versions (`before` is
 * what was installed already), and every downloaded .deb has the locked SHA256.
 */
function verifyInstalled(ctx: BuildContext, locked: LockedPackage[], before: Map<string, { version: string }>): void {
  const after = installedPackages(ctx.root);
  const problems = lockDifferences(locked, before, after);
  const archives = cacheDirs(ctx).archives;
  for (const l of locked) {
    const deb = path.join(archives, debFileName(l));
    if (!fs.existsSync(deb)) continue; // already installed from the base tree, never downloaded here
    const sha = createHash('sha256').update(fs.readFileSync(deb)).digest('hex');
    if (sha !== l.sha256) problems.push(`${debFileName(l)} has SHA256 ${sha}, the lock says ${l.sha256}`);
  }
  if (problems.length) {
    throw new BuildError(`the installed packages are not the locked ones:\n  ${problems.join('\n  ')}\nRun \`kiln lock\` (or build with --relock).`, ctx.preset.name);
  }
}

async function install(ctx: BuildContext, packages: string[], locked?: LockedPackage[]): Promise<void> {
  const records = await trustedCache(ctx);
  if (!locked) {
    await aptGet(ctx, ['install', ...packages], 'installing packages (apt)');
    return recordCache(ctx, records);
  }
  checkAvailable(ctx, locked, records);
  const before = installedPackages(ctx.root);
  await aptGet(ctx, ['install', ...locked.map((p) => `${p.name}=${p.version}`)], 'installing the locked packages (apt)', pinFile(ctx, locked));
  await recordCache(ctx, records);
  verifyInstalled(ctx, locked, before);
}

async function append(ctx: BuildContext, missing: LockedPackage[], manual: string[]): Promise<void> {
  const records = await trustedCache(ctx);
  checkAvailable(ctx, missing, records);
  const before = installedPackages(ctx.root);
  const wanted = new Set(manual);
  // Only real packages can be marked (a Packages= entry may name a virtual one).
  const marks = {
    manual: manual.filter((n) => before.has(n) || missing.some((p) => p.name === n)),
    auto: missing.filter((p) => !wanted.has(p.name)).map((p) => p.name),
  };
  await aptGet(ctx, ['install', ...missing.map((p) => `${p.name}=${p.version}`)], 'installing the new locked packages on the layer (apt)', pinFile(ctx, missing), marks);
  await recordCache(ctx, records);
  verifyInstalled(ctx, missing, before);
}

export const apt: Installer = {
  sources: (ctx) => [mirrorOf(ctx)],
  resolve,
  bootstrap,
  install,
  append,
  // RemovePackages= may name an essential package (mkosi-initrd removes dpkg from a trixie initrd):
  // the configuration asked for it, so apt is allowed to, as mkosi allows it.
  remove: (ctx, packages) => aptGet(ctx, ['-o', 'APT::Get::Allow-Remove-Essential=true', 'purge', '--auto-remove', ...packages], 'removing packages (apt)'),
  cleanMetadata,
};
