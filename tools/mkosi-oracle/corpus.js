#!/usr/bin/env node
/**
 * The corpus measurement of issue 16: how many real mkosi configuration directories kiln reads as
 * mkosi 26 reads them. For each directory it runs mkosi 26's `summary --json` (the oracle) and
 * `kiln summary --json`, and classifies the directory:
 *   equivalent   every compared field of every image is the same
 *   differs      kiln reads it, but some fields differ (named, per image)
 *   kiln fails   kiln exits non-zero (its one-line error is kept and grouped by cause)
 *   mkosi fails  mkosi 26 itself refuses the directory: excluded from the percentages
 *
 * Usage:
 *   node tools/mkosi-oracle/corpus.js [--corpus DIR] [--json OUT] [--timeout S] [--jobs N]
 *                                     [--mkosi-cache DIR] [--only SUBSTR] [DIR...]
 *   --corpus DIR       read DIR/manifest.json ([{repo, commit, path, dir}], dir relative to DIR);
 *                      default /work/corpus when no DIR is given
 *   DIR...             measure these configuration directories instead
 *   --json OUT         also write every result (fields compared, values, messages) to OUT
 *   --markdown OUT     also write the report the helpers work from (percentages, kiln's failures
 *                      grouped by cause with every directory and message, differences by field)
 *   --timeout S        per run (default 60)
 *   --jobs N           directories measured at once (default 2)
 *   --mkosi-cache DIR  keep mkosi's answers there (keyed by directory): mkosi 26 does not change,
 *                      so a re-run against a newer kiln only runs kiln
 *   --only SUBSTR      only directories whose path contains SUBSTR
 *   --form F           kiln's JSON to compare: mkosi (--json=mkosi, every field), kiln (its own form,
 *                      the shared fields only) or auto (default: mkosi when this kiln offers it)
 * Environment: KILN_MKOSI_SRC (mkosi 26's source checkout; default /tmp/mkosi26/src), KILN
 * (the kiln CLI; default apps/kiln/dist/main.js of this checkout: build it first).
 *
 * The corpus is other people's code (mkosi.version and other scripts may run while reading), so
 * both tools run without network (unshare -n) and, when this runs as root, as nobody (setpriv);
 * as another user, in a user namespace (unshare -rn). Nothing of the corpus is committed here.
 *
 * Fields compared: when kiln has the mkosi-shaped JSON (`summary --json=mkosi`), every field both
 * sides print; until then the fields the two forms share: Distribution, Release, Architecture,
 * Format, Output, Packages, BuildPackages, Bootable, ImageId, ImageVersion, Profiles, Dependencies.
 * Images are paired by name (mkosi's "main" is kiln's main preset); an image only one side has
 * is a difference ("images"). Package lists, RemoveFiles= and Files compare as sets (order is not
 * meaning); mkosi's bundled resources and kiln's built-in includes are both @MKOSI_RESOURCES@.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '../..');
const KILN = process.env.KILN || path.join(repo, 'apps/kiln/dist/main.js');
const MKOSI_SRC = process.env.KILN_MKOSI_SRC || '/tmp/mkosi26/src';

// --- arguments -------------------------------------------------------------------------------
const args = process.argv.slice(2);
const opt = { form: 'auto', corpus: null, json: null, markdown: null, timeout: 60, jobs: 2, mkosiCache: null, only: null, dirs: [] };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => {
    if (i + 1 >= args.length) throw new Error(`${a} needs a value`);
    return args[++i];
  };
  if (a === '--corpus') opt.corpus = val();
  else if (a === '--json') opt.json = val();
  else if (a === '--markdown') opt.markdown = val();
  else if (a === '--timeout') opt.timeout = Number(val());
  else if (a === '--jobs') opt.jobs = Math.max(1, Number(val()));
  else if (a === '--mkosi-cache') opt.mkosiCache = val();
  else if (a === '--only') opt.only = val();
  else if (a === '--form') {
    opt.form = val();
    if (!['auto', 'mkosi', 'kiln'].includes(opt.form)) throw new Error('--form takes auto, mkosi or kiln');
  }
  else if (a === '-h' || a === '--help') {
    console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
    process.exit(0);
  } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
  else opt.dirs.push(a);
}

/** The directories to measure: [{ id, dir, repo?, commit?, path? }]. */
function entries() {
  let list;
  if (opt.dirs.length && !opt.corpus) list = opt.dirs.map((d) => ({ id: d, dir: path.resolve(d) }));
  else {
    const root = path.resolve(opt.corpus || '/work/corpus');
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
    list = manifest.map((e) => ({ ...e, id: `${e.repo}/${e.path}`, dir: path.resolve(root, e.dir) }));
  }
  return opt.only ? list.filter((e) => e.id.includes(opt.only) || e.dir.includes(opt.only)) : list;
}

