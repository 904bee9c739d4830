/**
 * dnf, zypper and pacman from a tools tree (ToolsTree=PATH), for real: the test tools tree, which
 * is what ToolsTree=default builds with the default ToolsTreeProfiles= (its package-manager
 * profile: dnf, rpm, zypper, pacman and makepkg, whose shell library pacman-key reads), built once
 * per machine with kiln's own engine (tools-tree.ts, cached-tree.ts), installs Fedora, openSUSE and
 * Arch images from the fixture mirrors in place of the host's (Debian 12's dnf 4.14, zypper 1.14,
 * pacman 6.0). The build log names the versions that ran, and they are the tree's; a tree without
 * the package manager is refused with the package to add.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { pacmanFixtures, type PacmanManifest } from './pacman-fixtures';
import { testToolsTree } from './tools-tree';
import { buildIn, failure, lockIn, removeTempDirs, tempDir, tempProject } from './kiln';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fixtures } = require('../../../tools/rpm-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(1_800_000);

let tree: string;
let rpmFx: string;
let arch: { dir: string; manifest: PacmanManifest };
let server: { url: string; close: () => Promise<void> };
let archServer: { url: string; close: () => Promise<void> };
let packages: string;

beforeAll(async () => {
  [tree, rpmFx, arch] = await Promise.all([testToolsTree(), fixtures(), pacmanFixtures()]);
  server = await serve(rpmFx, { port: 0 });
  archServer = await serve(arch.dir, { port: 0 });
  packages = tempDir('kiln-tree-pm-packages-');
});
afterAll(async () => {
  await server?.close();
  await archServer?.close();
  removeTempDirs();
});

/** The version line the host's tool prints (its first number), to tell it from the tree's. */
const hostVersion = (cmd: string, args: string[]) => /(\d+\.\d+(?:\.\d+)?)/.exec(execFileSync(cmd, args, { encoding: 'utf8' }))![1];

/** The build log's line naming the tools tree's install tools. */
function treeLine(log: string): string {
  const line = log.split('\n').find((l) => l.includes(`install tools from the tools tree ${tree}:`));
  expect(line).toBeDefined();
  return line!;
}

function project(conf: string): string {
  return tempProject({ 'mkosi.conf': `${conf}[Build]\nToolsTree=${tree}\nPackageCacheDirectory=${packages}/${Math.random().toString(36).slice(2)}\n` });
}

/** rpm's database of an image, read with the host's rpm from a copy: name -> version-release. */
function rpmdb(image: string): Map<string, string> {
  const root = tempDir('kiln-tree-pm-rpmdb-');
  fs.cpSync(path.join(image, 'usr/lib/sysimage/rpm'), path.join(root, 'usr/lib/sysimage/rpm'), { recursive: true });
  const out = execFileSync('rpm', ['--root', root, '--dbpath', '/usr/lib/sysimage/rpm', '-qa', '--qf', '%{NAME} %{VERSION}-%{RELEASE}\\n'], { encoding: 'utf8', env: { ...process.env, HOME: root } });
  return new Map(out.split('\n').filter((l) => l && !l.startsWith('gpg-pubkey')).map((l) => l.split(' ') as [string, string]));
}

describe('the RPM and Arch installers from a tools tree', () => {
  it("builds and locks a Fedora image with the tree's dnf and rpm", async () => {
    const dir = project(
      `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=${server.url}/fedora\n[Output]\nFormat=directory\n` +
        `[Content]\nSourceDateEpoch=1700000000\nPackages=hello\nCleanPackageMetadata=no\n[Build]\nSandboxTrees=${rpmFx}/sandbox/fedora\n`,
    );
    // The lock queries dnf's Python API: the tree's python3 and dnf modules.
    const lock = await lockIn(dir);
    expect(failure(lock)).toBe('');
    const r = await buildIn(dir, { verbose: true });
    expect(failure(r)).toBe('');
    const line = treeLine(r.log);
    const dnf = /dnf (\d+\.\d+\.\d+)/.exec(line)![1];
    expect(dnf).not.toBe(hostVersion('dnf', ['--version']));
    expect(line).toMatch(/RPM version 4\.\d+/);
    const db = rpmdb(path.join(dir, 'mkosi.output/image'));
    expect(db.get('hello')).toBe('1.1-1');
    expect(db.has('basesystem')).toBe(true);
    // The locked versions went in, and the database is where Fedora keeps it, not Debian's ~/.rpmdb.
    const locked = (parse(fs.readFileSync(path.join(dir, 'kiln.lock'), 'utf8')) as { package: { name: string; version: string }[] }).package;
    expect(locked.find((p) => p.name === 'hello')?.version).toBe('1.1-1');
    expect(fs.existsSync(path.join(dir, 'mkosi.output/image/root/.rpmdb'))).toBe(false);
  });

  it("builds an openSUSE image with the tree's zypper", async () => {
    const dir = project(
      `[Distribution]\nDistribution=opensuse\nRelease=tumbleweed\nMirror=${server.url}/opensuse\n[Output]\nFormat=directory\n` +
        `[Content]\nSourceDateEpoch=1700000000\nPackages=hello\nCleanPackageMetadata=no\n[Build]\nSandboxTrees=${rpmFx}/sandbox/opensuse\n`,
    );
    const r = await buildIn(dir, { verbose: true });
    expect(failure(r)).toBe('');
    const line = treeLine(r.log);
    expect(/zypper (\d+\.\d+\.\d+)/.exec(line)![1]).not.toBe(hostVersion('zypper', ['--version']));
    expect(rpmdb(path.join(dir, 'mkosi.output/image')).has('hello')).toBe(true);
  });

  it("builds an Arch image with the tree's pacman", async () => {
    const m = arch.manifest;
    const dir = project(
      `[Distribution]\nDistribution=arch\nArchitecture=x86-64\nMirror=${archServer.url}/${m.mirror}\n[Output]\nFormat=directory\nOutput=image\n` +
        `[Content]\nSourceDateEpoch=1700000000\nPackages=hello\nCleanPackageMetadata=no\n[Build]\nSandboxTrees=${path.join(arch.dir, m.sandboxTree)}\n`,
    );
    const r = await buildIn(dir, { verbose: true });
    expect(failure(r)).toBe('');
    const pacman = /Pacman v(\d+\.\d+\.\d+)/.exec(treeLine(r.log))![1];
    expect(pacman).not.toBe(hostVersion('pacman', ['--version']));
    const local = fs.readdirSync(path.join(dir, 'mkosi.output/image/var/lib/pacman/local'));
    expect(local.some((d) => d.startsWith('hello-'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'mkosi.output/image/usr/bin/hello'))).toBe(true);
  });

  it('refuses a tools tree without the package manager, naming the Debian package to add, before anything is installed', async () => {
    const bare = tempDir('kiln-tree-pm-bare-');
    fs.mkdirSync(path.join(bare, 'usr/bin'), { recursive: true });
    const dir = tempProject({
      'mkosi.conf':
        `[Distribution]\nDistribution=fedora\nRelease=42\nMirror=${server.url}/fedora\n[Output]\nFormat=directory\n` +
        `[Content]\nPackages=hello\n[Build]\nToolsTree=${bare}\nSandboxTrees=${rpmFx}/sandbox/fedora\n`,
    });
    const r = await buildIn(dir);
    expect(failure(r)).toContain(`the tools tree ${bare} has no dnf: add the Debian package dnf to it (ToolsTreeProfiles= with package-manager, or ToolsTreePackages=dnf for ToolsTree=default)`);
    expect(fs.existsSync(path.join(dir, 'mkosi.output/image'))).toBe(false);
  });
});
