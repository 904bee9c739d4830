/**
 * config-script.ts: an executable mkosi.version runs in kiln's sandbox, as the config reader's
 * ScriptRunner: in the config directory, with mkosi's environment, unable to write the project
 * or anything outside its private /tmp.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadProject } from '@kiln/config';
import { runConfigScript, scriptEnvironment } from '../src/config-script';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function project(version: string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-version-'));
  temps.push(root);
  fs.writeFileSync(path.join(root, 'mkosi.conf'), '[Output]\nFormat=tar\nOutput=img_%v\n');
  fs.writeFileSync(path.join(root, 'mkosi.version'), version, { mode: 0o755 });
  return root;
}

const env = { PATH: process.env.PATH, LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', KILN_TEST_VAR: 'passed' };

describe('an executable mkosi.version in the sandbox', () => {
  it('gives ImageVersion= its output, run in the config directory with mkosi\'s environment', () => {
    const root = project('#!/bin/sh\necho "$KILN_TEST_VAR-$LANG-${LC_ALL:-none}-$(basename "$PWD")" | tr -c "A-Za-z0-9\\n" .\n');
    const p = loadProject(root, { env, runScript: runConfigScript });
    const expected = `passed.C.UTF.8.none.${path.basename(root).replace(/[^A-Za-z0-9]/g, '.')}`;
    expect(p.main.config.ImageVersion).toBe(expected);
    expect(p.main.config.Output).toBe(`img_${expected}`);
  });

  it('cannot write the project or the host; its /tmp is its own', () => {
    const root = project(
      [
        '#!/bin/sh',
        'touch written 2>/dev/null',
        `touch ${os.tmpdir()}/kiln-version-escaped 2>/dev/null`,
        'mount -o remount,rw / 2>/dev/null && touch written-after-remount 2>/dev/null',
        'echo ok > /tmp/scratch && cat /tmp/scratch',
      ].join('\n') + '\n',
    );
    const p = loadProject(root, { env, runScript: runConfigScript });
    expect(p.main.config.ImageVersion).toBe('ok');
    expect(fs.existsSync(path.join(root, 'written'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'written-after-remount'))).toBe(false);
    expect(fs.existsSync(path.join(os.tmpdir(), 'kiln-version-escaped'))).toBe(false);
    expect(fs.existsSync('/tmp/scratch')).toBe(false);
  });

  it('a failing script is one line naming the file, the exit status and its last stderr line', () => {
    const root = project('#!/bin/sh\necho "git: not a repository" >&2\nexit 128\n');
    let error: unknown;
    try {
      loadProject(root, { env, runScript: runConfigScript });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(`${path.join(root, 'mkosi.version')}: is executable and gives ImageVersion=, but running it failed: exit status 128 (git: not a repository)`);
  });

  it('mkosi\'s environment: LANG=C.UTF-8, no LC_*, TERM and HOME defaulted, TMPDIR its /tmp', () => {
    expect(scriptEnvironment({ LANG: 'de_DE', LC_ALL: 'x', LC_TIME: 'y', PATH: '/bin', TMPDIR: '/var/tmp', FOO: 'bar' })).toEqual({ LANG: 'C.UTF-8', PATH: '/bin', TMPDIR: '/tmp', FOO: 'bar', TERM: 'vt220', HOME: '/' });
  });
});
