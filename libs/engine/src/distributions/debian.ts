/**
 * Debian and Ubuntu through apt and dpkg.
 *
 * A fresh root is bootstrapped by mmdebstrap (Debian's package): it resolves the essential set
 * with apt, runs in root mode without touching the host's apt state, and its output is
 * reproducible with SOURCE_DATE_EPOCH (two builds give bit-identical trees). It is also faster
 * than debootstrap, and faster than an apt-in-chroot loop written here would be.
 *
 * Packages on top of an existing tree (BaseTrees=, build packages) use the host's apt with a
 * configuration generated in the work directory: apt's state and lists live in kiln's cache and
 * the image, and dpkg runs chrooted into the image (DPkg::Chroot-Directory), in a private mount
 * namespace so that /proc and /dev mounts vanish with it.
 *
 * Downloads are shared through the package cache: .deb files are hard-linked in and out, lists
 * are kept so that apt only revalidates them; a lock serialises builds sharing one cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../errors';
import { cfg, type BuildContext } from '../context';
import { run } from '../exec';
import { ensureDir } from '../fsutil';
import type { Distribution } from './index';

const DEBIAN_ARCH: Record<string, string> = {
  'x86-64': 'amd64', x86: 'i386', arm64: 'arm64', arm: 'armhf', riscv64: 'riscv64',
  'ppc64-le': 'ppc64el', s390x: 's390x', loongarch64: 'loong64', 'mips64-le': 'mips64el',
};

const DEFAULT_MIRRORS: Record<string, string> = {
  debian: 'http://deb.debian.org/debian',
  kali: 'http://http.kali.org/kali',
  ubuntu: 'http://archive.ubuntu.com/ubuntu',
};

/** Documentation that WithDocs=no keeps out (copyright files stay: they are licences). */
const NO_DOCS = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
];

export function debianArch(ctx: BuildContext): string {
  const arch = cfg<string>(ctx, 'Architecture');
  const a = DEBIAN_ARCH[arch];
  if (!a) throw new BuildError(`Architecture=${arch} has no Debian name`, ctx.preset.name);
  return a;
}

/** The apt source lines of the preset: Mirror= (or the default), Release=, main plus Repositories=. */
export function sourceLines(ctx: BuildContext): string[] {
  const distribution = cfg<string>(ctx, 'Distribution');
  const mirror = (cfg<string | null>(ctx, 'LocalMirror') ?? cfg<string | null>(ctx, 'Mirror') ?? DEFAULT_MIRRORS[distribution]).replace(/\/$/, '');
  const release = cfg<string>(ctx, 'Release');
  const components = [...new Set(['main', ...cfg<string[]>(ctx, 'Repositories')])].join(' ');
  const options = cfg<boolean>(ctx, 'RepositoryKeyCheck') ? '' : '[trusted=yes] ';
  const lines = [`deb ${options}${mirror} ${release} ${components}`];
  // Security and updates suites exist for stable releases; a local mirror has only what it has.
  if (distribution === 'debian' && !cfg(ctx, 'LocalMirror') && !['sid', 'unstable', 'testing', 'experimental'].includes(release)) {
    lines.push(`deb ${options}${mirror} ${release}-updates ${components}`);
  }
  return lines;
}

function cacheDirs(ctx: BuildContext) {
  return {
    archives: ensureDir(path.join(ctx.packageCache, 'archives')),
    lists: ensureDir(path.join(ctx.packageCache, 'lists')),
    lock: path.join(ctx.packageCache, '.lock'),
  };
}

function aptEnv(ctx: BuildContext): Record<string, string> {
  return {
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    LC_ALL: 'C.UTF-8',
    SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch),
  };
}

async function bootstrap(ctx: BuildContext, packages: string[]): Promise<void> {
  const c = cacheDirs(ctx);
  const withDocs = cfg<boolean>(ctx, 'WithDocs');
  const args = [
    // A private mount namespace: mmdebstrap's /proc, /sys and /dev mounts in the root cannot
    // outlive it, even if it is killed.
    '--mount',
    '--propagation',
    'private',
    '--',
    'flock',
    c.lock,
    'mmdebstrap',
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
    `--aptopt=APT::Install-Recommends "${cfg<boolean>(ctx, 'WithRecommends')}"`,
    ...(withDocs ? [] : NO_DOCS.map((o) => `--dpkgopt=${o}`)),
    ...(cfg<boolean>(ctx, 'RepositoryKeyCheck') ? [] : ['--aptopt=Acquire::AllowInsecureRepositories "true"', '--aptopt=APT::Get::AllowUnauthenticated "true"']),
    ...(packages.length ? [`--include=${packages.join(',')}`] : []),
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists" && cp -al "${c.archives}/." "$1/var/cache/apt/archives/" && cp -al "${c.lists}/." "$1/var/lib/apt/lists/"`,
    `--customize-hook=find "$1/var/cache/apt/archives" -maxdepth 1 -name "*.deb" -exec cp -aln -t "${c.archives}" {} + ; find "${c.lists}" -mindepth 1 -maxdepth 1 -type f -delete; find "$1/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -exec cp -al -t "${c.lists}" {} +`,
    cfg<string>(ctx, 'Release'),
    ctx.root,
    ...sourceLines(ctx),
  ];
  // flock: presets built in parallel (by Nx) share one cache; apt locks its own directories.
  await run(ctx, 'unshare', args, { step: 'installing packages (mmdebstrap)', env: aptEnv(ctx) });
}

