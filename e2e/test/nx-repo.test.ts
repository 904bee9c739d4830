/**
 * This repository is itself an Nx workspace using @kiln/nx (the README's `npm run demo`). Here
 * the plugin is a local project, and Nx runs a local plugin's executors from their TypeScript
 * sources (it needs @swc-node/register for that): the executors must run in place, not only
 * from an installed package.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nxBin, nxEnv, repo } from './workspace';

jest.setTimeout(300_000);

it('runs the plugin\'s executors in this repository (nx run system:summary)', () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-repo-nx-'));
  try {
    const r = spawnSync(process.execPath, [nxBin, 'run', 'system:summary', '--outputStyle=static'], { cwd: repo, env: nxEnv(data), encoding: 'utf8' });
    expect({ status: r.status, out: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}` }).toEqual({ status: 0, out: '' });
    // The executor ran kiln summary (Nx's closing lines differ with CI=true, so not those).
    expect(r.stdout).toContain('IMAGE: base');
    expect(r.stdout).toContain('Distribution: debian');
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});
