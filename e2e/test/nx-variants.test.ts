/**
 * Variants (nx.json: the plugin's `variants` option): `nx run img:image-debug` builds the project
 * with `--profile debug`, as its own cached target with its own hash. Real nx, daemon off and on,
 * real builds (Debian bookworm's essential set from the mirror) of a main image on a sub-image
 * preset `base`, with Incremental=yes layers kept per machine (test-cache.ts: testLayers): once they
 * exist, neither suite installs a package.
 *
 *  - image-debug builds the debug configuration (its profile's tree and Hostname= in the image,
 *    base before the main image); `image` does not, and each restores its own image;
 *  - a second run hits; a file only the profile reads misses image-debug and hits image; a file
 *    both read misses both;
 *  - `nx show projects --affected` after such a commit;
 *  - a preset only the variant reaches (project `only`, never built): a project of its own, in the
 *    task graph of image-debug and not of image.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { testLayers } from '../../libs/engine/test/test-cache';
import { gitIn, initWorkspace, removeWorkspace, runNx, tempWorkspace, writeIn } from './workspace';

jest.setTimeout(900_000);

const layers = testLayers();

type RunJson = { tasks: { projectName: string; target: string; cacheStatus: string; startTime?: string; endTime?: string }[] };

function suite(daemon: boolean) {
  const { ws, env } = tempWorkspace('kiln-nx-variants-', daemon);
  delete env.SOURCE_DATE_EPOCH;
  const img = path.join(ws, 'img');
  const write = (rel: string, text: string) => writeIn(img, rel, text);
  const runJson = (): RunJson => JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8'));

  /** `nx run img:TARGET`: each task's verdict, by project. */
  function run(target: string): Record<string, 'hit' | 'miss'> {
    runNx(ws, env, ['run', `img:${target}`, '--outputStyle=static']);
    return Object.fromEntries(runJson().tasks.map((t) => [t.projectName, t.cacheStatus === 'cache-miss' ? 'miss' : 'hit']));
  }

  /** The members of the main image's tar and its /etc/hostname. */
  function image(): { members: string; hostname: string } {
    const tar = path.join(img, 'mkosi.output/image.tar.zst');
    const members = execFileSync('sh', ['-c', 'zstd -dc "$1" | tar -t', 'list', tar], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const hostname = execFileSync('sh', ['-c', 'zstd -dc "$1" | tar -xO --wildcards "*etc/hostname" 2>/dev/null || true', 'read', tar], { encoding: 'utf8' });
    return { members, hostname: hostname.trim() };
  }

  beforeAll(() => {
    write(
      'mkosi.conf',
      [
        '[Config]\nDependencies=base\n',
        '[Distribution]\nDistribution=debian\nRelease=bookworm\nRepositories=main\n',
        '[Output]\nFormat=tar\n',
        '[Content]\nSourceDateEpoch=1700000000\nBaseTrees=%O/base\n',
        `[Build]\nIncremental=yes\nCacheDirectory=${layers}\n`,
      ].join('\n'),
    );
    write('mkosi.extra/etc/shared', 'both\n');
    write('mkosi.images/base/mkosi.conf', '[Output]\nFormat=directory\n[Content]\nWithDocs=no\n');
    write('mkosi.profiles/debug/mkosi.conf', '[Content]\nHostname=debug\n');
    write('mkosi.profiles/debug/mkosi.extra/etc/debug-only', 'v1\n');
    // Read for its task graphs only.
    writeIn(ws, 'only/mkosi.conf', '[Config]\nDependencies=base\n[Output]\nFormat=tar\n[Content]\nBaseTrees=%O/base\n');
    writeIn(ws, 'only/mkosi.images/base/mkosi.conf', '[Output]\nFormat=directory\n');
    writeIn(ws, 'only/mkosi.images/dbg/mkosi.conf', '[Match]\nProfiles=debug\n[Config]\nDependencies=base\n[Output]\nFormat=tar\n');
    writeIn(ws, 'only/mkosi.profiles/debug/mkosi.conf', '[Config]\nDependencies=dbg\n');
    initWorkspace(ws, 'e2e-variants', [], { plugins: [{ plugin: '@kiln/nx', options: { variants: { debug: ['--profile', 'debug'] } } }] });
  });

  afterAll(() => removeWorkspace(ws, env, daemon));

  it('has image-debug on every preset the variant reaches, with the variant\'s settings', () => {
    const project = JSON.parse(runNx(ws, env, ['show', 'project', 'img', '--json'])) as { targets: Record<string, { options: unknown; dependsOn?: unknown }> };
    expect(project.targets['image-debug']).toMatchObject({ options: { directory: 'img', preset: 'img', args: ['--Profiles=debug'] }, dependsOn: ['^image-debug'] });
    const base = JSON.parse(runNx(ws, env, ['show', 'project', 'img-base', '--json'])) as { targets: Record<string, unknown> };
    expect(Object.keys(base.targets)).toEqual(expect.arrayContaining(['image', 'image-debug']));
  });

  it('gives a preset only the variant reaches a project, in the task graph of image-debug only', () => {
    expect(runNx(ws, env, ['show', 'projects']).split('\n')).toEqual(expect.arrayContaining(['only', 'only-base', 'only-dbg']));
    const taskGraph = (target: string) => {
      const file = path.join(ws, '.nx-data', `tasks-${target}.json`);
      runNx(ws, env, ['run', `only:${target}`, `--graph=${file}`]);
      const deps = (JSON.parse(fs.readFileSync(file, 'utf8')) as { tasks: { dependencies: Record<string, { id: string }[]> } }).tasks.dependencies;
      return Object.fromEntries(Object.entries(deps).map(([task, on]) => [task, on.map((d) => d.id).sort()]));
    };
    // Nx passes over a dependency without the target: the edge to only-dbg (the variant's) only orders.
    expect(taskGraph('image')).toEqual({ 'only:image': ['only-base:image'], 'only-base:image': [] });
    expect(taskGraph('image-debug')).toEqual({
      'only:image-debug': ['only-base:image-debug', 'only-dbg:image-debug'],
      'only-dbg:image-debug': ['only-base:image-debug'],
      'only-base:image-debug': [],
    });
  });

  it('nx run img:image builds the default configuration', () => {
    expect(run('image')).toEqual({ img: 'miss', 'img-base': 'miss' });
    const { members, hostname } = image();
    expect(members).toMatch(/etc\/shared\n/);
    expect(members).not.toMatch(/etc\/debug-only/);
    expect(hostname).not.toBe('debug');
  });

  it('nx run img:image-debug builds the debug variant, base first', () => {
    expect(run('image-debug')).toEqual({ img: 'miss', 'img-base': 'miss' });
    const tasks = runJson().tasks;
    const base = tasks.find((t) => t.projectName === 'img-base')!;
    const main = tasks.find((t) => t.projectName === 'img')!;
    expect([base.target, main.target]).toEqual(['image-debug', 'image-debug']);
    expect(Date.parse(main.startTime!)).toBeGreaterThanOrEqual(Date.parse(base.endTime!));
    const { members, hostname } = image();
    expect(members).toMatch(/etc\/debug-only\n/);
    expect(members).toMatch(/etc\/shared\n/);
    expect(hostname).toBe('debug');
  });

  it('each target hits the second time and restores its own image', () => {
    expect(run('image')).toEqual({ img: 'hit', 'img-base': 'hit' });
    expect(image().members).not.toMatch(/etc\/debug-only/);
    expect(run('image-debug')).toEqual({ img: 'hit', 'img-base': 'hit' });
    expect(image().members).toMatch(/etc\/debug-only\n/);
  });

  it('a file only the debug profile reads misses image-debug and hits image', () => {
    write('mkosi.profiles/debug/mkosi.extra/etc/debug-only', 'v2\n');
    expect(run('image-debug')).toEqual({ img: 'miss', 'img-base': 'hit' });
    expect(run('image')).toEqual({ img: 'hit', 'img-base': 'hit' });
    expect(run('image-debug')).toEqual({ img: 'hit', 'img-base': 'hit' });
  });

  it('a file both read misses both', () => {
    write('mkosi.extra/etc/shared', 'both, changed\n');
    expect(run('image')).toEqual({ img: 'miss', 'img-base': 'hit' });
    expect(run('image-debug')).toEqual({ img: 'miss', 'img-base': 'hit' });
  });

  it('nx show projects --affected: a file of the profile affects the main image only', () => {
    gitIn(ws, 'add', '-A');
    gitIn(ws, 'commit', '-qm', 'built');
    write('mkosi.profiles/debug/mkosi.extra/etc/debug-only', 'v3\n');
    gitIn(ws, 'add', '-A');
    gitIn(ws, 'commit', '-qm', 'debug file');
    const affected = (t: string) => runNx(ws, env, ['show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD', '-t', t]).trim().split('\n').filter(Boolean).sort();
    expect(affected('image-debug')).toEqual(['img']);
  });
}

describe('daemon off', () => suite(false));
describe('daemon on', () => suite(true));
