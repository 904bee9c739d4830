/**
 * The remote cache fixture on its own (tools/nx-cache-server): every answer Nx's self-hosted cache
 * API specifies, over real HTTP to the real entry point, and entries that appear whole or not at
 * all. Seconds; the Nx suite using it is nx-remote-cache.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CacheServer, serveJs, startCacheServer } from './cache-server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cache-server-'));
let server: CacheServer;

beforeAll(async () => {
  server = await startCacheServer(dir, ['rw:write-token', 'ro:read-token']);
});
afterAll(async () => {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const put = (hash: string, body: Buffer | string, token = 'write-token') => fetch(`${server.url}/v1/cache/${hash}`, { method: 'PUT', headers: auth(token), body });
const get = (hash: string, token = 'read-token') => fetch(`${server.url}/v1/cache/${hash}`, { headers: auth(token) });
/** The entries in the store (not the temporary files of uploads under way). */
const stored = () => fs.readdirSync(dir).filter((f) => !f.startsWith('.'));
const incoming = () => fs.readdirSync(path.join(dir, '.incoming'));

describe('the self-hosted cache API', () => {
  it('401 without a token or with an unknown one, for GET and PUT, and nothing is stored', async () => {
    const none = await fetch(`${server.url}/v1/cache/1001`, { method: 'PUT', body: 'x' });
    expect([none.status, none.headers.get('content-type')]).toEqual([401, 'text/plain; charset=utf-8']);
    expect((await put('1001', 'x', 'wrong')).status).toBe(401);
    expect((await fetch(`${server.url}/v1/cache/1001`, { headers: { Authorization: 'Basic d3JpdGUtdG9rZW4=' } })).status).toBe(401);
    expect((await get('1001', 'wrong')).status).toBe(401);
    expect(stored()).toEqual([]);
  });

  it('404 for an entry that does not exist', async () => {
    const r = await get('1002');
    expect([r.status, await r.text()]).toEqual([404, 'The record was not found\n']);
  });

  it('200 for a PUT with the read-write token; GET returns the same bytes to either token', async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    expect((await put('1003', body)).status).toBe(200);
    for (const token of ['read-token', 'write-token']) {
      const r = await get('1003', token);
      expect([r.status, r.headers.get('content-type'), r.headers.get('content-length')]).toEqual([200, 'application/octet-stream', String(body.length)]);
      expect(Buffer.from(await r.arrayBuffer()).equals(body)).toBe(true);
    }
  });

  it('403 for a PUT with a read-only token, and nothing is stored', async () => {
    const r = await put('1004', 'from a pull request', 'read-token');
    expect([r.status, await r.text()]).toEqual([403, 'Access forbidden: this token is read-only\n']);
    expect((await get('1004')).status).toBe(404);
    expect(stored()).not.toContain('1004');
    // The whole body was read before the answer (Nx must see the 403, not a broken pipe).
    expect(await server.waitFor(/^PUT 1004 403 /)).toBe(`PUT 1004 403 ${'from a pull request'.length}`);
  });

  it('409 for a PUT of an existing entry, which keeps its bytes', async () => {
    expect((await put('1005', 'first')).status).toBe(200);
    const r = await put('1005', 'second');
    expect([r.status, await r.text()]).toEqual([409, 'Cannot override an existing record\n']);
    expect(await (await get('1005')).text()).toBe('first');
  });

  it('an upload is invisible until complete, and one dropped halfway leaves nothing', async () => {
    const req = http.request(`${server.url}/v1/cache/1006`, { method: 'PUT', headers: { ...auth('write-token'), 'Content-Length': 2_000_000 } });
    req.on('error', () => {});
    req.write(Buffer.alloc(1_000_000, 1));
    // The first half is on the server's disk, under a temporary name only.
    await new Promise<void>((resolve) => {
      const poll = () => (incoming().length > 0 && fs.statSync(path.join(dir, '.incoming', incoming()[0])).size === 1_000_000 ? resolve() : setImmediate(poll));
      poll();
    });
    expect((await get('1006')).status).toBe(404);
    req.destroy();
    await server.waitFor(/^PUT 1006 aborted /);
    expect([stored().includes('1006'), incoming()]).toEqual([false, []]);
    // The same hash can then be stored whole.
    expect((await put('1006', 'whole')).status).toBe(200);
  });

  it('other paths are 404, other methods 405, a hash that could name a path 400', async () => {
    expect((await fetch(`${server.url}/v1/other`, { headers: auth('write-token') })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/cache/1007`, { method: 'DELETE', headers: auth('write-token') })).status).toBe(405);
    expect((await put('..%2Fescape', 'x')).status).toBe(400);
    expect(fs.existsSync(path.join(path.dirname(dir), 'escape'))).toBe(false);
  });
});

describe('serve.js', () => {
  it('bad arguments: one line naming the fix, exit code 1', () => {
    for (const [args, message] of [
      [['--token', 'rw:x'], 'serve.js: --dir DIR is required: the directory that holds the entries'],
      [['--dir', dir, '--token', 'admin:x'], 'serve.js: --token admin:x: write rw:TOKEN (read-write) or ro:TOKEN (read-only)'],
      [['--dir', dir], 'serve.js: at least one --token rw:TOKEN or ro:TOKEN is required'],
    ] as const) {
      const r = spawnSync(process.execPath, [serveJs, ...args], { encoding: 'utf8' });
      expect([r.status, r.stdout, r.stderr]).toEqual([1, '', `${message}\n`]);
    }
  });
});
