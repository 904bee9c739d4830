/**
 * The tools each installer is identified by (tools-identity.ts): the lines the Nx fingerprint
 * hashes and the build manifest records. Host tools by their version lines, a tools tree by its
 * digest, a Gentoo host's portage by its vdb record, a stage3 by kiln.lock.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprintLines, HOST_TOOLS, loadProject, portageTools, toolsIdentity, toolSourceOf, type ToolSource } from '../src';
import { makeProject } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tools-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A directory tree from relative paths and contents. */
function tree(dir: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const EMPTY_HOST = tree(path.join(tmp, 'plain-host'), { 'etc/os-release': 'ID=debian\n' });
const GENTOO_HOST = tree(path.join(tmp, 'gentoo-host'), {
  'etc/gentoo-release': 'Gentoo Base System release 2.17\n',
  'usr/bin/emerge': '#!/usr/bin/python\n',
  'var/db/pkg/sys-apps/portage-3.0.66.1-r1/SLOT': '0\n',
  'var/db/pkg/sys-apps/sandbox-2.39/SLOT': '0\n',
});

/**
 * Stand-ins for the host's tools, found first through KILN_TOOLS_PATH (tools are looked up on the
 * tools' fixed PATH, never the builder's): each prints "NAME fake 1.0" for --version.
 */
const FAKE_BIN = path.join(tmp, 'fake-bin');
for (const name of ['mmdebstrap', 'apt-get', 'dpkg', 'bwrap', 'ldconfig', 'systemd-sysusers', 'systemd-hwdb']) {
  fs.mkdirSync(FAKE_BIN, { recursive: true });
  fs.writeFileSync(path.join(FAKE_BIN, name), `#!/bin/sh\necho "${name} fake 1.0"\n`, { mode: 0o755 });
}
const FAKE_ENV = { PATH: '/nonexistent', KILN_TOOLS_PATH: FAKE_BIN };
const fake = (...names: string[]) => Object.fromEntries(names.map((n) => [n, `${n} fake 1.0`]));

const source = (s: Partial<ToolSource>): ToolSource => ({ packageManager: 'apt', variant: null, toolsTree: null, ...s });
const identity = (s: ToolSource, hostRoot = EMPTY_HOST) => toolsIdentity(s, { root: tmp, env: FAKE_ENV, cacheDir: null, hostRoot });

describe("an installer's tools", () => {
  it('apt: the host mmdebstrap, apt-get, dpkg and bubblewrap; with a ToolsTree= the install and the output steps run from it: the tree by its digest alone', () => {
    const host = fake('mmdebstrap', 'apt-get', 'dpkg', 'bwrap');
    expect(identity(source({}))).toEqual(host);
    expect(Object.keys(identity(source({})))).toEqual(HOST_TOOLS.apt.map(([cmd]) => cmd));
    const tools = tree(path.join(tmp, 'apt-tools'), { 'usr/bin/mmdebstrap': 'mmdebstrap\n' });
    const first = identity(source({ toolsTree: tools }));
    expect(first).toEqual({ ToolsTree: 'apt-tools', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    fs.writeFileSync(path.join(tools, 'usr/bin/mmdebstrap'), 'another mmdebstrap\n');
    expect(identity(source({ toolsTree: tools })).digest).not.toBe(first.digest);
    // The incremental layer's key (the install's tools only) is the tree too: the install ran from it.
    expect(toolsIdentity(source({ toolsTree: tools }), { root: tmp, env: FAKE_ENV, cacheDir: null, hostRoot: EMPTY_HOST, outputTools: false })).toEqual(identity(source({ toolsTree: tools })));
  });

  it('apt with ToolsTree=default: the generated tools preset (its settings and lock) names the install tools as well', () => {
    const toolsPreset = { name: 'tools', settingsHash: 'abc', lockfile: path.join(tmp, 'no-such.lock') };
    const named = { ToolsTree: 'preset tools', 'tools-settings': 'abc', 'tools-lock': 'unlocked' };
    expect(identity(source({ toolsTree: 'default', toolsPreset }))).toEqual(named);
    expect(toolsIdentity(source({ toolsTree: 'default', toolsPreset }), { root: tmp, env: FAKE_ENV, cacheDir: null, outputTools: false })).toEqual(named);
  });

  it("Gentoo's native installer: kiln itself, and the host tools it runs on the image (and the output steps' tools tree)", () => {
    const tools = tree(path.join(tmp, 'native-tools'), { 'usr/bin/mkfs.erofs': 'erofs\n' });
    expect(identity(source({ packageManager: 'portage', variant: 'native', toolsTree: tools }))).toEqual({
      ...fake('ldconfig', 'systemd-sysusers', 'systemd-hwdb', 'bwrap'),
      ToolsTree: 'native-tools',
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('emerge: the tools tree by its digest, which follows its content and modes', () => {
    const tools = tree(path.join(tmp, 'tools'), { 'usr/bin/emerge': '#!/bin/sh\n' });
    const s = source({ packageManager: 'portage', variant: 'emerge', toolsTree: tools });
    const first = identity(s, GENTOO_HOST);
    expect(first).toEqual({ ToolsTree: 'tools', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    fs.chmodSync(path.join(tools, 'usr/bin/emerge'), 0o755);
    expect(identity(s, GENTOO_HOST).digest).not.toBe(first.digest);
  });

  it("emerge without a tools tree: a Gentoo host's portage by its vdb record, else the stage3 kiln.lock pins", () => {
    const s = source({ packageManager: 'portage', variant: 'emerge', toolsTree: 'default' });
    expect(portageTools('default', GENTOO_HOST)).toEqual({ from: 'host' });
    expect(identity(s, GENTOO_HOST)).toEqual({ portage: "sys-apps/portage-3.0.66.1-r1 (the host's)" });
    expect(portageTools(null, EMPTY_HOST)).toEqual({ from: 'stage3' });
    expect(identity(s, EMPTY_HOST)).toEqual({ portage: 'a stage3 from Mirror= (kiln.lock pins it)' });
  });

  it('a distribution without an installer yet runs nothing that could be named', () => {
    expect(identity(source({ packageManager: 'apk' }))).toEqual({});
    expect(identity(source({ packageManager: null }))).toEqual({});
  });

  it("a preset's tool source comes from its distribution's package manager", () => {
    const config = (conf: string) => loadProject(makeProject({ 'mkosi.conf': conf }), { env: {} }).main.config;
    expect(toolSourceOf(config('[Distribution]\nDistribution=kali\n'))).toEqual({ packageManager: 'apt', variant: null, toolsTree: null });
    expect(toolSourceOf(config('[Distribution]\nDistribution=gentoo\nGentooInstaller=emerge\n[Build]\nToolsTree=default\n'))).toEqual({ packageManager: 'portage', variant: 'emerge', toolsTree: 'default' });
    expect(toolSourceOf(config('[Distribution]\nDistribution=fedora\n'))).toMatchObject({ packageManager: 'dnf' });
  });
});

describe('the fingerprint', () => {
  it("Debian's tools tree (the install and the output steps run from it) counts by its digest, once: not by its files, nor the host's apt", () => {
    const root = makeProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=trixie\n[Build]\nToolsTree=mkosi.tools\n', 'mkosi.tools/usr/bin/apt': 'apt\n' });
    const lines = fingerprintLines(root, undefined, { identity: 'test', cacheDir: null, env: FAKE_ENV });
    expect(lines.filter((l) => l.startsWith('tool '))).toEqual(['tool ToolsTree mkosi.tools', expect.stringMatching(/^tool digest [0-9a-f]{64}$/)]);
    expect(lines.filter((l) => l.includes('mkosi.tools/'))).toEqual([]);
  });

  it("emerge's tools tree counts by its digest, once", () => {
    const root = makeProject({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\nGentooInstaller=emerge\n[Build]\nToolsTree=mkosi.tools\n', 'mkosi.tools/usr/bin/emerge': 'emerge\n' });
    const lines = fingerprintLines(root, undefined, { identity: 'test', cacheDir: null, env: {} });
    expect(lines.filter((l) => l.startsWith('tool '))).toEqual(['tool ToolsTree mkosi.tools', expect.stringMatching(/^tool digest [0-9a-f]{64}$/)]);
    expect(lines.filter((l) => l.includes('mkosi.tools/'))).toEqual([]);
  });
});
