/**
 * The installers' own facts, without building: which tools identify a build (the build
 * manifest, the layer key and the Nx fingerprint must name the same ones), and the lock's
 * change report in each installer's version order.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fingerprintLines, loadProject, type Project } from '@kiln/config';
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
  it('Debian with ToolsTree=: the host tools apt runs, not the tools tree it does not run', () => {
    const p = project({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=trixie\n[Build]\nToolsTree=mkosi.tools\n', ...TOOLS_TREE });
    const tools = toolsIdentity(p, p.main);
    expect(Object.keys(tools).sort()).toEqual(['apt-get', 'dpkg', 'mmdebstrap']);
  });

  it.each([
    ['Debian with a tools tree', '[Distribution]\nDistribution=debian\nRelease=trixie\n[Build]\nToolsTree=mkosi.tools\n'],
    ['Gentoo natively', '[Distribution]\nDistribution=gentoo\nBinhosts=http://binhost.example\n'],
    ['Gentoo with emerge from a tools tree', '[Distribution]\nDistribution=gentoo\nGentooInstaller=emerge\nBinhosts=http://binhost.example\n[Build]\nToolsTree=mkosi.tools\n'],
  ])('%s: the manifest records the tools the Nx fingerprint hashes, line for line', (_, conf) => {
    const p = project({ 'mkosi.conf': conf, ...TOOLS_TREE });
    const fingerprint = fingerprintLines(p.root, undefined, { identity: 'test', cacheDir: null }).filter((l) => l.startsWith('tool '));
    expect(Object.entries(toolsIdentity(p, p.main)).map(([k, v]) => `tool ${k} ${v}`)).toEqual(fingerprint);
    expect(fingerprint.length).toBeGreaterThan(0);
  });
});
