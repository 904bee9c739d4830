/**
 * Checking a preset's outputs against its manifest before use (@kiln/config output-check.ts) and
 * the manifest's signature (signing.ts), on files written here: what the manifest records, each
 * kind of mismatch as its line, manifests of older kilns, and real ssh-keygen signatures (signed,
 * unsigned, another key, a manifest changed after signing). The builds that use these checks are
 * in apps/kiln/test/verify.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPresetOutputs, compareOutputs, formatManifest, formatProblem, loadProject, manifestPath, recordOutputs, type Manifest, type OutputProblem, type Preset, type Project } from '@kiln/config';
import { inputsManifest } from '../src/build-manifest';
import { verifyPresetOutputs } from '../src/check-outputs';
import { signManifest } from '../src/signing';
import { removeTempDirs, tempDir, tempProject } from './kiln';

afterAll(removeTempDirs);

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const CONF = '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=directory\nOutput=base\n';

/** A project whose preset "built": its tree, archive and manifest (recording the archive) written here. */
function built(): { project: Project; preset: Preset; out: string; manifest: string } {
  const root = tempProject({ 'mkosi.conf': CONF });
  const project = loadProject(root, { env: {} });
  const preset = project.main;
  const out = preset.config.OutputDirectory;
  fs.mkdirSync(path.join(out, 'base/etc'), { recursive: true });
  fs.writeFileSync(path.join(out, 'base/etc/motd'), 'tree\n');
  fs.writeFileSync(path.join(out, 'base.tar.zst'), 'archive');
  // The manifest of the inputs, as a build writes it (build-manifest.ts).
  const m: Manifest = { ...inputsManifest(project, preset, { env: {} })!, outputs: recordOutputs([[path.join(out, 'base'), 'base'], [path.join(out, 'base.tar.zst'), 'base.tar.zst']]) };
  const manifest = manifestPath(preset)!;
  fs.writeFileSync(manifest, formatManifest(m));
  return { project, preset, out, manifest };
}

const lines = (problems: OutputProblem[], root: string) => problems.map((p) => formatProblem(p, (f) => path.relative(root, f)));

