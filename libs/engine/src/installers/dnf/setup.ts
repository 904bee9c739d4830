/**
 * What dnf and rpm read, generated per build in the work directory, never the host's: dnf.conf, the
 * repository file, dnf's variables, and rpm's macros (through $HOME/.rpmmacros, which rpm reads
 * last: Debian's rpm puts its database in ~/.rpmdb otherwise, so it would land in the image's
 * /root; the RPM family keeps it in /usr/lib/sysimage/rpm, as mkosi's setup_rpm() says).
 *
 * The repositories are mkosi's (@kiln/config's rpm-repositories.ts) unless a sandbox tree brings
 * etc/yum.repos.d/mkosi.repo, which then replaces them, as in mkosi; every other *.repo file of the
 * sandbox trees is added. The keys are looked up where mkosi looks (distribution-gpg-keys,
 * /etc/pki/rpm-gpg) in the sandbox trees, then the tools tree or the host.
 *
 * Signatures: every repository has gpgcheck=1 (packages signed by the named keys) unless
 * RepositoryKeyCheck=no. Repository metadata is checked too (repo_gpgcheck=1) where the repository
 * publishes a signature of it (repodata/repomd.xml.asc): Fedora's and CentOS's mirrors publish
 * none (their metalinks carry the metadata's checksum over HTTPS instead), openSUSE's and most
 * private repositories do, and a signature that is there and wrong stops the build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostArchitecture, rpmLayout, type RpmLayout } from '@kiln/config';
import { cfg, required, type BuildContext } from '../../context';
import { BuildError } from '../../errors';
import { ensureDir } from '../../fsutil';
import { layoutKeys, rpmArch, rpmHome, sandboxCandidates } from '../rpm';

export interface DnfSetup {
  /** The directory of it all: dnf.conf, repos/, vars/, keys/, home/. */
  dir: string;
  conf: string;
  reposdir: string;
  varsdir: string;
  /** $HOME for dnf and rpm: its .rpmmacros sets the database path. */
  home: string;
  /** The repository ids and where they are, for messages ("searched: fedora (URL), updates (URL)"). */
  repositories: { id: string; url: string; enabled: boolean }[];
  /** dnf's name for the architecture. */
  arch: string;
  /** --forcearch when the image is not of the host's architecture. */
  forceArch: boolean;
  /** The metadata refresh of this build (index.ts), once. */
  refreshed?: Promise<void>;
}

/**
 * One configuration per build: by preset, then by work directory (the build overlay of build
 * scripts is another context of the same build; a later build, even of the same preset object
 * and in a reused work path, writes its own).
 */
const setups = new WeakMap<object, Map<string, Promise<DnfSetup>>>();

export function layoutOf(ctx: BuildContext): RpmLayout {
  const distribution = cfg(ctx, 'Distribution');
  const layout = rpmLayout({ distribution, release: required(ctx, 'Release'), mirror: cfg(ctx, 'Mirror'), localMirror: cfg(ctx, 'LocalMirror') });
  if (!layout) throw new BuildError(`Distribution=${distribution} is not installed with dnf`, ctx.preset.name);
  return layout;
}

/** Where the packages come from, as a lock records it: the enabled repositories' locators. */
export function sourcesOf(ctx: BuildContext): string[] {
  const layout = layoutOf(ctx);
  const wanted = new Set(cfg(ctx, 'Repositories'));
  const vars = { basearch: rpmArch(ctx), arch: rpmArch(ctx), releasever: required(ctx, 'Release'), ...layout.vars };
  return layout.repositories.filter((r) => r.enabled || wanted.has(r.id)).map((r) => expand(r.url.replace(/^[a-z]+=/, ''), vars));
}

/** The URL with dnf's variables filled in, for kiln's own requests. */
function expand(url: string, vars: Record<string, string>): string {
  return url.replace(/\$(\w+)/g, (m, v: string) => vars[v] ?? m);
}

