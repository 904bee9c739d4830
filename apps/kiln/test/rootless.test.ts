/**
 * Rootless builds, for real: as root, the test makes a throwaway ordinary user with a range of
 * subordinate ids (useradd, usermod), gives it a copy of a small project in its home, and runs the
 * built CLI as that user (runuser). Checked: a Debian build (bookworm's essential set and dbus, tar
 * and cpio) exits 0, the archives' entries are owned by root (uid 0) and a package's system group
 * (messagebus) keeps its id, the outputs belong to the user and nothing in the user's home was
 * written as anyone else; a Gentoo native build from the fixture binhost on loopback, likewise;
 * a build whose outer CLI is killed with SIGKILL stops and leaves the previous outputs; a user
 * without subordinate ids gets one line naming the fix; the demo's base preset (systemd, udev,
 * dbus) builds as the user too. The users and their homes are removed in
 * afterAll, also when a test fails.
 *
 * The user's package cache is seeded from the test runner's (a copy: kiln checks cached packages
 * against the signed index), so the essential set is not downloaded again.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findSubRange, freeRange } from '../src/rootless';
import { removeTempDirs, SMALL_OUTPUTS, smallProject, tempDir } from '../../../libs/engine/test/kiln';
import type { Result } from './run-kiln';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { build: buildFixtures } = require('../../../tools/gentoo-fixtures/build.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { serve } = require('../../../tools/gentoo-fixtures/serve.js');

jest.setTimeout(300_000);

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'apps/kiln/dist/main.js');

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** runuser (util-linux, in /usr/sbin: found before the user's PATH replaces the test's). */
const RUNUSER = sh('sh', ['-c', 'command -v runuser || echo /usr/sbin/runuser']).trim();

const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');

/** A process that has not exited (a zombie waiting for its reaper has). */
const running = (pid: number) => /^\S+ \(.*\) [^Z]/s.test(read(`/proc/${pid}/stat`));

/** A user made for the test; remove() takes it, its home and its subordinate ids away. */
class ThrowawayUser {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;

  constructor(readonly name: string, subids: boolean) {
    sh('useradd', ['--create-home', '--user-group', '--shell', '/bin/sh', name]);
    this.uid = Number(sh('id', ['-u', name]).trim());
    this.gid = Number(sh('id', ['-g', name]).trim());
    this.home = sh('getent', ['passwd', name]).split(':')[5]!;
    // useradd may have given it a range (SUB_UID_COUNT in login.defs): make it what the test wants.
    for (const [file, flag] of [['/etc/subuid', 'subuids'], ['/etc/subgid', 'subgids']] as const) {
      const { range, small } = findSubRange(read(file), name, this.uid);
      const has = range ?? small;
      if (subids && !range) {
        const free = freeRange([read('/etc/subuid'), read('/etc/subgid')]);
        sh('usermod', [`--add-${flag}`, `${free.start}-${free.start + free.count - 1}`, name]);
      } else if (!subids && has) {
        sh('usermod', [`--del-${flag}`, `${has.start}-${has.start + has.count - 1}`, name]);
      }
    }
  }