// --- the sandbox ---------------------------------------------------------------------------------
/** A scratch HOME the sandboxed user may write (mkosi and kiln may want a cache directory). */
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-corpus-'));
fs.chmodSync(scratch, 0o777);
// git refuses trees another user owns (the corpus, mkosi's checkout for MinimumVersion=commit:);
// mkosi runs git with a cleaned environment, so the exception goes in HOME's config as well
fs.writeFileSync(path.join(scratch, '.gitconfig'), '[safe]\n\tdirectory = *\n', { mode: 0o644 });

/** The command prefix that takes the network away (and root, when we have it). */
function sandboxPrefix() {
  const works = (cmd) => spawnSync(cmd[0], [...cmd.slice(1), 'true'], { stdio: 'ignore' }).status === 0;
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
  if (process.getuid && process.getuid() === 0) {
    // nobody cannot enter /root: the tools are taken from the system PATH (python3, node)
    if (works(['unshare', '-n', ...nobody])) return { prefix: ['unshare', '-n', ...nobody], how: 'unshare -n + setpriv (nobody)', path: '/usr/local/bin:/usr/bin:/bin' };
    if (works(['unshare', '-n'])) return { prefix: ['unshare', '-n'], how: 'unshare -n (as root: setpriv failed)' };
  } else if (works(['unshare', '-rn'])) return { prefix: ['unshare', '-rn'], how: 'unshare -rn (user namespace)' };
  return { prefix: [], how: 'no sandbox (unshare unavailable): network and user as the caller' };
}
const SANDBOX = sandboxPrefix();

/** Runs a command in the sandbox with a timeout; resolves { code, stdout, stderr, timedOut, ms }. */
function run(cmd, argv, env, cwd) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const full = [...SANDBOX.prefix, cmd, ...argv];
    const child = spawn(full[0], full.slice(1), {
      cwd,
      env: {
        PATH: SANDBOX.path ?? process.env.PATH,
        HOME: scratch,
        TMPDIR: scratch,
        LANG: 'C.UTF-8',
        // git (mkosi.version's git describe, MinimumVersion=commit:) in trees another user owns
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'safe.directory',
        GIT_CONFIG_VALUE_0: '*',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, opt.timeout * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, ms: Date.now() - t0 });
    });
  });
}

// --- the two tools -----------------------------------------------------------------------------
/** mkosi 26's summary: { ok, images, tools } or { ok: false, message }. */
async function mkosi(dir, commit) {
  const name = `${dir}${commit ? `@${commit}` : ''}`.replace(/[^A-Za-z0-9._+@-]/g, '_');
  const key = opt.mkosiCache && path.join(opt.mkosiCache, `${name}.json`);
  if (key && fs.existsSync(key)) return JSON.parse(fs.readFileSync(key, 'utf8'));
  const r = await run('python3', ['-m', 'mkosi', '-C', dir, '--json', 'summary'], {
    PYTHONPATH: MKOSI_SRC,
    MKOSI_HOST_DISTRIBUTION: 'debian',
    MKOSI_HOST_RELEASE: 'bookworm',
  }, dir);
  let result;
  if (r.code === 0) {
    try {
      const j = JSON.parse(r.stdout);
      result = { ok: true, images: j.Images, tools: j.Tools, warnings: warnings(r.stderr) };
    } catch (e) {
      result = { ok: false, message: `unparsable JSON: ${e.message}` };
    }
  } else result = { ok: false, message: r.timedOut ? `timed out after ${opt.timeout} s` : lastLine(r.stderr) || `exit ${r.code}` };
  if (key) {
    fs.mkdirSync(opt.mkosiCache, { recursive: true });
    fs.writeFileSync(key, JSON.stringify(result));
  }
  return result;
}

