/**
 * The identity of the tools a preset's build runs: a new mmdebstrap or a new portage can change
 * an image, so the tools are part of every preset's fingerprint (what Nx hashes) and of its build
 * manifest (what `kiln explain` compares), the same lines in both. The output steps run from the
 * tools tree when there is one: ToolsTree=PATH counts by its digest, ToolsTree=default by the
 * generated tools preset's settings and lock (whose output is an input as well). The install's
 * tools are the installer's: apt runs mmdebstrap, apt-get and dpkg from the tools tree when there
 * is one (named as above: the tree is then the installer's identity too, so that the incremental
 * layer, made by the install, is keyed by it), the host's otherwise, with the host's bubblewrap
 * as the sandbox of their scripts; Gentoo's native installer is kiln itself, plus the host's
 * ldconfig, systemd-sysusers and systemd-hwdb (and bubblewrap) writing into the
 * image; emerge runs portage from ToolsTree=, a Gentoo host, or a stage3 that kiln.lock pins.
 *
 * Asking a tool its version costs tens of milliseconds (mmdebstrap is Perl), too much for every
 * `nx run`: answers are remembered by the signature of the binary (inode, size, mtime), so an
 * upgrade is seen and an unchanged tool is never asked twice. Node builtins only.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageManagerOf, type PackageManager } from './distributions';
import { digestInputs, readJsonCache, writeJsonCache } from './input-digest';
import { signature } from './probe';

/** What decides the tools of a preset's install (kept in the project's facts). */
export interface ToolSource {
  /** The distribution's package manager (its installer); null: none (Distribution=custom). */
  packageManager: PackageManager | null;
  /** GentooInstaller= for portage (native or emerge); null for the others. */
  variant: string | null;
  /** ToolsTree=: null, a constant ("default") or an absolute path. */
  toolsTree: string | null;
  /** ToolsTree=default: the generated tools preset the output steps run from (generated.ts). */
  toolsPreset?: ToolsPresetId | null;
}

/** What names a generated tools tree: its preset's resolved settings and its lock. */
export interface ToolsPresetId {
  name: string;
  settingsHash: string;
  /** Its kiln.lock (mkosi.tools.lock), present or not. */
  lockfile: string;
}

/** The tool source of a preset's resolved settings (and of the tools preset it runs from, if any). */
export function toolSourceOf(config: Record<string, unknown>, toolsPreset: ToolsPresetId | null = null): ToolSource {
  const packageManager = packageManagerOf(String(config.Distribution));
  return {
    packageManager,
    variant: packageManager === 'portage' ? String(config.GentooInstaller) : null,
    toolsTree: (config.ToolsTree as string | null) ?? null,
    ...(toolsPreset ? { toolsPreset } : {}),
  };
}

/**
 * The generated tools tree, named by its preset's settings hash and its lock's SHA-256, so that
 * `kiln explain` and the fingerprint see a different tools tree (its output files are inputs of
 * the preset's target as well, as a dependency's outputs).
 */
function toolsPresetIdentity(p: ToolsPresetId): Record<string, string> {
  let lock = 'unlocked';
  try {
    lock = `sha256:${createHash('sha256').update(fs.readFileSync(p.lockfile)).digest('hex')}`;
  } catch {
    // no lock: resolved at build time
  }
  return { ToolsTree: `preset ${p.name}`, 'tools-settings': p.settingsHash, 'tools-lock': lock };
}

/** A command and the argument that prints its version. */
export type HostTool = readonly [command: string, versionArgument: string];

