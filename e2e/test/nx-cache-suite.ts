/**
 * The cache-correctness suite: the real `nx` binary in a temp git workspace holding a copy of
 * examples/system, with the kiln plugin and its own cache directory. Builds are real (Debian
 * bookworm from the mirror, warm package cache, Incremental=yes layers shared by both runs below);
 * hits and misses are read from Nx's run.json.
 *
 *  1. `nx run system:image` builds the three presets; a second run is three cache hits, and
 *     outputs restored from the cache are bit-identical to the built ones.
 *  2. Mutations: each kind of input changed in one preset misses exactly that preset and the
 *     presets depending on it; a change that cannot affect the image hits.
 *  3. `nx show projects --affected` after a commit lists exactly the affected presets.
 *
 * The whole suite runs twice, as two test files that jest runs side by side:
 * nx-cache-daemon-off.test.ts and nx-cache-daemon-on.test.ts (the daemon is the default for users;
 * it keeps its graph while only gitignored files change, so nothing of the verdict may live there).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { copyDemoAsTar, initWorkspace, nxBin, nxEnv, removeWorkspace, repo } from './workspace';

/**
 * Builds use Incremental=yes with `layers`, a directory kept per machine (cached-tree.ts:
 * testLayers): a rebuild whose packages and trees did not change starts from its layer (the same
 * bytes as from scratch, README: "The incremental package layer"), so only a change before the
 * layer installs packages, and a second run of the suite on a machine installs none. Nx's verdict
 * does not depend on it (Incremental= and CacheDirectory= are no cache inputs).
 */