describe('outputs against their manifest', () => {
  it('records the regular output files by SHA-256 and size (a directory image by its archive), and passes them', () => {
    const { preset, manifest } = built();
    expect(JSON.parse(fs.readFileSync(manifest, 'utf8')).outputs).toEqual({ 'base.tar.zst': { sha256: sha('archive'), size: 7 } });
    expect(checkPresetOutputs(preset)).toEqual({ status: 'ok', manifest, files: 1 });
  });

  it('a changed file (same size, or not), a missing one and a directory in its place: one line each, file, expected, found', () => {
    const { preset, out } = built();
    const root = path.dirname(out);
    fs.writeFileSync(path.join(out, 'base.tar.zst'), 'ARCHIVE');
    const check = checkPresetOutputs(preset);
    expect(check.status).toBe('refused');
    const expected = `expected sha256 ${sha('archive')}, 7 bytes`;
    expect(lines((check as { problems: OutputProblem[] }).problems, root)).toEqual([`mkosi.output/base.tar.zst: ${expected}, found sha256 ${sha('ARCHIVE')}, 7 bytes`]);
    fs.writeFileSync(path.join(out, 'base.tar.zst'), 'archive, and more');
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([`mkosi.output/base.tar.zst: ${expected}, found sha256 ${sha('archive, and more')}, 17 bytes`]);
    fs.rmSync(path.join(out, 'base.tar.zst'));
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([`mkosi.output/base.tar.zst: ${expected}, found no such file`]);
    fs.mkdirSync(path.join(out, 'base.tar.zst'));
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([`mkosi.output/base.tar.zst: ${expected}, found not a regular file`]);
  });

  it('outputs without a manifest, a manifest of an older kiln (no outputs recorded) or a damaged one: refused with the reason; nothing at all: not built', () => {
    const { preset, out, manifest } = built();
    const root = path.dirname(out);
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    delete m.outputs;
    fs.writeFileSync(manifest, JSON.stringify(m));
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([
      'mkosi.output/base.manifest.json: expected the SHA-256 of each output, found none recorded (a manifest of an older kiln)',
    ]);
    fs.writeFileSync(manifest, '{');
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([expect.stringMatching(/^mkosi\.output\/base\.manifest\.json: expected a kiln build manifest, found invalid JSON: /)]);
    fs.rmSync(manifest);
    expect(lines((checkPresetOutputs(preset) as { problems: OutputProblem[] }).problems, root)).toEqual([
      'mkosi.output/base.manifest.json: expected a build manifest beside the outputs, found none (outputs of an older kiln, or copied without it)',
    ]);
    fs.rmSync(out, { recursive: true });
    expect(checkPresetOutputs(preset)).toEqual({ status: 'unbuilt' });
  });

  it('compareOutputs names every differing file, sorted', () => {
    const root = tempProject({ 'mkosi.conf': CONF.replace('Format=directory', 'Format=disk').replace('Output=base', 'Output=disk\nSplitArtifacts=kernel') });
    const preset = loadProject(root, { env: {} }).main;
    const dir = tempDir('kiln-outputs-');
    for (const n of ['disk.raw.zst', 'disk.vmlinuz']) fs.writeFileSync(path.join(dir, n), n);
    const m = { preset: preset.name, outputs: recordOutputs(['disk.raw.zst', 'disk.vmlinuz'].map((n) => [path.join(dir, n), n])) } as Manifest;
    fs.writeFileSync(path.join(dir, 'disk.vmlinuz'), 'V');
    fs.writeFileSync(path.join(dir, 'disk.raw.zst'), 'R');
    const check = compareOutputs(m, dir, path.join(dir, 'm.json'), preset);
    expect(check.status === 'refused' && check.problems.map((p) => path.basename(p.file))).toEqual(['disk.raw.zst', 'disk.vmlinuz']);
  });

  it("a manifest is the preset's own and records every output its configuration has (an optional one when it is there), and no other name", () => {
    const root = tempProject({ 'mkosi.conf': CONF.replace('Format=directory', 'Format=disk').replace('Output=base', 'Output=disk\nSplitArtifacts=kernel') });
    const preset = loadProject(root, { env: {} }).main;
    const dir = tempDir('kiln-outputs-');
    fs.writeFileSync(path.join(dir, 'disk.raw.zst'), 'disk');
    const file = path.join(dir, 'disk.manifest.json');
    const outputs = recordOutputs([[path.join(dir, 'disk.raw.zst'), 'disk.raw.zst']]);
    const problems = (m: Manifest) => {
      const c = compareOutputs(m, dir, file, preset);
      return c.status === 'refused' ? lines(c.problems, dir) : c.status;
    };
    // The optional kernel absent and unrecorded: a complete build.
    expect(problems({ preset: preset.name, outputs } as Manifest)).toBe('ok');
    // Another preset's manifest (say a signed one, copied here with its signature).
    expect(problems({ preset: 'system', outputs } as Manifest)).toEqual([`disk.manifest.json: expected the manifest of preset ${preset.name}, found the manifest of preset system`]);
    // An optional output that is there but not recorded is never used unchecked.
    fs.writeFileSync(path.join(dir, 'disk.vmlinuz'), 'kernel');
    expect(problems({ preset: preset.name, outputs } as Manifest)).toEqual(['disk.vmlinuz: expected recorded in disk.manifest.json, found a file the manifest does not record']);
    fs.rmSync(path.join(dir, 'disk.vmlinuz'));
    // A manifest recording other files than the image (a carrier of another preset's outputs): the image unrecorded is refused.
    const other = recordOutputs([[path.join(dir, 'disk.raw.zst'), 'system.tar.zst']]);
    expect(problems({ preset: preset.name, outputs: other } as Manifest)).toEqual([
      `disk.manifest.json: expected only outputs of preset ${preset.name} (disk.raw.zst, disk.vmlinuz), found it records "system.tar.zst"`,
      'disk.raw.zst: expected recorded in disk.manifest.json, found a file the manifest does not record',
    ]);
    // A name outside the output directory is refused, never hashed.
    const secret = path.join(tempDir('kiln-secret-'), 'secret');
    fs.writeFileSync(secret, 'secret');
    const escape = { ...outputs, [path.relative(dir, secret)]: { sha256: sha('secret'), size: 6 } };
    const c = compareOutputs({ preset: preset.name, outputs: escape } as Manifest, dir, file, preset);
    expect(c.status === 'refused' && c.problems.map((p) => p.found)).toEqual([`it records ${JSON.stringify(path.relative(dir, secret))}`]);
    expect(c.status === 'refused' && c.problems.some((p) => p.file === secret)).toBe(false);
  });
});

