/**
 * examples/fedora as a user runs it: the real `nx` binary in a temp workspace holding a copy of the
 * example, `nx run fedora:image` installing it with dnf from the RPM fixture mirror
 * (tools/rpm-fixtures, served on loopback; the copy's Mirror= is rewritten to the server's port and
 * its mkosi.sandbox gets the fixture key). With the Nx daemon off and on: a second run is a cache
 * hit with the same bytes; `kiln lock` adds the lock, an input, so the next run misses; a change of
 * the lock alone (hello pinned to an older version) misses again and builds that version.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { initWorkspace, nxBin, nxEnv, repo } from './workspace';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fixtures } = require('../../tools/rpm-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(300_000);

let fx: string;
let server: { url: string; close(): Promise<void> };
const kiln = path.join(repo, 'apps/kiln/dist/main.js');

beforeAll(async () => {
  fx = await fixtures();
  server = await serve(fx, { port: 0 });
});
afterAll(async () => {
  await server?.close();
});

type Manifest = { packages: { repo: string; name: string; version: string; release: string; sha256: string; file: string; size: number }[] };

describe.each([false, true])('nx run fedora:image (daemon %s)', (daemon) => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-rpm-'));
  const proj = path.join(ws, 'fedora');
  const archive = path.join(proj, 'mkosi.output/fedora.tar.zst');
  const env = { ...nxEnv(ws), NX_DAEMON: daemon ? 'true' : 'false' };

  /** Asynchronous: the fixture server runs in this process and must keep answering. */
  async function nx(args: string[]): Promise<string> {
    try {
      return (await promisify(execFile)(process.execPath, [nxBin, ...args], { cwd: ws, env, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
    } catch (e) {
      const err = e as Error & { stdout?: string; stderr?: string };
      throw new Error(`nx ${args.join(' ')} failed:\n${err.stdout}\n${err.stderr}`);
    }
  }

  const cacheStatus = () =>
    (JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] }).tasks.find((t) => t.projectName === 'fedora')!.cacheStatus;
  const digest = () => createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  const helloIn = () => {
    const tree = fs.mkdtempSync(path.join(ws, 'tree-'));
    execFileSync('tar', ['-xf', archive, '-C', tree]);
    return fs.readFileSync(path.join(tree, 'usr/bin/hello'), 'utf8');
  };

  beforeAll(() => {
    fs.cpSync(path.join(repo, 'examples/fedora'), proj, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
    const conf = path.join(proj, 'mkosi.conf');
    const text = fs.readFileSync(conf, 'utf8');
    if (!text.includes('Mirror=http://127.0.0.1:8741/fedora')) throw new Error('examples/fedora/mkosi.conf no longer names port 8741: update this suite');
    fs.writeFileSync(conf, text.replace('Mirror=http://127.0.0.1:8741/fedora', `Mirror=${server.url}/fedora`));
    fs.cpSync(path.join(fx, 'sandbox/fedora'), path.join(proj, 'mkosi.sandbox'), { recursive: true });
    fs.writeFileSync(path.join(proj, 'mkosi.local.conf'), `[Build]\nPackageCacheDirectory=${path.join(ws, 'pkgcache')}\n`);
    // A git repository whose .gitignore keeps the daemon off the outputs, the caches and the build's work trees.
    initWorkspace(ws, 'e2e-rpm', ['pkgcache/', 'tree-*/']);
  });

  afterAll(() => {
    if (daemon) spawnSync(process.execPath, [nxBin, 'daemon', '--stop'], { cwd: ws, env, encoding: 'utf8' });
    fs.rmSync(ws, { recursive: true, force: true });
  });

  let first: string;

  it('builds the Fedora image with dnf; a second run is a cache hit with the same bytes', async () => {
    await nx(['run', 'fedora:image', '--outputStyle=static']);
    expect(cacheStatus()).toBe('cache-miss');
    expect(helloIn()).toContain('hello 1.1');
    first = digest();
    fs.rmSync(path.join(proj, 'mkosi.output'), { recursive: true });
    await nx(['run', 'fedora:image', '--outputStyle=static']);
    expect(cacheStatus()).not.toBe('cache-miss');
    expect(digest()).toBe(first);
  });

  it('a change of kiln.lock alone misses the cache and builds the locked versions', async () => {
    // Asynchronous too: the fixture server answers from this process.
    await promisify(execFile)(process.execPath, [kiln, 'lock', '-C', proj], { env, encoding: 'utf8' });
    await nx(['run', 'fedora:image', '--outputStyle=static']);
    expect(cacheStatus()).toBe('cache-miss');
    await nx(['run', 'fedora:image', '--outputStyle=static']);
    expect(cacheStatus()).not.toBe('cache-miss');
    // Pin hello to 1.0-1 from the release repository, with the repository's record of it.
    const manifest = JSON.parse(fs.readFileSync(path.join(fx, 'manifest.json'), 'utf8')) as Manifest;
    const old = manifest.packages.find((p) => p.repo.startsWith('fedora/linux/releases') && p.name === 'hello' && p.version === '1.0')!;
    const lockFile = path.join(proj, 'kiln.lock');
    const lock = fs.readFileSync(lockFile, 'utf8');
    const pinned = lock.replace(
      /(\[\[package\]\]\nname = "hello"\n)version = "1\.1-1"\n(architecture = "noarch"\n)repository = "updates"\nsize = \d+\npath = "[^"]+"\nsha256 = "[0-9a-f]+"/,
      `$1version = "1.0-1"\n$2repository = "fedora"\nsize = ${old.size}\npath = "${path.relative(old.repo, old.file)}"\nsha256 = "${old.sha256}"`,
    );
    expect(pinned).not.toBe(lock);
    fs.writeFileSync(lockFile, pinned);
    await nx(['run', 'fedora:image', '--outputStyle=static']);
    expect(cacheStatus()).toBe('cache-miss');
    expect(helloIn()).toContain('hello 1.0');
  });
});
