/**
 * The tools tree in Nx's cache, for real: `nx run img:image` builds the generated `img-tools`
 * preset (Debian trixie from the mirror, the packages from the cache the test tools tree filled)
 * before the image using it; a second run is two hits; another tools tree (mkosi.tools.conf
 * changed) misses the tools preset and the image using it; back to the first tools tree, Nx
 * restores it and the image is a hit again: its hash follows the tools tree's output files.
 *
 * Kept small: the image is a base tree of one file (no packages), the daemon is off (the graph
 * suites test it on), and Incremental=yes makes the second tools build start from the first's
 * layer (only mkosi.tools.conf's extra tree differs), and every tools build start from a layer once
 * the machine keeps them (test-cache.ts: testLayers).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { testLayers } from '../../libs/engine/test/test-cache';
import { initWorkspace, nxBin, nxEnv, removeWorkspace } from './workspace';

jest.setTimeout(900_000);

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-tools-cache-'));
const img = path.join(ws, 'img');
const out = path.join(img, 'mkosi.output');
const HOME_CACHE = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
// The unpacked tools trees go to the workspace; the packages and layers come from the machine's caches.
const env: Record<string, string | undefined> = { ...nxEnv(ws), XDG_CACHE_HOME: path.join(ws, '.cache') };
delete env.SOURCE_DATE_EPOCH;

const write = (rel: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(img, rel)), { recursive: true });
  fs.writeFileSync(path.join(img, rel), text);
};

let lastLog = '';
function image(): Record<string, 'hit' | 'miss'> {
  const r = spawnSync(process.execPath, [nxBin, 'run', 'img:image', '--outputStyle=static'], { cwd: ws, env, encoding: 'utf8' });
  lastLog = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`nx run img:image failed (${r.status}):\n${lastLog}`);
  const run = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] };
  return Object.fromEntries(run.tasks.map((t) => [t.projectName, t.cacheStatus === 'cache-miss' ? 'miss' : 'hit']));
}
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(path.join(out, f))).digest('hex');

beforeAll(() => {
  write(
    'mkosi.conf',
    [
      '[Distribution]',
      'Distribution=debian',
      'Release=trixie',
      '[Output]',
      'Format=tar',
      '[Content]',
      'BaseTrees=rootfs',
      'SourceDateEpoch=1700000000',
      '[Build]',
      'ToolsTree=default',
      'Incremental=yes',
      `CacheDirectory=${testLayers()}`,
      `PackageCacheDirectory=${path.join(HOME_CACHE, 'kiln', 'packages', 'debian~trixie~x86-64')}`,
      '',
    ].join('\n'),
  );
  write('rootfs/etc/hello', 'hello\n');
  write('mkosi.tools.conf/mkosi.conf', '[Content]\nCleanPackageMetadata=no\n');
  initWorkspace(ws, 'e2e-tools-cache', ['.cache/']);
});

afterAll(() => removeWorkspace(ws, env, false));

describe('the tools tree in the Nx cache', () => {
  let first: string;

  it('builds the tools preset first, then the image using it', () => {
    expect(image()).toEqual({ 'img-tools': 'miss', img: 'miss' });
    expect(lastLog).toMatch(/img: tools from .*kiln\/tools\/[0-9a-f]{64}/);
    first = sha('mkosi.tools.tar.zst');
  });

  it('the same tools tree: two hits', () => {
    expect(image()).toEqual({ 'img-tools': 'hit', img: 'hit' });
  });

  it('another tools tree: the tools preset and the image using it miss', () => {
    write('mkosi.tools.conf/mkosi.extra/usr/share/kiln-e2e/marker', 'another tools tree\n');
    expect(image()).toEqual({ 'img-tools': 'miss', img: 'miss' });
    expect(sha('mkosi.tools.tar.zst')).not.toBe(first);
  });

  it('back to the first tools tree: restored from the cache, and the image hits', () => {
    fs.rmSync(path.join(img, 'mkosi.tools.conf/mkosi.extra'), { recursive: true });
    expect(image()).toEqual({ 'img-tools': 'hit', img: 'hit' });
    expect(sha('mkosi.tools.tar.zst')).toBe(first);
  });
});
