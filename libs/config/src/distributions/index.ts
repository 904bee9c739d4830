/**
 * What kiln knows of each distribution, in one place: its default release, its names for the
 * architectures, its default mirror, the package manager that installs it (and so its version
 * order), its default file system. The settings table (defaults, %F), the Nx generator and the
 * engine's installers read them here; adding a distribution is adding an entry. Pure data and
 * node builtins only: the fingerprint (kiln-digest) reads it on every hash.
 *
 * Names and defaults follow mkosi (mkosi/distributions/*.py, mkosi/config.py).
 */

// mkosi's names (mkosi/distributions/__init__.py, mkosi/config.py).
export const DISTRIBUTIONS = [
  'debian', 'kali', 'ubuntu', 'fedora', 'centos', 'rhel', 'rhel-ubi', 'alma', 'rocky', 'opensuse',
  'arch', 'mageia', 'openmandriva', 'azure', 'postmarketos', 'gentoo', 'custom',
] as const;
export type DistributionName = (typeof DISTRIBUTIONS)[number];

export const ARCHITECTURES = [
  'x86-64', 'x86', 'arm64', 'arm', 'riscv64', 'riscv32', 'ppc64-le', 'ppc64', 'ppc', 's390x', 's390',
  'loongarch64', 'mips64-le', 'mips-le', 'parisc', 'alpha', 'arc', 'ia64', 'tilegx',
] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/**
 * The package managers, each an installer of the engine (libs/engine/src/installers/NAME/):
 * apt, portage, dnf, zypper and pacman so far; apk is named for the distributions that will
 * need it.
 */
export const PACKAGE_MANAGERS = ['apt', 'portage', 'dnf', 'zypper', 'pacman', 'apk'] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

/** The package managers the engine has an installer for (libs/engine/src/installers/index.ts INSTALLERS). */
export const INSTALLABLE: readonly PackageManager[] = ['apt', 'portage', 'dnf', 'zypper', 'pacman'];

/** Distributions of an installable package manager whose repositories kiln does not lay out yet (rpm-repositories.ts). */
const NOT_LAID_OUT: readonly string[] = ['rhel', 'rhel-ubi', 'mageia', 'openmandriva', 'azure'];

/** Whether kiln can build images of a distribution: its package manager has an installer, and kiln knows its repositories. */
export function buildable(distribution: string): boolean {
  const pm = packageManagerOf(distribution);
  return pm !== null && INSTALLABLE.includes(pm) && !NOT_LAID_OUT.includes(distribution);
}

/**
 * How a package manager orders versions (versions.ts): dpkg's, the Package Manager Specification's,
 * rpm's (dnf and zypper), or pacman's.
 */
export type VersionScheme = 'dpkg' | 'gentoo' | 'rpm' | 'pacman';

/** Each package manager's version order; null: none implemented yet. */
export const VERSION_SCHEMES: Record<PackageManager, VersionScheme | null> = {
  apt: 'dpkg',
  portage: 'gentoo',
  dnf: 'rpm',
  zypper: 'rpm',
  pacman: 'pacman',
  apk: null,
};

export interface DistributionFacts {
  /** Release= when unset: mkosi's default (installer.default_release()); Gentoo's profile version. */
  release: string;
  /** The release a new project pins (the Nx generator), so that its first build is reproducible; none: `release`. */
  stableRelease?: string;
  /** The package manager installing it; null for Distribution=custom. */
  packageManager: PackageManager | null;
  /** kiln's architecture (mkosi's spelling) -> the distribution's name for it; absent: not known yet. */
  architectures?: Readonly<Record<string, string>>;
  /** The mirror when Mirror= is unset (Gentoo: the release mirror of stage3s and snapshots). */
  mirror?: string;
  /** Suites besides Release= itself that its repositories have for `release` (Debian's -updates). */
  extraSuites?: (release: string) => string[];
  /** The file system of its disk images (%F); ext4 when unset. */
  filesystem?: string;
}

const DEBIAN_ARCHITECTURES: Record<string, string> = {
  'x86-64': 'amd64', x86: 'i386', arm64: 'arm64', arm: 'armhf', riscv64: 'riscv64',
  'ppc64-le': 'ppc64el', s390x: 's390x', loongarch64: 'loong64', 'mips64-le': 'mips64el',
};

/** Gentoo's keywords, as in profile paths (default/linux/amd64/23.0/...) and stage3 names. */
const GENTOO_ARCHITECTURES: Record<string, string> = {
  'x86-64': 'amd64', x86: 'x86', arm64: 'arm64', arm: 'arm', riscv64: 'riscv', 'ppc64-le': 'ppc64', ppc64: 'ppc64', ppc: 'ppc',
  s390x: 's390', loongarch64: 'loong', alpha: 'alpha', parisc: 'hppa', ia64: 'ia64',
};

