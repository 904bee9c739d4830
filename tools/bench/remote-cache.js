#!/usr/bin/env node
/**
 * The remote cache, measured (real nx, Nx's self-hosted cache API served by
 * tools/nx-cache-server on 127.0.0.1, daemon off unless said):
 *
 *  1. The demo (examples/system, tools tree and bootable disk): runner A's cold build, which
 *     uploads every preset, beside a fresh clone B's `nx run system:image` restoring all of them
 *     from the remote cache (daemon off, then another clone with the daemon on), and beside B's
 *     restore from its local cache. Aim: B <= 10 s.
 *  2. A ~1 GB incompressible output (a synthetic Nx target writing 1 GiB from /dev/urandom): the
 *     run storing it locally only, beside the run storing it remotely too; its restore from the
 *     local cache beside its restore from the remote cache.
 *
 * Each row: wall time, peak RSS of the nx process (Nx packs and unpacks remote entries in it, in
 * memory) and peak of the summed RSS of nx and all its descendants (sampled from /proc every 50
 * ms), and the bytes the server received or sent. The server's own peak RSS closes the table.
 *
 *   node tools/bench/remote-cache.js     (as root, after npm run build; network for the demo's
 *                                        packages unless ~/.cache/kiln/packages has them)
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { benchDir, repo } = require('./lib');

const nxBin = path.join(repo, 'node_modules/nx/dist/bin/nx.js');
const tmp = benchDir('remote-cache');
const TOKEN = 'bench-token';

/** VmRSS and VmHWM (kB) of a pid, or null when it is gone. */
function mem(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return null;
  }
}

/** The pids below `root` (from each process's parent in /proc/PID/stat). */
function descendants(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found = [];
  const walk = (p) => {
    for (const [c, pp] of parent) if (pp === p) (found.push(c), walk(c));
  };
  walk(root);
  return found;
}

/** Runs nx ARGS in `ws`; resolves with wall ms, the nx process's peak RSS and the tree's peak summed RSS (MB). */
function measure(ws, env, args) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, [nxBin, ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let nxPeak = 0;
    let treePeak = 0;
    const sample = () => {
      const own = mem(child.pid);
      if (own) nxPeak = Math.max(nxPeak, own.hwm);
      const sum = [child.pid, ...descendants(child.pid)].reduce((a, p) => a + (mem(p)?.rss ?? 0), 0);
      treePeak = Math.max(treePeak, sum);
    };
    const timer = setInterval(sample, 50);
    child.on('exit', (code) => {
      clearInterval(timer);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (code !== 0) return reject(new Error(`nx ${args.join(' ')} failed (${code}):\n${out.slice(-3000)}`));
      resolve({ ms, nxMB: nxPeak / 1024, treeMB: treePeak / 1024, out });
    });
  });
}

