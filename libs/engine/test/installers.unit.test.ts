/**
 * The installers' own facts, without building: which tools identify a build (the build
 * manifest, the layer key and the Nx fingerprint must name the same ones), and the lock's
 * change report in each installer's version order.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprintLines, loadProject, type LockedPackage, type Project } from '@kiln/config';
import type { BuildContext } from '../src/context';
import { BuildError } from '../src/errors';
import { INSTALLERS, installerOf } from '../src/installers';
import { lockChanges, lockRequest } from '../src/lock';
import { toolsIdentity } from '../src/tools';

const temps: string[] = [];
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function project(files: Record<string, string>): Project {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-installers-')), 'proj');
  temps.push(path.dirname(root));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return loadProject(root, { env: {} });
}

const TOOLS_TREE = { 'mkosi.tools/usr/bin/emerge': '#!/bin/sh\n' };

describe('the tools a build is recorded with', () => {
  it('Debian with ToolsTree=: the tools tree, which the install and the output steps run from (in the layer key too); the host tools without one', () => {
    const p = project({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=trixie\n[Build]\nToolsTree=mkosi.tools\n', ...TOOLS_TREE });
    expect(Object.keys(toolsIdentity(p, p.main)).sort()).toEqual(['ToolsTree', 'digest']);
    expect(toolsIdentity(p, p.main, { outputTools: false })).toEqual(toolsIdentity(p, p.main));
    const host = project({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=trixie\n' });
    expect(Object.keys(toolsIdentity(host, host.main)).sort()).toEqual(['apt-get', 'bwrap', 'dpkg', 'mmdebstrap']);
  });

  it.each([
    ['Debian with a tools tree', '[Distribution]\nDistribution=debian\nRelease=trixie\n[Build]\nToolsTree=mkosi.tools\n'],
    ['Gentoo natively', '[Distribution]\nDistribution=gentoo\nBinhosts=http://binhost.example\n'],
    ['Gentoo with emerge from a tools tree', '[Distribution]\nDistribution=gentoo\nGentooInstaller=emerge\nBinhosts=http://binhost.example\n[Build]\nToolsTree=mkosi.tools\n'],
    ['Arch with pacman', '[Distribution]\nDistribution=arch\n'],
  ])('%s: the manifest records the tools the Nx fingerprint hashes, line for line', (_, conf) => {
    const p = project({ 'mkosi.conf': conf, ...TOOLS_TREE });
    const fingerprint = fingerprintLines(p.root, undefined, { identity: 'test', cacheDir: null }).filter((l) => l.startsWith('tool '));
    expect(Object.entries(toolsIdentity(p, p.main)).map(([k, v]) => `tool ${k} ${v}`)).toEqual(fingerprint);
    expect(fingerprint.length).toBeGreaterThan(0);
  });
});

/** A build context for the pure parts of an installer (nothing is built). */
function context(p: Project): BuildContext {
  return { project: p, preset: p.main, root: '/nonexistent', work: '/nonexistent', packageCache: '/nonexistent', sourceDateEpoch: 0, env: {}, log: () => undefined };
}

describe('the installer of a distribution', () => {
  it("is its package manager's: apt for Debian, Ubuntu and Kali, portage for Gentoo, dnf for Fedora, zypper for openSUSE", () => {
    for (const d of ['debian', 'ubuntu', 'kali']) expect(installerOf(context(project({ 'mkosi.conf': `[Distribution]\nDistribution=${d}\n` })))).toBe(INSTALLERS.apt);
    expect(installerOf(context(project({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\n' })))).toBe(INSTALLERS.portage);
    expect(installerOf(context(project({ 'mkosi.conf': '[Distribution]\nDistribution=fedora\n' })))).toBe(INSTALLERS.dnf);
    expect(installerOf(context(project({ 'mkosi.conf': '[Distribution]\nDistribution=opensuse\n' })))).toBe(INSTALLERS.zypper);
    expect(installerOf(context(project({ 'mkosi.conf': '[Distribution]\nDistribution=arch\n' })))).toBe(INSTALLERS.pacman);
  });

  it('a distribution without an installer yet is a clear error naming those that can be built', () => {
    const ctx = context(project({ 'mkosi.conf': '[Distribution]\nDistribution=mageia\n' }));
    expect(() => installerOf(ctx)).toThrow(BuildError);
    expect(() => installerOf(ctx)).toThrow('Distribution=mageia cannot be built yet (supported: debian, kali, ubuntu, fedora, centos, alma, rocky, opensuse, arch, gentoo)');
  });

  it("a lock records the installer's sources: the mirror for apt, the binhosts in order for portage", () => {
    const debian = context(project({ 'mkosi.conf': '[Distribution]\nDistribution=ubuntu\nRelease=noble\n' }));
    expect(lockRequest(debian).mirror).toEqual(['http://archive.ubuntu.com/ubuntu']);
    const gentoo = context(project({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\nBinhosts=https://b.example/bin/,http://a.example\n' }));
    expect(lockRequest(gentoo).mirror).toEqual(['https://b.example/bin', 'http://a.example']);
  });
});

describe("kiln lock's report", () => {
  const pkg = (name: string, version: string): LockedPackage => ({ name, version, architecture: 'amd64', repository: 'r', size: 1, sha1: 'a'.repeat(40) });

  it('says upgraded or downgraded in the order of the distribution (Gentoo: 1.0_rc1 -> 1.0 is an upgrade)', () => {
    const old = [pkg('app-misc/hello', '1.0_rc1'), pkg('dev-lang/perl', '5.40.0_p1'), pkg('sys-libs/zlib', '1.3'), pkg('app-misc/gone', '1')];
    const now = [pkg('app-misc/hello', '1.0'), pkg('dev-lang/perl', '5.40.0'), pkg('sys-libs/zlib', '1.3'), pkg('app-misc/new', '2')];
    expect(lockChanges(old, now, 'gentoo')).toEqual({
      added: ['app-misc/new'],
      removed: ['app-misc/gone'],
      upgraded: ['app-misc/hello 1.0_rc1 -> 1.0'],
      downgraded: ['dev-lang/perl 5.40.0_p1 -> 5.40.0'],
      changed: [],
    });
  });

  it("in dpkg's order for Debian, and just 'changed' where kiln knows no order", () => {
    const old = [pkg('hello', '2.10-3'), pkg('gcc', '4:12.2.0-14')];
    const now = [pkg('hello', '2.10-3+b1'), pkg('gcc', '4:12.2.0-3')];
    expect(lockChanges(old, now, 'debian')).toMatchObject({ upgraded: ['hello 2.10-3 -> 2.10-3+b1'], downgraded: ['gcc 4:12.2.0-14 -> 4:12.2.0-3'] });
    expect(lockChanges(old, now, 'postmarketos')).toMatchObject({ upgraded: [], downgraded: [], changed: ['gcc 4:12.2.0-14 -> 4:12.2.0-3', 'hello 2.10-3 -> 2.10-3+b1'] });
  });
});
