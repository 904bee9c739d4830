/**
 * A remote cache server speaking Nx's self-hosted cache API (the OpenAPI spec Nx publishes since
 * Nx 20.8, "Nx custom remote cache specification" 1.0.0), storing each entry as one file:
 *
 *   PUT /v1/cache/{hash}   body: the task's outputs as Nx packs them (a tar.gz), Content-Length set
 *                          200 stored; 401 no or unknown token; 403 a read-only token;
 *                          409 an entry already exists (entries are never overwritten)
 *   GET /v1/cache/{hash}   200 the stored body; 401 no or unknown token; 404 no such entry
 *
 * Tokens are `Authorization: Bearer <token>`, each read-write or read-only: continuous integration
 * of the main branch writes, pull requests and laptops read (so a pull request cannot plant an
 * entry that main would later restore: CVE-2025-36852, "CREEP").
 *
 * Why it is written this way:
 * - Nx's client (packages/nx/src/native/cache/http_remote_cache.rs) takes 200 as stored and 403
 *   and 409 as "not stored, carry on"; any other answer to a PUT fails the task after retries. So
 *   refusals come only as 403/409, and only after the whole body was read: a client still sending
 *   when the connection closes sees a broken pipe, not the answer.
 * - Bodies are streamed to a temporary file in the store and never held in memory (an image's
 *   entry can be gigabytes). The entry appears under its name with link(2) only when the body is
 *   complete and of the announced length: a reader sees a whole entry or none, a dropped upload
 *   leaves nothing, and of two concurrent uploads of one hash the second gets 409.
 * - Error bodies are text/plain: Nx shows them to its user.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

/** Nx's task hashes are decimal or hex digits; anything else could name a path outside the store. */
const HASH = /^[A-Za-z0-9_-]{1,128}$/;

const digest = (s) => crypto.createHash('sha256').update(s).digest();

/**
 * An http.Server storing entries in `dir` (created if missing). `tokens`: [{ token, access:
 * 'rw' | 'ro' }]. `log(line)` is called once per request with "METHOD HASH STATUS BYTES".
 */
function createCacheServer({ dir, tokens, log = () => {} }) {
  fs.mkdirSync(dir, { recursive: true });
  // Temporary files live in the store so link(2) never crosses a file system.
  const tmpDir = path.join(dir, '.incoming');
  fs.mkdirSync(tmpDir, { recursive: true });
  // Compared as digests with timingSafeEqual: the time of a refusal says nothing about the token.
  const known = tokens.map(({ token, access }) => ({ digest: digest(token), access }));

  function access(req) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return null;
    const d = digest(m[1]);
    let found = null;
    for (const k of known) if (crypto.timingSafeEqual(k.digest, d)) found = k.access;
    return found;
  }

  return http.createServer((req, res) => {
    let bytes = 0;
    const answer = (status, text = '') => {
      log(`${req.method} ${hash ?? req.url} ${status} ${bytes}`);
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    /** Reads and drops the rest of the body, then answers (see above: Nx must see the answer). */
    const refuse = (status, text) => {
      req.on('data', (c) => (bytes += c.length));
      req.on('end', () => answer(status, text));
      req.on('error', () => res.destroy());
    };

    const m = /^\/v1\/cache\/([^/?]+)$/.exec(req.url ?? '');
    const hash = m && HASH.test(m[1]) ? m[1] : null;
    if (!m) return refuse(404, 'Not found: the API is GET and PUT /v1/cache/{hash}\n');
    if (req.method !== 'GET' && req.method !== 'PUT') return refuse(405, 'Method not allowed: GET or PUT\n');
    const who = access(req);
    if (!who) return refuse(401, 'Missing or invalid authentication token.\n');
    if (!hash) return refuse(400, 'Bad hash: letters, digits, - and _ only\n');
    const entry = path.join(dir, hash);

    if (req.method === 'GET') {
      fs.stat(entry, (err, st) => {
        if (err) return answer(404, 'The record was not found\n');
        const stream = fs.createReadStream(entry);
        stream.on('error', () => res.destroy());
        res.on('finish', () => log(`GET ${hash} 200 ${st.size}`));
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
        stream.pipe(res);
      });
      return;
    }

    if (who !== 'rw') return refuse(403, 'Access forbidden: this token is read-only\n');
    if (fs.existsSync(entry)) return refuse(409, 'Cannot override an existing record\n');
    const length = Number(req.headers['content-length']);
    if (!Number.isSafeInteger(length) || length < 0) return refuse(411, 'Content-Length required\n');

    const tmp = path.join(tmpDir, `${hash}.${process.pid}.${crypto.randomBytes(6).toString('hex')}`);
    const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
    pipeline(req, out)
      .then(() => {
        bytes = out.bytesWritten;
        if (bytes !== length) throw Object.assign(new Error('short'), { status: 400 });
        // Durable before it is visible: a crash after the link must not leave a truncated entry.
        const fd = fs.openSync(tmp, 'r');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.linkSync(tmp, entry);
        answer(200);
      })
      .catch((err) => {
        if (err.code === 'EEXIST') answer(409, 'Cannot override an existing record\n');
        else if (err.status === 400) answer(400, `Body of ${bytes} bytes, Content-Length said ${length}\n`);
        else {
          // The client went away (or the disk failed): nothing stored, nothing to answer.
          fs.rmSync(tmp, { force: true });
          log(`PUT ${hash} aborted ${out.bytesWritten}`);
          res.destroy();
        }
      })
      .finally(() => fs.rmSync(tmp, { force: true }));
  });
}

module.exports = { createCacheServer };
