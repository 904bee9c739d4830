/**
 * What zypper (libzypp) and rpm read, generated per build in the work directory, never the host's:
 * zypp.conf (through ZYPP_CONF), the repository file (a --reposd-dir of kiln's), the keys, and
 * rpm's macros ($HOME/.rpmmacros, installers/rpm/).
 *
 * The repositories are mkosi's (@kiln/config's rpm-repositories.ts) unless a sandbox tree brings
 * etc/zypp/repos.d/mkosi.repo, which then replaces them, as in mkosi; every other *.repo file of
 * the sandbox trees is added.
 *
 * Signatures: with RepositoryKeyCheck=yes (the default) every repository has gpgcheck=1,
 * repo_gpgcheck=1 and pkg_gpgcheck=1. openSUSE signs its repository metadata (repomd.xml.asc), and
 * libzypp, when the metadata is signed, takes the metadata's checksums as enough for the packages
 * and skips their own signatures: it then installs an unsigned package, or one signed by another
 * key (measured, rpmfix findings). pkg_gpgcheck=1 checks each package's signature as well, so a
 * package not signed by the named keys is refused by name (mkosi does not set it).
 *
 * rpm's database backend: openSUSE's rpm uses ndb, and mkosi's setup_rpm(dbbackend="ndb") writes it.
 * Debian's rpm (which kiln runs, from the host or a Debian tools tree) is built without ndb
 * ("invalid %_db_backend: ndb ... using dummy database"), so kiln keeps rpm's sqlite backend:
 * openSUSE's rpm reads a sqlite database (rpm 4.16+ picks the backend from the files it finds,
 * and `rpmdb --rebuilddb` converts it on the running system if wanted).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostArchitecture, rpmLayout, type RpmLayout } from '@kiln/config';
import { cfg, required, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { ensureDir } from '../../fsutil';
import { layoutKeys, rpmArch, rpmHome, sandboxCandidates } from '../rpm';

export interface ZypperSetup {
  /** The directory of it all: zypp.conf, repos/, keys/, home/, zypper.log. */
  dir: string;
  /** zypp.conf (libzypp's), given as ZYPP_CONF. */
  conf: string;
  /** zypper.conf (the command's own), given with --config: the host's /etc/zypp/zypper.conf is not read. */
  zypperConf: string;
  reposdir: string;
  home: string;
  /** libzypp's log (ZYPP_LOGFILE): it appends to the host's /var/log/zypper.log otherwise, whatever the root. */
  logfile: string;
  /** The key files imported into the image's rpm database before zypper runs (mkosi does the same). */
  keys: string[];
  /** Some key is a URL (RepositoryKeyFetch=yes and not found): zypper imports it itself. */
  keyUrls: boolean;
  /** The repository aliases and where they are, for messages and the lock's metadata. */
  repositories: { id: string; url: string; enabled: boolean }[];
  arch: string;
  /** The metadata refresh of this build (index.ts), once. */
  refreshed?: Promise<void>;
}

const setups = new WeakMap<object, Map<string, Promise<ZypperSetup>>>();

export function layoutOf(ctx: BuildContext): RpmLayout {
  const distribution = cfg(ctx, 'Distribution');
  const layout = rpmLayout({ distribution, release: required(ctx, 'Release'), mirror: cfg(ctx, 'Mirror'), localMirror: cfg(ctx, 'LocalMirror'), arch: rpmArch(ctx) });
  if (!layout) throw new BuildError(`Distribution=${distribution} is not installed with zypper`, ctx.preset.name);
  return layout;
}

/** zypper's variables in a URL ($releasever, $basearch), filled in for kiln's messages and the lock. */
function expand(url: string, ctx: BuildContext): string {
  const vars: Record<string, string> = { releasever: required(ctx, 'Release'), basearch: rpmArch(ctx), arch: rpmArch(ctx) };
  return url.replace(/\$(\w+)/g, (m, v: string) => vars[v] ?? m);
}

