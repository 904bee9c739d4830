#!/usr/bin/env node
/**
 * Records what mkosi 26 does with each project of match-cases.json into match-cases.mkosi.json,
 * the expectations of libs/config/test/match.unit.test.ts:
 *
 *   node libs/config/test/data/record-match-cases.js [MKOSI_SOURCE_DIR]   (default /tmp/mkosi26/src)
 *
 * Each case's files are written to a temp directory and `mkosi --json summary` is run on it with
 * the host named Debian bookworm (MKOSI_HOST_DISTRIBUTION/RELEASE); recorded per case: the
 * Packages= of every image (main, and presets by name), mkosi's warnings about deprecated keys,
 * or its error (the message with the temp directory taken out, and the file it names).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const src = process.argv[2] || '/tmp/mkosi26/src';
const cases = JSON.parse(fs.readFileSync(path.join(__dirname, 'match-cases.json'), 'utf8'));
const out = {};
for (const c of cases) {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'match-case-')), 'proj');
  for (const [rel, lines] of Object.entries(c.files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), lines.map((l) => `${l}\n`).join(''));
  }
  const r = spawnSync('python3', ['-m', 'mkosi', '-C', root, '--json', 'summary'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONPATH: src, MKOSI_HOST_DISTRIBUTION: 'debian', MKOSI_HOST_RELEASE: 'bookworm' },
  });
  const rel = (s) => s.split(`${root}/`).join('').split(root).join('.');
  const lines = r.stderr.split('\n').map((l) => rel(l.replace(/^‣\s*/, '')).trim()).filter(Boolean);
  const warnings = lines.filter((l) => /deprecated/.test(l));
  if (r.status !== 0) {
    const message = lines.filter((l) => !l.startsWith('Traceback') && !/^File "|^\^|^raise |^return /.test(l)).pop() || `exit code ${r.status}`;
    const named = /^([^\s:]+\.conf):/.exec(message);
    out[c.name] = { error: message, ...(named ? { file: named[1] } : {}) };
  } else {
    const summary = JSON.parse(r.stdout);
    out[c.name] = { images: Object.fromEntries(summary.Images.map((i) => [i.Image, i.Packages])), ...(warnings.length ? { warnings } : {}) };
  }
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
}
fs.writeFileSync(path.join(__dirname, 'match-cases.mkosi.json'), `${JSON.stringify(out, null, 1)}\n`);
console.log(`recorded ${cases.length} cases`);
