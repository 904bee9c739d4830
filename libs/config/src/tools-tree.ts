/**
 * What ToolsTree=default holds: the tools every output step runs (systemd-repart, ukify, bootctl
 * and the stubs, mkfs.*, mtools, veritysetup, cpio and the compressors) and those of the Debian
 * install (mmdebstrap, apt with sqv, the archive keyring that verifies the mirror), from a newer Debian than
 * the host's. Debian 12's systemd is 252: its systemd-repart has no --offline (254+) and it has no
 * ukify; trixie's 257 needs trixie's glibc, so it runs from a tree of its own (mkosi's answer too:
 * its mkosi-tools configuration, whose Debian list this follows, trimmed to what kiln's formats run).
 * ToolsTreeProfiles='s `package-manager` (on by default, as in mkosi) adds the other families'
 * package managers and keyrings, so that a Fedora, openSUSE or Arch preset builds from the default
 * tree on any host.
 */

import { distributionFacts } from './distributions';

/** The distribution and release of the default tools tree (ToolsTreeDistribution=/ToolsTreeRelease= defaults). */
export const TOOLS_TREE_DEFAULTS = { distribution: 'debian', release: 'trixie' } as const;

/** ToolsTreeRelease='s default: trixie for Debian (bookworm's systemd is too old), else the distribution's default release. */
export function toolsTreeRelease(distribution: string): string | null {
  if (distribution === TOOLS_TREE_DEFAULTS.distribution) return TOOLS_TREE_DEFAULTS.release;
  return distributionFacts(distribution)?.release ?? null;
}

/**
 * The generated presets (generated.ts): the tools tree of ToolsTree=default, and the initrd of a
 * bootable preset without Initrds=. Their names are mkosi's; each is a preset like any other
 * (its own lock, its own cached Nx target `<project>-NAME`).
 */
export const TOOLS_PRESET = 'tools';
export const DEFAULT_INITRD_PRESET = 'default-initrd';

/**
 * Where the tools preset's output goes in OutputDirectory=: mkosi's name (mkosi-tools' Output=),
 * so the tree is OutputDirectory/mkosi.tools and its cached archive mkosi.tools.tar.zst.
 */
export const TOOLS_OUTPUT = 'mkosi.tools';

/** The packages of the default tools tree on Debian trixie and later, whatever its profiles (ToolsTreePackages= adds to them). */
export const TOOLS_TREE_PACKAGES: readonly string[] = [
  'apt', // the install (installers/apt/debian.ts), with dpkg and util-linux (flock, unshare) from the essential set
  'bash',
  'ca-certificates',
  'coreutils',
  'cpio',
  'cryptsetup-bin', // veritysetup
  'debian-archive-keyring', // verifies the mirror (bookworm's Release files as well as trixie's): the tree's /etc/apt stands in for the host's
  'dosfstools',
  'e2fsprogs',
  'erofs-utils',
  'fdisk',
  'kmod',
  'mmdebstrap', // bootstraps Debian images
  'mount', // mmdebstrap --mode=root mounts /proc, /sys and /dev into the root it builds
  'mtools',
  'openssl',
  'python3-pefile',
  'sqv', // apt 3 verifies signatures with it
  'squashfs-tools',
  'systemd',
  'systemd-boot-efi', // the stubs and systemd-boot itself
  'systemd-boot-tools', // bootctl
  'systemd-repart',
  'systemd-ukify',
  'tar',
  'xz-utils',
  'zstd',
];

/** ToolsTreeProfiles='s default, mkosi's: every profile of mkosi-tools but devel. */
export const TOOLS_TREE_PROFILES: readonly string[] = ['misc', 'package-manager', 'runtime'];

/**
 * ToolsTreeProfiles=package-manager on a Debian or Ubuntu tree: mkosi-tools' list for that profile
 * (dnf, zypper, pacman and makepkg, createrepo-c, the keyrings the rpm and pacman installers look
 * for in the tools tree: distribution-gpg-keys, archlinux-keyring), plus `rpm`, which kiln's dnf and
 * zypper installers run and which dnf does not depend on (python3-rpm is its library only).
 * debian-archive-keyring, also on mkosi's list, is in the base set already; kali-archive-keyring,
 * which mkosi takes when the tree's distribution has it, is not in Debian.
 */
const PACKAGE_MANAGER_PROFILE: readonly string[] = [
  'archlinux-keyring',
  'createrepo-c',
  'distribution-gpg-keys',
  'dnf',
  'makepkg',
  'pacman-package-manager',
  'rpm',
  'zypper',
];

/** The ToolsTreeProfiles= profile that brings `pkg` into the default tools tree, or null (the base set, or none). */
export function toolsTreeProfileOf(pkg: string): string | null {
  return PACKAGE_MANAGER_PROFILE.includes(pkg) ? 'package-manager' : null;
}

/**
 * The packages of the default tools tree with these ToolsTreeProfiles= (the main image's). Only
 * `package-manager` adds packages: kiln's own steps need nothing beyond the base set, and mkosi's
 * `misc`, `runtime` and `devel` (tools for scripts, nspawn and qemu, compilers) are not carried.
 */
export function toolsTreePackages(profiles: readonly string[], distribution: string, release: string | null): string[] {
  if (!profiles.includes('package-manager')) return [...TOOLS_TREE_PACKAGES];
  // mkosi-tools: the Ubuntu keyring on every tree but Debian bookworm's (where it is too old to matter).
  const ubuntu = distribution === 'debian' && release === 'bookworm' ? [] : ['ubuntu-keyring'];
  return [...TOOLS_TREE_PACKAGES, ...PACKAGE_MANAGER_PROFILE, ...ubuntu];
}
