/**
 * `kiln build` and `kiln lock` as a user runs them (the built CLI, in a process of its own): what
 * they print and their exit codes, the identity the CLI records and `kiln explain` compares with,
 * errors as `kiln: message` or `file:line: message`, and a build interrupted (SIGINT to kiln) or
 * killed (SIGKILL to its process group), which leaves the previous outputs exactly as they were
 * and no half-written file; the next build cleans up. Real bookworm images with the essential set
 * only, from the layers kept per machine (test-cache.ts: testLayers), to stay quick. (What the engine builds is tested in libs/engine/test, through its API.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '@kiln/config';
import { removeTempDirs, SMALL_OUTPUTS, smallHashes, smallProject, waitFor } from '../../../libs/engine/test/kiln';
import { testLayers } from '../../../libs/engine/test/test-cache';
import { kiln, startKiln, type Result } from './run-kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

describe('kiln build and kiln lock', () => {
  let root: string;
  let out: string;
  let first: Result;
  let hashes: Record<string, string>;
  const outputs = () => fs.readdirSync(out).sort();
  const hashAll = () => smallHashes(out);
  const OUTPUTS = SMALL_OUTPUTS;

  beforeAll(async () => {
    root = smallProject({ layers: testLayers() });
    out = path.join(root, 'mkosi.output');
    first = await kiln(['build', '-C', root]);
    hashes = hashAll();
  });

  it('builds, printing progress on stderr and what it built on stdout, and exits 0', () => {
    // stderr first, so that a failure shows kiln's message.
    expect(first.stderr).not.toMatch(/^kiln: /m);
    expect(first.stderr).toContain('proj: no previous build (no manifest)\n');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^initrd: built initrd\.cpio\.zst in \d+\.\ds\nproj: built small\.tar\.zst in \d+\.\ds\n$/);
    expect(outputs()).toEqual(OUTPUTS);
  });

  it('records its own identity (version and code hash), with which kiln explain finds nothing changed', async () => {
    const read = readManifest(path.join(out, 'small.manifest.json'));
    if (read.status !== 'found') throw new Error(`no manifest: ${JSON.stringify(read)}`);
    expect(read.manifest.kiln).toMatch(/^0\.1\.0\+[0-9a-f]{16}$/);
    const explain = await kiln(['explain', '-C', root]);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toBe('proj: changes since the last build (mkosi.output/small.manifest.json)\nNothing changed\npackages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n');
  });

  it('says when the outputs exist, prints nothing on stdout and exits 0', async () => {
    const r = await kiln(['build', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('initrd: up to date (its outputs exist; --force rebuilds)\nproj: up to date (its outputs exist; --force rebuilds)\n');
    expect(r.stdout).toBe('');
  });

  it('a failing script exits 1 with "kiln: " and the build error, and leaves the previous output', async () => {
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
      await waitFor(path.join(root, 'started'));
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
    await waitFor(path.join(root, 'started'));
    process.kill(-child.pid!, 'SIGKILL');
    await done;
    fs.rmSync(path.join(root, 'hang'));
    // Its work directory, and its preset's lock file, which no process holds any more.
    expect(fs.readdirSync(path.join(out, '.kiln-work')).sort()).toEqual([expect.stringMatching(/^proj\.\d+$/), 'proj.lock']);
    expect(hashAll()).toEqual(hashes);

    const r = await kiln(['build', '-C', root, '--force']);
    expect(r.code).toBe(0);
    expect(outputs()).toEqual(OUTPUTS);
    expect(hashAll()).toEqual(hashes);
  });

  it('kiln lock prints each lock written and what changed in it', async () => {
    const r = await kiln(['lock', '-C', root]);
    expect(r.stderr).toBe('initrd: resolving packages\nproj: resolving packages\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^initrd: \S*mkosi\.images\/initrd\/kiln\.lock: \d+ packages \(new lock\)$/m);
    const again = await kiln(['lock', '-C', root]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^proj: \S*kiln\.lock: \d+ packages \(unchanged\)$/m);
  });

  it('a damaged lock exits 1 with file:line: message', async () => {
    fs.writeFileSync(path.join(root, 'kiln.lock'), 'lock-version = 1\n[request\n');
    const r = await kiln(['build', '-C', root, '--force', '--no-deps']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/kiln\.lock:2: invalid TOML: .*regenerate it with kiln lock/);
    expect(hashAll()).toEqual(hashes);
  });
});
