/**
 * Checks that a tool an output step (or the Debian install) runs is there and new enough, before the step runs it.
 * With a tools tree (ctx.tools), the tool must be in the tree (its /usr stands in for the host's);
 * without one, the host's tool must exist and have at least the version the step needs. Either
 * way a failure is one clear error naming the Debian package and the version needed, and the fix
 * (ToolsTree=default builds a tree that has it), instead of a tool's usage message half way
 * through a build. Debian 12's systemd-repart (252) has no --offline (254+), and it has no ukify:
 * that is the common case.
 *
 * The format writers call requireTool(ctx, 'systemd-repart') (the requirement from KNOWN_TOOLS,
 * or given) before running the tool through the sandbox (sandbox.ts hostTools with ctx.tools).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { digestCacheDir, hostToolVersions, toolsTreeProfileOf, which } from '@kiln/config';
import type { BuildContext } from './context';
import { BuildError } from './errors';

export interface ToolRequirement {
  /** The Debian package that has the tool (systemd-repart, systemd-ukify, mtools, ...). */
  package: string;
  /** The lowest version that works, dotted digits ("254"); unset: any version. */
  min?: string;
  /** What the older versions lack, for the message ("--offline"). */
  feature?: string;
  /** Where a Debian 12 host gets a new enough one ("bookworm-backports"), for the message. */
  from?: string;
  /** The argument that prints the version (default --version). */
  versionArg?: string;
}

export interface ToolFound {
  /** The tool's path as the sandbox sees it (/usr/bin/NAME, the tools tree's or the host's). */
  path: string;
  /** Its version (the first dotted number of its version line), or null when it was not asked. */
  version: string | null;
  /** Whether it comes from the tools tree. */
  fromTree: boolean;
}

const BIN_DIRS = ['usr/bin', 'usr/sbin', 'usr/lib/systemd'];

/**
 * What the image pipeline's tools need on a Debian host, by command: requireTool(ctx, NAME) looks
 * the requirement up here, so every writer asks the same of the same tool. Package names are
 * trixie's (bookworm-backports has the same for the systemd ones); versions only where an older
 * one lacks what kiln runs.
 */
export const KNOWN_TOOLS: Readonly<Record<string, ToolRequirement>> = {
  'systemd-repart': { package: 'systemd-repart', min: '254', feature: '--offline', from: 'bookworm-backports' },
  ukify: { package: 'systemd-ukify', min: '254', from: 'bookworm-backports' },
  bootctl: { package: 'systemd-boot-tools (systemd-boot on bookworm)' },
  veritysetup: { package: 'cryptsetup-bin' },
  'mkfs.erofs': { package: 'erofs-utils' },
  'mkfs.ext4': { package: 'e2fsprogs' },
  'mkfs.vfat': { package: 'dosfstools' },
  mksquashfs: { package: 'squashfs-tools' },
  mcopy: { package: 'mtools' },
  mmd: { package: 'mtools' },
  sfdisk: { package: 'fdisk' },
  depmod: { package: 'kmod' },
  cpio: { package: 'cpio' },
  zstd: { package: 'zstd' },
  xz: { package: 'xz-utils' },
  openssl: { package: 'openssl' },
  // The Debian install (installers/apt): from the tools tree when there is one.
  mmdebstrap: { package: 'mmdebstrap' },
  'apt-get': { package: 'apt' },
  chroot: { package: 'coreutils' },
  // The RPM family's install (installers/dnf): dnf's Python API answers kiln's queries.
  dnf: { package: 'dnf' },
  // openSUSE's install (installers/zypper).
  zypper: { package: 'zypper' },
  rpm: { package: 'rpm' },
  // Arch's install (installers/pacman).
  pacman: { package: 'pacman-package-manager' },
  'pacman-key': { package: 'pacman-package-manager' },
  // pacman-key sources makepkg's shell library (/usr/share/makepkg/util), which Debian ships with makepkg.
  makepkg: { package: 'makepkg' },
  flock: { package: 'util-linux' },
  python3: { package: 'python3' },
};

/** Compares dotted versions numerically ("254.1" > "254", "10" > "9"). */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** The first dotted number of a version line ("systemd 252 (252.30-1~deb12u2)" -> "252"). */
export function versionOf(line: string): string | null {
  return /\b(\d+(?:\.\d+)*)\b/.exec(line)?.[1] ?? null;
}

/**
 * The tool `name` for an output step of `ctx`, or a BuildError naming the package, the version
 * and the fix. In a tools tree only its presence is checked: the tree is kiln's (ToolsTree=default,
 * Debian trixie) or the user's own choice (ToolsTree=PATH).
 */
export function requireTool(ctx: BuildContext, name: string, given?: ToolRequirement): ToolFound {
  const req = given ?? KNOWN_TOOLS[name];
  if (!req) throw new Error(`kiln bug: requireTool(${name}) without a requirement: add ${name} to KNOWN_TOOLS (tool-check.ts)`);
  const need = `${req.package}${req.min ? ` ${req.min} or later` : ''}`;
  if (ctx.tools) {
    for (const dir of BIN_DIRS) {
      const p = path.join(ctx.tools, dir, name);
      if (fs.existsSync(p)) return { path: `/${dir}/${name}`, version: null, fromTree: true };
    }
    const profile = toolsTreeProfileOf(req.package);
    const generated = profile ? `ToolsTreeProfiles= with ${profile}, or ToolsTreePackages=${req.package}` : `ToolsTreePackages=${req.package}`;
    throw new BuildError(`the tools tree ${ctx.tools} has no ${name}: add the Debian package ${need} to it (${generated} for ToolsTree=default)`, ctx.preset.name);
  }
  const file = which(name, ctx.env);
  const fix = `or set ToolsTree=default (kiln builds a tools tree that has it)`;
  const source = req.from ? ` from ${req.from}` : '';
  if (!file) throw new BuildError(`${name} is not installed on this host: install the Debian package ${need}${source}, ${fix}`, ctx.preset.name);
  if (!req.min) return { path: file, version: null, fromTree: false };
  const line = hostToolVersions([[name, req.versionArg ?? '--version']], ctx.env, path.join(digestCacheDir(), 'tools.json'))[name];
  const version = versionOf(line);
  if (!version || compareVersions(version, req.min) < 0) {
    const have = version ? `${name} ${version}` : `${name} (version unknown: "${line}")`;
    const lacks = req.feature ? `lacks ${req.feature} (${req.min}+)` : `is older than ${req.min}`;
    throw new BuildError(`${have} on this host ${lacks}: install ${need}${source}, ${fix}`, ctx.preset.name);
  }
  return { path: file, version, fromTree: false };
}
