/**
 * What build() does before it builds anything, on projects written here (nothing is built): the
 * pre-flight checks cover the presets a --no-deps build may rebuild (the producers whose outputs
 * it reads), and a build checks those outputs before it takes its own preset's lock (no waiting
 * for one preset's lock while holding another's, which kiln clean could deadlock with).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import { build, lockProject } from '../src/build';
import { presetLockFile, takeLock } from '../src/locks';
import { removeTempDirs, tempDir, tempProject } from './kiln';

afterAll(removeTempDirs);

const APP = '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\nOutput=app\n[Content]\nBaseTrees=%O/base\n';
const project = (base: string) => loadProject(tempProject({ 'mkosi.conf': APP, 'mkosi.images/base/mkosi.conf': `[Output]\nFormat=directory\nOutput=base\n${base}` }, 'app'), { env: {} });
const env = () => ({ ...process.env, XDG_CACHE_HOME: tempDir('kiln-cache-') });

describe('build pre-flight', () => {
  it('--no-deps (as Nx and turbo run it): a producer the build may rebuild here is checked with the target, at its line', async () => {
    const spaced = project('[Content]\nPackages=vim less\n');
    await expect(build(spaced, { preset: 'app', noDeps: true, env: env() })).rejects.toThrow(/mkosi\.images\/base\/mkosi\.conf:5: Packages=: "vim less" is one item holding a space/);
    const unsupported = project('[Validation]\nSecureBoot=yes\n');
    await expect(build(unsupported, { preset: 'app', noDeps: true, env: env() })).rejects.toThrow(/mkosi\.images\/base\/mkosi\.conf:5: SecureBoot=yes: not supported by kiln yet/);
  });

  it("checks the outputs it reads before it takes its own preset's lock", async () => {
    const p = project('');
    const out = p.main.config.OutputDirectory;
    // Another process (here: this test) holds base's lock; the build of app waits for it.
    const held = await takeLock(presetLockFile(out, 'base'), 'exclusive', { doing: 'a test' });
    const abort = new AbortController();
    let appLockFree: boolean | null = null;
    const waited = new Promise<void>((resolve) => {
      const step = (preset: string, what: string) => {
        if (preset !== 'base' || !what.startsWith('waiting for')) return;
        // While it waits for base's lock, app's is free: flock --nonblock gets it.
        appLockFree = spawnSync('flock', ['--nonblock', '--exclusive', presetLockFile(out, 'app'), 'true']).status === 0;
        resolve();
      };
      void build(p, { preset: 'app', noDeps: true, env: env(), signal: abort.signal, step }).catch(() => resolve());
    });
    await waited;
    abort.abort();
    held.release();
    expect(appLockFree).toBe(true);
  });

  it('a signing key or allowed-signers file that cannot be used is an error before the build starts (nothing written)', async () => {
    const keys = tempDir('kiln-keys-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', path.join(keys, 'locked')]);
    const p = project('');
    const steps: string[] = [];
    const step = (preset: string, what: string) => steps.push(`${preset}: ${what}`);
    await expect(build(p, { preset: 'base', env: { ...env(), KILN_SIGNING_KEY: path.join(keys, 'locked') }, step })).rejects.toThrow(
      `KILN_SIGNING_KEY=${path.join(keys, 'locked')}: not a private key a build can sign with (Load key "${path.join(keys, 'locked')}": incorrect passphrase supplied to decrypt private key; a build signs unattended: use a key without a passphrase)`,
    );
    await expect(build(p, { preset: 'base', env: { ...env(), KILN_SIGNING_KEY: 'key' }, step })).rejects.toThrow('KILN_SIGNING_KEY=key: no such file');
    // A preset reading no other's outputs never checks one: the file is still checked up front.
    await expect(build(p, { preset: 'base', env: { ...env(), KILN_ALLOWED_SIGNERS: path.join(keys, 'none') }, step })).rejects.toThrow(`KILN_ALLOWED_SIGNERS=${path.join(keys, 'none')}: no such file`);
    expect(steps).toEqual([]);
    expect(fs.existsSync(p.main.config.OutputDirectory)).toBe(false);
  });

  it('kiln lock refuses what a build refuses of the values (one check): a spaced package and a value kiln cannot build', async () => {
    await expect(lockProject(project('[Content]\nPackages=vim less\n'), { preset: 'base', env: env() })).rejects.toThrow(/mkosi\.images\/base\/mkosi\.conf:5: Packages=: "vim less" is one item holding a space/);
    await expect(lockProject(project('[Content]\nHostname=a_b\n'), { preset: 'base', env: env() })).rejects.toThrow(/mkosi\.images\/base\/mkosi\.conf:5: Hostname=: /);
  });
});
