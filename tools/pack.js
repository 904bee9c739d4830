#!/usr/bin/env node
/**
 * Builds kiln and packs its four packages as npm would publish them:
 *
 *   node tools/pack.js [DIR]     (default DIR: ./tmp/pack)
 *
 * Runs `tsc -b tsconfig.build.json`, then `npm pack --pack-destination DIR` for each workspace,
 * and prints the tarballs' absolute paths, one a line, in dependency order (config, engine, cli,
 * nx) on stdout; progress goes to stderr. Install them elsewhere with
 * `npm install nx@24 $(node tools/pack.js /tmp/kiln-pack)`. e2e/test/nx-install.test.ts uses it.
 *
 * Also warns (stderr) about compiled files in dist/ whose source is gone (tsc -b does not remove
 * them, and "files": ["dist"] would ship them): remove the package's dist/ and run again.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const WORKSPACES = ['libs/config', 'libs/engine', 'apps/kiln', 'plugins/nx'];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  }
  return r.stdout;
}

/** dist/X.js (or .d.ts, .js.map) with no src/X.ts: left by a renamed or deleted source file. */
function staleOutputs(ws) {
  const dist = path.join(repo, ws, 'dist');
  const src = path.join(repo, ws, 'src');
  if (!fs.existsSync(dist)) return [];
  return fs
    .readdirSync(dist, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(js|d\.ts|js\.map)$/.test(f))
    .filter((f) => {
      const base = f.replace(/(\.d\.ts|\.js\.map|\.js)$/, '');
      return !['.ts', '.tsx', '.js'].some((ext) => fs.existsSync(path.join(src, base + ext)));
    })
    .map((f) => path.join(ws, 'dist', f));
}

function pack(dest) {
  fs.mkdirSync(dest, { recursive: true });
  process.stderr.write('building (tsc -b tsconfig.build.json)\n');
  run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [repo] }), '-b', 'tsconfig.build.json']);
  const tarballs = [];
  for (const ws of WORKSPACES) {
    const stale = staleOutputs(ws);
    if (stale.length) process.stderr.write(`warning: ${ws}: compiled files without a source would be packed: ${stale.join(', ')}\n`);
    const out = run('npm', ['pack', '--json', '--pack-destination', dest, '-w', ws]);
    // npm prints lifecycle output before the JSON array on some versions: take the array.
    const [info] = JSON.parse(out.slice(out.indexOf('[')));
    const file = path.join(dest, info.filename);
    if (!fs.existsSync(file)) throw new Error(`npm pack -w ${ws} reported ${info.filename}, not found in ${dest}`);
    process.stderr.write(`${info.name}@${info.version}: ${info.entryCount} files, ${info.size} bytes\n`);
    tarballs.push(file);
  }
  return tarballs;
}

module.exports = { pack, WORKSPACES };

if (require.main === module) {
  const dest = path.resolve(process.argv[2] ?? path.join(repo, 'tmp/pack'));
  try {
    for (const file of pack(dest)) console.log(file);
  } catch (e) {
    console.error(`pack: ${e.message}`);
    process.exit(1);
  }
}
