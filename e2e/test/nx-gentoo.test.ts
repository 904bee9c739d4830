/**
 * examples/gentoo as a user runs it: the real `nx` binary in a temp workspace holding a copy of
 * the example, `nx run gentoo:image` installing it natively from the fixture binhost that
 * tools/gentoo-fixtures builds and serves on loopback (the copy's Binhosts= is rewritten to the
 * server's port; nothing may listen on the example's own port 8731). A second run is a cache hit with the same bytes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nxBin, nxEnv, repo } from './workspace';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build } = require('../../tools/gentoo-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(300_000);

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-gentoo-'));
const fx = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-gentoo-fx-'));
const proj = path.join(ws, 'gentoo');
const archive = path.join(proj, 'mkosi.output/gentoo.tar.zst');
let server: { url: string; close(): Promise<void> };

/** Asynchronous: the fixture server runs in this process and must keep answering. */
async function nx(args: string[]): Promise<string> {
  try {
    return (await promisify(execFile)(process.execPath, [nxBin, ...args], { cwd: ws, env: nxEnv(ws), encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`nx ${args.join(' ')} failed:\n${err.stdout}\n${err.stderr}`);
  }
}

function cacheStatus(): string {
  const run = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] };
  return run.tasks.find((t) => t.projectName === 'gentoo')!.cacheStatus;
}

beforeAll(async () => {
  await build(fx);
  server = await serve(fx, { port: 0 });
  fs.cpSync(path.join(repo, 'examples/gentoo'), proj, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  // The copy's Binhosts= names the server's port. Not through mkosi.local.conf: as in mkosi, it is
  // read first and its list items come after mkosi.conf's, so the example's port would stay first.
  const conf = path.join(proj, 'mkosi.conf');
  fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8').replace('Binhosts=http://127.0.0.1:8731/binhost', `Binhosts=${server.url}/binhost`));
  if (!fs.readFileSync(conf, 'utf8').includes(server.url)) throw new Error(`examples/gentoo/mkosi.conf no longer names port 8731: update this suite`);
  fs.writeFileSync(path.join(proj, 'mkosi.local.conf'), `[Build]\nPackageCacheDirectory=${path.join(ws, 'pkgcache')}\n`);
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), '{ "name": "e2e-gentoo", "private": true }\n');
  fs.writeFileSync(path.join(ws, 'nx.json'), '{ "plugins": ["@kiln/nx"] }\n');
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(fx, { recursive: true, force: true });
});

describe('nx run gentoo:image', () => {
  let first: string;

  it('builds the Gentoo image natively from the binhost', async () => {
    await nx(['run', 'gentoo:image', '--outputStyle=static']);
    expect(cacheStatus()).toBe('cache-miss');
    const tree = fs.mkdtempSync(path.join(ws, 'tree-'));
    const r = spawnSync('tar', ['-xf', archive, '-C', tree]);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(tree, 'usr/lib/os-release'), 'utf8')).toContain('ID=gentoo');
    expect(fs.readFileSync(path.join(tree, 'etc/hostname'), 'utf8')).toBe('kiln-gentoo\n');
    expect(fs.existsSync(path.join(tree, 'usr/bin/hello'))).toBe(true);
    expect(fs.readFileSync(path.join(tree, 'var/lib/portage/world'), 'utf8')).toBe('app-misc/hello\napp-misc/legacy\napp-misc/wants-multi\n');
    expect(fs.readdirSync(path.join(tree, 'var/db/pkg/app-misc')).sort()).toEqual(['hello-1.0', 'hello-data-1.0', 'legacy-1.0', 'multi-1.0', 'wants-multi-1.0']);
    first = createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  });

  it('a second run is a cache hit, restoring the same bytes', async () => {
    fs.rmSync(path.join(proj, 'mkosi.output'), { recursive: true });
    await nx(['run', 'gentoo:image', '--outputStyle=static']);
    expect(cacheStatus()).not.toBe('cache-miss');
    expect(createHash('sha256').update(fs.readFileSync(archive)).digest('hex')).toBe(first);
  });
});
