/**
 * `kiln explain --against MANIFEST` (the inputs here against a manifest from elsewhere: a remote
 * cache's, CI's) and tool identity in the fingerprint, with the built CLI and no build: the
 * manifest compared with is the one `kiln explain --json` computes for the inputs as they are
 * (what a build would record), saved, then one input changed. A different mmdebstrap (a wrapper
 * first on KILN_TOOLS_PATH that reports another version and runs the real one) changes
 * `kiln digest` and `kiln explain` names it. And `kiln verify` where nothing was built.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeTempDirs, tempDir, tempProject } from '../../../libs/engine/test/kiln';
import { kiln } from './run-kiln';

jest.setTimeout(120_000);
afterAll(removeTempDirs);

const root = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\nOutput=app\n[Content]\nHostname=one\n' }, 'app');
const saved = path.join(tempDir('kiln-against-'), 'ci.manifest.json');

/** A wrapper named mmdebstrap that reports another version and runs the real one otherwise. */
const bin = tempDir('kiln-tools-');
fs.writeFileSync(path.join(bin, 'mmdebstrap'), '#!/bin/sh\nif [ "$1" = --version ]; then echo "mmdebstrap 99.0"; exit 0; fi\nexec /usr/bin/mmdebstrap "$@"\n', { mode: 0o755 });
const OTHER_TOOLS = { KILN_TOOLS_PATH: bin };
const realVersion = execFileSync('mmdebstrap', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();

const UNLOCKED = 'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n';

beforeAll(async () => {
  // What a build here would record, saved as if it came from CI.
  const r = await kiln(['explain', '-C', root, '--json']);
  expect(r.code).toBe(0);
  fs.writeFileSync(saved, `${JSON.stringify(JSON.parse(r.stdout).current, null, 2)}\n`);
});

describe('kiln explain --against', () => {
  it('the same inputs: nothing changed (the preset is the one the manifest names)', async () => {
    const r = await kiln(['explain', '-C', root, '--against', saved]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`app: changes from ${saved} to the inputs here\nNothing changed\n${UNLOCKED}`);
  });

  it('one input changed here: names it', async () => {
    const conf = path.join(root, 'mkosi.conf');
    const before = fs.readFileSync(conf, 'utf8');
    fs.writeFileSync(conf, before.replace('Hostname=one', 'Hostname=two'));
    try {
      const r = await kiln(['explain', '-C', root, '--against', saved]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`app: changes from ${saved} to the inputs here\nsettings:\n  Hostname: "one" -> "two"\nfiles:\n  mkosi.conf changed (content)\n${UNLOCKED}`);
      const json = JSON.parse((await kiln(['explain', '-C', root, '--against', saved, '--json'])).stdout);
      expect(json).toMatchObject({ preset: 'app', against: saved, changed: true, diff: { settings: [{ name: 'Hostname', old: 'one', new: 'two' }] } });
    } finally {
      fs.writeFileSync(conf, before);
    }
  });

  it('a file that is not a kiln manifest, or none: exit 1 with the reason', async () => {
    const missing = await kiln(['explain', '-C', root, '--against', `${saved}.nope`]);
    expect([missing.code, missing.stderr]).toEqual([1, `kiln: --against ${saved}.nope: no such file (give a manifest, OUTPUT.manifest.json, from another build)\n`]);
    const foreign = path.join(path.dirname(saved), 'package.json');
    fs.writeFileSync(foreign, '{"name": "x"}\n');
    const r = await kiln(['explain', '-C', root, '--against', foreign]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^kiln: --against cannot compare: ${foreign.replace(/[.]/g, '\\.')} is not a kiln manifest \\(manifestVersion: .+\\)\\n$`));
  });
});

describe('tool identity', () => {
  it('another mmdebstrap version (a wrapper first on the tools PATH) changes kiln digest, and kiln explain names the tool', async () => {
    // The wrapper does run the real mmdebstrap.
    expect(execFileSync(path.join(bin, 'mmdebstrap'), ['--help'], { encoding: 'utf8' })).toContain('mmdebstrap');
    const digest = async (env: Record<string, string> = {}) => {
      const r = await kiln(['digest', '-C', root], { env });
      expect(r.code).toBe(0);
      return r.stdout.trim();
    };
    const here = await digest();
    expect(await digest(OTHER_TOOLS)).not.toBe(here);
    expect((await kiln(['digest', '-C', root, '--list'], { env: OTHER_TOOLS })).stdout).toContain('tool mmdebstrap mmdebstrap 99.0\n');
    // dpkg and bubblewrap are part of it too.
    const lines = (await kiln(['digest', '-C', root, '--list'])).stdout;
    expect(lines).toMatch(/^tool dpkg Debian 'dpkg' package management program version /m);
    expect(lines).toMatch(/^tool bwrap bubblewrap /m);

    const r = await kiln(['explain', '-C', root, '--against', saved], { env: OTHER_TOOLS });
    expect(r.stdout).toBe(`app: changes from ${saved} to the inputs here\ntools:\n  mmdebstrap: ${realVersion} -> mmdebstrap 99.0\n${UNLOCKED}`);
  });
});

describe('kiln verify with nothing built (the checks themselves: verify.test.ts)', () => {
  it('names each preset as not built or writing no outputs, and exits 0; a preset asked for by name and not built exits 1', async () => {
    const dir = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n', 'mkosi.images/n/mkosi.conf': '[Output]\nFormat=none\n' }, 'p');
    const all = await kiln(['verify', '-C', dir]);
    expect([all.code, all.stdout]).toEqual([0, 'n: Format=none writes no outputs, nothing to verify\np: not built, nothing to verify (kiln build --preset p)\n']);
    const one = await kiln(['verify', '-C', dir, '-p', 'p']);
    expect([one.code, one.stdout]).toEqual([1, 'p: not built, nothing to verify (kiln build --preset p)\n']);
  });
});
