/**
 * The Debian install runs from the tools tree (ToolsTree=, installers/apt/debian.ts): a small
 * bookworm image, locked, bootstrapped by mmdebstrap and then given a package by apt-get on top
 * (BaseTrees=), both from the real test tools tree (trixie: mmdebstrap 1.5, apt 3 with sqv and
 * trixie's debian-archive-keyring), not the host's (Debian 12: mmdebstrap 1.3, apt 2.6). The
 * programs say their versions themselves, asked through the sandbox the install runs them in, and
 * the image comes out right: the packages' files, dpkg's status, and the locked build's check of
 * every .deb against kiln.lock.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildIn, failure, lockIn, removeTempDirs, tempDir, tempProject } from './kiln';
import { testToolsTree } from './tools-tree';

jest.setTimeout(600_000);

let tools: string;
let project: string;
let out: string;
let log: string;

/** A package's version as a dpkg status file lists it (the tools tree's own database). */
function versionIn(status: string, name: string): string {
  const stanza = fs
    .readFileSync(status, 'utf8')
    .split('\n\n')
    .find((s) => s.startsWith(`Package: ${name}\n`));
  const v = stanza && /^Version: (.+)$/m.exec(stanza)?.[1];
  if (!v) throw new Error(`${status} does not list ${name}`);
  return v;
}

/** dpkg's status of `name` in an image, and its version. */
function statusIn(root: string, name: string): string {
  const stanza = fs
    .readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8')
    .split('\n\n')
    .find((s) => s.startsWith(`Package: ${name}\n`));
  return `${/^Status: (.+)$/m.exec(stanza ?? '')?.[1]} ${/^Version: (.+)$/m.exec(stanza ?? '')?.[1]}`;
}

beforeAll(async () => {
  tools = await testToolsTree();
  project = tempProject({
    'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=none\n[Content]\nSourceDateEpoch=1700000000\nWithDocs=no\n[Build]\nToolsTree=${tools}\n`,
    // The essential set with one package (mmdebstrap), and one more on top of it (apt-get).
    'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n[Content]\nPackages=hello\n',
    'mkosi.images/app/mkosi.conf': '[Output]\nFormat=directory\n[Content]\nBaseTrees=%O/base\nPackages=sensible-utils\n',
  });
  out = path.join(project, 'mkosi.output');
  // kiln lock resolves with the host's apt (a lock written without a build runs no tools tree);
  // the build installs exactly that with the tree's.
  const lock = await lockIn(project, { preset: 'app' });
  if (lock.error) throw new Error(`${failure(lock)}\n${lock.log}`);
  // app and the base it starts from (the main image, Format=none, is not needed).
  const run = await buildIn(project, { preset: 'app', verbose: true });
  if (run.error) throw new Error(`${failure(run)}\n${run.log}`);
  log = run.log;
});

afterAll(removeTempDirs);

describe('the Debian install with ToolsTree=', () => {
  it("runs the tools tree's mmdebstrap and apt, as they say themselves, not the host's", () => {
    const status = path.join(tools, 'var/lib/dpkg/status');
    const mmdebstrap = versionIn(status, 'mmdebstrap').replace(/-[^-]+$/, ''); // 1.5.7-1+deb13u1: mmdebstrap says 1.5.7
    const apt = versionIn(status, 'apt');
    const line = `install tools from the tools tree ${tools}: mmdebstrap ${mmdebstrap}, apt ${apt} (amd64)`;
    // Once per build: base (mmdebstrap) and app (apt-get on the base tree).
    expect(log.split('\n').filter((l) => l.trim() === line)).toHaveLength(2);
    // The host's are other versions (Debian 12's), so the line could not have come from them.
    const host = execFileSync('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', 'mmdebstrap', 'apt'], { encoding: 'utf8' });
    expect(host).not.toContain(`apt ${apt}\n`);
    expect(host).not.toMatch(new RegExp(`^mmdebstrap ${mmdebstrap.replace(/\./g, '\\.')}\\b`, 'm'));
  });

  it('installs a correct image: the packages, dpkg status, and the locked versions checked', () => {
    expect(log).toMatch(/^base: locked: \d+ packages/m);
    expect(log).toMatch(/^app: locked: \d+ packages/m);
    for (const [preset, pkg, file] of [
      ['base', 'hello', 'usr/bin/hello'],
      ['app', 'hello', 'usr/bin/hello'],
      ['app', 'sensible-utils', 'usr/bin/sensible-editor'],
    ]) {
      expect(fs.existsSync(path.join(out, preset, file))).toBe(true);
      expect(statusIn(path.join(out, preset), pkg)).toMatch(/^install ok installed \S+$/);
    }
    // The installed versions are the locked ones (the build verified them, and every .deb's SHA256).
    const lock = fs.readFileSync(path.join(project, 'mkosi.images/app/kiln.lock'), 'utf8');
    const version = statusIn(path.join(out, 'app'), 'sensible-utils').split(' ').pop();
    expect(lock).toMatch(new RegExp(`name = "sensible-utils"\\nversion = "${version!.replace(/[.+]/g, '\\$&')}"`));
  });

  it('says which Debian package a ToolsTree=PATH lacks (mmdebstrap), before running anything, and leaves no output', async () => {
    const tree = tempDir('kiln-no-mmdebstrap-');
    fs.mkdirSync(path.join(tree, 'usr/bin'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'usr/bin/systemd-repart'), '');
    const p = tempProject({ 'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=directory\n[Build]\nToolsTree=${tree}\n` });
    const run = await buildIn(p);
    expect(failure(run)).toBe(`proj: the tools tree ${tree} has no mmdebstrap: add the Debian package mmdebstrap to it (ToolsTreePackages=mmdebstrap for ToolsTree=default)`);
    expect(fs.readdirSync(path.join(p, 'mkosi.output')).filter((n) => n !== '.kiln-work')).toEqual([]);
  });
});
