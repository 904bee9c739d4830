#!/usr/bin/env node
'use strict';
/**
 * A small static HTTP server for fixtures, on loopback only:
 *
 *   node tools/gentoo-fixtures/serve.js ROOT [--port N] [--host 127.0.0.1]
 *
 * prints `listening http://127.0.0.1:PORT` on stdout once ready (--port 0, the default: any free
 * port) and exits on SIGTERM / SIGINT. GET and HEAD; Content-Length; a single `Range: bytes=a-b`
 * (206; portage fetches GPKG metadata that way); 404 for missing files and for directories (no
 * listings); 403 for any path with a `..` segment (raw or %-encoded), a NUL, or that resolves
 * (symlinks included) outside ROOT; 405 for other methods.
 *
 * In-process: `const { serve } = require('./serve.js'); const s = await serve(root, { port: 0 });
 * ... s.url ... await s.close();`
 */

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * @param {string} root
 * @param {{ port?: number, host?: string, log?: (line: string) => void }} [opts]
 * @returns {Promise<{ url: string, port: number, server: import('node:http').Server, close: () => Promise<void> }>}
 */
async function serve(root, opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.test(host)) throw new Error(`refusing to listen on ${host}: loopback (127.x.x.x) only`);
  const realRoot = fs.realpathSync(root);
  if (!fs.statSync(realRoot).isDirectory()) throw new Error(`${root} is not a directory`);

  const server = http.createServer((req, res) => {
    const send = (status, text, headers = {}) => {
      const body = Buffer.from(text ? `${text}\n` : '');
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      opts.log?.(`${req.method} ${req.url}`);
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed', { Allow: 'GET, HEAD' });
      const rawPath = (req.url ?? '/').split('?')[0].split('#')[0];
      let decoded;
      try {
        decoded = decodeURIComponent(rawPath);
      } catch {
        return send(400, 'bad request');
      }
      const segments = [...rawPath.split('/'), ...decoded.split(/[/\\]/)];
      if (decoded.includes('\0') || segments.some((s) => s === '..' || s.toLowerCase() === '%2e%2e')) return send(403, 'forbidden');
      const file = path.resolve(realRoot, '.' + path.posix.normalize('/' + decoded));
      if (file !== realRoot && !file.startsWith(realRoot + path.sep)) return send(403, 'forbidden');
      let real;
      try {
        real = fs.realpathSync(file);
      } catch {
        return send(404, 'not found');
      }
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return send(403, 'forbidden');
      const st = fs.statSync(real);
      if (!st.isFile()) return send(404, 'not found');

      const headers = {
        'Content-Type': 'application/octet-stream',
        'Last-Modified': st.mtime.toUTCString(),
        'Accept-Ranges': 'bytes',
      };
      let start = 0;
      let end = st.size - 1;
      let status = 200;
      const range = req.headers.range;
      if (range) {
        const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
        if (m && (m[1] || m[2])) {
          if (m[1]) {
            start = Number(m[1]);
            if (m[2]) end = Math.min(Number(m[2]), st.size - 1);
          } else {
            start = Math.max(0, st.size - Number(m[2]));
          }
          if (start > end || start >= st.size) return send(416, 'range not satisfiable', { 'Content-Range': `bytes */${st.size}` });
          status = 206;
          headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
        }
      }
      const length = st.size === 0 ? 0 : end - start + 1;
      res.writeHead(status, { ...headers, 'Content-Length': length });
      if (req.method === 'HEAD' || length === 0) return res.end();
      const stream = fs.createReadStream(real, { start, end });
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    } catch (err) {
      if (!res.headersSent) send(500, 'internal error');
      else res.destroy();
    }
  });

  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${host}:${addr.port}`;
  return {
    url,
    port: addr.port,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

module.exports = { serve };

if (require.main === module) {
  const args = process.argv.slice(2);
  let root;
  let port = 0;
  let host = '127.0.0.1';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') port = Number(args[++i]);
    else if (args[i].startsWith('--port=')) port = Number(args[i].slice(7));
    else if (args[i] === '--host') host = args[++i];
    else if (args[i].startsWith('--host=')) host = args[i].slice(7);
    else if (!root) root = args[i];
    else {
      process.stderr.write(`unexpected argument ${args[i]}\n`);
      process.exit(2);
    }
  }
  if (!root || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: node tools/gentoo-fixtures/serve.js ROOT [--port N] [--host 127.0.0.1]\n');
    process.exit(2);
  }
  serve(root, { port, host }).then(
    (s) => {
      process.stdout.write(`listening ${s.url}\n`);
      const stop = () => s.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err) => {
      process.stderr.write(`${err.message ?? err}\n`);
      process.exit(1);
    },
  );
}
