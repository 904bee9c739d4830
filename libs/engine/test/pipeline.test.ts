/**
 * A real Debian bookworm image from the Debian mirror, built by the engine, exercising every
 * step of the pipeline once: packages, skeleton/extra trees (directories and an archive, with
 * modes, symlinks and a TARGET), prepare/build/postinst/finalize scripts on the host and in the
 * image, build packages that must not stay, settings, RemoveFiles and the environment contract.
 * The host's apt and dpkg state is checked to be untouched by the whole build.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentManifest, diffManifests, loadProject, readManifest } from '@kiln/config';
import { toolsIdentity } from '../src/tools';
import { buildIn, explain, IDENTITY, removeTempDirs, tempProject, unpack } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

/** A fingerprint of the host's package manager state: every file's path, mode, size and content hash. */
function hostAptState(): string {
  const h = createHash('sha256');
  for (const top of ['/etc/apt', '/var/lib/apt', '/var/lib/dpkg', '/var/cache/apt', '/etc/dpkg']) {
    const walk = (p: string) => {
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) return;
      h.update(`${p} ${st.mode} ${st.size} ${st.mtimeMs}\n`);
      if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
      else if (st.isFile() && st.size < 50_000_000) h.update(fs.readFileSync(p));
    };
    walk(top);
  }
  return h.digest('hex');
}

const project = {
  'mkosi.conf': [
    '[Distribution]',
    'Distribution=debian',
    'Release=bookworm',
    '[Output]',
    'ImageId=feat',
    'Format=tar',
    '[Content]',
    'SourceDateEpoch=1700000000',
    'Packages=hello,less',
    'RemovePackages=less',
    'BuildPackages=cowsay',
    'WithDocs=no',
    'ExtraTrees=data.tar:/opt/data',
    'Hostname=feat-host',
    'Locale=C.UTF-8',
    'Timezone=UTC',
    'RootPassword=hashed:$6$abc$def',
    'RemoveFiles=/etc/issue.net',
    '[Build]',
    'Environment=FOO=bar "SPACED=a b"',
    '',
  ].join('\n'),
  'mkosi.skeleton/etc/skel-file': { text: 'from the skeleton\n', mode: 0o640 },
  'mkosi.extra/usr/local/bin/tool': { text: '#!/bin/sh\necho tool\n', mode: 0o755 },
  'mkosi.extra/etc/hostname-link': { symlink: '/etc/hostname' },
  'mkosi.prepare.chroot': { text: "#!/bin/sh\nset -e\ndpkg-query -W -f '${Status}' hello > /etc/prepare-saw-hello\n", mode: 0o755 },
  'mkosi.build.chroot': {
    text: '#!/bin/sh\nset -e\nmkdir -p "$DESTDIR/usr/share/feat"\n/usr/games/cowsay moo > "$DESTDIR/usr/share/feat/cow.txt"\n',
    mode: 0o755,
  },
  'mkosi.postinst': {
    text: [
      '#!/bin/sh',
      'set -e',
      'test -x "$BUILDROOT/usr/local/bin/tool"',
      'echo "$DISTRIBUTION $RELEASE $ARCHITECTURE $FOO [$SPACED] $IMAGE_ID $SOURCE_DATE_EPOCH" > "$BUILDROOT/etc/contract"',
      'test "$SRCDIR" = "$(pwd)"',
      'echo out > "$OUTPUTDIR/extra-output.txt"',
      '',
    ].join('\n'),
    mode: 0o755,
  },
  'mkosi.finalize.chroot': { text: '#!/bin/sh\nset -e\ncat /etc/hostname > /etc/finalize-saw-hostname\n', mode: 0o755 },
  'README.md': 'not an input\n',
};

