/**
 * Rootless mode: `kiln build`, `kiln lock` and `kiln clean` run by an ordinary user re-run the CLI
 * inside a user namespace in which it is root, so the engine (bwrap sandboxes, mmdebstrap, tar)
 * runs unchanged, as it does for the real root.
 *
 * An image needs more than one owner: root's files, and the users and groups its packages create
 * (_apt, messagebus, shadow, utmp...) must keep their ids in the image and in its archive. So the
 * namespace maps, as mkosi's become_root_in_subuid_range does:
 *
 *   inside 0           -> the user (what "root" writes is the user's: outputs, caches, work tree)
 *   inside 1..65535    -> the user's subordinate ids (/etc/subuid, /etc/subgid)
 *
 * through util-linux's `unshare --map-user=0 --map-users=...`, which has the setuid newuidmap and
 * newgidmap (Debian's `uidmap` package) write the maps. Only a user namespace is made: the
 * network, PIDs and host file system stay the user's; the engine makes its own mount, PID and IPC
 * namespaces below it, as for root. Nested user namespaces (contained sandboxes) work too, with one
 * rule: each extent of a nested uid_map/gid_map must lie inside one extent of this map, so a nested
 * namespace that wants every id writes "0 0 1" and "1 1 65535" (the inner columns of
 * /proc/self/uid_map, which is one extent as the real root), not "0 0 65536"; newuidmap, which
 * checks /etc/subuid, cannot be used inside.
 * The package and layer caches are then the user's own (~/.cache/kiln).
 *
 * What cannot work without root is said before anything starts: user namespaces disabled, no
 * newuidmap, no subordinate id range for the user; each message names the fix.
 *
 * The user's process stays the parent (Node cannot exec): it passes SIGINT, SIGTERM and SIGHUP on,
 * exits with the inner CLI's code, and holds one end of a socket (fd 3 of the inner CLI): the inner
 * CLI stops its build as on SIGTERM when that end closes, so killing the parent, even with
 * SIGKILL, does not leave a build running.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The ids an image may use besides root: 1..65535 (65534 is nobody). */
export const SUBRANGE = 65536;

/** The commands that run the engine (and so need root, or a namespace in which kiln is root). */
const ENGINE_COMMANDS = new Set(['build', 'lock', 'clean']);

/** Set by the outer CLI: the inner one's end of the parent socket. */
const PARENT_FD_ENV = 'KILN_ROOTLESS_FD';

export interface SubRange {
  start: number;
  count: number;
}

/** The user's first range of at least SUBRANGE ids in an /etc/subuid-style file (by name or uid). */
export function findSubRange(text: string, user: string | undefined, id: number): { range?: SubRange; small?: SubRange } {
  let small: SubRange | undefined;
  for (const line of text.split('\n')) {
    const [name, start, count] = line.trim().split(':');
    if (name === undefined || start === undefined || count === undefined) continue;
    if (name !== user && name !== String(id)) continue;
    const r = { start: Number(start), count: Number(count) };
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.count)) continue;
    if (r.count >= SUBRANGE) return { range: r };
    small ??= r;
  }
  return { small };
}

/** A free range to suggest: after every range of every user in the files (at least 100000). */
export function freeRange(texts: string[]): SubRange {
  let start = 100000;
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const [, s, c] = line.trim().split(':');
      const end = Number(s) + Number(c);
      if (Number.isSafeInteger(end) && end > start) start = end;
    }
  }
  return { start, count: SUBRANGE };
}

export interface Host {
  uid: number;
  user: string | undefined;
  /** A file's text, or undefined when it cannot be read. */
  read(file: string): string | undefined;
  /** A program's path on PATH (or the usual directories), or undefined. */
  which(program: string): string | undefined;
}

export type Plan = { ok: true; command: string[]; pathDirs: string[] } | { ok: false; message: string };

