'use strict';
/**
 * The fixture packages, as data: build.js turns each into a spec file and builds it with
 * rpmbuild. Two flavours (Fedora and openSUSE) differ only in Distribution/Vendor and in the
 * release package.
 *
 * A file is { path, content, mode?, config?, doc? } | { path, type: 'dir', mode? } |
 * { path, type: 'symlink', linkname }; modes default to 0644 (files) and 0755 (dirs).
 */

/** The host's static busybox, shipped as the image's /bin/sh so that scriptlets run in its chroot. */
const BUSYBOX = '/bin/busybox';

const dir = (path, mode) => ({ path, type: 'dir', ...(mode === undefined ? {} : { mode }) });
const link = (path, linkname) => ({ path, type: 'symlink', linkname });

/** @param {string} id @param {string} name @param {string} version @param {string} pretty */
const osRelease = (id, name, version, pretty) =>
  [`NAME="${name}"`, version ? `VERSION_ID=${version}` : null, `ID=${id}`, `PRETTY_NAME="${pretty}"`, 'HOME_URL="https://kiln.invalid/"', ''].filter((l) => l !== null).join('\n');

const FILESYSTEM = {
  name: 'filesystem',
  version: '3.18',
  release: '1',
  summary: 'The basic directory layout (merged /usr)',
  files: [
    dir('/usr'),
    dir('/usr/bin'),
    dir('/usr/lib'),
    dir('/usr/lib64'),
    dir('/usr/include'),
    dir('/usr/share'),
    dir('/usr/share/doc'),
    dir('/usr/share/man'),
    dir('/usr/share/man/man1'),
    dir('/usr/local'),
    link('/usr/sbin', 'bin'),
    link('/bin', 'usr/bin'),
    link('/sbin', 'usr/bin'),
    link('/lib', 'usr/lib'),
    link('/lib64', 'usr/lib64'),
    dir('/etc'),
    dir('/var'),
    dir('/var/lib'),
    dir('/var/log'),
    dir('/var/cache'),
    dir('/var/tmp', 0o1777),
    dir('/root', 0o550),
    dir('/tmp', 0o1777),
    dir('/run'),
    dir('/proc', 0o555),
    dir('/sys', 0o555),
    dir('/dev'),
    dir('/home'),
    dir('/opt'),
    dir('/srv'),
    dir('/mnt'),
    dir('/media'),
  ],
};

const SETUP = {
  name: 'setup',
  version: '2.15.0',
  release: '1',
  summary: 'System users and groups',
  requires: ['filesystem'],
  files: [
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:Kernel Overflow User:/:/usr/sbin/nologin\n', config: true },
    { path: '/etc/group', content: 'root:x:0:\nnobody:x:65534:\n', config: true },
    { path: '/etc/shadow', content: 'root:!locked::0:99999:7:::\nnobody:!*:::::::\n', mode: 0o000, config: true },
  ],
};

const FEDORA_RELEASE = {
  name: 'fedora-release',
  version: '42',
  release: '1',
  summary: 'Fedora release files',
  provides: ['system-release', 'system-release(42)'],
  files: [
    { path: '/usr/lib/os-release', content: osRelease('fedora', 'Fedora Linux', '42', 'Fedora Linux 42 (kiln fixture)') },
    link('/etc/os-release', '../usr/lib/os-release'),
    { path: '/etc/fedora-release', content: 'Fedora release 42 (kiln fixture)\n' },
    link('/etc/system-release', 'fedora-release'),
  ],
};

const OPENSUSE_RELEASE = {
  name: 'openSUSE-release',
  version: '20261101',
  release: '1',
  summary: 'openSUSE Tumbleweed release files',
  provides: ['system-release'],
  files: [
    { path: '/usr/lib/os-release', content: osRelease('opensuse-tumbleweed', 'openSUSE Tumbleweed', '20261101', 'openSUSE Tumbleweed (kiln fixture)') },
    link('/etc/os-release', '../usr/lib/os-release'),
  ],
};

const BASESYSTEM = {
  name: 'basesystem',
  version: '11',
  release: '1',
  summary: 'The skeleton package which defines a simple Fedora system',
  requires: ['filesystem', 'setup', 'system-release'],
  files: [],
};

const BUSYBOX_PKG = {
  name: 'busybox',
  version: '1.36.1',
  release: '1',
  arch: 'x86_64',
  summary: 'Statically linked busybox: /bin/sh for scriptlets',
  provides: ['/bin/sh', '/usr/bin/sh'],
  autoReqProv: false,
  files: [
    { path: '/usr/bin/busybox', source: BUSYBOX, mode: 0o755 },
    // rpm runs scriptlets with PATH=/sbin:/bin:/usr/sbin:/usr/bin: the applets they use need names
    ...['sh', 'mkdir', 'cat', 'echo', 'ls', 'rm'].map((a) => link(`/usr/bin/${a}`, 'busybox')),
  ],
};

