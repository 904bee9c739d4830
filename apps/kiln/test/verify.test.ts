/**
 * Restored outputs that cannot be poisoned, with the built CLI on one real bookworm pair built
 * once: base (Format=directory, the essential set, from an Incremental=yes layer when rebuilt)
 * and app (BaseTrees=%O/base, Format=tar). Each case does to base's output what a poisoned cache
 * entry would, then runs what Nx's image target runs for app (`kiln build --preset app --no-deps
 * --force`, base's output restored beside it) and `kiln verify`:
 *
 *  - base.tar.zst tampered with: refused (the line names file, expected and found), base rebuilt
 *    here, app built from the rebuilt base: both the same bytes as the first build;
 *  - tampered and its manifest rewritten to match: passes without KILN_ALLOWED_SIGNERS (the
 *    manifest alone cannot tell), refused with it (unsigned);
 *  - signed with the team key (KILN_SIGNING_KEY): passes; signed by another key: refused;
 *  - no manifest (an older kiln's output): refused, saying so.
 *
 * (Through a real Nx remote cache: the remote helper's server suite, merged later.)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeTempDirs, sha256, tempDir, tempProject } from '../../../libs/engine/test/kiln';
import { kiln, type Result } from './run-kiln';

jest.setTimeout(900_000);
afterAll(removeTempDirs);

// The layer cache is the user's (entries are keyed by content): a rerun on this machine starts from it.
const root = tempProject({
  'mkosi.conf':
    '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\nOutput=app\n' +
    '[Content]\nBaseTrees=%O/base\nSourceDateEpoch=1700000000\nWithDocs=no\n[Build]\nIncremental=yes\n',
  'mkosi.extra/etc/app': 'app\n',
  'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\nOutput=base\n[Content]\nWithDocs=no\n',
}, 'app');
const out = path.join(root, 'mkosi.output');
const archive = path.join(out, 'base.tar.zst');
const manifest = path.join(out, 'base.manifest.json');
const sig = `${manifest}.sig`;

const keys = tempDir('kiln-verify-keys-');
const keygen = (name: string) => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(keys, name)]);
  return path.join(keys, name);
};
const team = keygen('team');
const other = keygen('other');
const allowedSigners = path.join(keys, 'allowed_signers');
fs.writeFileSync(allowedSigners, `ci@example.org ${fs.readFileSync(`${team}.pub`, 'utf8')}`);
const WITH_SIGNERS = { KILN_ALLOWED_SIGNERS: allowedSigners };

/** What Nx's image target runs for app once it restored base's outputs. */
const buildApp = (env: Record<string, string> = {}) => kiln(['build', '-C', root, '--preset', 'app', '--no-deps', '--force'], { env });
const verify = (env: Record<string, string> = {}) => kiln(['verify', '-C', root], { env });
/** Only base: app's outputs, built here without a key, are unsigned. */
const verifyBase = (env: Record<string, string> = {}) => kiln(['verify', '-C', root, '--preset', 'base'], { env });
const ok = (r: Result) => {
  if (r.code !== 0) throw new Error(`kiln exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
};
const shaOf = (text: Buffer | string) => createHash('sha256').update(text).digest('hex');
/** The members of a tar.zst. */
const members = (file: string) => execFileSync('tar', ['--zstd', '-tf', file], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n');

/** base.tar.zst with one more file, etc/poisoned: a valid archive, as a poisoned cache entry would hold. */
function poison(): { sha: string; size: number } {
  const work = tempDir('kiln-poison-');
  fs.mkdirSync(path.join(work, 'etc'));
  fs.writeFileSync(path.join(work, 'etc/poisoned'), 'yes\n');
  execFileSync('sh', ['-c', 'zstd -qdc "$1" > "$2/x.tar" && tar -rf "$2/x.tar" -C "$2" ./etc/poisoned && zstd -qf "$2/x.tar" -o "$1"', 'sh', archive, work]);
  const data = fs.readFileSync(archive);
  return { sha: shaOf(data), size: data.length };
}

/** The manifest rewritten to record the file as it is now (what a poisoner would do next). */
function rewriteManifest(now: { sha: string; size: number }): void {
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  m.outputs['base.tar.zst'] = { sha256: now.sha, size: now.size };
  fs.writeFileSync(manifest, `${JSON.stringify(m, null, 2)}\n`);
}

let first: Result;
let clean: { base: string; app: string; size: number };
const recorded = () => `expected sha256 ${clean.base}, ${clean.size} bytes`;

beforeAll(async () => {
  first = await kiln(['build', '-C', root]);
  clean = { base: sha256(archive), app: sha256(path.join(out, 'app.tar.zst')), size: fs.statSync(archive).size };
});

/** After a refusal: base rebuilt in place, the same bytes as the first build, and app built from it. */
function expectRebuilt(r: Result): void {
  expect(r.stderr).toContain('base: rebuilding here: app reads its output, which did not pass the check against its manifest\n');
  expect(r.stdout).toMatch(/^base: built base\.tar\.zst, base in \d+\.\ds\napp: built app\.tar\.zst in \d+\.\ds\n$/);
  expect(sha256(archive)).toBe(clean.base);
  expect(sha256(path.join(out, 'app.tar.zst'))).toBe(clean.app);
  expect(members(path.join(out, 'app.tar.zst'))).not.toContain('./etc/poisoned');
}

describe('outputs checked against their manifest before use', () => {
  it('a build records the SHA-256 and size of each output file; kiln verify passes them and exits 0', async () => {
    expect(first.stderr).not.toMatch(/^kiln: /m);
    expect(first.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(manifest, 'utf8')).outputs).toEqual({ 'base.tar.zst': { sha256: clean.base, size: clean.size } });
    const r = ok(await verify());
    expect(r.stdout).toBe('base: ok (1 file matches mkosi.output/base.manifest.json)\napp: ok (1 file matches mkosi.output/app.manifest.json)\n');
  });

  it('a tampered base.tar.zst: kiln verify exits 1 naming file, expected and found; the build refuses it and rebuilds base before app uses it', async () => {
    const bad = poison();
    const found = `found sha256 ${bad.sha}, ${bad.size} bytes`;
    const v = await verify();
    expect(v.code).toBe(1);
    expect(v.stdout).toBe(
      `mkosi.output/base.tar.zst: ${recorded()}, ${found}\n` +
        'base: failed the check against mkosi.output/base.manifest.json, not to be used: rebuild it (kiln build --preset base --force)\n' +
        'app: ok (1 file matches mkosi.output/app.manifest.json)\n',
    );
    const r = ok(await buildApp());
    expect(r.stderr).toContain(`app: refusing the output of preset base: mkosi.output/base.tar.zst: ${recorded()}, ${found}\n`);
    expectRebuilt(r);
    ok(await verify());
  });

  it('tampered with and the manifest rewritten to match: passes without KILN_ALLOWED_SIGNERS, refused (unsigned) with it', async () => {
    rewriteManifest(poison());
    // The manifest alone cannot tell: this is what signing is for.
    expect((await verify()).code).toBe(0);
    const v = await verify(WITH_SIGNERS);
    expect(v.code).toBe(1);
    const unsigned = 'mkosi.output/base.manifest.json: expected a signature by a key in KILN_ALLOWED_SIGNERS, found unsigned (no signature beside the manifest)';
    expect(v.stdout).toContain(`${unsigned}\nbase: failed the check`);
    const r = ok(await buildApp(WITH_SIGNERS));
    expect(r.stderr).toContain(`app: refusing the output of preset base: ${unsigned}\n`);
    expectRebuilt(r);
  });

  it('signed with the team key (KILN_SIGNING_KEY): passes; signed by another key: refused and rebuilt', async () => {
    const signed = ok(await kiln(['build', '-C', root, '--preset', 'base', '--no-deps', '--force'], { env: { KILN_SIGNING_KEY: team } }));
    expect(signed.stderr).toContain('base: publishing base.tar.zst, base, base.manifest.json.sig, base.manifest.json\n');
    // A signed build is the same image: only the signature is new.
    expect(sha256(archive)).toBe(clean.base);
    const v = ok(await verifyBase(WITH_SIGNERS));
    expect(v.stdout).toBe('base: ok (1 file matches mkosi.output/base.manifest.json, signed by an allowed signer)\n');

    fs.rmSync(sig);
    execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', other, '-n', 'kiln-manifest', manifest]);
    const refused = await verifyBase(WITH_SIGNERS);
    expect(refused.code).toBe(1);
    const line = `mkosi.output/base.manifest.json: expected a signature by a key in KILN_ALLOWED_SIGNERS, found signed by a key that is not in KILN_ALLOWED_SIGNERS=${allowedSigners}`;
    expect(refused.stdout).toContain(`${line}\n`);
    const r = ok(await buildApp({ ...WITH_SIGNERS, KILN_SIGNING_KEY: team }));
    expect(r.stderr).toContain(`app: refusing the output of preset base: ${line}\n`);
    expectRebuilt(r);
    // Rebuilt with the team key at hand: signed again.
    expect(ok(await verifyBase(WITH_SIGNERS)).stdout).toContain('signed by an allowed signer');
    // An unsigned build leaves no signature of an earlier one beside its manifest.
    ok(await kiln(['build', '-C', root, '--preset', 'base', '--no-deps', '--force']));
    expect(fs.existsSync(sig)).toBe(false);
  });

  it('no manifest beside the outputs (an older kiln wrote them): refused, saying so; --preset of a preset never built exits 1', async () => {
    fs.rmSync(manifest);
    const v = await kiln(['verify', '-C', root, '--preset', 'base']);
    expect(v.code).toBe(1);
    expect(v.stdout).toBe(
      'mkosi.output/base.manifest.json: expected a build manifest beside the outputs, found none (outputs of an older kiln, or copied without it)\n' +
        'base: failed the check against mkosi.output/base.manifest.json, not to be used: rebuild it (kiln build --preset base --force)\n',
    );
    for (const f of fs.readdirSync(out)) if (f.startsWith('base')) fs.rmSync(path.join(out, f), { recursive: true });
    const unbuilt = await kiln(['verify', '-C', root, '--preset', 'base']);
    expect([unbuilt.code, unbuilt.stdout]).toEqual([1, 'base: not built, nothing to verify (kiln build --preset base)\n']);
    const none = await kiln(['verify', '-C', root, '--preset', 'nope']);
    expect([none.code, none.stderr]).toEqual([1, 'kiln: no preset named "nope" (accepted: base, app)\n']);
  });
});
