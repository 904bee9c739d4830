/**
 * Nothing of the builder's environment reaches the tools kiln runs except what the configuration
 * passes on: the environment tools and scripts get. (That a real image built by builders with
 * different environments and umasks gives the same bytes: apps/kiln/test/hygiene.test.ts.)
 */
import { run, toolEnv } from '../src/exec';
import { hostileEnv } from './kiln';

const hostile = hostileEnv;

describe('the environment tools get', () => {
  it('gives a fixed PATH (not the host\'s), keeps proxies, fixes locale, time zone and HOME, drops the rest', () => {
    const env = toolEnv({ ...hostile('/home/someone'), PATH: '/opt/tools/bin:/usr/bin', https_proxy: 'http://proxy:3128', NO_PROXY: 'local', TMPDIR: '/scratch', SOURCE_DATE_EPOCH: '1', APT_CONFIG: '/x' });
    expect(env).toEqual({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      https_proxy: 'http://proxy:3128',
      NO_PROXY: 'local',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      HOME: '/root',
    });
  });

  it('puts KILN_TOOLS_PATH (absolute directories only) before the system directories', () => {
    expect(toolEnv({ PATH: '/shims', KILN_TOOLS_PATH: '/opt/a:relative:/opt/b' }).PATH).toBe('/opt/a:/opt/b:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('lays what a caller passes over it, and gives scripts (extendEnv: false) exactly what they are given', async () => {
    const saved = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--mode=0777';
    try {
      const ctx = { log: () => undefined };
      const show = 'echo "$TAR_OPTIONS|$LC_ALL|$HOME|$APT_CONFIG|${PATH:+path}"';
      expect(await run(ctx, 'sh', ['-c', show], { step: 'test', env: { APT_CONFIG: '/apt.conf', HOME: undefined } })).toBe('|C.UTF-8||/apt.conf|path');
      expect(await run(ctx, '/usr/bin/env', [], { step: 'test', env: { LC_ALL: 'C', SPACED: 'a b' }, extendEnv: false })).toBe('LC_ALL=C\nSPACED=a b');
    } finally {
      if (saved === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = saved;
    }
  });
});