const LIBHELLO = {
  name: 'libhello',
  version: '1.0',
  release: '1',
  summary: 'A data file standing in for a shared library',
  files: [{ path: '/usr/lib64/libhello.txt', content: 'libhello 1.0\n' }],
};

/** @param {string} version */
const hello = (version) => ({
  name: 'hello',
  version,
  release: '1',
  summary: 'Says hello',
  requires: ['libhello', 'busybox'],
  files: [
    { path: '/usr/bin/hello', content: `#!/bin/sh\necho "hello ${version}"\n`, mode: 0o755 },
    { path: '/usr/share/doc/hello/README', content: `hello ${version}: documentation (left out with WithDocs=no)\n`, doc: true },
    { path: '/usr/share/man/man1/hello.1', content: `.TH HELLO 1\n.SH NAME\nhello \\- says hello ${version}\n`, doc: true },
    { path: '/etc/hello.conf', content: 'greeting=hello\n', config: true },
  ],
  // Proves that scriptlets ran, in the image's chroot.
  post: 'mkdir -p /var/lib/hello\necho "hello %{version}-%{release}" > /var/lib/hello/post-ran',
});

const HELLO_DEVEL = {
  name: 'hello-devel',
  version: '1.0',
  release: '1',
  summary: 'Headers for hello',
  requires: ['hello'],
  files: [{ path: '/usr/include/hello.h', content: '#pragma once\nvoid hello(void);\n' }],
};

/** @param {string} version */
const tool = (version) => ({
  name: 'tool',
  version,
  release: '1',
  summary: 'Versioned with a tilde: 2.0~rc1 sorts before 2.0',
  files: [{ path: '/usr/share/tool/version', content: `${version}\n` }],
});

/** @param {number} epoch @param {string} version */
const epochy = (epoch, version) => ({
  name: 'epochy',
  epoch,
  version,
  release: '1',
  summary: 'Has an epoch: 1:0.9 is newer than 2.0',
  files: [{ path: '/usr/share/epochy/version', content: `${epoch}:${version}\n` }],
});

const FLAVOURS = {
  fedora: { distribution: 'Fedora Project', vendor: 'Fedora Project', packager: 'kiln fixtures <test@kiln.invalid>' },
  opensuse: { distribution: 'openSUSE Tumbleweed', vendor: 'openSUSE', packager: 'kiln fixtures <test@kiln.invalid>' },
};

const FEDORA_RELEASE_REPO = 'fedora/linux/releases/42/Everything/x86_64/os';
const FEDORA_UPDATES_REPO = 'fedora/linux/updates/42/Everything/x86_64';
const OPENSUSE_OSS_REPO = 'opensuse/tumbleweed/repo/oss';
const OPENSUSE_UPDATE_REPO = 'opensuse/update/tumbleweed';

/** The good repositories: path under OUTDIR, flavour, packages. */
const REPOS = [
  { path: FEDORA_RELEASE_REPO, flavour: 'fedora', packages: [FILESYSTEM, SETUP, FEDORA_RELEASE, BASESYSTEM, BUSYBOX_PKG, LIBHELLO, hello('1.0'), HELLO_DEVEL, tool('2.0~rc1'), epochy(1, '0.9')] },
  { path: FEDORA_UPDATES_REPO, flavour: 'fedora', packages: [hello('1.1'), tool('2.0'), epochy(0, '2.0')] },
  { path: OPENSUSE_OSS_REPO, flavour: 'opensuse', packages: [FILESYSTEM, SETUP, OPENSUSE_RELEASE, BUSYBOX_PKG, LIBHELLO, hello('1.0'), HELLO_DEVEL] },
  { path: OPENSUSE_UPDATE_REPO, flavour: 'opensuse', packages: [hello('1.1')] },
];

/** The packages of every bad repository (Fedora flavour); hello-1.0 is the one made bad. */
const BAD_BASE = ['filesystem', 'setup', 'fedora-release', 'basesystem', 'busybox', 'libhello', 'hello'];

module.exports = { REPOS, FLAVOURS, BAD_BASE, BUSYBOX, FEDORA_RELEASE_REPO, FEDORA_UPDATES_REPO, OPENSUSE_OSS_REPO, OPENSUSE_UPDATE_REPO };
