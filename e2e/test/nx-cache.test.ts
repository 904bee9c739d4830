/**
 * The cache-correctness suite: the real `nx` binary in a temp git workspace holding a copy of
 * examples/system, with the kiln plugin and its own cache directory. Builds are real (Debian
 * bookworm from the mirror, warm package cache); hits and misses are read from Nx's run.json.
 *
 *  1. `nx run system:image` builds the three presets; a second run is three cache hits, and
 *     outputs restored from the cache are bit-identical to the built ones.
 *  2. Mutations: each kind of input changed in one preset misses exactly that preset and the
 *     presets depending on it; a change that cannot affect the image hits.
 *  3. `nx show projects --affected` after a commit lists exactly the affected presets.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nxBin, nxEnv, repo } from './workspace';

jest.setTimeout(900_000);

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-'));
const sys = path.join(ws, 'system');
const out = path.join(sys, 'mkosi.output');
const env = nxEnv(ws);
delete env.SOURCE_DATE_EPOCH;

function sh(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: ws, env: { ...env, ...extraEnv }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const nx = (args: string[], extraEnv: Record<string, string> = {}) => sh(process.execPath, [nxBin, ...args], extraEnv);
const git = (...args: string[]) => sh('git', ['-c', 'user.email=e2e@kiln', '-c', 'user.name=e2e', ...args]);

/** Nx's terminal output of the last image() run. */
let lastLog = '';

/** Runs the demo's image target and returns each project's cache status from run.json. */
function image(extraEnv: Record<string, string> = {}): Record<string, 'hit' | 'miss'> {
  lastLog = nx(['run', 'system:image', '--outputStyle=static'], extraEnv);
  const run = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] };
  return Object.fromEntries(run.tasks.map((t) => [t.projectName, t.cacheStatus === 'cache-miss' ? 'miss' : 'hit']));
}

/** The images and their build manifests (cached outputs too, and as reproducible). */
const hashes = () =>
  Object.fromEntries(
    ['base.tar.zst', 'initrd.cpio.zst', 'system.tar.zst', 'base.manifest.json', 'initrd.manifest.json', 'system.manifest.json'].map((f) => [
      f,
      createHash('sha256').update(fs.readFileSync(path.join(out, f))).digest('hex'),
    ]),
  );

const write = (rel: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(sys, rel)), { recursive: true });
  fs.writeFileSync(path.join(sys, rel), text);
};
const append = (rel: string, text: string) => fs.appendFileSync(path.join(sys, rel), text);

const ONLY_SYSTEM = { system: 'miss', 'system-base': 'hit', 'system-initrd': 'hit' };
const ALL_HIT = { system: 'hit', 'system-base': 'hit', 'system-initrd': 'hit' };

beforeAll(() => {
  fs.cpSync(path.join(repo, 'examples/system'), sys, { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), '{ "name": "e2e", "private": true }\n');
  fs.writeFileSync(path.join(ws, 'nx.json'), '{ "plugins": ["@kiln/nx"] }\n');
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules\nmkosi.output/\n.nx-cache/\n.nx-data/\nmkosi.local.conf\n');
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'initial');
});

afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

describe('nx run system:image', () => {
  let built: Record<string, string>;

  it('builds all three presets the first time', () => {
    expect(image()).toEqual({ system: 'miss', 'system-base': 'miss', 'system-initrd': 'miss' });
    for (const p of ['base', 'initrd', 'system']) expect(lastLog).toContain(`${p}: no previous build (no manifest)`);
    built = hashes();
  });

  it('a second run is three local cache hits', () => {
    expect(image()).toEqual(ALL_HIT);
  });

  it('outputs restored from the cache are bit-identical to the built ones', () => {
    fs.rmSync(out, { recursive: true });
    expect(image()).toEqual(ALL_HIT);
    expect(hashes()).toEqual(built);
  });
});