/** Does this kiln print mkosi-shaped JSON (`summary --json=mkosi`)? Asked once. */
let mkosiForm = null;
function kilnHasMkosiForm() {
  if (mkosiForm === null && opt.form !== 'auto') mkosiForm = opt.form === 'mkosi';
  if (mkosiForm === null) {
    const r = spawnSync('node', [KILN, 'summary', '--help'], { encoding: 'utf8' });
    mkosiForm = /json=mkosi/.test((r.stdout || "").replace(/\s+/g, " "));
  }
  return mkosiForm;
}

/** kiln's summary: { ok, images: [{Image, ...fields}] } or { ok: false, message }. */
async function kiln(dir) {
  const form = kilnHasMkosiForm() ? '--json=mkosi' : '--json';
  const r = await run('node', [KILN, 'summary', '-C', dir, form], {}, dir);
  if (r.code !== 0) {
    const message = r.timedOut ? `timed out after ${opt.timeout} s` : firstErrorLine(r.stderr) || `exit ${r.code}`;
    return { ok: false, message, stack: /\n\s+at .+\(.*\.js:\d+:\d+\)/.test(r.stderr), stderr: r.stderr };
  }
  let j;
  try {
    j = JSON.parse(r.stdout);
  } catch (e) {
    return { ok: false, message: `unparsable JSON: ${e.message}` };
  }
  if (Array.isArray(j.Images)) return { ok: true, form: 'mkosi', images: j.Images, tools: j.Tools, stderr: r.stderr };
  return { ok: true, form: 'kiln', images: fromKilnForm(j), stderr: r.stderr };
}

/** kiln's own JSON (presets grouped by section) flattened to mkosi's image objects. */
function fromKilnForm(j) {
  return j.presets
    .filter((p) => p.generated !== 'tools') // mkosi prints the tools tree apart ("Tools")
    .map((p) => {
      const flat = {};
      for (const section of Object.values(p.settings)) Object.assign(flat, section);
      // mkosi's finalized Dependencies=: the configured ones plus the default initrd it adds; the
      // graph's other edges (tools tree, BaseTrees=) mkosi does not list there
      const deps = p.dependencies
        .filter((d) => d.reason === 'Dependencies=' || d.preset === 'default-initrd')
        .map((d) => (d.preset === j.main ? 'main' : d.preset));
      return { ...flat, Image: p.main ? 'main' : p.name, Dependencies: deps };
    });
}

/** mkosi's error: its last ‣ line (warnings come before; the error may take a second line). */
function lastLine(s) {
  const lines = s.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const at = lines.findLastIndex((l) => l.startsWith('‣'));
  return (at >= 0 ? lines.slice(at, at + 2).join(' ') : lines.pop() ?? '').replace(/^‣\s*/, '');
}
const warnings = (s) => s.split('\n').filter((l) => /warn|deprecat|unknown|ignor/i.test(l)).map((l) => l.replace(/^\W+/, '').trim());
/** The settings kiln warns it does not know (mkosi 26 read the directory, so it knows them): [{ name, where }]. */
function unknownSettings(stderr) {
  return [...stderr.matchAll(/^(.*?): warning: unknown setting (\w+)=/gm)].map((x) => ({ name: x[2], where: x[1] }));
}

/** kiln's error: its first line that is not a warning (‣ lines are notes). */
function firstErrorLine(s) {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => !l.startsWith('‣') && !/(^|: )warning:/i.test(l)) ?? lines[lines.length - 1] ?? '';
}