describe('signed manifests (ssh-keygen -Y)', () => {
  const keys = tempDir('kiln-keys-');
  const keygen = (name: string) => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(keys, name)]);
    return path.join(keys, name);
  };
  const team = keygen('team');
  const other = keygen('other');
  const allowed = path.join(keys, 'allowed_signers');
  fs.writeFileSync(allowed, `ci@kiln ${fs.readFileSync(`${team}.pub`, 'utf8')}`);
  const signed = { KILN_ALLOWED_SIGNERS: allowed };

  function sign(manifest: string, key: string): void {
    const sig = signManifest(manifest, { KILN_SIGNING_KEY: key });
    expect(sig).toBe(`${manifest}.sig`);
  }

  it('no KILN_SIGNING_KEY: nothing signed; no KILN_ALLOWED_SIGNERS: a signature is not asked for', () => {
    const { project, preset, manifest } = built();
    expect(signManifest(manifest, {})).toBeNull();
    expect(fs.existsSync(`${manifest}.sig`)).toBe(false);
    expect(verifyPresetOutputs(project, preset, { env: {} }).status).toBe('ok');
  });

  it('signed by the team key: passes; unsigned, signed by another key, or the manifest changed after signing: refused, saying which', () => {
    const { project, preset, out, manifest } = built();
    const root = path.dirname(out);
    const problems = () => {
      const c = verifyPresetOutputs(project, preset, { env: signed });
      return c.status === 'refused' ? lines(c.problems, root) : c.status;
    };
    const line = (found: string) => `mkosi.output/base.manifest.json: expected a signature by a key in KILN_ALLOWED_SIGNERS, found ${found}`;
    expect(problems()).toEqual([line('unsigned (no signature beside the manifest)')]);
    sign(manifest, team);
    expect(problems()).toBe('ok');
    sign(manifest, other);
    expect(problems()).toEqual([line(`signed by a key that is not in KILN_ALLOWED_SIGNERS=${allowed}`)]);
    sign(manifest, team);
    // A manifest rewritten to match a tampered output: its signature no longer verifies.
    fs.writeFileSync(path.join(out, 'base.tar.zst'), 'tampered');
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    m.outputs['base.tar.zst'] = { sha256: sha('tampered'), size: 8 };
    fs.writeFileSync(manifest, formatManifest(m));
    expect(checkPresetOutputs(preset).status).toBe('ok');
    expect(problems()).toEqual([line('the signature does not verify (Signature verification failed: incorrect signature)')]);
  });

  it('a key or allowed-signers file that is not there is an error naming the variable', () => {
    const { project, preset, manifest } = built();
    expect(() => signManifest(manifest, { KILN_SIGNING_KEY: '/nonexistent/key' })).toThrow('KILN_SIGNING_KEY=/nonexistent/key: no such file');
    expect(() => verifyPresetOutputs(project, preset, { env: { KILN_ALLOWED_SIGNERS: 'relative' } })).toThrow('KILN_ALLOWED_SIGNERS=relative: no such file');
  });

  it('a signed build of other inputs (an old build replayed under a new cache key): refused, naming kiln explain --against; the same inputs pass', () => {
    const { project, preset, out, manifest } = built();
    const root = path.dirname(out);
    sign(manifest, team);
    expect(verifyPresetOutputs(project, preset, { env: signed }).status).toBe('ok');
    // main moves on (Hostname=); the signed build of before stays in the cache under the new hash.
    fs.appendFileSync(path.join(root, 'mkosi.conf'), '[Content]\nHostname=new\n');
    const now = loadProject(root, { env: {} });
    const c = verifyPresetOutputs(now, now.main, { env: signed });
    expect(c.status === 'refused' && lines(c.problems, root)).toEqual([
      `mkosi.output/base.manifest.json: expected a build of the inputs here, found a build of other inputs (kiln explain -C ${path.relative(process.cwd(), root)} --against ${path.relative(process.cwd(), manifest)} shows which)`,
    ]);
    // Without KILN_ALLOWED_SIGNERS a manifest proves nothing about who built it: only the outputs are checked.
    expect(verifyPresetOutputs(now, now.main, { env: {} }).status).toBe('ok');
  });
});
