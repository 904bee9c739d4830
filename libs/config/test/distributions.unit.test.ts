/**
 * Distribution facts (libs/config/src/distributions/): every distribution has them, and the
 * settings that read them resolve as they did when each kept its own table (mkosi's defaults).
 */
import {
  architectureName,
  compareDistributionVersions,
  defaultFilesystem,
  DISTRIBUTION_FACTS,
  DISTRIBUTIONS,
  distributionFacts,
  expandSpecifiers,
  packageManagerOf,
  PACKAGE_MANAGERS,
  versionSchemeOf,
} from '../src';
import { main } from './helpers';

describe('distribution facts', () => {
  it('every distribution mkosi names has an entry, with a package manager kiln names (custom: none)', () => {
    expect(Object.keys(DISTRIBUTION_FACTS).sort()).toEqual([...DISTRIBUTIONS].sort());
    for (const d of DISTRIBUTIONS) {
      const pm = packageManagerOf(d);
      if (d === 'custom') expect(pm).toBeNull();
      else expect(PACKAGE_MANAGERS).toContain(pm);
    }
    expect(distributionFacts('toString')).toBeUndefined();
  });

  it.each([
    ['debian', 'testing'], ['kali', 'kali-rolling'], ['ubuntu', 'devel'], ['fedora', 'rawhide'], ['centos', '10'], ['rhel', '10'],
    ['rhel-ubi', '10'], ['alma', '10'], ['rocky', '10'], ['opensuse', 'tumbleweed'], ['arch', 'rolling'], ['mageia', 'cauldron'],
    ['openmandriva', 'cooker'], ['azure', '3.0'], ['postmarketos', 'edge'], ['gentoo', '23.0'],
  ])('Distribution=%s: Release= defaults to %s (mkosi)', (d, release) => {
    expect(main({ 'mkosi.conf': `[Distribution]\nDistribution=${d}\n` }).Release).toBe(release);
  });

  it.each([
    ['fedora', 'btrfs'], ['opensuse', 'btrfs'], ['centos', 'xfs'], ['rhel', 'xfs'], ['rhel-ubi', 'xfs'], ['alma', 'xfs'], ['rocky', 'xfs'],
    ['debian', 'ext4'], ['arch', 'ext4'], ['gentoo', 'ext4'], ['custom', 'ext4'],
  ])('%%F for %s is %s', (d, fs) => {
    expect(defaultFilesystem(d)).toBe(fs);
    expect(expandSpecifiers('%F', { get: (n) => (n === 'Distribution' ? d : null), image: 'main', configFileDir: '/', configDir: '/', root: '/' })).toBe(fs);
  });

  it("architecture names: Debian's, Gentoo's keywords; none where the distribution has none", () => {
    expect(['x86-64', 'x86', 'arm', 'ppc64-le', 'loongarch64'].map((a) => architectureName('debian', a))).toEqual(['amd64', 'i386', 'armhf', 'ppc64el', 'loong64']);
    expect(architectureName('ubuntu', 'arm64')).toBe('arm64');
    expect(['x86-64', 'riscv64', 'parisc', 'loongarch64'].map((a) => architectureName('gentoo', a))).toEqual(['amd64', 'riscv', 'hppa', 'loong']);
    expect(['x86-64', 'arm64', 'arm', 'x86'].map((a) => architectureName('arch', a))).toEqual(['x86_64', 'aarch64', 'armv7h', undefined]);
    expect(architectureName('debian', 'alpha')).toBeUndefined();
    expect(['x86-64', 'arm64', 'ppc64-le'].map((a) => architectureName('fedora', a))).toEqual(['x86_64', 'aarch64', 'ppc64le']);
    expect(architectureName('postmarketos', 'x86-64')).toBeUndefined();
    expect(main({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\nArchitecture=riscv64\n' }).PortageProfile).toBe('default/linux/riscv/23.0/systemd');
    expect(main({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\nArchitecture=tilegx\n' }).PortageProfile).toBeNull();
  });

  it("mirrors and Debian's -updates suite for stable releases only", () => {
    expect(distributionFacts('debian')?.mirror).toBe('http://deb.debian.org/debian');
    expect(distributionFacts('gentoo')?.mirror).toBe('https://distfiles.gentoo.org');
    const suites = distributionFacts('debian')!.extraSuites!;
    expect(['bookworm', 'trixie', 'sid', 'unstable', 'testing', 'experimental'].map((r) => suites(r))).toEqual([['bookworm-updates'], ['trixie-updates'], [], [], [], []]);
    expect(distributionFacts('ubuntu')?.extraSuites).toBeUndefined();
  });

  it("version order by the package manager: dpkg for apt, PMS for portage, rpm's for dnf and zypper, pacman's, none yet for apk", () => {
    expect(['debian', 'ubuntu', 'gentoo', 'fedora', 'opensuse', 'arch', 'postmarketos', 'custom', 'nonsense'].map(versionSchemeOf)).toEqual([
      'dpkg', 'dpkg', 'gentoo', 'rpm', 'rpm', 'pacman', null, null, null,
    ]);
    expect(compareDistributionVersions('gentoo', '1.0', '1.0_rc1')).toBe(1);
    expect(compareDistributionVersions('debian', '1.0', '1.0~rc1')).toBe(1);
    // dpkg's order would call 1.0_rc1 newer than 1.0 ("_" sorts after the end of the string).
    expect(compareDistributionVersions('debian', '1.0', '1.0_rc1')).toBe(-1);
    // rpm and pacman part over "~": rpm's pre-release, a mere separator to pacman.
    expect(compareDistributionVersions('fedora', '1.0', '1.0~rc1')).toBe(1);
    expect(compareDistributionVersions('arch', '1.0', '1.0~rc1')).toBe(-1);
    expect(compareDistributionVersions('postmarketos', '1.0', '1.1')).toBeNull();
    // Not a Gentoo version: no order rather than a wrong one.
    expect(compareDistributionVersions('gentoo', '1.0', 'one')).toBeNull();
  });
});
