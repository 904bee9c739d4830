/**
 * The incremental layer's key (layers.ts): derived from the settings table's `stage` column, so
 * every setting the steps before the layer read is in it, and keyed by every digest a lock records.
 * No mirror, no build: the key is computed from a project read from disk.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject, SETTINGS, type Lock, type LockedPackage, type SettingDef } from '@kiln/config';
import type { BuildContext } from '../src/context';
import { layerKey } from '../src/layers';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function project(conf: string, files: Record<string, string> = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-layer-key-'));
  dirs.push(root);
  fs.writeFileSync(path.join(root, 'mkosi.conf'), conf);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

function context(root: string): BuildContext {
  const p = loadProject(root, { env: {} });
  return { project: p, preset: p.main, root: '/nonexistent', work: '/nonexistent', packageCache: '/nonexistent', sourceDateEpoch: 0, env: {}, log: () => undefined };
}

const key = async (root: string, lock: Lock | null = null) => (await layerKey(context(root), lock, 'test', (b) => b)).key;

const GENTOO = `[Distribution]\nDistribution=gentoo\nRelease=23.0\nArchitecture=x86-64\nBinhosts=http://127.0.0.1:9/binhost\n[Build]\nIncremental=yes\n`;

describe('the layer key', () => {
  it.each([
    ['PortageProfile=', '[Distribution]\nPortageProfile=default/linux/amd64/23.0/desktop\n'],
    ['GentooInstaller=', '[Distribution]\nGentooInstaller=emerge\n'],
    ['BinpkgSignatures=', '[Distribution]\nBinpkgSignatures=required\n'],
    ['GentooKeyring=', '[Distribution]\nGentooKeyring=keys.asc\n'],
  ])('changes with %s, which the steps before the layer read', async (_, extra) => {
    const before = await key(project(GENTOO, { 'keys.asc': 'key one' }));
    const after = await key(project(GENTOO + extra, { 'keys.asc': 'key one' }));
    expect(after).not.toBe(before);
  });

  it("changes with the contents of GentooKeyring='s file", async () => {
    const a = await key(project(GENTOO + '[Distribution]\nGentooKeyring=keys.asc\n', { 'keys.asc': 'key one' }));
    const b = await key(project(GENTOO + '[Distribution]\nGentooKeyring=keys.asc\n', { 'keys.asc': 'key two' }));
    expect(b).not.toBe(a);
  });

  it('does not change with a setting read only after the layer', async () => {
    const a = await key(project(GENTOO));
    const b = await key(project(GENTOO + '[Content]\nHostname=other\nRemoveFiles=/usr/share/man\n'));
    expect(b).toBe(a);
  });

  it('changes when a locked package is rebuilt at the same version and only its SHA-512 or BLAKE2B tells', async () => {
    const root = project(GENTOO + '[Content]\nPackages=app-misc/hello\n');
    const pkg = (sha512: string): LockedPackage => ({ name: 'app-misc/hello', version: '2.12', architecture: 'amd64', repository: 'http://127.0.0.1:9/binhost', size: 10, 'build-id': 1, sha512 });
    const lock = (p: LockedPackage): Lock => ({
      'lock-version': 1,
      request: { distribution: 'gentoo', release: '23.0', architecture: 'x86-64', mirror: [], repositories: [], packages: ['app-misc/hello'], 'build-packages': [], base: [] },
      package: [p],
      'build-package': [],
    });
    const a = await key(root, lock(pkg('a'.repeat(128))));
    const b = await key(root, lock(pkg('b'.repeat(128))));
    expect(b).not.toBe(a);
  });

  it('every setting read before the layer is in its parts; those of the scripts\' environment when a prepare script runs', async () => {
    // ToolsTree= (role tools) counts as parts.tools, the identity of what the installer runs.
    const install = (SETTINGS as readonly SettingDef[]).filter((d) => (d.stage === 'install' || d.scriptEnv) && d.cache !== 'tools');
    const viaScripts = install.filter((d) => d.cache === 'scripts' || d.cache === 'environment' || d.scriptEnv).map((d) => d.name);
    expect(viaScripts).toEqual(expect.arrayContaining(['Profiles', 'ImageId', 'ImageVersion', 'Environment']));
    const plain = Object.keys((await layerKey(context(project(GENTOO)), null, 'test', (b) => b)).parts);
    for (const d of install) expect(plain.includes(d.name)).toBe(!viaScripts.includes(d.name));
    const scripted = project(GENTOO, { 'mkosi.prepare': '#!/bin/sh\n' });
    fs.chmodSync(path.join(scripted, 'mkosi.prepare'), 0o755);
    const withScript = Object.keys((await layerKey(context(scripted), null, 'test', (b) => b)).parts);
    for (const d of install) expect(withScript).toContain(d.name);
  });

  it('changes with ImageVersion= only when a prepare script can see it', async () => {
    const plain = await key(project(GENTOO + '[Output]\nImageVersion=1\n'));
    expect(await key(project(GENTOO + '[Output]\nImageVersion=2\n'))).toBe(plain);
    const scripted = (v: string) => {
      const root = project(GENTOO + `[Output]\nImageVersion=${v}\n`, { 'mkosi.prepare': '#!/bin/sh\n' });
      fs.chmodSync(path.join(root, 'mkosi.prepare'), 0o755);
      return key(root);
    };
    expect(await scripted('2')).not.toBe(await scripted('1'));
  });
});
