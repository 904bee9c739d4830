/**
 * The repositories of the RPM distributions (Fedora, CentOS Stream, AlmaLinux, Rocky Linux through
 * dnf; openSUSE through zypper), as mkosi 26 lays them out
 * (mkosi/distribution/{fedora,centos,alma,rocky,opensuse}.py): where each
 * lives on a mirror given with Mirror= (or on the distribution's own metalink or mirror list when
 * none is), which are enabled unless Repositories= names them, and the names of the keys that
 * sign their packages. Pure data and string work: the engine's dnf and zypper installers turn them
 * into a repository file and find the keys (installers/dnf/, installers/zypper/, installers/rpm/).
 */

export interface RpmRepository {
  /** dnf's repository id (Repositories= enables a disabled one by it). */
  id: string;
  /** dnf's locator: `baseurl=URL`, `metalink=URL` or `mirrorlist=URL` ($basearch, $releasever, $stream are dnf's variables). */
  url: string;
  enabled: boolean;
}

export interface RpmLayout {
  repositories: RpmRepository[];
  /**
   * The keys that sign the packages, each looked up by its file names (with any suffix) in
   * /usr/share/distribution-gpg-keys/<any>/ and /etc/pki/rpm-gpg/ of the sandbox trees, the tools
   * tree and the host, in this order; with RepositoryKeyFetch=yes, the URL when none is found.
   */
  keys: RpmKey[];
  /** dnf variables (/etc/dnf/vars/NAME) the URLs use besides $basearch and $releasever. */
  vars: Record<string, string>;
}

/** One signing key: the first of `names` found, else `url` with RepositoryKeyFetch=yes. */
export interface RpmKey {
  names: string[];
  url: string;
  /** Left out when not found (mkosi's find_rpm_gpgkey(required=False)): another key of the layout signs too. */
  optional?: boolean;
}

export interface RpmLayoutInput {
  distribution: string;
  release: string;
  /** Mirror= (LocalMirror= is handled apart: one repository, as mkosi does). */
  mirror: string | null;
  localMirror: string | null;
}

