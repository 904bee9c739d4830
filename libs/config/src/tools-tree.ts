/**
 * What ToolsTree=default holds: the tools every output step runs (systemd-repart, ukify, bootctl
 * and the stubs, mkfs.*, mtools, veritysetup, cpio and the compressors), from a newer Debian than
 * the host's. Debian 12's systemd is 252: its systemd-repart has no --offline (254+) and it has no
 * ukify; trixie's 257 needs trixie's glibc, so it runs from a tree of its own (mkosi's answer too:
 * its mkosi-tools configuration, whose Debian list this follows, trimmed to what kiln's formats run).
 */

/** The distribution and release of the default tools tree (ToolsTreeDistribution=/ToolsTreeRelease= defaults). */
export const TOOLS_TREE_DEFAULTS = { distribution: 'debian', release: 'trixie' } as const;

/** The packages of the default tools tree on Debian trixie and later (ToolsTreePackages= adds to them). */
export const TOOLS_TREE_PACKAGES: readonly string[] = [
  'bash',
  'ca-certificates',
  'coreutils',
  'cpio',
  'cryptsetup-bin', // veritysetup
  'dosfstools',
  'e2fsprogs',
  'erofs-utils',
  'fdisk',
  'kmod',
  'mtools',
  'openssl',
  'python3-pefile',
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