  /** Runs the built CLI as the user, with a login's environment (nothing of the test's). */
  kiln(args: string[], cwd: string, started?: (child: ReturnType<typeof spawn>) => void): Promise<Result> {
    const child = spawn(RUNUSER, ['-u', this.name, '--', process.execPath, bin, ...args], {
      cwd,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: this.home, USER: this.name, LANG: 'C.UTF-8' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    started?.(child);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  /** A copy of a project directory in the user's home, owned by the user. */
  own(project: string, name: string): string {
    const dir = path.join(this.home, name);
    fs.cpSync(project, dir, { recursive: true });
    sh('chown', ['-R', `${this.uid}:${this.gid}`, dir]);
    return dir;
  }

  /** Paths in the user's home not owned by the user (what kiln must never leave there). */
  strangers(): string[] {
    return sh('find', [this.home, '(', '!', '-user', String(this.uid), '-o', '!', '-group', String(this.gid), ')']).split('\n').filter(Boolean);
  }

  remove(): void {
    for (const [file, flag] of [['/etc/subuid', 'subuids'], ['/etc/subgid', 'subgids']] as const) {
      const { range } = findSubRange(read(file), this.name, this.uid);
      if (range) spawnSync('usermod', [`--del-${flag}`, `${range.start}-${range.start + range.count - 1}`, this.name]);
    }
    spawnSync('userdel', ['--remove', this.name], { encoding: 'utf8' });
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** `tar -tv` owners ("uid/gid") by member name. */
function tarOwners(archive: string): Map<string, string> {
  const out = sh('bash', ['-o', 'pipefail', '-c', 'zstd -dc "$0" | tar -tv --numeric-owner', archive]);
  return new Map(out.split('\n').filter(Boolean).map((l) => {
    const f = l.split(/\s+/);
    return [f.slice(5).join(' ').replace(/ -> .*/, ''), f[1]!];
  }));
}

/** Ancestors of the checkout an ordinary user cannot enter (CI clones under a 0700 temp directory). */
function closedAncestors(): string[] {
  const closed: string[] = [];
  for (let d = repo; d !== '/'; d = path.dirname(d)) if ((fs.statSync(d).mode & 0o001) === 0) closed.push(d);
  return closed;
}

const asRoot = process.getuid?.() === 0;
(asRoot ? describe : describe.skip)('kiln as an ordinary user (rootless)', () => {
  const users: ThrowawayUser[] = [];
  const opened: string[] = [];
  let user: ThrowawayUser;

  beforeAll(() => {
    for (const p of ['newuidmap', 'newgidmap']) {
      if (spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0) throw new Error(`${p} is missing: run tools/setup.sh (it installs uidmap)`);
    }
    // The user must reach the built CLI and node_modules: open the checkout's closed ancestors
    // (o+x only, no listing) for the test's duration.
    for (const d of closedAncestors()) {
      fs.chmodSync(d, fs.statSync(d).mode | 0o001);
      opened.push(d);
    }
    user = new ThrowawayUser(`kilnrl${process.pid}`, true);
    users.push(user);
    const r = spawnSync(RUNUSER, ['-u', user.name, '--', process.execPath, '-e', `require(${JSON.stringify(bin)})`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${user.name} cannot load ${bin} (check the permissions of the checkout and node_modules): ${r.stderr}`);
    // Seed the user's package cache from the runner's (copies, owned by the user).
    const mine = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln/packages/debian~bookworm~x86-64');
    if (fs.existsSync(mine)) {
      const theirs = path.join(user.home, '.cache/kiln/packages/debian~bookworm~x86-64');
      fs.mkdirSync(path.dirname(theirs), { recursive: true });
      sh('cp', ['-r', '--preserve=mode,timestamps', mine, theirs]);
      sh('chown', ['-R', `${user.uid}:${user.gid}`, path.join(user.home, '.cache')]);
    }
  });

  afterAll(() => {
    for (const u of users) u.remove();
    for (const d of opened) fs.chmodSync(d, fs.statSync(d).mode & ~0o001);
    removeTempDirs();
  });

  describe('a Debian build (tar and cpio)', () => {
    let dir: string;
    let out: string;
    let run: Result;

    beforeAll(async () => {
      const project = smallProject();
      // dbus: a package that makes a system group of its own (messagebus) and owns a file with it.
      fs.mkdirSync(path.join(project, 'mkosi.conf.d'));
      fs.writeFileSync(path.join(project, 'mkosi.conf.d/dbus.conf'), '[Content]\nPackages=dbus\n');
      dir = user.own(project, 'debian');
      out = path.join(dir, 'mkosi.output');
      run = await user.kiln(['build', '-C', dir], dir);
    });

    it('exits 0 with every output', () => {
      expect(run.stderr).not.toMatch(/^kiln: /m);
      expect(run.code).toBe(0);
      expect(fs.readdirSync(out).sort()).toEqual(SMALL_OUTPUTS);
    });

    it("the archives' files are root's, and a package's system group keeps its id", () => {
      const tar = tarOwners(path.join(out, 'small.tar.zst'));
      expect(tar.get('./etc/passwd')).toBe('0/0');
      expect(tar.get('./usr/bin/dbus-daemon')).toBe('0/0');
      const group = sh('bash', ['-o', 'pipefail', '-c', 'zstd -dc "$0" | tar -xO ./etc/group', path.join(out, 'small.tar.zst')]);
      const messagebus = group.match(/^messagebus:[^:]*:(\d+):/m)?.[1];
      expect(Number(messagebus)).toBeGreaterThan(0);
      expect(tar.get('./usr/lib/dbus-1.0/dbus-daemon-launch-helper')).toBe(`0/${messagebus}`);
      // Every owner is an id of the image (below 65534), never the user's or an unmapped one.
      const owners = new Set(tar.values());
      for (const o of owners) for (const id of o.split('/').map(Number)) expect(id).toBeLessThan(65534);
      expect([...owners].filter((o) => !o.startsWith('0/'))).toEqual([]);

      const cpio = sh('bash', ['-o', 'pipefail', '-c', 'zstd -dc "$0" | cpio -itv --quiet --numeric-uid-gid', path.join(out, 'initrd.cpio.zst')]);
      const cpioOwners = new Map(cpio.split('\n').filter(Boolean).map((l) => {
        const f = l.split(/\s+/);
        return [f.slice(8).join(' ').replace(/ -> .*/, ''), `${f[2]}/${f[3]}`];
      }));
      expect([...new Set([...cpioOwners.values()].map((o) => o.split('/')[0]))]).toEqual(['0']);
      // base-passwd's groups keep their ids too (shadow owns unix_chkpwd in both images).
      const shadow = group.match(/^shadow:[^:]*:(\d+):/m)?.[1];
      expect(Number(shadow)).toBeGreaterThan(0);
      expect(cpioOwners.get('usr/sbin/unix_chkpwd')).toBe(`0/${shadow}`);
      expect(tar.get('./usr/sbin/unix_chkpwd')).toBe(`0/${shadow}`);
    });

    it("the outputs are the user's, and nothing in the user's home is anyone else's", () => {
      for (const f of SMALL_OUTPUTS) expect(fs.statSync(path.join(out, f))).toMatchObject({ uid: user.uid, gid: user.gid });
      expect(fs.readdirSync(path.join(user.home, '.cache/kiln/packages/debian~bookworm~x86-64/archives')).some((f) => f.startsWith('dbus_'))).toBe(true);
      expect(user.strangers()).toEqual([]);
    });

    it('a build whose kiln is killed (SIGKILL to the outer CLI) stops, and the previous outputs stay', async () => {
      const before = SMALL_OUTPUTS.map((f) => fs.readFileSync(path.join(out, f)));
      let inner = 0;
      const killed = await user.kiln(['build', '-C', dir, '--force'], dir, (child) => {
        // runuser -> kiln (outer) -> kiln in the namespace: kill the outer once the build has begun.
        child.stderr!.on('data', (d: Buffer) => {
          if (inner || !/installing/.test(String(d))) return;
          const outer = Number(read(`/proc/${child.pid}/task/${child.pid}/children`).trim().split(/\s+/)[0]);
          inner = Number(read(`/proc/${outer}/task/${outer}/children`).trim().split(/\s+/)[0]);
          process.kill(outer, 'SIGKILL');
        });
      });
      expect(inner).toBeGreaterThan(0);
      expect(killed.code).not.toBe(0);
      // The inner CLI's stderr (the pipe runuser's stderr was) closes only when it and its tools are gone.
      expect(running(inner)).toBe(false);
      expect(fs.readdirSync(out).sort()).toEqual(SMALL_OUTPUTS);
      SMALL_OUTPUTS.forEach((f, i) => expect(fs.readFileSync(path.join(out, f)).equals(before[i]!)).toBe(true));
      expect(user.strangers()).toEqual([]);
    });

    it('kiln lock, a directory image (its groups are the subordinate ids) and kiln clean, which removes it', async () => {
      const lock = await user.kiln(['lock', '-C', dir, '--preset', 'initrd'], dir);
      expect(lock.stderr).not.toMatch(/^kiln: /m);
      expect(lock.code).toBe(0);
      expect(fs.statSync(path.join(dir, 'mkosi.images/initrd/kiln.lock'))).toMatchObject({ uid: user.uid });
      fs.writeFileSync(path.join(dir, 'mkosi.images/initrd/mkosi.conf'), '[Output]\nFormat=directory\n[Content]\nWithDocs=no\n');
      const built = await user.kiln(['build', '-C', dir, '--preset', 'initrd', '--no-deps'], dir);
      expect(built.stderr).not.toMatch(/^kiln: /m);
      expect(built.code).toBe(0);
      const tree = path.join(out, 'initrd');
      // On the host, root's files are the user's and shadow's are the subordinate id shadow maps to.
      const subgid = findSubRange(read('/etc/subgid'), user.name, user.uid).range!.start;
      const shadow = Number(read(path.join(tree, 'etc/group')).match(/^shadow:[^:]*:(\d+):/m)?.[1]);
      expect(fs.statSync(path.join(tree, 'usr/sbin/unix_chkpwd'))).toMatchObject({ uid: user.uid, gid: subgid + shadow - 1 });
      const clean = await user.kiln(['clean', '-C', dir, '--preset', 'initrd'], dir);
      expect(clean.stderr).toBe('');
      expect(clean.code).toBe(0);
      expect(fs.existsSync(tree)).toBe(false);
    });
  });

  describe("the demo's base preset (examples/system: systemd, udev and dbus, Format=directory)", () => {
    let dir: string;
    let run: Result;

    beforeAll(async () => {
      const project = path.join(tempDir('kiln-rootless-demo-'), 'system');
      fs.cpSync(path.join(repo, 'examples/system'), project, { recursive: true, filter: (p) => !p.endsWith('/mkosi.output') });
      // Base alone: its packages need no tools tree (only the disk's output steps do). ToolsTree=no, not
      // an empty value: in mkosi.local.conf that does not undo mkosi.conf's ToolsTree=default (as in mkosi).
      fs.writeFileSync(path.join(project, 'mkosi.local.conf'), '[Build]\nToolsTree=no\n');
      dir = user.own(project, 'system');
      run = await user.kiln(['build', '-C', dir, '--preset', 'base'], dir);
    });

    it("builds as the user: the archive's files are root's, packages' users and groups keep their ids", () => {
      expect(run.stderr).not.toMatch(/^kiln: /m);
      expect(run.code).toBe(0);
      const archive = path.join(dir, 'mkosi.output/base.tar.zst');
      const tar = tarOwners(archive);
      expect(tar.get('./usr/lib/systemd/systemd')).toBe('0/0');
      const extract = (f: string) => sh('bash', ['-o', 'pipefail', '-c', 'zstd -dc "$0" | tar -xO "$1"', archive, f]);
      const apt = Number(extract('./etc/passwd').match(/^_apt:[^:]*:(\d+):/m)?.[1]);
      const messagebus = Number(extract('./etc/group').match(/^messagebus:[^:]*:(\d+):/m)?.[1]);
      expect([apt, messagebus].every((id) => id > 0)).toBe(true);
      expect(tar.get('./var/lib/apt/lists/partial/')).toBe(`${apt}/0`);
      expect(tar.get('./usr/lib/dbus-1.0/dbus-daemon-launch-helper')).toBe(`0/${messagebus}`);
      // The outputs are the user's (the tree beside them holds the subordinate ids: not checked).
      expect(fs.statSync(archive)).toMatchObject({ uid: user.uid, gid: user.gid });
    });

    it("kiln clean as the user removes the tree with the subordinate ids' files; nothing in the home is anyone else's", async () => {
      const clean = await user.kiln(['clean', '-C', dir, '--preset', 'base'], dir);
      expect(clean.code).toBe(0);
      expect(fs.existsSync(path.join(dir, 'mkosi.output/base'))).toBe(false);
      expect(user.strangers()).toEqual([]);
    });
  });

  describe('a Gentoo native build from the fixture binhost', () => {
    let server: { url: string; close(): Promise<void> };
    let dir: string;
    let run: Result;

    beforeAll(async () => {
      const fx = tempDir('kiln-rootless-fx-');
      await buildFixtures(fx);
      server = await serve(fx, { port: 0 });
      const project = path.join(tempDir('kiln-rootless-gentoo-'), 'gentoo');
      fs.mkdirSync(project);
      fs.writeFileSync(path.join(project, 'mkosi.conf'), `[Distribution]\nDistribution=gentoo\nArchitecture=x86-64\nBinhosts=${server.url}/binhost\n\n[Output]\nFormat=tar\nOutput=image\n\n[Content]\nSourceDateEpoch=1700000000\nPackages=app-misc/hello\n`);
      dir = user.own(project, 'gentoo');
      run = await user.kiln(['build', '-C', dir], dir);
    });
    afterAll(() => server?.close());

    it("exits 0; the archive's files are root's, the users systemd-sysusers made are in it, the output is the user's", () => {
      expect(run.stderr).not.toMatch(/^kiln: /m);
      expect(run.code).toBe(0);
      const archive = path.join(dir, 'mkosi.output/image.tar.zst');
      const tar = tarOwners(archive);
      expect(tar.get('./usr/bin/hello')).toBe('0/0');
      expect(new Set(tar.values())).toEqual(new Set(['0/0']));
      expect(sh('bash', ['-o', 'pipefail', '-c', 'zstd -dc "$0" | tar -xO ./etc/passwd', archive])).toMatch(/^kiln-test:x:950:950:/m);
      expect(fs.statSync(archive)).toMatchObject({ uid: user.uid, gid: user.gid });
      expect(user.strangers()).toEqual([]);
    });
  });

  it('a user without subordinate ids gets one line saying why and how to fix it', async () => {
    const bare = new ThrowawayUser(`kilnrx${process.pid}`, false);
    users.push(bare);
    const dir = bare.own(smallProject(), 'proj');
    const r = await bare.kiln(['build', '-C', dir], dir);
    expect(r.stderr).toMatch(
      new RegExp(
        `^kiln: rootless build: ${bare.name} \\(uid ${bare.uid}\\) is not root, so kiln runs as root in a user namespace over 65536 subordinate ids \\(the owners of the image's files: root, _apt, messagebus\\.\\.\\.\\), but /etc/subuid has no range of subordinate user ids for ${bare.name}: give ${bare.name} one as root \\(usermod --add-subuids (\\d+)-(\\d+) --add-subgids \\1-\\2 ${bare.name}\\), or run kiln as root\\n$`,
      ),
    );
    expect(r.code).toBe(1);
    expect(fs.existsSync(path.join(dir, 'mkosi.output'))).toBe(false);
  });
});