/** mkosi's join_mirror: the mirror with exactly one slash before the path. */
export function joinMirror(mirror: string, rel: string): string {
  return `${mirror.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

const DISTRIBUTION_GPG_KEYS = 'https://raw.githubusercontent.com/rpm-software-management/distribution-gpg-keys/main/keys';

/** A repository and its disabled debug and source companions, as mkosi defines them. */
function withCompanions(id: string, url: string, debug: string | null, source: string | null): RpmRepository[] {
  return [
    { id, url, enabled: true },
    ...(debug ? [{ id: `${id}-debuginfo`, url: debug, enabled: false }] : []),
    ...(source ? [{ id: `${id}-source`, url: source, enabled: false }] : []),
  ];
}

function fedora(input: RpmLayoutInput): RpmLayout {
  const { release, mirror } = input;
  const keyRelease = release === 'eln' ? 'rawhide' : release;
  const keys = [{ names: [`RPM-GPG-KEY-fedora-${keyRelease}-primary`], url: `${DISTRIBUTION_GPG_KEYS}/fedora/RPM-GPG-KEY-fedora-${keyRelease}-primary` }];
  const repositories: RpmRepository[] = [];
  if (mirror) {
    const sub = `linux/${release === 'rawhide' ? 'development' : 'releases'}/$releasever/Everything`;
    const base = joinMirror(mirror, sub);
    repositories.push(...withCompanions('fedora', `baseurl=${base}/$basearch/os`, `baseurl=${base}/$basearch/debug/tree`, `baseurl=${base}/source/tree`));
    if (release !== 'rawhide') {
      const updates = joinMirror(mirror, 'linux/updates/$releasever/Everything');
      repositories.push(...withCompanions('updates', `baseurl=${updates}/$basearch`, `baseurl=${updates}/$basearch/debug`, `baseurl=${updates}/source/tree`));
      const testing = joinMirror(mirror, 'linux/updates/testing/$releasever/Everything');
      repositories.push(...withCompanions('updates-testing', `baseurl=${testing}/$basearch`, `baseurl=${testing}/$basearch/debug`, `baseurl=${testing}/source/tree`).map((r) => ({ ...r, enabled: false })));
    }
  } else {
    const link = 'metalink=https://mirrors.fedoraproject.org/metalink?arch=$basearch';
    repositories.push(...withCompanions('fedora', `${link}&repo=fedora-$releasever`, `${link}&repo=fedora-debug-$releasever`, `${link}&repo=fedora-source-$releasever`));
    if (release !== 'rawhide') {
      repositories.push(...withCompanions('updates', `${link}&repo=updates-released-f$releasever`, `${link}&repo=updates-released-debug-f$releasever`, `${link}&repo=updates-released-source-f$releasever`));
      repositories.push(...withCompanions('updates-testing', `${link}&repo=updates-testing-f$releasever`, `${link}&repo=updates-testing-debug-f$releasever`, `${link}&repo=updates-testing-source-f$releasever`).map((r) => ({ ...r, enabled: false })));
    }
  }
  return { repositories, keys, vars: {} };
}

/** CentOS Stream and its rebuilds: BaseOS, AppStream, CRB and extras (EPEL and the SIGs are not laid out yet). */
function enterprise(input: RpmLayoutInput): RpmLayout {
  const { distribution, release, mirror } = input;
  const major = release.split('.')[0];
  const repos = ['BaseOS', 'AppStream', 'CRB', 'extras'];
  const repositories: RpmRepository[] = [];
  let keys: RpmLayout['keys'];
  const vars: Record<string, string> = {};
  if (distribution === 'centos') {
    vars.stream = `${major}-stream`;
    const sha = Number(major) >= 10 ? '-SHA256' : '';
    keys = [
      // /etc/pki/rpm-gpg's name (centos-gpg-keys), then distribution-gpg-keys'.
      { names: [`RPM-GPG-KEY-centosofficial${sha}`, `RPM-GPG-KEY-CentOS-Official${sha}`], url: `https://www.centos.org/keys/RPM-GPG-KEY-CentOS-Official${sha}` },
      { names: ['RPM-GPG-KEY-CentOS-SIG-Extras'], url: 'https://www.centos.org/keys/RPM-GPG-KEY-CentOS-SIG-Extras' },
    ];
    for (const repo of repos) {
      const id = repo.toLowerCase();
      if (mirror) {
        const sub = repo === 'extras' ? `SIGs/$stream/${repo}` : `$stream/${repo}`;
        const arch = repo === 'extras' ? '$basearch/extras-common' : '$basearch/os';
        repositories.push(...withCompanions(id, `baseurl=${joinMirror(mirror, `${sub}/${arch}`)}`, repo === 'extras' ? null : `baseurl=${joinMirror(mirror, `${sub}/$basearch/debug/tree`)}`, `baseurl=${joinMirror(mirror, `${sub}/source/${repo === 'extras' ? 'extras-common' : 'tree'}`)}`));
      } else {
        const link = 'metalink=https://mirrors.centos.org/metalink';
        const name = repo === 'extras' ? 'centos-extras-sig-extras-common' : `centos-${id}`;
        repositories.push(...withCompanions(id, `${link}?arch=$basearch&repo=${name}-$stream`, repo === 'extras' ? null : `${link}?arch=$basearch&repo=centos-${id}-debug-$stream`, `${link}?arch=source&repo=${name}-source-$stream`));
      }
    }
  } else {
    const alma = distribution === 'alma';
    keys = alma
      ? [{ names: [`RPM-GPG-KEY-AlmaLinux-${major}`], url: `https://repo.almalinux.org/almalinux/RPM-GPG-KEY-AlmaLinux-${major}` }]
      : [{ names: [`RPM-GPG-KEY-Rocky-${major}`], url: `https://download.rockylinux.org/pub/rocky/RPM-GPG-KEY-Rocky-${major}` }];
    for (const repo of repos) {
      const url = mirror
        ? `baseurl=${joinMirror(mirror, `$releasever/${repo}/$basearch/os`)}`
        : alma
          ? `mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/${repo.toLowerCase()}`
          : `mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=${repo}-$releasever`;
      repositories.push({ id: repo, url, enabled: true });
    }
  }
  return { repositories, keys, vars };
}

/** mkosi's names for the openSUSE architectures' mirror directories (x86-64 at the top). */
const OPENSUSE_PORTS: Record<string, string> = {
  x86_64: '', aarch64: 'ports/aarch64', armv7hl: 'ports/armv7hl', ppc64le: 'ports/ppc', s390x: 'ports/zsystems', riscv64: 'ports/riscv',
};

/** Leap's "current" aliases, which mkosi maps to the openSUSE-current directory. */
const LEAP_CURRENT = ['current', 'stable', 'leap'];

/** Leap 16 and later ship Leap-release and keep updates inside the distribution tree. */
const leap16 = (release: string) => LEAP_CURRENT.includes(release) || Number.parseFloat(release) >= 16;