describe('mutations: exactly the changed preset and its dependents miss', () => {
  // Every row has all four fields: it.each passes jest's `done` callback in place of a missing one.
  const rows: [string, () => void, Record<string, string>, Record<string, string>][] = [
    ['a config line of system', () => append('mkosi.conf', '\n[Content]\nHostname=mutated\n'), ONLY_SYSTEM, {}],
    ['a drop-in of system', () => write('mkosi.conf.d/10-locale.conf', '[Content]\nLocale=C\n'), ONLY_SYSTEM, {}],
    ['a gitignored mkosi.local.conf', () => write('mkosi.local.conf', '[Content]\nHostname=from-local-conf\n'), ONLY_SYSTEM, {}],
    ['an extra file\'s mode (git does not see it)', () => fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o600), ONLY_SYSTEM, {}],
    ['a new symlink in the extra tree', () => fs.symlinkSync('/etc/hostname', path.join(sys, 'mkosi.extra/etc/link')), ONLY_SYSTEM, {}],
    ['a symlink\'s target', () => {
      fs.rmSync(path.join(sys, 'mkosi.extra/etc/link'));
      fs.symlinkSync('/etc/os-release', path.join(sys, 'mkosi.extra/etc/link'));
    }, ONLY_SYSTEM, {}],
    ['a new empty directory', () => fs.mkdirSync(path.join(sys, 'mkosi.extra/var/lib/empty'), { recursive: true }), ONLY_SYSTEM, {}],
    ['a new script', () => {
      write('mkosi.postinst', '#!/bin/sh\necho one > "$BUILDROOT/etc/postinst"\n');
      fs.chmodSync(path.join(sys, 'mkosi.postinst'), 0o755);
    }, ONLY_SYSTEM, {}],
    ['a script\'s content', () => {
      write('mkosi.postinst', '#!/bin/sh\necho two > "$BUILDROOT/etc/postinst"\n');
      fs.chmodSync(path.join(sys, 'mkosi.postinst'), 0o755);
    }, ONLY_SYSTEM, {}],
    ['an Environment= value', () => append('mkosi.conf', '\n[Build]\nEnvironment=STAGE=1\n'), ONLY_SYSTEM, {}],
    ['a README next to the config', () => write('README.md', 'changed\n'), ALL_HIT, {}],
    ['a file no preset reads', () => write('notes/todo.txt', 'later\n'), ALL_HIT, {}],
    // Conservative: config files are hashed by content, so even a comment rebuilds their preset.
    ['a comment in system\'s config', () => append('mkosi.conf', '\n# just a comment\n'), ONLY_SYSTEM, {}],
    ['a skeleton file of base (base\'s output changes, system reads it)', () => write('mkosi.images/base/mkosi.skeleton/etc/kiln-base', 'v1\n'), { system: 'miss', 'system-base': 'miss', 'system-initrd': 'hit' }, {}],
    ['a config line of initrd', () => append('mkosi.images/initrd/mkosi.conf', '\n[Content]\nRemoveFiles=/usr/share/locale\n'), { system: 'miss', 'system-base': 'hit', 'system-initrd': 'miss' }, {}],
    ['SOURCE_DATE_EPOCH in the environment', () => undefined, { system: 'miss', 'system-base': 'miss', 'system-initrd': 'miss' }, { SOURCE_DATE_EPOCH: '1234567890' }],
    // A real `kiln lock` of base (the mirror's versions now); the build then installs from it.
    // base rebuilds; its image is bit-identical (the same versions), so system, which hashes
    // base's image file, hits.
    ['the lockfile of base (written by kiln lock)', () => {
      sh(process.execPath, [path.join(repo, 'apps/kiln/dist/main.js'), 'lock', '-C', 'system', '--preset', 'base']);
      if (!fs.existsSync(path.join(sys, 'mkosi.images/base/kiln.lock'))) throw new Error('kiln lock wrote no lock');
    }, { system: 'hit', 'system-base': 'miss', 'system-initrd': 'hit' }, {}],
    ['any edit of base\'s lockfile', () => {
      const lock = path.join(sys, 'mkosi.images/base/kiln.lock');
      // Any edit of the lock must rebuild; a comment is the one edit that keeps it installable.
      fs.appendFileSync(lock, '# reviewed\n');
    }, { system: 'hit', 'system-base': 'miss', 'system-initrd': 'hit' }, {}],
  ];

  // What the log of a miss gives as its reason (kiln build compares with the restored manifest).
  const reasons: Record<string, string> = {
    'a config line of system': 'system:   setting Hostname: "kiln-demo" -> "mutated"',
    "an extra file's mode (git does not see it)": 'system:   file mkosi.extra/etc/motd changed (mode 644 -> 600 only)',
    "a symlink's target": 'system:   file mkosi.extra/etc/link changed (symlink target /etc/hostname -> /etc/os-release)',
    "a skeleton file of base (base's output changes, system reads it)": 'system:   the output of preset base changed',
    'SOURCE_DATE_EPOCH in the environment': 'initrd:   environment SOURCE_DATE_EPOCH changed (set now, was unset)',
    'the lockfile of base (written by kiln lock)': 'base:   packages: kiln.lock added (',
    "any edit of base's lockfile": 'base:   file mkosi.images/base/kiln.lock changed (content)',
  };

  it.each(rows)('%s', (what, mutate, expected, extraEnv) => {
    mutate();
    expect(image(extraEnv)).toEqual(expected);
    // Each miss says why in Nx's output.
    for (const [project, status] of Object.entries(expected)) {
      if (status === 'miss') expect(lastLog).toContain(`${project.replace(/^system-/, '')}: rebuilding because:\n`);
    }
    if (reasons[what]) expect(lastLog).toContain(reasons[what]);
    // And nothing changed since: all hits (with the same environment).
    expect(image(extraEnv)).toEqual(ALL_HIT);
  });
});

describe('nx show projects --affected', () => {
  const affected = () => nx(['show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD']).trim().split('\n').filter(Boolean).sort();
  const commit = (what: string) => {
    git('add', '-A');
    git('commit', '-qm', what);
  };

  beforeAll(() => commit('mutations'));

  it('an extra file of system: system only', () => {
    write('mkosi.extra/etc/issue', 'kiln\n');
    commit('extra');
    expect(affected()).toEqual(['system']);
  });

  it('a file of the base preset: base and system, which depends on it', () => {
    write('mkosi.images/base/mkosi.skeleton/etc/kiln-base', 'v2\n');
    commit('base');
    expect(affected()).toEqual(['system', 'system-base']);
  });

  it('the initrd config: initrd and system', () => {
    append('mkosi.images/initrd/mkosi.conf', '\nHostname=initrd\n');
    commit('initrd');
    expect(affected()).toEqual(['system', 'system-initrd']);
  });
});
