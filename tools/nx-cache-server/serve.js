#!/usr/bin/env node
/**
 * Runs the Nx self-hosted remote cache server (server.js) until it is killed:
 *
 *   node tools/nx-cache-server/serve.js --dir DIR [--host 127.0.0.1] [--port 0] --token rw:TOKEN [--token ro:TOKEN]...
 *
 * Prints its URL (what NX_SELF_HOSTED_REMOTE_CACHE_SERVER takes) as the first line, then one line
 * per request: "METHOD HASH STATUS BYTES". Port 0 picks a free port.
 */
const path = require('node:path');
const { parseArgs } = require('node:util');
const { createCacheServer } = require('./server');

function fail(message) {
  console.error(`serve.js: ${message}`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: { dir: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' }, token: { type: 'string', multiple: true, default: [] } },
  }));
} catch (err) {
  fail(`${err.message} (usage: serve.js --dir DIR [--host H] [--port N] --token rw:TOKEN [--token ro:TOKEN])`);
}
if (!values.dir) fail('--dir DIR is required: the directory that holds the entries');
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${values.port}: a port number (0 picks a free one)`);
const tokens = values.token.map((t) => {
  const m = /^(rw|ro):(.+)$/.exec(t);
  if (!m) fail(`--token ${t}: write rw:TOKEN (read-write) or ro:TOKEN (read-only)`);
  return { access: m[1], token: m[2] };
});
if (tokens.length === 0) fail('at least one --token rw:TOKEN or ro:TOKEN is required');

const server = createCacheServer({ dir: path.resolve(values.dir), tokens, log: (line) => console.log(line) });
server.on('error', (err) => fail(`${values.host}:${port}: ${err.message}`));
server.listen(port, values.host, () => {
  const { address, port: bound } = server.address();
  console.log(`http://${address.includes(':') ? `[${address}]` : address}:${bound}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
