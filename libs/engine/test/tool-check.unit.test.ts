/**
 * requireTool (tool-check.ts): without a tools tree, a host tool that is missing or too old is an
 * error naming the Debian package, the version needed and ToolsTree=default; with a tools tree,
 * the tool must be in the tree. The host tools here are small scripts on KILN_TOOLS_PATH that
 * print a version line, so the test does not depend on what this host has.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildContext } from '../src/context';
import { compareVersions, KNOWN_TOOLS, requireTool, versionOf } from '../src/tool-check';
import { removeTempDirs, tempDir } from './kiln';

afterAll(removeTempDirs);

/** A directory of tools that print `version` for --version. */
function fakeTools(tools: Record<string, string>): string {
  const dir = tempDir('kiln-fake-tools-');
  for (const [name, version] of Object.entries(tools)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho '${version}'\n`, { mode: 0o755 });
  return dir;
}

const ctx = (env: Record<string, string | undefined>, tools: string | null = null) => ({ preset: { name: 'disk' }, env, tools }) as unknown as BuildContext;
const REPART = { package: 'systemd-repart', min: '254', feature: '--offline', from: 'bookworm-backports' };

describe('requireTool without a tools tree', () => {
  it('refuses a host tool older than needed, naming the package, the version and ToolsTree=default', () => {
    const dir = fakeTools({ 'kiln-test-repart': 'systemd 252 (252.30-1~deb12u2)' });
    expect(() => requireTool(ctx({ KILN_TOOLS_PATH: dir }), 'kiln-test-repart', REPART)).toThrow(
      'disk: kiln-test-repart 252 on this host lacks --offline (254+): install systemd-repart 254 or later from bookworm-backports, or set ToolsTree=default (kiln builds a tools tree that has it)',
    );
  });

  it('takes a host tool that is new enough, with its version', () => {
    const dir = fakeTools({ 'kiln-test-repart': 'systemd 257 (257.9-1~deb13u1)' });
    expect(requireTool(ctx({ KILN_TOOLS_PATH: dir }), 'kiln-test-repart', REPART)).toEqual({ path: path.join(dir, 'kiln-test-repart'), version: '257', fromTree: false });
  });

  it('refuses a missing host tool, naming the package', () => {
    expect(() => requireTool(ctx({}), 'kiln-test-ukify', { package: 'systemd-ukify', min: '254' })).toThrow(
      'disk: kiln-test-ukify is not installed on this host: install the Debian package systemd-ukify 254 or later, or set ToolsTree=default (kiln builds a tools tree that has it)',
    );
  });

  it('asks no version when none is needed', () => {
    const dir = fakeTools({ 'kiln-test-mcopy': 'not a version' });
    expect(requireTool(ctx({ KILN_TOOLS_PATH: dir }), 'kiln-test-mcopy', { package: 'mtools' })).toMatchObject({ version: null, fromTree: false });
  });
});

describe('requireTool with a tools tree', () => {
  it('finds the tool in the tree (as the sandbox sees it) without asking the host', () => {
    const tree = tempDir('kiln-tools-');
    fs.mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'usr/bin/kiln-test-repart'), '', { mode: 0o755 });
    expect(requireTool(ctx({}, tree), 'kiln-test-repart', REPART)).toEqual({ path: '/usr/bin/kiln-test-repart', version: null, fromTree: true });
  });

  it('says which package the tree lacks', () => {
    const tree = tempDir('kiln-tools-');
    expect(() => requireTool(ctx({}, tree), 'kiln-test-ukify', { package: 'systemd-ukify' })).toThrow(
      `disk: the tools tree ${tree} has no kiln-test-ukify: add the Debian package systemd-ukify to it (ToolsTreePackages=systemd-ukify for ToolsTree=default)`,
    );
  });
});

describe('the known tools', () => {
  it("take their requirement from KNOWN_TOOLS: systemd-repart needs 254's --offline", () => {
    expect(KNOWN_TOOLS['systemd-repart']).toEqual(REPART);
    const tree = tempDir('kiln-tools-');
    expect(() => requireTool(ctx({}, tree), 'mkfs.erofs')).toThrow(/has no mkfs\.erofs: add the Debian package erofs-utils to it/);
  });

  it('refuse a tool kiln does not know without a requirement (a bug in the caller)', () => {
    expect(() => requireTool(ctx({}), 'kiln-unknown')).toThrow(/add kiln-unknown to KNOWN_TOOLS/);
  });
});

describe('versions', () => {
  it('reads the first dotted number of a version line and compares numerically', () => {
    expect(versionOf('systemd 252 (252.30-1~deb12u2)')).toBe('252');
    expect(versionOf('mkfs.erofs 1.8.6')).toBe('1.8.6');
    expect(versionOf('no version')).toBeNull();
    expect(compareVersions('254.1', '254')).toBe(1);
    expect(compareVersions('9', '10')).toBe(-1);
    expect(compareVersions('257', '257.0')).toBe(0);
  });
});

