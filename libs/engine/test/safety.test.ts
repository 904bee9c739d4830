/**
 * What a build guarantees beyond "it works": the same inputs give bit-identical tar and cpio
 * outputs; a failing script, an interrupted build (SIGINT) and a killed one (SIGKILL) leave the
 * previous outputs exactly as they were and no half-written file; the next build cleans up.
 * Real bookworm images with the essential set only, to stay quick.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kiln, removeTempDirs, sha256, startKiln, tempProject, waitFor } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

const finalize = [
  '#!/bin/sh',
  'if [ -e "$SRCDIR/fail" ]; then echo "failing on purpose" >&2; exit 3; fi',
  'if [ -e "$SRCDIR/hang" ]; then touch "$SRCDIR/started"; sleep 300; fi',
  // A file written now: its mtime differs every build, and must be clamped.
  'echo finalized > "$BUILDROOT/etc/finalized"',
  '',
].join('\n');

describe('reproducible, atomic builds', () => {
  let root: string;
  let out: string;
  let hashes: Record<string, string>;
  const outputs = () => fs.readdirSync(out).sort();
  // The images and their build manifests: a manifest is as reproducible as the image.
  const hashAll = () => Object.fromEntries(['small.tar.zst', 'initrd.cpio.zst', 'small.manifest.json', 'initrd.manifest.json'].map((f) => [f, sha256(path.join(out, f))]));
  const OUTPUTS = ['initrd.cpio.zst', 'initrd.manifest.json', 'small.manifest.json', 'small.tar.zst'];

  beforeAll(async () => {
    root = tempProject({
      'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=small\nFormat=tar\n[Content]\nSourceDateEpoch=1700000000\nWithDocs=no\n',
      'mkosi.finalize': { text: finalize, mode: 0o755 },
      'mkosi.images/initrd/mkosi.conf': '[Output]\nFormat=cpio\n[Content]\nWithDocs=no\n',
      'mkosi.images/initrd/mkosi.extra/init': { text: '#!/bin/sh\nexec /bin/sh\n', mode: 0o755 },
    });
    out = path.join(root, 'mkosi.output');
    const r = await kiln(['build', '-C', root]);
    expect(r.stderr).not.toMatch(/^kiln: /m);
    hashes = hashAll();
  });

  it('builds the tar and the cpio and their manifests, and nothing else', () => {
    expect(outputs()).toEqual(OUTPUTS);
  });

  it('gives bit-identical tar and cpio outputs when built again', async () => {
    const a = await kiln(['build', '-C', root, '--force']);
    const b = await kiln(['build', '-C', root, '--force', '--preset', 'initrd']);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.stdout).toMatch(/^proj: built small\.tar\.zst/);
    // Same inputs: the log says so, and the manifests are the same bytes.
    expect(a.stderr).toContain('proj: rebuilding, but nothing changed since the last build\n');
    expect(b.stderr).toContain('initrd: rebuilding, but nothing changed since the last build\n');
    expect(hashAll()).toEqual(hashes);
  });

  it('leaves an existing output alone without --force', async () => {
    const before = fs.statSync(path.join(out, 'small.tar.zst')).mtimeMs;
    const r = await kiln(['build', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('proj: up to date');
    expect(fs.statSync(path.join(out, 'small.tar.zst')).mtimeMs).toBe(before);
  });

  it('a failing script fails the build with its name and exit code, and leaves the previous output', async () => {
    fs.writeFileSync(path.join(root, 'fail'), '');
    try {
      const r = await kiln(['build', '-C', root, '--force']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^kiln: proj: finalize script mkosi\.finalize failed \(.*mkosi\.finalize: exit code 3\)\n {2}failing on purpose$/m);
      expect(outputs()).toEqual(OUTPUTS);
      expect(hashAll()).toEqual(hashes);
    } finally {
      fs.rmSync(path.join(root, 'fail'));
    }
  });

  it('an interrupted build (SIGINT) stops, exits 130 and leaves the previous output and no work files', async () => {
    fs.writeFileSync(path.join(root, 'hang'), '');
    try {
      const { child, done } = startKiln(['build', '-C', root, '--force'], root);
      await waitFor(path.join(root, 'started'), 120_000);
      child.kill('SIGINT');
      const r = await done;
      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/kiln: SIGINT: stopping the build/);
      expect(r.stderr).toMatch(/interrupted; previous outputs are unchanged/);
      expect(outputs()).toEqual(OUTPUTS);
      expect(hashAll()).toEqual(hashes);
    } finally {
      fs.rmSync(path.join(root, 'hang'), { force: true });
      fs.rmSync(path.join(root, 'started'), { force: true });
    }
  });

  it('a killed build (SIGKILL) leaves the previous output; the next build removes its work files', async () => {
    fs.writeFileSync(path.join(root, 'hang'), '');
    const { child, done } = startKiln(['build', '-C', root, '--force'], root);
    await waitFor(path.join(root, 'started'), 120_000);
    process.kill(-child.pid!, 'SIGKILL');
    await done;
    fs.rmSync(path.join(root, 'hang'));
    expect(fs.readdirSync(path.join(out, '.kiln-work'))).toHaveLength(1);
    expect(hashAll()).toEqual(hashes);

    const r = await kiln(['build', '-C', root, '--force']);
    expect(r.code).toBe(0);
    expect(outputs()).toEqual(OUTPUTS);
    expect(hashAll()).toEqual(hashes);
  });

  it('the cpio is a newc archive without "./" prefixes, holding the extra tree', async () => {
    const { execFileSync } = await import('node:child_process');
    const list = execFileSync('bash', ['-o', 'pipefail', '-c', `zstd -dc "${path.join(out, 'initrd.cpio.zst')}" | cpio -it --quiet`], { encoding: 'utf8' });
    expect(list.split('\n')).toEqual(expect.arrayContaining(['init', 'usr/bin/dpkg', 'etc/debian_version']));
    expect(list).not.toMatch(/^\.\//m);
    const head = execFileSync('bash', ['-c', `zstd -dc "${path.join(out, 'initrd.cpio.zst')}" | head -c 6`], { encoding: 'utf8' });
    expect(head).toBe('070701');
  });
});
