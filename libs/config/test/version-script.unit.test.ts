/**
 * An executable mkosi.version gives ImageVersion= its output (mkosi 26's file_run_or_read); any
 * other mkosi.version its text. The reader runs it through the ScriptRunner its caller passes
 * (LoadOptions.runScript); here a plain runner (the sandboxed one is the engine's, tested in
 * libs/engine/test/config-script.test.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, fingerprintLines, loadProject, type ScriptRunner } from '../src';
import { makeProject } from './helpers';

const calls: { file: string; cwd: string }[] = [];
const runScript: ScriptRunner = (file, { cwd, env }) => {
  calls.push({ file, cwd });
  try {
    return execFileSync(file, [], { cwd, env: env as NodeJS.ProcessEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { status: number; stderr: string };
    throw new Error(`exit status ${err.status} (${err.stderr.trim().split('\n').pop()})`);
  }
};

function project(files: Record<string, string | null>, executable: string[] = []): string {
  const root = makeProject(files);
  for (const f of executable) fs.chmodSync(path.join(root, f), 0o755);
  return root;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

beforeEach(() => calls.splice(0));

describe('mkosi.version', () => {
  it('executable: its output is ImageVersion=, and Output=%v has it; it runs once, in the config directory', () => {
    const root = project(
      {
        'mkosi.conf': '[Output]\nFormat=tar\nOutput=img_%v\n',
        'mkosi.version': '#!/bin/sh\n# the directory it runs in, and a version made from it\nprintf "%s\\n" "$(basename "$PWD").7"\n',
        'mkosi.images/sub.conf': '[Output]\nFormat=tar\n',
      },
      ['mkosi.version'],
    );
    const p = loadProject(root, { env: { PATH: process.env.PATH }, runScript });
    expect(p.main.config.ImageVersion).toBe('proj.7');
    expect(p.main.config.Output).toBe('img_proj.7');
    // Presets inherit ImageVersion= (scope inherit): the preset's output name carries it too.
    expect(p.presets.find((x) => x.name === 'sub')!.config.ImageVersion).toBe('proj.7');
    expect(calls).toEqual([{ file: path.join(root, 'mkosi.version'), cwd: root }]);
    expect(p.main.files).toContain(path.join(root, 'mkosi.version'));
  });

  it('mkosi.seed alike (mkosi reads every path_read_text file this way): an executable one gives Seed=', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.seed': '#!/bin/sh\necho 0b1f4c8e-6a2d-4e57-9d3b-2f6e8a9c1d40\n' }, ['mkosi.seed']);
    expect(loadProject(root, { env: { PATH: process.env.PATH }, runScript }).main.config.Seed).toBe('0b1f4c8e-6a2d-4e57-9d3b-2f6e8a9c1d40');
  });

  it('not executable: its text, as before, and the runner is not asked', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': '2.5\n' });
    expect(loadProject(root, { runScript }).main.config.ImageVersion).toBe('2.5');
    expect(calls).toEqual([]);
  });

  it('a script that is not executable is an error saying to make it executable (mkosi refuses it too)', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': '#!/bin/sh\necho 1\n' });
    const e = errorOf(() => loadProject(root, { runScript }));
    expect(e.message).toBe(`${path.join(root, 'mkosi.version')}: starts with a shebang (#!/bin/sh) but is not executable, so ImageVersion= would be the script's text (make it executable: chmod +x)`);
  });

  it('a failing script is a one-line error naming the file, the exit status and its last line of stderr', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': '#!/bin/sh\necho starting >&2\necho "fatal: no tags" >&2\nexit 3\n' }, ['mkosi.version']);
    const e = errorOf(() => loadProject(root, { env: { PATH: process.env.PATH }, runScript }));
    expect(e.message).toBe(`${path.join(root, 'mkosi.version')}: is executable and gives ImageVersion=, but running it failed: exit status 3 (fatal: no tags)`);
  });

  it('a script printing nothing is an error', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': '#!/bin/sh\nexit 0\n' }, ['mkosi.version']);
    expect(errorOf(() => loadProject(root, { runScript })).reason).toBe('is executable and gives ImageVersion=, but it printed nothing (print the value on standard output)');
  });

  it('without a runner, an executable mkosi.version is an error that says so (never its text)', () => {
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': '#!/bin/sh\necho 1\n' }, ['mkosi.version']);
    expect(errorOf(() => loadProject(root)).reason).toMatch(/^is executable, so its output is ImageVersion=, and this caller of kiln's reader cannot run scripts/);
  });

  it('the fingerprint follows the output, though no file of the project changed (a read that ran a script is never reused)', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-version-'));
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-digest-'));
    fs.writeFileSync(path.join(outside, 'v'), '1.0\n');
    // The version counts through the output name it makes (ImageVersion= itself counts only for a preset that runs scripts).
    const root = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.version': `#!/bin/sh\ncat ${path.join(outside, 'v')}\n` }, ['mkosi.version']);
    const settings = () => fingerprintLines(root, undefined, { identity: 'test', cacheDir, runScript }).find((l) => l.startsWith('settings '));
    const first = settings();
    expect(settings()).toBe(first);
    fs.writeFileSync(path.join(outside, 'v'), '1.1\n');
    expect(settings()).not.toBe(first);
  });
});