/** Debian releases without an -updates suite: the rolling ones. */
const DEBIAN_ROLLING = ['sid', 'unstable', 'testing', 'experimental'];

/** The RPM family's names (rpm's %_arch), as mkosi's Fedora installer maps them. */
const RPM_ARCHITECTURES: Record<string, string> = {
  'x86-64': 'x86_64', arm64: 'aarch64', 'ppc64-le': 'ppc64le', s390x: 's390x', riscv64: 'riscv64', 'mips64-le': 'mips64el', 'mips-le': 'mipsel',
};

const dnf = (release: string, filesystem?: string): DistributionFacts => ({ release, packageManager: 'dnf', architectures: RPM_ARCHITECTURES, ...(filesystem ? { filesystem } : {}) });

export const DISTRIBUTION_FACTS: Readonly<Record<DistributionName, DistributionFacts>> = {
  debian: {
    release: 'testing',
    // Debian 13, stable since August 2025: update it when a new Debian stable is released.
    stableRelease: 'trixie',
    packageManager: 'apt',
    architectures: DEBIAN_ARCHITECTURES,
    mirror: 'http://deb.debian.org/debian',
    extraSuites: (release) => (DEBIAN_ROLLING.includes(release) ? [] : [`${release}-updates`]),
  },
  kali: { release: 'kali-rolling', packageManager: 'apt', architectures: DEBIAN_ARCHITECTURES, mirror: 'http://http.kali.org/kali' },
  // The current LTS for new projects.
  ubuntu: { release: 'devel', stableRelease: 'noble', packageManager: 'apt', architectures: DEBIAN_ARCHITECTURES, mirror: 'http://archive.ubuntu.com/ubuntu' },
  fedora: dnf('rawhide', 'btrfs'),
  centos: dnf('10', 'xfs'),
  rhel: dnf('10', 'xfs'),
  'rhel-ubi': dnf('10', 'xfs'),
  alma: dnf('10', 'xfs'),
  rocky: dnf('10', 'xfs'),
  opensuse: { release: 'tumbleweed', packageManager: 'zypper', architectures: RPM_ARCHITECTURES, mirror: 'https://download.opensuse.org', filesystem: 'btrfs' },
  // mkosi's names (distribution/arch.py); Arch Linux ARM names its arm64 and armv7 ports so.
  arch: { release: 'rolling', packageManager: 'pacman', architectures: { 'x86-64': 'x86_64', arm64: 'aarch64', arm: 'armv7h' }, mirror: 'https://fastly.mirror.pkgbuild.com' },
  mageia: dnf('cauldron'),
  openmandriva: dnf('cooker'),
  azure: dnf('3.0'),
  postmarketos: { release: 'edge', packageManager: 'apk' },
  gentoo: { release: '23.0', packageManager: 'portage', architectures: GENTOO_ARCHITECTURES, mirror: 'https://distfiles.gentoo.org' },
  custom: { release: '', packageManager: null },
};

/** The facts of a distribution by name; undefined for a name kiln does not know. */
export function distributionFacts(name: string): DistributionFacts | undefined {
  return Object.prototype.hasOwnProperty.call(DISTRIBUTION_FACTS, name) ? DISTRIBUTION_FACTS[name as DistributionName] : undefined;
}

/** The distribution's name for an architecture; undefined when it has none (or kiln does not know it). */
export function architectureName(distribution: string, architecture: string): string | undefined {
  const names = distributionFacts(distribution)?.architectures;
  return names && Object.prototype.hasOwnProperty.call(names, architecture) ? names[architecture] : undefined;
}

/** The distribution's default file system (%F). */
export function defaultFilesystem(distribution: string): string {
  return distributionFacts(distribution)?.filesystem ?? 'ext4';
}

/** The package manager that installs a distribution; null for custom or an unknown name. */
export function packageManagerOf(distribution: string): PackageManager | null {
  return distributionFacts(distribution)?.packageManager ?? null;
}

/** How a distribution's package versions are ordered; null when kiln has no order for them yet. */
export function versionSchemeOf(distribution: string): VersionScheme | null {
  const pm = packageManagerOf(distribution);
  return pm ? VERSION_SCHEMES[pm] : null;
}

/** Node's names for the architectures kiln builds on, in mkosi's spelling. */
export function hostArchitecture(): Architecture {
  const map: Record<string, Architecture> = {
    x64: 'x86-64', ia32: 'x86', arm64: 'arm64', arm: 'arm', riscv64: 'riscv64', ppc64: 'ppc64-le',
    s390x: 's390x', loong64: 'loongarch64',
  };
  return map[process.arch] ?? 'x86-64';
}