function startServer(dir) {
  const child = spawn(process.execPath, [path.join(repo, 'tools/nx-cache-server/serve.js'), '--dir', dir, '--token', `rw:${TOKEN}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let rest = '';
  return new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop();
      lines.push(...parts);
      if (lines.length && !resolve.done) {
        resolve.done = true;
        resolve({ url: lines[0], lines, child });
      }
    });
  });
}

/** Bytes the server received (PUT ... 200) or sent (GET ... 200) since line `from`. */
const transferred = (server, from, method) =>
  server.lines
    .slice(from)
    .filter((l) => l.startsWith(`${method} `) && / 200 \d+$/.test(l))
    .reduce((a, l) => a + Number(l.split(' ')[3]), 0);

function workspace(ws, name, setup) {
  fs.mkdirSync(ws, { recursive: true });
  setup(ws);
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), `{ "name": "${name}", "private": true }\n`);
  if (!fs.existsSync(path.join(ws, 'nx.json'))) fs.writeFileSync(path.join(ws, 'nx.json'), '{ "plugins": ["@kiln/nx"] }\n');
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules\nmkosi.output/\n.nx-cache/\n.nx-data/\nout/\n');
  git(ws, 'init', '-q');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-qm', 'bench');
}
function git(cwd, ...args) {
  const r = spawnSync('git', ['-c', 'user.email=bench@kiln', '-c', 'user.name=bench', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}
function env(ws, extra = {}) {
  const e = {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_INTERACTIVE: 'false',
    NX_CACHE_DIRECTORY: path.join(ws, '.nx-cache'),
    NX_WORKSPACE_DATA_DIRECTORY: path.join(ws, '.nx-data'),
    ...extra,
  };
  delete e.SOURCE_DATE_EPOCH;
  return e;
}
const remoteEnv = (server) => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: TOKEN });
const statuses = (ws) => JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache/run.json'), 'utf8')).tasks.map((t) => t.cacheStatus);

const rows = [];
function row(label, r, bytes, note = '') {
  rows.push([label, r, bytes, note]);
  console.error(`  ${label}: ${(r.ms / 1000).toFixed(1)} s`);
}
const MB = (b) => `${(b / 1e6).toFixed(0)} MB`;

async function demo(server) {
  const a = path.join(tmp, 'demo-a');
  workspace(a, 'bench-remote-a', (ws) => fs.cpSync(path.join(repo, 'examples/system'), path.join(ws, 'system'), { recursive: true, filter: (s) => !s.includes('mkosi.output') }));
  let from = server.lines.length;
  const cold = await measure(a, env(a, remoteEnv(server)), ['run', 'system:image', '--outputStyle=static']);
  row('demo: A cold build, uploading 4 presets', cold, transferred(server, from, 'PUT'), `(${statuses(a).join(', ')})`);

  for (const daemon of [false, true]) {
    const b = path.join(tmp, `demo-b-${daemon ? 'daemon' : 'nodaemon'}`, 'clone');
    fs.mkdirSync(path.dirname(b), { recursive: true });
    git(path.dirname(b), 'clone', '-q', a, b);
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(b, 'node_modules'));
    const home = path.join(path.dirname(b), 'home');
    fs.mkdirSync(home);
    const e = env(b, { ...remoteEnv(server), HOME: home, NX_DAEMON: String(daemon) });
    delete e.XDG_CACHE_HOME;
    from = server.lines.length;
    const restore = await measure(b, e, ['run', 'system:image', '--outputStyle=static']);
    row(`demo: fresh clone B, remote restore (daemon ${daemon ? 'on' : 'off'})`, restore, transferred(server, from, 'GET'), `(${statuses(b).join(', ')})`);
    if (!daemon) {
      fs.rmSync(path.join(b, 'system/mkosi.output'), { recursive: true });
      const local = await measure(b, e, ['run', 'system:image', '--outputStyle=static']);
      row('demo: B again, outputs removed, local restore', local, 0, `(${statuses(b).join(', ')})`);
    } else spawnSync(process.execPath, [nxBin, 'daemon', '--stop'], { cwd: b, env: e });
  }
}

async function big(server) {
  const ws = path.join(tmp, 'big');
  workspace(ws, 'bench-remote-big', (w) => {
    fs.writeFileSync(path.join(w, 'nx.json'), '{}\n');
    fs.mkdirSync(path.join(w, 'big'));
    fs.writeFileSync(
      path.join(w, 'big/project.json'),
      JSON.stringify({
        name: 'big',
        targets: {
          gen: {
            executor: 'nx:run-commands',
            cache: true,
            inputs: ['{projectRoot}/project.json'],
            outputs: ['{workspaceRoot}/out'],
            options: { command: 'mkdir -p out && head -c 1073741824 /dev/urandom > out/big.bin' },
          },
        },
      }),
    );
  });
  const run = (e) => measure(ws, e, ['run', 'big:gen', '--outputStyle=static']);
  const reset = (what) => fs.rmSync(path.join(ws, what), { recursive: true, force: true });

  reset('out');
  row('1 GiB: generated, stored locally only', await run(env(ws)), 0, `(${statuses(ws)})`);
  reset('.nx-cache');
  reset('.nx-data');
  reset('out');
  let from = server.lines.length;
  row('1 GiB: generated, stored locally and remotely', await run(env(ws, remoteEnv(server))), transferred(server, from, 'PUT'), `(${statuses(ws)})`);
  reset('out');
  row('1 GiB: restored from the local cache', await run(env(ws, remoteEnv(server))), 0, `(${statuses(ws)})`);
  reset('.nx-cache');
  reset('.nx-data');
  reset('out');
  from = server.lines.length;
  row('1 GiB: restored from the remote cache', await run(env(ws, remoteEnv(server))), transferred(server, from, 'GET'), `(${statuses(ws)})`);
  reset('out');
}

(async () => {
  const server = await startServer(path.join(tmp, 'store'));
  try {
    const only = process.argv[2];
    if (only !== '--big') await demo(server);
    if (only !== '--demo') await big(server);
    console.log(`${'remote cache (nx self-hosted API, 127.0.0.1)'.padEnd(52)} ${'wall'.padStart(8)} ${'nx RSS'.padStart(9)} ${'tree RSS'.padStart(9)} ${'transfer'.padStart(9)}`);
    for (const [label, r, bytes, note] of rows)
      console.log(`${label.padEnd(52)} ${`${(r.ms / 1000).toFixed(1)} s`.padStart(8)} ${`${r.nxMB.toFixed(0)} MB`.padStart(9)} ${`${r.treeMB.toFixed(0)} MB`.padStart(9)} ${(bytes ? MB(bytes) : '-').padStart(9)}   ${note}`);
    console.log(`${'the cache server (streams bodies to and from disk)'.padEnd(52)} ${''.padStart(8)} ${`${(mem(server.child.pid).hwm / 1024).toFixed(0)} MB`.padStart(9)}`);
  } finally {
    server.child.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
