/**
 * The CLI passes the sandboxed runner to the reader: an executable mkosi.version gives
 * ImageVersion= in `kiln summary`, in kiln-digest (the Nx plugin's runtime input), and a failing
 * one is a one-line error with exit code 1.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../../..');
const run = (bin: string, args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(repo, 'apps/kiln/dist', bin), ...args], { encoding: 'utf8', env: { ...process.env, KILN_DIGEST_CACHE: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-digest-'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-version-'));
const version = path.join(root, 'mkosi.version');
afterAll(() => {
  for (const d of [root, cache]) fs.rmSync(d, { recursive: true, force: true });
});

beforeAll(() => {
  fs.writeFileSync(path.join(root, 'mkosi.conf'), '[Output]\nFormat=tar\nOutput=img_%v\n');
});

describe('an executable mkosi.version through the CLI', () => {
  it('kiln summary shows its output as ImageVersion= and in Output=', () => {
    fs.writeFileSync(version, '#!/bin/sh\necho 3.1\n', { mode: 0o755 });
    const r = run('main.js', ['summary', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +ImageVersion: 3\.1$/m);
    expect(r.stdout).toMatch(/^ +Output: img_3\.1$/m);
  });

  it('kiln-digest changes with the output', () => {
    fs.writeFileSync(version, '#!/bin/sh\necho 3.1\n', { mode: 0o755 });
    const first = run('digest.js', ['-C', root]);
    expect(first.code).toBe(0);
    fs.writeFileSync(version, '#!/bin/sh\necho 3.2\n', { mode: 0o755 });
    const second = run('digest.js', ['-C', root]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(second.stdout).not.toBe(first.stdout);
  });

  it('a failing script: one line, file and exit status, exit code 1', () => {
    fs.writeFileSync(version, '#!/bin/sh\necho boom >&2\nexit 2\n', { mode: 0o755 });
    const r = run('main.js', ['summary', '-C', root]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/mkosi\.version: is executable and gives ImageVersion=, but running it failed: exit status 2 \(boom\)$/m);
  });
});
