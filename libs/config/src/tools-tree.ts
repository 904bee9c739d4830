/**
 * What ToolsTree=default holds: the tools every output step runs (systemd-repart, ukify, bootctl
 * and the stubs, mkfs.*, mtools, veritysetup, cpio and the compressors) and those of the Debian
 * install (mmdebstrap, apt with sqv, the archive keyring that verifies the mirror), from a newer Debian than
 * the host's. Debian 12's systemd is 252: its systemd-repart has no --offline (254+) and it has no
 * ukify; trixie's 257 needs trixie's glibc, so it runs from a tree of its own (mkosi's answer too:
 * its mkosi-tools configuration, whose Debian list this follows, trimmed to what kiln's formats run).
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

/** The packages of the default tools tree on Debian trixie and later (ToolsTreePackages= adds to them). */
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