/** The unshare command that runs `argv` as root over the user's subordinate ids, or why it cannot. */
export function rootlessPlan(host: Host, what: string, argv: string[]): Plan {
  const who = host.user ? `${host.user} (uid ${host.uid})` : `uid ${host.uid}`;
  const name = host.user ?? String(host.uid);
  const fail = (why: string, fix: string): Plan => ({ ok: false, message: `rootless ${what}: ${who} is not root, so kiln runs as root in a user namespace over ${SUBRANGE} subordinate ids (the owners of the image's files: root, _apt, messagebus...), but ${why}: ${fix}` });

  const max = host.read('/proc/sys/user/max_user_namespaces')?.trim();
  if (max === '0') return fail('user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)', 'enable them as root (sysctl -w user.max_user_namespaces=15000), or run kiln as root');
  if (host.read('/proc/sys/kernel/unprivileged_userns_clone')?.trim() === '0') return fail('unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)', 'enable them as root (sysctl -w kernel.unprivileged_userns_clone=1), or run kiln as root');
  if (host.read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim() === '1') return fail('AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1)', 'allow them as root (sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or run kiln as root');

  const unshare = host.which('unshare');
  if (!unshare) return fail('unshare (util-linux) is not installed', 'install it (apt-get install util-linux), or run kiln as root');
  const missing = ['newuidmap', 'newgidmap'].filter((p) => !host.which(p));
  if (missing.length) return fail(`${missing.join(' and ')}, which map a user's subordinate ids into a namespace, ${missing.length > 1 ? 'are' : 'is'} not installed`, "install Debian's uidmap package as root (apt-get install uidmap), or run kiln as root");

  const texts: string[] = [];
  const ranges: SubRange[] = [];
  // Both files name the user (by name or uid), as newuidmap and newgidmap look them up.
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = host.read(file) ?? '';
    texts.push(text);
    const { range, small } = findSubRange(text, host.user, host.uid);
    if (range) {
      ranges.push(range);
      continue;
    }
    const free = freeRange(texts.concat(host.read(file === '/etc/subuid' ? '/etc/subgid' : '/etc/subuid') ?? ''));
    const span = `${free.start}-${free.start + free.count - 1}`;
    const has = small ? `the range of ${name} in ${file} has ${small.count} ids, fewer than ${SUBRANGE}` : `${file} has no range of subordinate ${file.endsWith('uid') ? 'user' : 'group'} ids for ${name}`;
    return fail(has, `give ${name} one as root (usermod --add-subuids ${span} --add-subgids ${span} ${name}), or run kiln as root`);
  }
  const [uids, gids] = ranges as [SubRange, SubRange];
  const n = SUBRANGE - 1;
  const command = [
    unshare, '--user',
    '--map-user=0', '--map-group=0',
    `--map-users=${uids.start},1,${n}`, `--map-groups=${gids.start},1,${n}`,
    '--', ...argv,
  ];
  // unshare runs newuidmap and newgidmap from PATH.
  return { ok: true, command, pathDirs: [...new Set(['newuidmap', 'newgidmap'].map((p) => path.dirname(host.which(p)!)))] };
}

/** The real host, for rootlessPlan. */
export function realHost(): Host {
  const PATHS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = undefined; // a uid without a passwd entry: /etc/subuid may still name it by number
  }
  return {
    uid: process.getuid!(),
    user,
    read: (file) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
    which: (program) => {
      const dirs = [...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/')), ...PATHS];
      for (const d of dirs) {
        try {
          fs.accessSync(path.join(d, program), fs.constants.X_OK);
          return path.join(d, program);
        } catch {
          // not here
        }
      }
      return undefined;
    },
  };
}

/** True when `argv` (node, script, command, ...) runs the engine as a user who is not root. */
export function needsNamespace(argv: string[]): boolean {
  if (process.getuid?.() === 0 || process.env[PARENT_FD_ENV]) return false;
  const command = argv[2];
  if (!command || !ENGINE_COMMANDS.has(command)) return false;
  return !argv.slice(3).some((a) => a === '-h' || a === '--help');
}

/**
 * Runs the CLI again as root in a user namespace over the user's subordinate ids and resolves to
 * its exit code. Throws RootlessError when that cannot work.
 */
export function runInNamespace(argv: string[]): Promise<number> {
  const command = argv[2]!;
  const plan = rootlessPlan(realHost(), command, [process.execPath, ...argv.slice(1)]);
  if (!plan.ok) throw new RootlessError(plan.message);
  const env: NodeJS.ProcessEnv = { ...process.env, [PARENT_FD_ENV]: '3' };
  env.PATH = [...plan.pathDirs, ...(env.PATH ?? '').split(':').filter(Boolean)].join(':');
  // Inside, kiln is uid 0: keep the runtime digest cache the user's, never root's /tmp/kiln-digest-0.
  env.KILN_DIGEST_CACHE ??= path.join(os.tmpdir(), `kiln-digest-${process.getuid!()}`);
  const [file, ...args] = plan.command as [string, ...string[]];
  const child = spawn(file, args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env });
  const parentEnd = child.stdio[3] as net.Socket;
  let started = false;
  parentEnd.on('data', () => (started = true));
  parentEnd.on('error', () => undefined);
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new RootlessError(`rootless ${command}: cannot run ${file}: ${e.message}`)));
    child.on('close', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      if (!started && code !== 0) {
        // unshare (or newuidmap under it) failed before kiln ran inside: its own message is above.
        reject(new RootlessError(`rootless ${command}: could not enter a user namespace over the subordinate ids of /etc/subuid and /etc/subgid (${signal ?? `exit ${code}`}, unshare's message above): check that newuidmap and newgidmap are setuid root (ls -l ${plan.pathDirs.join(' ')}) and that unprivileged user namespaces are allowed, or run kiln as root`));
        return;
      }
      resolve(code ?? 128 + (os.constants.signals[signal!] ?? 0));
    });
  });
}

/**
 * In the inner CLI: says it started (the outer one then knows a failure is kiln's, not unshare's)
 * and stops the command as on SIGTERM when the outer one is gone.
 */
export function attachToParent(): void {
  const fd = Number(process.env[PARENT_FD_ENV]);
  delete process.env[PARENT_FD_ENV];
  if (!Number.isInteger(fd) || fd < 3) return;
  let sock: net.Socket;
  try {
    sock = new net.Socket({ fd, readable: true, writable: true });
  } catch {
    return;
  }
  sock.on('error', () => undefined);
  sock.write('1');
  // The socket alone must not keep kiln running once the command is done.
  sock.unref();
  sock.on('end', () => process.kill(process.pid, 'SIGTERM'));
  sock.resume();
}

/** Rootless mode cannot work here; the message says why and how to fix it. */
export class RootlessError extends Error {}