/** Where the packages come from, as a lock records it: the enabled repositories' URLs. */
export function sourcesOf(ctx: BuildContext): string[] {
  const wanted = new Set(cfg(ctx, 'Repositories'));
  return layoutOf(ctx).repositories.filter((r) => r.enabled || wanted.has(r.id)).map((r) => expand(r.url.replace(/^[a-z]+=/, ''), ctx));
}

function writeSetup(ctx: BuildContext): ZypperSetup {
  const layout = layoutOf(ctx);
  const dir = ensureDir(path.join(ctx.work, 'zypp'));
  const reposdir = ensureDir(path.join(dir, 'repos'));
  const keysdir = ensureDir(path.join(dir, 'keys'));
  const home = rpmHome(dir);
  const check = cfg(ctx, 'RepositoryKeyCheck');
  const conf = path.join(dir, 'zypp.conf');
  // rpm.install.excludedocs is zypp.conf's only (WithDocs=); solver.onlyRequires is the default of
  // --no-recommends for every command (remove's clean-deps included); no delta RPMs: a lock names whole packages.
  fs.writeFileSync(
    conf,
    ['[main]', `rpm.install.excludedocs = ${cfg(ctx, 'WithDocs') ? 'no' : 'yes'}`, `solver.onlyRequires = ${cfg(ctx, 'WithRecommends') ? 'false' : 'true'}`, 'download.use_deltarpm = false', ''].join('\n'),
  );

  const zypperConf = path.join(dir, 'zypper.conf');
  fs.writeFileSync(zypperConf, '[main]\n');

  let own = true;
  for (const d of sandboxCandidates(ctx, 'etc/zypp/repos.d').slice(0, -1)) {
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).filter((n) => n.endsWith('.repo'))) {
      fs.copyFileSync(path.join(d, f), path.join(reposdir, f));
      if (f === 'mkosi.repo') own = false;
    }
  }
  const repositories: ZypperSetup['repositories'] = [];
  const keys = check ? layoutKeys(ctx, layout.keys, keysdir) : [];
  if (own) {
    const lines: string[] = [];
    const c = check ? 1 : 0;
    for (const r of layout.repositories) {
      repositories.push({ id: r.id, url: expand(r.url.replace(/^[a-z]+=/, ''), ctx), enabled: r.enabled });
      lines.push(`[${r.id}]`, `name=${r.id}`, r.url, `enabled=${r.enabled ? 1 : 0}`, 'autorefresh=0', 'keeppackages=1', `gpgcheck=${c}`, `repo_gpgcheck=${c}`, `pkg_gpgcheck=${c}`);
      if (keys.length) lines.push(`gpgkey=${keys.map((k) => k.url).join('\n       ')}`);
      lines.push('');
    }
    fs.writeFileSync(path.join(reposdir, 'kiln.repo'), lines.join('\n'));
  } else {
    for (const f of fs.readdirSync(reposdir)) {
      for (const m of fs.readFileSync(path.join(reposdir, f), 'utf8').matchAll(/^\[([^\]]+)\]/gm)) repositories.push({ id: m[1], url: `(${f})`, enabled: true });
    }
  }
  if (cfg(ctx, 'Architecture') !== hostArchitecture()) {
    throw new BuildError(`Architecture=${cfg(ctx, 'Architecture')}: zypper installs for the host's architecture only (no --forcearch); build on a ${cfg(ctx, 'Architecture')} host`, ctx.preset.name);
  }
  return { dir, conf, zypperConf, reposdir, home, logfile: path.join(dir, 'zypper.log'), keys: keys.flatMap((k) => (k.file ? [k.file] : [])), keyUrls: keys.some((k) => !k.file), repositories, arch: rpmArch(ctx) };
}

/** The build's zypper configuration, written once per build (by preset, then work directory, as dnf's). */
export function zypperSetup(ctx: BuildContext): Promise<ZypperSetup> {
  let byWork = setups.get(ctx.preset);
  if (!byWork) setups.set(ctx.preset, (byWork = new Map()));
  let s = byWork.get(ctx.work);
  if (!s || !fs.existsSync(path.join(ctx.work, 'zypp'))) {
    s = Promise.resolve().then(() => writeSetup(ctx));
    byWork.set(ctx.work, s);
  }
  return s;
}
