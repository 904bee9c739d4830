/**
 * What a build guarantees beyond "it works": the same inputs give bit-identical tar and cpio
 * outputs; a failing script leaves the previous outputs exactly as they were and no half-written
 * file. Real bookworm images with the essential set only, to stay quick. (An interrupted or killed
 * `kiln build` is a process's behaviour: apps/kiln/test/build.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BuildError } from '../src/errors';
import { buildIn, failure, removeTempDirs, SMALL_OUTPUTS, smallHashes, smallProject } from './kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

describe('reproducible, atomic builds', () => {
  let root: string;
  let out: string;
  let hashes: Record<string, string>;
  const outputs = () => fs.readdirSync(out).sort();
  const hashAll = () => smallHashes(out);
  const OUTPUTS = SMALL_OUTPUTS;

  beforeAll(async () => {
    root = smallProject();
    out = path.join(root, 'mkosi.output');
    const r = await buildIn(root);
    expect(r.error).toBeUndefined();
    hashes = hashAll();
  });

  it('builds the tar and the cpio and their manifests, and nothing else', () => {
    expect(outputs()).toEqual(OUTPUTS);
  });

  it('gives bit-identical tar and cpio outputs when built again', async () => {
    const a = await buildIn(root, { force: true });
    const b = await buildIn(root, { force: true, preset: 'initrd' });
    expect([a.error, b.error]).toEqual([undefined, undefined]);
    expect(a.results?.filter((r) => r.status === 'built').map((r) => `${r.preset}: ${r.outputs[0]}`)).toEqual(['proj: small.tar.zst']);
    // Same inputs: the log says so, and the manifests are the same bytes.
    expect(a.log).toContain('proj: rebuilding, but nothing changed since the last build\n');
    expect(b.log).toContain('initrd: rebuilding, but nothing changed since the last build\n');
    expect(hashAll()).toEqual(hashes);
  });

  it('leaves an existing output alone without --force', async () => {
    const before = fs.statSync(path.join(out, 'small.tar.zst')).mtimeMs;
    const r = await buildIn(root);
    expect(r.error).toBeUndefined();
    expect(r.log).toContain('proj: up to date');
    expect(fs.statSync(path.join(out, 'small.tar.zst')).mtimeMs).toBe(before);
  });

  it('a failing script fails the build with its name and exit code, and leaves the previous output', async () => {
    fs.writeFileSync(path.join(root, 'fail'), '');
    try {
      const r = await buildIn(root, { force: true });
      expect(r.error).toBeInstanceOf(BuildError);
      expect(failure(r)).toMatch(/^proj: finalize script mkosi\.finalize failed \(.*mkosi\.finalize: exit code 3\)\n {2}failing on purpose$/m);
      expect(outputs()).toEqual(OUTPUTS);
      expect(hashAll()).toEqual(hashes);
    } finally {
      fs.rmSync(path.join(root, 'fail'));
    }
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