/** The host commands each installer runs (by installer, with portage's variant), whose versions identify it. */
export const HOST_TOOLS: Readonly<Record<string, readonly HostTool[]>> = {
  apt: [
    ['mmdebstrap', '--version'],
    ['apt-get', '--version'],
    ['dpkg', '--version'],
    // bubblewrap runs dpkg's maintainer scripts and *.chroot scripts (sandbox.ts): what it lets
    // them see (/dev, the network, capabilities) can change what they write.
    ['bwrap', '--version'],
  ],
  // dnf and rpm (from the host or the tools tree, as apt); bubblewrap runs rpm's scriptlets.
  dnf: [
    ['dnf', '--version'],
    ['rpm', '--version'],
    ['bwrap', '--version'],
  ],
  // zypper and rpm, as dnf's.
  zypper: [
    ['zypper', '--version'],
    ['rpm', '--version'],
    ['bwrap', '--version'],
  ],
  // kiln's own installer: what the skipped pkg_postinst phases would have done, done by the host.
  'portage native': [
    ['ldconfig', '--version'],
    ['systemd-sysusers', '--version'],
    ['systemd-hwdb', '--version'],
    ['bwrap', '--version'],
  ],
  // pacman installs and runs install scripts chrooted (through bwrap); pacman-key makes its keyring.
  pacman: [
    ['pacman', '--version'],
    ['bwrap', '--version'],
  ],
};

/** Where GentooInstaller=emerge runs portage from: ToolsTree=PATH, else a Gentoo host's, else a stage3 kiln downloads. */
export type PortageTools = { from: 'tree'; tree: string } | { from: 'host' } | { from: 'stage3' };

export function portageTools(toolsTree: string | null, hostRoot = '/'): PortageTools {
  if (toolsTree && path.isAbsolute(toolsTree)) return { from: 'tree', tree: toolsTree };
  if (fs.existsSync(path.join(hostRoot, 'etc/gentoo-release')) && fs.existsSync(path.join(hostRoot, 'usr/bin/emerge'))) return { from: 'host' };
  return { from: 'stage3' };
}

/** The host's portage, by its own vdb record (sys-apps/portage-VERSION): no Python started. */
function hostPortage(hostRoot: string): string {
  const dir = path.join(hostRoot, 'var/db/pkg/sys-apps');
  const found = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^portage-\d/.test(n)).sort() : [];
  return found.length ? `sys-apps/${found.join(' ')} (the host's)` : "the host's (version unknown)";
}

/** Where system tools live; dpkg refuses to run when ldconfig or start-stop-daemon are not on PATH. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The PATH every tool kiln runs is found on and gets: the system directories, never the
 * builder's PATH. A PATH that starts with a version manager's shims (pyenv, asdf) made every
 * `#!/usr/bin/env python3` that mmdebstrap runs per package go through a shim (measured: a cold
 * base build 45.9 s instead of 37.6 s; tools/bench/tool-path.js), and a tool found there is not
 * the one the fingerprint names. KILN_TOOLS_PATH (colon-separated directories) comes first when
 * set: the documented way to run other tools (tests inject a wrapper this way).
 */