describe('build: the whole pipeline on a real Debian image', () => {
  let root: string;
  let image: string;
  let result: Awaited<ReturnType<typeof buildIn>>;
  let hostBefore: string;

  beforeAll(async () => {
    root = tempProject(project);
    const data = tempProject({ 'payload.txt': 'from an archive tree\n' }, 'data');
    spawnSync('tar', ['-C', data, '-cf', path.join(root, 'data.tar'), '.']);
    hostBefore = hostAptState();
    result = await buildIn(root);
    if (!result.error) image = unpack(path.join(root, 'mkosi.output/feat.tar.zst'));
  });

  const file = (rel: string) => fs.readFileSync(path.join(image, rel), 'utf8');

  it('succeeds and reports the output', () => {
    // The error first, so that a failure shows the engine's message.
    expect(result.error).toBeUndefined();
    expect(result.log).toContain('proj: installing hello less');
    expect(result.results).toEqual([{ preset: 'proj', status: 'built', outputs: ['feat.tar.zst', 'extra-output.txt'], seconds: expect.any(Number) }]);
  });

  it('installs the packages (dpkg knows them) and the essential set', () => {
    expect(fs.existsSync(path.join(image, 'usr/bin/hello'))).toBe(true);
    const status = file('var/lib/dpkg/status');
    expect(status).toMatch(/^Package: hello\nStatus: install ok installed/m);
    expect(status).toMatch(/^Package: base-files\nEssential: yes\nStatus: install ok installed/m);
  });

  it('removes RemovePackages= at the end', () => {
    expect(fs.existsSync(path.join(image, 'usr/bin/less'))).toBe(false);
    expect(file('var/lib/dpkg/status')).not.toMatch(/^Package: less$/m);
  });

  it('keeps build packages out of the image but gives their results', () => {
    expect(fs.existsSync(path.join(image, 'usr/games/cowsay'))).toBe(false);
    expect(file('var/lib/dpkg/status')).not.toMatch(/^Package: cowsay$/m);
    expect(file('usr/share/feat/cow.txt')).toContain('< moo >');
  });

  it('copies skeleton and extra trees with modes, symlinks, root ownership and targets', () => {
    const skel = fs.statSync(path.join(image, 'etc/skel-file'));
    expect([skel.mode & 0o777, skel.uid, skel.gid]).toEqual([0o640, 0, 0]);
    expect(fs.statSync(path.join(image, 'usr/local/bin/tool')).mode & 0o777).toBe(0o755);
    expect(fs.readlinkSync(path.join(image, 'etc/hostname-link'))).toBe('/etc/hostname');
    expect(file('opt/data/payload.txt')).toBe('from an archive tree\n');
  });

  it('runs scripts in mkosi order with the environment contract', () => {
    expect(file('etc/prepare-saw-hello')).toBe('install ok installed');
    expect(file('etc/contract')).toBe('debian bookworm x86-64 bar [a b] feat 1700000000\n');
    expect(file('etc/finalize-saw-hostname')).toBe('feat-host\n');
    expect(fs.readFileSync(path.join(root, 'mkosi.output/extra-output.txt'), 'utf8')).toBe('out\n');
  });

  it('applies Hostname, Locale, Timezone, RootPassword and RemoveFiles', () => {
    expect(file('etc/hostname')).toBe('feat-host\n');
    expect(file('etc/locale.conf')).toBe('LANG=C.UTF-8\n');
    expect(fs.readlinkSync(path.join(image, 'etc/localtime'))).toBe('../usr/share/zoneinfo/UTC');
    expect(file('etc/shadow')).toMatch(/^root:\$6\$abc\$def:19675:/m);
    expect(fs.existsSync(path.join(image, 'etc/issue.net'))).toBe(false);
  });

  it('leaves no build-specific state: no apt state or logs, docs trimmed, mtimes clamped', () => {
    // No systemd in this image, so no machine-id (the demo's image has one: see demo.test.ts).
    expect(fs.existsSync(path.join(image, 'etc/machine-id'))).toBe(false);
    // CleanPackageMetadata=auto: no apt in the image, so apt's state goes; dpkg's stays.
    expect(fs.existsSync(path.join(image, 'var/lib/apt'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'var/log/dpkg.log'))).toBe(false);
    expect(fs.existsSync(path.join(image, 'usr/share/doc/hello/copyright'))).toBe(true);
    expect(fs.existsSync(path.join(image, 'usr/share/man/man1/hello.1.gz'))).toBe(false);
    expect(fs.statSync(path.join(image, 'etc/contract')).mtimeMs / 1000).toBeLessThanOrEqual(1700000000);
  });

  it('does not touch the host: apt and dpkg state are the same before and after', () => {
    expect(hostAptState()).toBe(hostBefore);
  });

  it('leaves only its outputs and its manifest in the output directory', () => {
    expect(fs.readdirSync(path.join(root, 'mkosi.output')).sort()).toEqual(['extra-output.txt', 'feat.manifest.json', 'feat.tar.zst']);
  });

  it('records a manifest of its inputs beside the outputs, which matches the inputs right after the build', async () => {
    const read = readManifest(path.join(root, 'mkosi.output/feat.manifest.json'));
    if (read.status !== 'found') throw new Error(`no manifest: ${JSON.stringify(read)}`);
    const m = read.manifest;
    expect(m.kiln).toBe(IDENTITY);
    expect(m.tools.mmdebstrap).toMatch(/^mmdebstrap \d/);
    expect(m.settings).toMatchObject({ Packages: ['hello', 'less'], Hostname: 'feat-host', Environment: { FOO: 'bar', SPACED: 'a b' } });
    expect(m.files['mkosi.extra/usr/local/bin/tool']).toMatchObject({ type: 'file', mode: '755' });
    expect(m.files['mkosi.extra/etc/hostname-link']).toEqual({ type: 'link', target: '/etc/hostname' });
    expect(m.files['data.tar']).toMatchObject({ type: 'file' });
    expect(m.packages).toBeNull();
    // The library's view of the inputs now...
    const project = loadProject(root);
    const now = currentManifest(project, project.main, { identity: m.kiln, tools: toolsIdentity(project, project.main) });
    expect(diffManifests(m, now)).toMatchObject({ settings: [], files: [], packages: [], environment: [], tools: [], kiln: null });
    // ...and as kiln explain words it (the CLI's own identity: apps/kiln/test/interrupt.test.ts).
    expect(explain(root)).toBe('Nothing changed\npackages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n');
  });
});