// --- comparison --------------------------------------------------------------------------------
const BASIC_FIELDS = ['Distribution', 'Release', 'Architecture', 'Format', 'Output', 'Packages', 'BuildPackages', 'Bootable', 'ImageId', 'ImageVersion', 'Profiles', 'Dependencies'];
/** Lists whose order means nothing. */
const SET_FIELDS = new Set(['Packages', 'BuildPackages', 'VolatilePackages', 'RemovePackages', 'InitrdPackages', 'InitrdVolatilePackages', 'Profiles', 'Dependencies', 'RemoveFiles', 'Files']);
/** Fields that depend on where the tools ran, not on the configuration. */
const IGNORED_FIELDS = new Set(['Image', 'Environment', 'BuildSources', 'WorkspaceDirectory', 'CacheDirectory', 'PackageCacheDirectory', 'OutputDirectory', 'BuildDirectory', 'ToolsTree', 'ProxyPeerCertificate']);

const RESOURCES = new RegExp(`${os.tmpdir().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/kiln-corpus-[^/]+/[^/]+/resources`, 'g');
/** kiln's own built-in includes (Include=mkosi-initrd...) live in its config library's resources. */
const KILN_RESOURCES = new RegExp(`${path.resolve(path.dirname(KILN), '../../..').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/libs/config/resources`, 'g');
/** mkosi's bundled resources unpack to a random directory under TMPDIR: one name for them. */
function unrandom(v) {
  if (typeof v === 'string') return v.replace(RESOURCES, '@MKOSI_RESOURCES@').replace(KILN_RESOURCES, '@MKOSI_RESOURCES@');
  if (Array.isArray(v)) return v.map(unrandom);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unrandom(x)]));
  return v;
}

/** One form for values both sides mean the same by (kiln's own JSON form: yes/no features). */
function norm(field, v) {
  if (v === undefined) return undefined;
  v = unrandom(v);
  // kiln's summaries never print a password, only whether one is set ("(set)"): compare that
  if (field === 'RootPassword' && Array.isArray(v)) return [v[0] === null ? null : '(set)', v[1]];
  // kiln's built-in includes are its own files, not mkosi's: only the project's files compare
  if (field === 'Files' && Array.isArray(v)) v = v.filter((f) => !String(f).startsWith('@MKOSI_RESOURCES@'));
  if (field === 'Bootable') return v === true || v === 'yes' ? 'enabled' : v === false || v === 'no' ? 'disabled' : v;
  if (SET_FIELDS.has(field) && Array.isArray(v)) return [...new Set(v.map(String))].sort();
  if (SET_FIELDS.has(field) && v === null) return [];
  return v;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** A version a script printed from the clock: its digits say nothing about the configuration. */
const shape = (v) => (typeof v === 'string' ? v.replace(/[0-9]/g, '0') : v);

/**
 * An executable mkosi.version that prints the date gives mkosi and kiln different versions, a
 * few seconds apart: when the two versions have the same shape, both are @VERSION@ everywhere.
 */
function unclock(m, k) {
  const main = (images) => images.find((i) => i.Image === 'main') ?? images[images.length - 1];
  const vm = main(m.images)?.ImageVersion;
  const vk = main(k.images)?.ImageVersion;
  if (typeof vm !== 'string' || typeof vk !== 'string' || vm === vk || shape(vm) !== shape(vk)) return;
  const swap = (v, from) => (typeof v === 'string' ? v.split(from).join('@VERSION@') : Array.isArray(v) ? v.map((x) => swap(x, from)) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([a, x]) => [a, swap(x, from)])) : v);
  m.images = m.images.map((i) => swap(i, vm));
  k.images = k.images.map((i) => swap(i, vk));
}

/** [{ image, field, mkosi, kiln }] of every difference. */
function compare(m, k) {
  const diffs = [];
  unclock(m, k);
  const ignored = new Set(IGNORED_FIELDS);
  const kImages = new Map(k.images.map((i) => [i.Image, i]));
  const mImages = new Map(m.images.map((i) => [i.Image, i]));
  const mNames = [...mImages.keys()].sort();
  const kNames = [...kImages.keys()].sort();
  if (!same(mNames, kNames)) diffs.push({ image: '*', field: 'images', mkosi: mNames, kiln: kNames });
  for (const [name, mi] of mImages) {
    const ki = kImages.get(name);
    if (!ki) continue;
    const fields = k.form === 'mkosi' ? Object.keys(mi).filter((f) => f in ki && !ignored.has(f)) : BASIC_FIELDS;
    for (const f of fields) {
      // an image that does not set Seed= gets a random one from mkosi on every run
      if (f === 'Seed' && ki[f] === null) continue;
      const a = norm(f, mi[f]);
      const b = norm(f, ki[f]);
      if (!same(a, b)) diffs.push({ image: name, field: f, mkosi: a, kiln: b });
    }
  }
  return diffs;
}