export function toolPath(env: Record<string, string | undefined> = process.env): string {
  const extra = (env.KILN_TOOLS_PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  return [...extra, SYSTEM_PATH].join(':');
}

/** The file `cmd` runs as, on the tools' PATH. */
export function which(cmd: string, env: Record<string, string | undefined> = process.env): string | null {
  for (const dir of toolPath(env).split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function firstLine(file: string, arg: string): string {
  // ZYPP_LOGFILE: libzypp appends even `zypper --version` to the host's /var/log/zypper.log otherwise.
  const r = spawnSync(file, [arg], { encoding: 'utf8', env: { PATH: toolPath(process.env), LC_ALL: 'C', ZYPP_LOGFILE: '/dev/null' }, timeout: 30_000 });
  if (r.error) return `unknown (${r.error.message})`;
  return (r.stdout || r.stderr).split('\n')[0].trim() || `unknown (exit code ${r.status})`;
}

/** name -> version line ("not installed" when absent), remembered in `cacheFile` when given. */
export function hostToolVersions(tools: readonly HostTool[], env: Record<string, string | undefined> = process.env, cacheFile?: string): Record<string, string> {
  const cache = (cacheFile && readJsonCache<Record<string, { sig: string; version: string }>>(cacheFile)) || {};
  let changed = false;
  const out: Record<string, string> = {};
  for (const [cmd, arg] of tools) {
    const file = which(cmd, env);
    if (!file) {
      out[cmd] = 'not installed';
      continue;
    }
    const real = fs.realpathSync(file);
    const sig = `${real} ${signature(real)}`;
    const hit = cache[file];
    if (hit && hit.sig === sig) {
      out[cmd] = hit.version;
      continue;
    }
    out[cmd] = firstLine(file, arg);
    cache[file] = { sig, version: out[cmd] };
    changed = true;
  }
  if (cacheFile && changed) writeJsonCache(cacheFile, cache);
  return out;
}

export interface ToolsIdentityOptions {
  /** The project root: a tools tree is named relative to it. */
  root: string;
  env?: Record<string, string | undefined>;
  /** Where tool versions and a tools tree's content hashes are remembered; null: nowhere. */
  cacheDir: string | null;
  /** The root of the host a Gentoo host's portage is looked for in (tests). */
  hostRoot?: string;
  /**
   * Whether the tools the output steps run count (default: yes): ToolsTree=PATH by its digest,
   * ToolsTree=default by its preset. The incremental layer's key leaves them out (no output
   * step runs before the layer).
   */
  outputTools?: boolean;
}

/** A tools tree: its path (relative to the project) and a digest of its contents, modes as they are. */
export function toolsTreeIdentity(tree: string, root: string, cacheDir: string | null): Record<string, string> {
  const cacheFile = cacheDir ? path.join(cacheDir, `tools-tree-${signatureKey(tree)}.json`) : undefined;
  return { ToolsTree: path.relative(root, tree) || '.', digest: digestInputs([tree], { root: tree, modes: 'exact', cacheFile }) };
}

const signatureKey = (p: string) => createHash('sha256').update(path.resolve(p)).digest('hex').slice(0, 16);

/**
 * The tools of a preset's install, name -> what identifies it: the lines of the fingerprint
 * (`tool NAME VALUE`) and the build manifest's `tools`, computed by this one function for both.
 */
export function toolsIdentity(source: ToolSource, opts: ToolsIdentityOptions): Record<string, string> {
  const installer = installerTools(source, opts);
  if (opts.outputTools === false) return installer;
  if (source.toolsPreset) return { ...installer, ...toolsPresetIdentity(source.toolsPreset) };
  // ToolsTree=PATH: the output steps run from it (systemd-repart, ukify, mkfs.*), whatever the
  // installer runs; emerge's identity names it already.
  const tree = source.toolsTree;
  if (tree && path.isAbsolute(tree) && installer.ToolsTree === undefined) return { ...installer, ...toolsTreeIdentity(tree, opts.root, opts.cacheDir) };
  return installer;
}

/** The tools the installer runs (mmdebstrap, portage, ...), by version or by tree digest. */
function installerTools(source: ToolSource, opts: ToolsIdentityOptions): Record<string, string> {
  const env = opts.env ?? process.env;
  const versions = (tools: readonly HostTool[]) => hostToolVersions(tools, env, opts.cacheDir ? path.join(opts.cacheDir, 'tools.json') : undefined);
  switch (source.packageManager) {
    case 'apt':
    case 'dnf':
    case 'zypper':
    case 'pacman':
      // The install runs from the tools tree when there is one (installers/apt/debian.ts, installers/dnf, zypper, pacman).
      if (source.toolsPreset) return toolsPresetIdentity(source.toolsPreset);
      if (source.toolsTree && path.isAbsolute(source.toolsTree)) return toolsTreeIdentity(source.toolsTree, opts.root, opts.cacheDir);
      return versions(HOST_TOOLS[source.packageManager]);
    case 'portage': {
      if (source.variant !== 'emerge') return versions(HOST_TOOLS['portage native']);
      const tools = portageTools(source.toolsTree, opts.hostRoot);
      if (tools.from === 'tree') return toolsTreeIdentity(tools.tree, opts.root, opts.cacheDir);
      if (tools.from === 'host') return { portage: hostPortage(opts.hostRoot ?? '/') };
      // The stage3 and the repository snapshot are kiln.lock's [[tool]] (the lock is an input); unlocked, the mirror's latest.
      return { portage: 'a stage3 from Mirror= (kiln.lock pins it)' };
    }
    default:
      // No installer yet (apk, custom): nothing runs that could be named.
      return {};
  }
}