/** apt.conf for working on an existing image tree from the host. */
function aptConfig(ctx: BuildContext): string {
  const c = cacheDirs(ctx);
  const dir = ensureDir(path.join(ctx.work, 'apt'));
  ensureDir(path.join(dir, 'cache'));
  ensureDir(path.join(dir, 'log'));
  ensureDir(path.join(c.archives, 'partial'));
  ensureDir(path.join(c.lists, 'partial'));
  fs.writeFileSync(path.join(dir, 'sources.list'), sourceLines(ctx).join('\n') + '\n');
  const conf = [
    `Dir "${ctx.root}/";`,
    `Dir::State::Status "${ctx.root}/var/lib/dpkg/status";`,
    `Dir::Cache "${dir}/cache/";`,
    // The cache is bind-mounted here (see aptGet): dpkg runs chrooted and must find the .debs inside.
    `Dir::Cache::Archives "${ctx.root}/var/cache/apt/archives/";`,
    `Dir::State::Lists "${c.lists}/";`,
    `Dir::Etc::SourceList "${dir}/sources.list";`,
    `Dir::Etc::SourceParts "${ctx.root}/etc/apt/sources.list.d/";`,
    // The host's archive keys verify the mirror (read only); the image need not ship a keyring.
    'Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d/";',
    `Dir::Log "${dir}/log/";`,
    `DPkg::Chroot-Directory "${ctx.root}/";`,
    'APT::Sandbox::User "root";',
    `APT::Architecture "${debianArch(ctx)}";`,
    `APT::Architectures "${debianArch(ctx)}";`,
    'Acquire::Languages "none";',
    `APT::Install-Recommends "${cfg<boolean>(ctx, 'WithRecommends')}";`,
    'DPkg::Use-Pty "false";',
  ];
  if (!cfg<boolean>(ctx, 'RepositoryKeyCheck')) conf.push('Acquire::AllowInsecureRepositories "true";', 'APT::Get::AllowUnauthenticated "true";');
  const file = path.join(dir, 'apt.conf');
  fs.writeFileSync(file, conf.join('\n') + '\n');
  return file;
}

/** Runs apt-get against the image: private mount namespace, /proc and /dev for maintainer scripts. */
async function aptGet(ctx: BuildContext, args: string[], step: string): Promise<void> {
  if (!fs.existsSync(path.join(ctx.root, 'var/lib/dpkg/status'))) {
    throw new BuildError(
      `${step}: the base tree has no dpkg database (var/lib/dpkg/status), so packages cannot be added to it; ` +
        'set CleanPackageMetadata=no in the preset that builds the base tree',
      ctx.preset.name,
    );
  }
  const conf = aptConfig(ctx);
  const c = cacheDirs(ctx);
  const policy = path.join(ctx.root, 'usr/sbin/policy-rc.d');
  const hadPolicy = fs.existsSync(policy);
  // Services must not start inside a build.
  if (!hadPolicy) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  const script = [
    'set -e',
    'mount -t proc proc "$ROOT/proc"',
    'mount --rbind /dev "$ROOT/dev"',
    'mkdir -p "$ROOT/var/cache/apt/archives"',
    'mount --bind "$ARCHIVES" "$ROOT/var/cache/apt/archives"',
    'flock "$LOCK" apt-get -q update',
    'flock "$LOCK" apt-get -q -y "$@"',
  ].join('\n');
  try {
    await run(ctx, 'unshare', ['--mount', '--propagation', 'private', '--', 'bash', '-c', script, 'apt', ...args], {
      step,
      env: { ...aptEnv(ctx), APT_CONFIG: conf, ROOT: ctx.root, LOCK: c.lock, ARCHIVES: c.archives },
    });
  } finally {
    if (!hadPolicy) fs.rmSync(policy, { force: true });
  }
}

/**
 * As mkosi: each tool's state goes when the tool is not in the image (or always, when asked):
 * apt's lists and caches without apt, dpkg's database without dpkg. Downloaded lists and .debs
 * never stay: they are caches, and they differ from one build to the next.
 */
async function cleanMetadata(ctx: BuildContext, always: boolean): Promise<void> {
  const r = ctx.root;
  const has = (bin: string) => fs.existsSync(path.join(r, 'usr/bin', bin));
  const remove = ['var/lib/apt/lists', 'var/cache/apt', 'var/log/apt'];
  if (always || !has('apt-get')) remove.push('var/lib/apt');
  if (always || !has('dpkg')) remove.push('var/lib/dpkg', 'var/cache/debconf', 'var/lib/ucf');
  for (const p of remove) fs.rmSync(path.join(r, p), { recursive: true, force: true });
  if (has('apt-get') && !always) {
    fs.mkdirSync(path.join(r, 'var/lib/apt/lists/partial'), { recursive: true });
    fs.mkdirSync(path.join(r, 'var/cache/apt/archives/partial'), { recursive: true });
  }
}

export const debian: Distribution = {
  bootstrap,
  install: (ctx, packages) => aptGet(ctx, ['install', ...packages], 'installing packages (apt)'),
  remove: (ctx, packages) => aptGet(ctx, ['purge', '--auto-remove', ...packages], 'removing packages (apt)'),
  cleanMetadata,
};