/**
 * openSUSE: Tumbleweed (oss, non-oss disabled, their debug and source trees disabled, the update
 * repositories) or a Leap release (distribution/leap/<release>/repo/{oss,non-oss} and its update
 * repositories), under the architecture's ports/ directory but on x86-64. `arch` is rpm's name.
 */
function opensuse(input: RpmLayoutInput & { arch: string }): RpmLayout {
  const mirror = input.mirror ?? 'https://download.opensuse.org';
  const at = (rel: string) => `baseurl=${joinMirror(mirror, [OPENSUSE_PORTS[input.arch] ?? '', rel].filter(Boolean).join('/'))}`;
  const repositories: RpmRepository[] = [];
  if (input.release === 'tumbleweed') {
    for (const repo of ['oss', 'non-oss']) {
      repositories.push({ id: repo, url: at(`tumbleweed/repo/${repo}`), enabled: repo === 'oss' });
      if (repo === 'oss') repositories.push({ id: `${repo}-debug`, url: at(`debug/tumbleweed/repo/${repo}`), enabled: false });
      repositories.push({ id: `${repo}-source`, url: at(`source/tumbleweed/repo/${repo}`), enabled: false });
    }
    repositories.push({ id: 'oss-update', url: at('update/tumbleweed'), enabled: true }, { id: 'non-oss-update', url: at('update/tumbleweed-non-oss'), enabled: false });
    return {
      repositories,
      keys: [
        { names: ['RPM-GPG-KEY-openSUSE-Tumbleweed'], url: `${DISTRIBUTION_GPG_KEYS}/opensuse/RPM-GPG-KEY-openSUSE-Tumbleweed` },
        { names: ['RPM-GPG-KEY-openSUSE'], url: `${DISTRIBUTION_GPG_KEYS}/opensuse/RPM-GPG-KEY-openSUSE`, optional: true },
      ],
      vars: {},
    };
  }
  const release = LEAP_CURRENT.includes(input.release) ? 'openSUSE-current' : `leap/${input.release}`;
  for (const repo of ['oss', 'non-oss']) repositories.push({ id: repo, url: at(`distribution/${release}/repo/${repo}`), enabled: repo === 'oss' });
  for (const d of ['debug', 'source']) for (const repo of ['oss', 'non-oss']) repositories.push({ id: `${repo}-${d}`, url: at(`${d}/distribution/${release}/repo/${repo}`), enabled: false });
  const updates = leap16(input.release) ? `distribution/${release}/repo` : `update/${release}`;
  for (const repo of ['oss', 'non-oss']) repositories.push({ id: `${repo}-update`, url: at(`${updates}/${repo}`), enabled: repo === 'oss' });
  return { repositories, keys: [{ names: ['RPM-GPG-KEY-openSUSE'], url: `${DISTRIBUTION_GPG_KEYS}/opensuse/RPM-GPG-KEY-openSUSE` }], vars: {} };
}

/** The repositories, keys and variables of an RPM distribution (dnf's or zypper's); null for another distribution. `arch` (rpm's name) matters to openSUSE's mirror layout only. */
export function rpmLayout(input: RpmLayoutInput & { arch?: string }): RpmLayout | null {
  let layout: RpmLayout;
  if (input.distribution === 'fedora') layout = fedora(input);
  else if (input.distribution === 'opensuse') layout = opensuse({ ...input, arch: input.arch ?? 'x86_64' });
  else if (['centos', 'alma', 'rocky'].includes(input.distribution)) layout = enterprise(input);
  else return null;
  // LocalMirror=: one repository, everything in it, as mkosi does (the keys stay the distribution's).
  if (input.localMirror) layout = { ...layout, repositories: [{ id: input.distribution, url: `baseurl=${input.localMirror}`, enabled: true }] };
  return layout;
}

/** The packages of a fresh root: `basesystem` for the whole family (mkosi's install()). */
export const RPM_ESSENTIAL: Readonly<Record<string, string[]>> = {
  fedora: ['basesystem'],
  centos: ['basesystem'],
  alma: ['basesystem'],
  rocky: ['basesystem'],
};

/**
 * openSUSE's fresh root (mkosi's opensuse.py install()): filesystem, and the release package unless
 * Packages= names one (any *-release): Leap-release from Leap 16 on, openSUSE-release before and on
 * Tumbleweed.
 */
export function opensuseEssential(release: string, packages: string[]): string[] {
  if (packages.some((p) => p.endsWith('-release'))) return ['filesystem'];
  return ['filesystem', release !== 'tumbleweed' && leap16(release) ? 'Leap-release' : 'openSUSE-release'];
}