/** Whether the repository at `baseurl` publishes a signature of its metadata. */
async function signsMetadata(baseurl: string): Promise<boolean> {
  if (!/^https?:/.test(baseurl)) return baseurl.startsWith('file:') && fs.existsSync(new URL(`${baseurl.replace(/\/$/, '')}/repodata/repomd.xml.asc`));
  try {
    const res = await fetch(`${baseurl.replace(/\/$/, '')}/repodata/repomd.xml.asc`, { method: 'HEAD', signal: AbortSignal.timeout(30_000) });
    return res.ok;
  } catch {
    // Unreachable: dnf says so itself, in its own words, when it loads the metadata.
    return false;
  }
}

function writeSetup(ctx: BuildContext): Promise<DnfSetup> {
  return (async () => {
    const layout = layoutOf(ctx);
    const dir = ensureDir(path.join(ctx.work, 'dnf'));
    const reposdir = ensureDir(path.join(dir, 'repos'));
    const varsdir = ensureDir(path.join(dir, 'vars'));
    const keysdir = ensureDir(path.join(dir, 'keys'));
    const home = rpmHome(dir);
    const arch = rpmArch(ctx);
    const release = required(ctx, 'Release');
    const conf = path.join(dir, 'dnf.conf');
    // installonly_limit=0: a kernel is never removed to make room for another one in an image build.
    // skip_if_unavailable=0: a repository that fails (unreachable, a bad signature) stops the build;
    // Debian's dnf would skip it and say only that the packages are missing.
    fs.writeFileSync(conf, '[main]\ninstallonly_limit=0\nskip_if_unavailable=0\n');
    for (const [k, v] of Object.entries(layout.vars)) fs.writeFileSync(path.join(varsdir, k), `${v}\n`);
    const vars = { basearch: arch, arch, releasever: release, ...layout.vars };
    const check = cfg(ctx, 'RepositoryKeyCheck');

    // The sandbox trees' repository files: mkosi.repo replaces kiln's, the others are added.
    let own = true;
    for (const file of sandboxCandidates(ctx, 'etc/yum.repos.d').slice(0, -1)) {
      if (!fs.existsSync(file)) continue;
      for (const f of fs.readdirSync(file).filter((n) => n.endsWith('.repo'))) {
        fs.copyFileSync(path.join(file, f), path.join(reposdir, f));
        if (f === 'mkosi.repo') own = false;
      }
    }
    const repositories: DnfSetup['repositories'] = [];
    if (own) {
      const keys = check ? layoutKeys(ctx, layout.keys, keysdir).map((k) => k.url) : [];
      const lines: string[] = [];
      for (const r of layout.repositories) {
        const url = r.url.replace(/^[a-z]+=/, '');
        repositories.push({ id: r.id, url: expand(url, vars), enabled: r.enabled });
        const signed = check && r.url.startsWith('baseurl=') && (r.enabled || cfg(ctx, 'Repositories').includes(r.id)) && (await signsMetadata(expand(url, vars)));
        lines.push(`[${r.id}]`, `name=${r.id}`, r.url, `enabled=${r.enabled ? 1 : 0}`, `gpgcheck=${check ? 1 : 0}`, `repo_gpgcheck=${signed ? 1 : 0}`);
        if (keys.length) lines.push(`gpgkey=${keys.join('\n       ')}`);
        lines.push('');
      }
      fs.writeFileSync(path.join(reposdir, 'kiln.repo'), lines.join('\n'));
    } else {
      for (const f of fs.readdirSync(reposdir)) {
        for (const m of fs.readFileSync(path.join(reposdir, f), 'utf8').matchAll(/^\[([^\]]+)\]/gm)) repositories.push({ id: m[1], url: `(${f})`, enabled: true });
      }
    }
    const forceArch = cfg(ctx, 'Architecture') !== hostArchitecture();
    return { dir, conf, reposdir, varsdir, home, repositories, arch, forceArch };
  })();
}

/** The build's dnf configuration, written once per build. */
export function dnfSetup(ctx: BuildContext): Promise<DnfSetup> {
  let byWork = setups.get(ctx.preset);
  if (!byWork) setups.set(ctx.preset, (byWork = new Map()));
  let s = byWork.get(ctx.work);
  if (!s || !fs.existsSync(path.join(ctx.work, 'dnf'))) {
    s = writeSetup(ctx);
    byWork.set(ctx.work, s);
  }
  return s;
}