// --- classification of kiln's failures -------------------------------------------------------------
/** Causes, tried in order on kiln's one-line message; the first that matches names the group. */
const CAUSES = [
  ['no error line (stack trace)', (m, r) => r.stack],
  ['timed out', (m) => /timed out/.test(m)],
  ['built-in include (Include=mkosi-initrd|vm|tools|addon|obs)', (m) => /Include=.*\bmkosi-(initrd|vm|tools|addon|obs)\b/.test(m)],
  ['include not found', (m) => /Include=/.test(m) && /does not exist|not found/.test(m)],
  ['executable mkosi.version read as text', (m) => /mkosi\.version/.test(m) && /several lines|#!/.test(m)],
  ['mkosi.version script', (m) => /mkosi\.version/.test(m)],
  ['%v while ImageVersion= is unset', (m) => /specifier "%v"/.test(m)],
  ['specifier', (m) => /specifier/.test(m)],
  ['[Match]/[Assert] key or value', (m) => /\[(Trigger)?(Match|Assert)\]|condition section|match key/i.test(m)],
  ['config line syntax (a line without "=", e.g. in a section mkosi ignores)', (m) => /is not a setting \(expected KEY=VALUE\)/.test(m)],
  ['unknown setting', (m) => /unknown setting|not a setting|unknown key|is not known|unknown/i.test(m)],
  ['feature value (enabled/disabled) refused', (m) => /"(enabled|disabled)" is not valid/.test(m)],
  ['image (preset) name refused', (m) => /preset name|image name/i.test(m)],
  ['path must exist (mkosi does not require it)', (m) => /does not exist/.test(m)],
  ['main-only / scope', (m) => /main image|only in the main|scope/i.test(m)],
  ['setting value refused', (m) => /is not valid|invalid|expected|must be|not one of|accepted:/i.test(m)],
  ['dependencies / images', (m) => /Dependencies|depend|cycle/i.test(m)],
  ['other', () => true],
];
const causeOf = (r) => CAUSES.find(([, test]) => test(r.message, r))[0];

// --- main ----------------------------------------------------------------------------------------
async function measure(e) {
  const m = await mkosi(e.dir, e.commit);
  if (!m.ok) return { ...e, status: 'mkosi fails', message: m.message };
  const k = await kiln(e.dir);
  if (!k.ok) return { ...e, status: 'kiln fails', message: k.message, cause: causeOf(k), stack: k.stack, unknown: unknownSettings(k.stderr) };
  const diffs = compare(m, k);
  return { ...e, status: diffs.length ? 'differs' : 'equivalent', form: k.form, diffs, fields: [...new Set(diffs.map((d) => d.field))], unknown: unknownSettings(k.stderr) };
}

async function main() {
  if (!fs.existsSync(KILN)) throw new Error(`${KILN} is not built: npx tsc -b tsconfig.build.json`);
  if (!fs.existsSync(path.join(MKOSI_SRC, 'mkosi'))) throw new Error(`no mkosi source at ${MKOSI_SRC} (KILN_MKOSI_SRC)`);
  const list = entries();
  const results = new Array(list.length);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      results[i] = await measure(list[i]);
      process.stderr.write(`${results[i].status.padEnd(11)} ${list[i].id}\n`);
    }
  };
  await Promise.all(Array.from({ length: opt.jobs }, worker));

  const width = Math.max(...results.map((r) => r.id.length), 10);
  console.log(`sandbox: ${SANDBOX.how}; kiln JSON form: ${kilnHasMkosiForm() ? 'mkosi (--json=mkosi)' : `kiln's own (fields: ${BASIC_FIELDS.join(', ')})`}`);
  console.log(`${'directory'.padEnd(width)}  ${'result'.padEnd(11)}  detail`);
  for (const r of results) {
    const detail = r.status === 'differs' ? r.fields.join(', ') : r.message ?? '';
    console.log(`${r.id.padEnd(width)}  ${r.status.padEnd(11)}  ${detail.slice(0, 200)}`);
  }
  const count = (s) => results.filter((r) => r.status === s).length;
  const measured = results.length - count('mkosi fails');
  const pct = (n) => (measured ? `${((100 * n) / measured).toFixed(0)}%` : '-');
  console.log('');
  console.log(`${results.length} directories, ${count('mkosi fails')} refused by mkosi 26 (excluded), ${measured} measured:`);
  for (const s of ['equivalent', 'differs', 'kiln fails']) console.log(`  ${s.padEnd(11)} ${String(count(s)).padStart(3)}  ${pct(count(s))}`);
  const causes = {};
  for (const r of results.filter((x) => x.status === 'kiln fails')) (causes[r.cause] ??= []).push(r);
  if (Object.keys(causes).length) {
    console.log('\nkiln fails, by cause:');
    for (const [c, rs] of Object.entries(causes).sort((a, b) => b[1].length - a[1].length)) console.log(`  ${String(rs.length).padStart(3)}  ${c}  (e.g. ${rs[0].id}: ${rs[0].message.slice(0, 160)})`);
  }
  const fieldCounts = {};
  for (const r of results.filter((x) => x.status === 'differs')) for (const f of r.fields) fieldCounts[f] = (fieldCounts[f] ?? 0) + 1;
  if (Object.keys(fieldCounts).length) {
    console.log('\ndiffers, by field (directories):');
    for (const [f, n] of Object.entries(fieldCounts).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(3)}  ${f}`);
  }
  const unknown = {};
  for (const r of results) for (const u of r.unknown ?? []) (unknown[u.name] ??= { dirs: new Set(), where: `${r.id}: ${u.where.replace(r.dir + '/', '')}` }).dirs.add(r.id);
  if (Object.keys(unknown).length) {
    console.log('\nsettings kiln warns are unknown (ignored), by directories using them:');
    for (const [n, u] of Object.entries(unknown).sort((a, b) => b[1].dirs.size - a[1].dirs.size || a[0].localeCompare(b[0]))) console.log(`  ${String(u.dirs.size).padStart(3)}  ${n}=  (e.g. ${u.where})`);
  }
  if (opt.markdown) fs.writeFileSync(opt.markdown, markdown(results, causes, unknown));
  if (opt.json) {
    const summary = { measured, equivalent: count('equivalent'), differs: count('differs'), kilnFails: count('kiln fails'), mkosiFails: count('mkosi fails') };
    fs.writeFileSync(opt.json, JSON.stringify({ sandbox: SANDBOX.how, form: kilnHasMkosiForm() ? 'mkosi' : 'kiln', summary, results }, null, 2));
  }
}

/** A path under the measured directory, as the corpus names it (repo/path/...). */
function where(r, text) {
  const rel = text.split(`${r.dir}/`).join('').split(r.dir).join('.');
  return `${r.id.replace(/\/\.$/, '')}/${rel}`;
}
const short = (v, n = 160) => {
  const t = JSON.stringify(v) ?? 'undefined';
  return t.length > n ? `${t.slice(0, n)}…` : t;
};
const cell = (t) => String(t).replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The report (markdown) the other helpers and the integrator work from. */
function markdown(results, causes, unknown) {
  const count = (st) => results.filter((r) => r.status === st).length;
  const measured = results.length - count('mkosi fails');
  const pct = (n) => (measured ? `${((100 * n) / measured).toFixed(0)}%` : '-');
  const commit = spawnSync('git', ['-C', path.dirname(KILN), 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).stdout.trim().slice(0, 100);
  const out = [];
  out.push('# Corpus measurement: kiln against mkosi 26 on real mkosi projects (issue 16)', '');
  out.push(`Produced by \`node tools/mkosi-oracle/corpus.js --markdown\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`);
  out.push(`kiln: ${commit || KILN}; JSON form compared: ${kilnHasMkosiForm() ? 'mkosi (`summary --json=mkosi`, every field both print)' : `kiln's own (fields ${BASIC_FIELDS.join(', ')})`}.`);
  out.push(`mkosi 26 from ${MKOSI_SRC}, MKOSI_HOST_DISTRIBUTION=debian MKOSI_HOST_RELEASE=bookworm; both run with ${SANDBOX.how}.`);
  out.push(`Corpus: ${results.length} configuration directories of ${new Set(results.map((r) => (r.repo ?? r.id).split('/')[0])).size} owners (manifest: /work/corpus/manifest.json).`, '');
  out.push('| result | directories | of measured |', '| --- | ---: | ---: |');
  for (const st of ['equivalent', 'differs', 'kiln fails']) out.push(`| ${st} | ${count(st)} | ${pct(count(st))} |`);
  out.push(`| mkosi fails (excluded) | ${count('mkosi fails')} | |`, '');
  out.push('kiln stops at its first error: a directory counts once, under the first cause met; fixing it may reveal the next.', '');
  out.push('## kiln fails, by cause', '');
  for (const [c, rs] of Object.entries(causes).sort((a, b) => b[1].length - a[1].length)) {
    out.push(`### ${c} (${rs.length})`, '');
    for (const r of rs) out.push(`- \`${cell(where(r, r.message))}\``);
    out.push('');
  }
  const byField = {};
  for (const r of results.filter((x) => x.status === 'differs')) for (const d of r.diffs) ((byField[d.field] ??= new Map()).get(r.id) ?? byField[d.field].set(r.id, []).get(r.id)).push(d);
  out.push('## differs, by field', '', 'Directories where the field differs in some image; one example each (mkosi 26 | kiln).', '');
  for (const [f, m] of Object.entries(byField).sort((a, b) => b[1].size - a[1].size)) {
    out.push(`### ${f} (${m.size})`, '');
    for (const [id, ds] of m) {
      const d = ds[0];
      if (Array.isArray(d.mkosi) && Array.isArray(d.kiln) && (SET_FIELDS.has(f) || f === 'images')) {
        // a set: what one side has and the other lacks says more than both lists
        const only = (a, b) => a.filter((x) => !b.some((y) => same(x, y)));
        out.push(`- ${id} [${d.image}]: mkosi only \`${cell(short(only(d.mkosi, d.kiln), 400))}\`, kiln only \`${cell(short(only(d.kiln, d.mkosi), 400))}\``);
      } else out.push(`- ${id} [${d.image}]: mkosi \`${cell(short(d.mkosi))}\` | kiln \`${cell(short(d.kiln))}\``);
    }
    out.push('');
  }
  if (Object.keys(unknown).length) {
    out.push('## settings kiln warns are unknown (mkosi 26 reads them)', '', '| setting | directories | example |', '| --- | ---: | --- |');
    for (const [n, u] of Object.entries(unknown).sort((a, b) => b[1].dirs.size - a[1].dirs.size || a[0].localeCompare(b[0]))) out.push(`| ${n}= | ${u.dirs.size} | ${cell(u.where)} |`);
    out.push('');
  }
  out.push('## mkosi 26 fails (excluded)', '');
  for (const r of results.filter((x) => x.status === 'mkosi fails')) out.push(`- ${r.id}: ${cell(r.message.split(`${r.dir}/`).join(''))}`);
  out.push('', '## every directory', '', '| directory | result | detail |', '| --- | --- | --- |');
  for (const r of results) out.push(`| ${r.id} | ${r.status} | ${cell(r.status === 'differs' ? r.fields.join(', ') : r.status === 'kiln fails' ? r.cause : r.status === 'mkosi fails' ? r.message.slice(0, 120) : '')} |`);
  return `${out.join('\n')}\n`;
}

main()
  .catch((e) => {
    console.error(e.message);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(scratch, { recursive: true, force: true }));
