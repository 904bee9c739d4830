/**
 * Nothing of the builder's environment reaches the image except what the configuration passes
 * on: a small real Debian image built by `kiln build` run with a clean environment and umask 022,
 * then again run with umask 077, TAR_OPTIONS, another locale and time zone, another HOME and
 * compressor settings, gives the same bytes. The environment and umask are the process's, so the
 * built CLI is run (the environment tools get, in process: libs/engine/test/hygiene.unit.test.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import { defaultPackageCache } from '@kiln/engine';
import { hostileEnv, removeTempDirs, sha256, tempDir, tempProject } from '../../../libs/engine/test/kiln';
import { kilnIn, type Result } from './run-kiln';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

const PROXIES = ['http_proxy', 'https_proxy', 'no_proxy', 'all_proxy'].flatMap((v) => [v, v.toUpperCase()]);

/** A builder's environment with only what kiln needs to run; progress lines every second. */
const clean: Record<string, string> = {
  ...Object.fromEntries(PROXIES.filter((v) => process.env[v]).map((v) => [v, process.env[v] as string])),
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: os.homedir(),
  KILN_PROGRESS_INTERVAL: '1',
};

const hostile = hostileEnv;

const project = {
  'mkosi.conf': [
    '[Distribution]',
    'Distribution=debian',
    'Release=bookworm',
    '[Output]',
    'ImageId=hygiene',
    'Format=tar',
    '[Content]',
    'SourceDateEpoch=1700000000',
    'Packages=hello',
    'WithDocs=no',
    'Hostname=hygiene',
    '',
  ].join('\n'),
  // A file a script writes (with the umask kiln gives it), and what of the environment it saw.
  'mkosi.postinst': {
    text: '#!/bin/sh\nset -e\necho "$TAR_OPTIONS|$LC_ALL|$LANG|$TZ|$HOME" > "$BUILDROOT/etc/script-env"\n',
    mode: 0o755,
  },
};

/** `tar -tv` lines of an archive, by member name ("./etc/hostname" -> "-rw-r--r-- 0/0 ..."). */
function listing(archive: string): Map<string, string> {
  const r = spawnSync('tar', ['--numeric-owner', '-tvf', archive], { encoding: 'utf8', env: { PATH: clean.PATH, LC_ALL: 'C', TZ: 'UTC' } });
  if (r.status !== 0) throw new Error(`listing ${archive}: ${r.stderr}`);
  return new Map(r.stdout.trim().split('\n').map((l) => [l.split(/\s+/).slice(5).join(' '), l]));
}

describe('kiln build: the builder\'s environment does not reach the image', () => {
  let root: string;
  let home: string;
  let cleanBuild: Result;
  let hostileBuild: Result;
  let first: string;
  let second: string;

  beforeAll(async () => {
    root = tempProject(project, 'hyg');
    // The downloads other tests share, whatever HOME says (the hostile build has another).
    fs.appendFileSync(path.join(root, 'mkosi.conf'), `[Build]\nPackageCacheDirectory=${defaultPackageCache(loadProject(root).main, process.env)}\n`);
    home = tempDir('kiln-home-');
    const archive = path.join(root, 'mkosi.output/hygiene.tar.zst');
    cleanBuild = await kilnIn(['build', '-C', root], { env: clean, umask: '022' });
    if (cleanBuild.code !== 0) return;
    first = path.join(tempDir('kiln-first-'), 'hygiene.tar.zst');
    fs.copyFileSync(archive, first);
    hostileBuild = await kilnIn(['build', '-C', root, '--force'], { env: { ...clean, ...hostile(home) }, umask: '077' });
    second = archive;
  });

  it('builds with both environments', () => {
    // stderr first, so that a failure shows kiln's message.
    expect(cleanBuild.stderr).not.toMatch(/^kiln: /m);
    expect(cleanBuild.code).toBe(0);
    expect(hostileBuild.stderr).not.toMatch(/^kiln: /m);
    expect(hostileBuild.code).toBe(0);
  });

  it('gives bit-identical archives', () => {
    expect(sha256(second)).toBe(sha256(first));
  });

  it('writes files with mode 0644 and root ownership, directories 0755, whatever the umask and TAR_OPTIONS', () => {
    const members = listing(second);
    expect(members.get('./')).toMatch(/^drwxr-xr-x 0\/0 /);
    expect(members.get('./etc/hostname')).toMatch(/^-rw-r--r-- 0\/0 /);
    expect(members.get('./etc/script-env')).toMatch(/^-rw-r--r-- 0\/0 /);
  });

  it('gives scripts mkosi\'s environment, not the builder\'s', () => {
    const r = spawnSync('tar', ['-xOf', second, './etc/script-env'], { encoding: 'utf8' });
    expect(r.stdout).toBe('|C.UTF-8|||/root\n');
  });

  it('leaves the builder\'s HOME alone', () => {
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('shows package progress while installing, parsed from apt\'s and dpkg\'s output', () => {
    expect(cleanBuild.stderr).toMatch(/^hyg: packages: \d+ of \d+ (downloaded|unpacked)/m);
  });
});