export function nxCacheSuite(daemon: boolean, layers: string): void {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-'));
  const sys = path.join(ws, 'system');
  const out = path.join(sys, 'mkosi.output');
  const env = nxEnv(ws);
  delete env.SOURCE_DATE_EPOCH;
  env.NX_DAEMON = daemon ? 'true' : 'false';

  function sh(cmd: string, args: string[], extraEnv: Record<string, string> = {}) {
    const r = spawnSync(cmd, args, { cwd: ws, env: { ...env, ...extraEnv }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  const nx = (args: string[], extraEnv: Record<string, string> = {}) => sh(process.execPath, [nxBin, ...args], extraEnv);
  const git = (...args: string[]) => sh('git', ['-c', 'user.email=e2e@kiln', '-c', 'user.name=e2e', ...args]);

  /** Nx's terminal output of the last image() run. */
  let lastLog = '';

  /**
   * What the suite built, reported at the end (its cost, comparable across machines): per run, the
   * presets that ran, and of those the ones that installed packages or started from a layer (by
   * kiln's lines; Nx replays the output of the hits, so only the presets that ran are counted).
   */
  const tally = { nxRuns: 0, builds: 0, packageInstalls: 0, fromLayer: 0 };
  const count = (log: string, ran: string[]) => {
    tally.nxRuns++;
    for (const preset of ran) {
      tally.builds++;
      if (new RegExp(`(^|\\s)${preset}: installing `).test(log)) tally.packageInstalls++;
      if (new RegExp(`(^|\\s)${preset}: layer: starting from `).test(log)) tally.fromLayer++;
    }
    return log;
  };
  /** The presets the last Nx run built (its cache misses, from run.json). */
  const ranInLastRun = () =>
    (JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] }).tasks
      .filter((t) => t.cacheStatus === 'cache-miss')
      .map((t) => t.projectName.replace(/^system-/, ''));

  /** Runs the demo's image target and returns each project's cache status from run.json. */
  function image(extraEnv: Record<string, string> = {}): Record<string, 'hit' | 'miss'> {
    lastLog = count(nx(['run', 'system:image', '--outputStyle=static'], extraEnv), ranInLastRun());
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

  /** A directory with an mmdebstrap that reports another version and runs the real one otherwise. */
  const fakeTools = () => {
    const dir = path.join(ws, '.fake-tools');
    fs.mkdirSync(dir, { recursive: true });
    const real = execFileSync('sh', ['-c', 'command -v mmdebstrap'], { encoding: 'utf8' }).trim();
    fs.writeFileSync(path.join(dir, 'mmdebstrap'), `#!/bin/sh\n[ "$1" = --version ] && { echo 'mmdebstrap 99.0'; exit 0; }\nexec ${real} "$@"\n`, { mode: 0o755 });
    return dir;
  };

  const ONLY_SYSTEM = { system: 'miss', 'system-base': 'hit', 'system-initrd': 'hit' };
  const ALL_HIT = { system: 'hit', 'system-base': 'hit', 'system-initrd': 'hit' };

  beforeAll(() => {
    // This suite rebuilds system some twenty times to read Nx's verdict: the demo as a tar.
    copyDemoAsTar(sys, layers);
    initWorkspace(ws, 'e2e', ['.fake-tools/']);
  });

  afterAll(() => {
    console.log(`nx-cache (daemon ${daemon ? 'on' : 'off'}): ${JSON.stringify(tally)}`);
    removeWorkspace(ws, env, daemon);
  });

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

    it('a second clone under umask 002, at another path and depth, sharing the cache: all hits, the same outputs', () => {
      const other = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-clone-'));
      const clone = path.join(other, 'a', 'b', 'checkout');
      try {
        execFileSync('sh', ['-c', 'umask 002 && git clone -q "$1" "$2"', 'clone', ws, clone]);
        fs.symlinkSync(path.join(repo, 'node_modules'), path.join(clone, 'node_modules'));
        // The extra tree's directory and files are group-writable in this checkout.
        expect(fs.statSync(path.join(clone, 'system/mkosi.extra/etc')).mode & 0o777).toBe(0o775);
        // The first workspace's cache directory, and of its workspace data only the database that
        // records the cache entries (Nx 24 serves only entries it has a record of), not its graph.
        const cloneEnv = { ...env, NX_WORKSPACE_DATA_DIRECTORY: path.join(clone, '.nx-data'), NX_CACHE_DIRECTORY: path.join(ws, '.nx-cache') };
        fs.mkdirSync(path.join(clone, '.nx-data'));
        for (const f of fs.readdirSync(path.join(ws, '.nx-data')).filter((n) => /\.db(-wal|-shm)?$/.test(n))) fs.copyFileSync(path.join(ws, '.nx-data', f), path.join(clone, '.nx-data', f));
        const hashesOf = () =>
          Object.fromEntries((JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; hash: string }[] }).tasks.map((t) => [t.projectName, t.hash]));
        const original = hashesOf();
        const r = spawnSync(process.execPath, [nxBin, 'run', 'system:image', '--outputStyle=static'], { cwd: clone, env: cloneEnv, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`nx in the clone failed:\n${r.stdout}\n${r.stderr}`);
        const run = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] };
        expect(Object.fromEntries(run.tasks.map((t) => [t.projectName, t.cacheStatus === 'cache-miss' ? 'miss' : 'hit']))).toEqual(ALL_HIT);
        // The same task hashes, computed from a checkout at another path and depth under umask 002.
        expect(hashesOf()).toEqual(original);
        const cloned = path.join(clone, 'system/mkosi.output');
        for (const f of ['base.tar.zst', 'initrd.cpio.zst', 'system.tar.zst']) {
          expect(createHash('sha256').update(fs.readFileSync(path.join(cloned, f))).digest('hex')).toBe(built[f]);
        }
        if (daemon) spawnSync(process.execPath, [nxBin, 'daemon', '--stop'], { cwd: clone, env: cloneEnv });
      } finally {
        fs.rmSync(other, { recursive: true, force: true });
      }
    });
  });

  describe('mutations: exactly the changed preset and its dependents miss', () => {
    // Every row has all four fields: it.each passes jest's `done` callback in place of a missing one.
    const rows: [string, () => void, Record<string, string>, Record<string, string>][] = [
      ['a config line of system', () => append('mkosi.conf', '\n[Content]\nHostname=mutated\n'), ONLY_SYSTEM, {}],
      ['a drop-in of system', () => write('mkosi.conf.d/10-locale.conf', '[Content]\nLocale=C\n'), ONLY_SYSTEM, {}],
      // In a git checkout a file is 0644 or 0755, as git records it (README: tree modes).
      ['an extra file made executable (git\'s one mode bit)', () => fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o755), ONLY_SYSTEM, {}],
      ['an extra file\'s mode that git does not record (0600: the image keeps 0644)', () => fs.chmodSync(path.join(sys, 'mkosi.extra/etc/motd'), 0o600), ALL_HIT, {}],
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
      // Config files count by their resolved values: a comment or a reordered list changes none.
      ['a comment in system\'s config', () => append('mkosi.conf', '\n# just a comment\n'), ALL_HIT, {}],
      ['Packages= of base reordered', () => {
        const f = path.join(sys, 'mkosi.images/base/mkosi.conf');
        fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('        systemd\n        udev\n        dbus\n', '        dbus\n        udev\n        systemd\n'));
      }, ALL_HIT, {}],
      // A gitignored mkosi.local.conf, which the daemon does not watch: created, edited, deleted.
      ['a new gitignored mkosi.local.conf', () => write('mkosi.local.conf', '[Content]\nHostname=from-local-conf\n'), ONLY_SYSTEM, {}],
      // PassEnvironment= (the main image's): every preset now gets system's STAGE=1 (from the Environment=
      // row above), so every hash changes, though no preset's packages do (their layers serve).
      ['an edit of it that every preset sees (PassEnvironment= passes Environment= on)', () => write('mkosi.local.conf', '[Content]\nHostname=from-local-conf\n[Config]\nPassEnvironment=STAGE\n'),
        { system: 'miss', 'system-base': 'miss', 'system-initrd': 'miss' }, {}],
      // Back to the configuration built before it: every image is in the cache.
      ['it deleted', () => fs.rmSync(path.join(sys, 'mkosi.local.conf')), ALL_HIT, {}],
      ['an extended attribute on an extra file (not copied into the image)', () => {
        execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.kiln", b"1")', path.join(sys, 'mkosi.extra/etc/motd')]);
      }, ALL_HIT, {}],
      ['an extra file\'s mtime set before SourceDateEpoch= (every tree mtime is SourceDateEpoch=)', () => {
        fs.utimesSync(path.join(sys, 'mkosi.extra/etc/motd'), 1_000_000, 1_000_000);
      }, ALL_HIT, {}],
      ['two hard-linked extra files', () => {
        write('mkosi.extra/etc/one', 'same\n');
        fs.linkSync(path.join(sys, 'mkosi.extra/etc/one'), path.join(sys, 'mkosi.extra/etc/two'));
      }, ONLY_SYSTEM, {}],
      ['the hard link replaced by an identical copy', () => {
        fs.rmSync(path.join(sys, 'mkosi.extra/etc/two'));
        write('mkosi.extra/etc/two', 'same\n');
      }, ONLY_SYSTEM, {}],
      // The image is the same, but the tree's real path becomes a file input of system (so that
      // nx affected sees changes made there): one rebuild, which kiln reports as no change.
      ['the extra tree moved and replaced by a symlink to it (same content)', () => {
        fs.renameSync(path.join(sys, 'mkosi.extra'), path.join(ws, 'extra-real'));
        fs.symlinkSync('../extra-real', path.join(sys, 'mkosi.extra'));
      }, ONLY_SYSTEM, {}],
      ['a mode inside the symlinked extra tree', () => fs.chmodSync(path.join(ws, 'extra-real/etc/one'), 0o755), ONLY_SYSTEM, {}],
      ['Profiles= in the main image: only system runs scripts', () => append('mkosi.conf', '\n[Config]\nProfiles=dev\n'), ONLY_SYSTEM, {}],
      // An extra file rather than a skeleton file: the two are the same kind of Nx input (trees,
      // cache 'path'), and an extra file does not invalidate base's package layer (a skeleton
      // file, read before packages, is the nx affected case below).
      ['an extra file of base (base\'s output changes, system reads it)', () => write('mkosi.images/base/mkosi.extra/etc/kiln-base', 'v1\n'), { system: 'miss', 'system-base': 'miss', 'system-initrd': 'hit' }, {}],
      // base's first image comes back from the cache (its archive), while mkosi.output/base/ still
      // holds the tree just built with etc/kiln-base: system must read the archive (checked below).
      ['base back to its first configuration, with a new Hostname for system (a stale tree of base is left)', () => {
        fs.rmSync(path.join(sys, 'mkosi.images/base/mkosi.extra'), { recursive: true });
        append('mkosi.conf', '\n[Content]\nHostname=stale-check\n');
      }, ONLY_SYSTEM, {}],
      // A tool upgrade (here a wrapper reporting another mmdebstrap version) rebuilds everything.
      // Tools are found on a fixed PATH; KILN_TOOLS_PATH is the documented way to put others first.
      ['another mmdebstrap version on KILN_TOOLS_PATH', () => undefined, { system: 'miss', 'system-base': 'miss', 'system-initrd': 'miss' }, { KILN_TOOLS_PATH: fakeTools() }],
      ['a config line of initrd', () => append('mkosi.images/initrd/mkosi.conf', '\n[Content]\nRemoveFiles=/usr/share/locale\n'), { system: 'miss', 'system-base': 'hit', 'system-initrd': 'miss' }, {}],
      // SourceDateEpoch= is set, so the variable is not read.
      ['SOURCE_DATE_EPOCH in the environment (SourceDateEpoch= wins)', () => undefined, ALL_HIT, { SOURCE_DATE_EPOCH: '1234567890' }],
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
      "an extra file made executable (git's one mode bit)": 'system:   file mkosi.extra/etc/motd changed (mode 644 -> 755 only)',
      "a symlink's target": 'system:   file mkosi.extra/etc/link changed (symlink target /etc/hostname -> /etc/os-release)',
      "an extra file of base (base's output changes, system reads it)": 'system:   the output of preset base changed',
      'another mmdebstrap version on KILN_TOOLS_PATH': 'base:   tool mmdebstrap',
      'the lockfile of base (written by kiln lock)': 'base:   packages: kiln.lock added (',
      "any edit of base's lockfile": 'base:   file mkosi.images/base/kiln.lock changed (content)',
    };

    it.each(rows)('%s', (what, mutate, expected, extraEnv) => {
      mutate();
      expect(image(extraEnv)).toEqual(expected);
      // Each miss says why in Nx's output.
      for (const [project, status] of Object.entries(expected)) {
        const preset = project.replace(/^system-/, '');
        if (status !== 'miss') continue;
        if (what.startsWith('the extra tree moved')) expect(lastLog).toContain(`${preset}: rebuilding, but nothing changed since the last build`);
        else expect(lastLog).toContain(`${preset}: rebuilding because:\n`);
      }
      if (reasons[what]) expect(lastLog).toContain(reasons[what]);
      if (what.startsWith('base back to its first configuration')) {
        const members = execFileSync('sh', ['-c', 'zstd -dc "$1" | tar -t', 'list', path.join(out, 'system.tar.zst')], { encoding: 'utf8', maxBuffer: 1 << 28 });
        expect(members).not.toMatch(/etc\/kiln-base/);
        expect(fs.existsSync(path.join(out, 'base/etc/kiln-base'))).toBe(true);
      }
      // And nothing changed since: all hits (with the same environment).
      expect(image(extraEnv)).toEqual(ALL_HIT);
    });
  });

  describe('the builder\'s environment', () => {
    // Without the daemon every step runs under it, packages too: the layers are set aside for this
    // rebuild (and its layers, built under that environment, discarded; the daemon-off suite has
    // a layer directory of its own for this). With the daemon the rebuild starts from the layers,
    // so the steps after them run under it.
    const scratch = !daemon;
    it(`does not reach the image: a rebuild${scratch ? ' from scratch' : ''} under umask 027, TAR_OPTIONS, LC_ALL and TZ gives the same bytes`, () => {
      const before = hashes();
      const aside = `${layers}.aside`;
      if (scratch) {
        // A run killed during this test left the kept layers aside: they are the ones to keep.
        if (fs.existsSync(aside)) {
          fs.rmSync(layers, { recursive: true, force: true });
          fs.renameSync(aside, layers);
        }
        fs.mkdirSync(layers, { recursive: true });
        fs.renameSync(layers, aside);
        fs.mkdirSync(layers);
      }
      try {
        const r = spawnSync('sh', ['-c', 'umask 027 && exec "$@"', 'sh', process.execPath, nxBin, 'run', 'system:image', '--skip-nx-cache', '--outputStyle=static'], {
          cwd: ws,
          env: { ...env, TAR_OPTIONS: '--mode=0777 --owner=1234', LC_ALL: 'de_DE.UTF-8', TZ: 'Pacific/Kiritimati' },
          encoding: 'utf8',
        });
        if (r.status !== 0) throw new Error(`${r.stdout}\n${r.stderr}`);
        const log = count(r.stdout, ranInLastRun());
        expect((log.match(/: built /g) ?? []).length).toBe(3);
        expect((log.match(/: installing /g) ?? []).length).toBe(scratch ? 2 : 0);
      } finally {
        if (scratch) {
          fs.rmSync(layers, { recursive: true, force: true });
          fs.renameSync(aside, layers);
        }
      }
      expect(hashes()).toEqual(before);
    });
  });

  describe('a new preset directory', () => {
    it('is a project once the main image depends on it (mkosi builds no other), and builds, then hits', () => {
      const mainConf = path.join(sys, 'mkosi.conf');
      const before = fs.readFileSync(mainConf, 'utf8');
      try {
        write('mkosi.images/extra/mkosi.conf', '[Output]\nFormat=tar\n[Content]\nBaseTrees=%O/base\n');
        // The demo's Dependencies= names base and initrd only: as mkosi, the new preset is dropped.
        expect(nx(['show', 'projects']).split('\n')).not.toContain('system-extra');
        append('mkosi.conf', '\n[Config]\nDependencies=extra\n');
        expect(nx(['show', 'projects']).split('\n')).toContain('system-extra');
        const run = (): string => {
          count(nx(['run', 'system-extra:image', '--outputStyle=static']), ranInLastRun());
          const r = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { projectName: string; cacheStatus: string }[] };
          return r.tasks.find((t) => t.projectName === 'system-extra')!.cacheStatus;
        };
        expect(run()).toBe('cache-miss');
        expect(run()).toBe('local-cache-hit');
      } finally {
        // Back to the demo's shape for the rows below.
        fs.writeFileSync(mainConf, before);
        fs.rmSync(path.join(sys, 'mkosi.images/extra'), { recursive: true, force: true });
      }
    });
  });

  describe('a broken project', () => {
    it('breaks only itself: its target fails with file:line, every other project works', () => {
      fs.mkdirSync(path.join(ws, 'broken'));
      fs.writeFileSync(path.join(ws, 'broken/mkosi.conf'), '[Output]\nFormat=cpoi\n');
      try {
        const shown = spawnSync(process.execPath, [nxBin, 'show', 'projects'], { cwd: ws, env, encoding: 'utf8' });
        expect(shown.status).toBe(0);
        expect(shown.stdout.split('\n')).toEqual(expect.arrayContaining(['broken', 'system', 'system-base']));
        // Shown when the graph is computed: by this command without the daemon (the daemon may
        // have recomputed it on the file event already, into its own log).
        if (!daemon) expect(shown.stderr).toContain('kiln: broken/mkosi.conf:2: Format=: "cpoi" is not a valid value');
        const r = spawnSync(process.execPath, [nxBin, 'run', 'broken:image', '--outputStyle=static'], { cwd: ws, env, encoding: 'utf8' });
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain('broken/mkosi.conf:2: Format=: "cpoi" is not a valid value');
        expect(image()).toEqual(ALL_HIT);
      } finally {
        fs.rmSync(path.join(ws, 'broken'), { recursive: true });
      }
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
}

