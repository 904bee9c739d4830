/**
 * openSUSE images through zypper, for real: the RPM fixture repositories (tools/rpm-fixtures) in
 * openSUSE's mirror layout (tumbleweed/repo/oss, update/tumbleweed) served on 127.0.0.1, Debian's
 * zypper and rpm installing them in kiln's sandbox. What dnf.test.ts covers through the shared
 * code (installers/rpm/) is checked here once: a build, its reproducibility, a lock and a locked
 * build, a layer append, removal, and the refusals of bad input.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { buildIn, failure, lockIn, removeTempDirs, sha256, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fixtures } = require('../../../tools/rpm-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

let fx: string;
let server: { url: string; close: () => Promise<void> };
let packages: string;

beforeAll(async () => {
  fx = await fixtures();
  server = await serve(fx, { port: 0 });
  packages = tempDir('kiln-zypper-packages-');
});
afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

type Pkg = { name: string; version: string; architecture: string; repository: string; sha256: string; path: string; size: number };
const lockOf = (dir: string) => (parse(fs.readFileSync(path.join(dir, 'kiln.lock'), 'utf8')) as { package: Pkg[] }).package;

/** An openSUSE Tumbleweed project on the fixture mirror; `content` goes into [Content]. */
function opensuse(content: string, extra = ''): string {
  return tempProject({
    'mkosi.conf':
      `[Distribution]\nDistribution=opensuse\nRelease=tumbleweed\nMirror=${server.url}/opensuse\n` +
      `[Output]\nFormat=directory\n` +
      `[Build]\nSandboxTrees=${fx}/sandbox/opensuse\nPackageCacheDirectory=${packages}\n${extra}` +
      `[Content]\nSourceDateEpoch=1700000000\n${content}`,
  });
}

/** `rpm -qa` of an image's database, read from a copy (rpm writes to a database it reads). */
function rpmQa(image: string): string[] {
  const root = tempDir('kiln-zypper-rpmdb-');
  fs.cpSync(path.join(image, 'usr/lib/sysimage/rpm'), path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  const out = execFileSync('rpm', ['--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: root },
  });
  return out.split('\n').filter(Boolean);
}

/** rpm's database of an image: name -> [epoch:]version-release (gpg-pubkey entries are keys). */
function rpmdb(image: string): Map<string, string> {
  return new Map(
    rpmQa(image)
      .filter((l) => l && !l.startsWith('gpg-pubkey'))
      .map((l) => {
        const [name, evr] = l.split(' ');
        return [name, evr.replace(/^0:/, '')];
      }),
  );
}

const image = (dir: string) => path.join(dir, 'mkosi.output/image');

describe('an openSUSE Tumbleweed image from the fixture mirror', () => {
  let dir: string;

  it('installs filesystem, openSUSE-release and Packages= from both repositories (the update wins), runs scriptlets in the image', async () => {
    dir = opensuse('Packages=hello,hello-devel\nRemovePackages=hello-devel\nCleanPackageMetadata=no\nWithDocs=no\n');
    const r = await buildIn(dir);
    expect(failure(r)).toBe('');
    const root = image(dir);
    const db = rpmdb(root);
    expect([...db.keys()].sort()).toEqual(['busybox', 'filesystem', 'hello', 'libhello', 'openSUSE-release']);
    expect(db.get('hello')).toBe('1.1-1');
    expect(fs.readFileSync(path.join(root, 'var/lib/hello/post-ran'), 'utf8')).toBe('hello 1.1-1\n');
    expect(fs.readFileSync(path.join(root, 'usr/lib/os-release'), 'utf8')).toContain('ID=opensuse-tumbleweed');
    // WithDocs=no: zypp.conf's rpm.install.excludedocs.
    expect(fs.existsSync(path.join(root, 'usr/share/doc/hello/README'))).toBe(false);
    // The keys are in the image's database, where rpm on the running system checks packages with them.
    expect(rpmQa(root).filter((l) => l.startsWith('gpg-pubkey '))).toHaveLength(1);
    // zypper's state, settled: no history, no pid file, AutoInstalled without a date.
    expect(fs.existsSync(path.join(root, 'var/log/zypp/history'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'run/zypp.pid'))).toBe(false);
    expect(fs.readFileSync(path.join(root, 'var/lib/zypp/AutoInstalled'), 'utf8')).toBe('# AutoInstalled\n#\nbusybox\nlibhello\n#\n');
    expect(fs.existsSync(path.join(root, 'var/cache/zypp'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'usr/lib/sysimage/rpm')).filter((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toEqual([]);
  });

  it('is reproducible: a second build from scratch gives the same bytes, databases included', async () => {
    const tar = (d: string) => {
      const file = path.join(tempDir('kiln-zypper-tar-'), 'image.tar');
      execFileSync('tar', ['--sort=name', '--numeric-owner', '--format=pax', '--pax-option=delete=atime,delete=ctime', '-C', image(d), '-cf', file, '.']);
      return sha256(file);
    };
    const first = tar(dir);
    const r = await buildIn(dir, { force: true });
    expect(failure(r)).toBe('');
    expect(tar(dir)).toBe(first);
  });
});
