/**
 * One way to run a tool that acts on an image: a description of the namespace it runs in (what
 * `/` is, what is bound where and whether it can be written, tmpfs, /dev, /proc, the whole
 * environment, the working directory, the capabilities it keeps), turned into a bubblewrap
 * command line and run through exec.ts run(), so its output, abort, progress and error handling
 * are every other tool's.
 *
 * Three views of `/`:
 * - an image root (`root: "/path/to/image"`): a chroot, the image's own tools run (scripts named
 *   *.chroot);
 * - the host (`root: "host"`): the host's tree read-only, tools from the host's /usr (or from a
 *   tools tree's: `tools`, ToolsTree=), and only what the step declares writable (the image, its
 *   caches, scratch space) bound read-write over it; a fresh /tmp;
 * - nothing (`root: null`): an empty tmpfs that `mounts` furnish (emerge's tools tree, assembled
 *   read-only entry by entry).
 *
 * Every sandbox dies with kiln (--die-with-parent), has its own PID and IPC namespaces by default
 * (a daemon a maintainer script starts cannot outlive the step), and keeps only the capabilities
 * it names: ROOT_IN_IMAGE for tools that act as root inside an image.
 *
 * Code that packages carry (maintainer scripts, pkg_* phases, *.chroot scripts) runs in a user
 * namespace of its own (`userns`), so that root in it is root over the image only; see "User
 * namespaces" below. mmdebstrap, which mounts /proc, /sys and device files into the root it
 * builds, keeps every capability over its namespace ("identity-mounting") and enters it after
 * bwrap's binds, which are then locked read-only to it. `net: false` takes the host's network away.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { run, type RunContext, type RunOptions } from './exec';

/** One mount, applied in order after the view of `/`. */
export type Mount =
  | { type: 'bind' | 'ro-bind' | 'dev-bind'; source: string; target: string; optional?: boolean }
  | { type: 'tmpfs' | 'remount-ro' | 'proc' | 'dev'; target: string }
  | { type: 'symlink'; source: string; target: string };

export interface Sandbox {
  /** What `/` is: an image root (chroot), "host" (the host's tree, read-only), or null (an empty tmpfs). */
  root: string | 'host' | null;
  /**
   * With root "host": a tools tree whose /usr (and the /etc files its programs read) stand in
   * for the host's, so that tools come from it (ToolsTree=); null or absent: the host's /usr.
   */
  tools?: string | null;
  /** Further mounts, in order: binds (read-write, read-only, devices), tmpfs, symlinks, /proc, /dev. */
  mounts?: Mount[];
  /** /dev: "minimal" (bwrap's own: null, zero, full, random, urandom, tty, pts, shm), "host" (bound), or none. */
  dev?: 'minimal' | 'host' | null;
  /** A /proc of the sandbox's PID namespace (default true). */
  proc?: boolean;
  /** A fresh tmpfs at /tmp (default true). */
  tmp?: boolean;
  /** The tool's whole environment (nothing else of kiln's or bwrap's reaches it). */
  env: Record<string, string>;
  /** Working directory inside the sandbox. */
  cwd?: string;
  /** Capabilities kept; every other one is dropped (bwrap keeps them all for root otherwise). */
  caps?: readonly string[];
  /** Namespaces besides the mount namespace (default pid and ipc). */
  unshare?: ('pid' | 'ipc' | 'uts' | 'net')[];
  /**
   * "identity": a user namespace of its own, in which ids 0-65535 are the same ids outside (so
   * the image's owners come out right) and the capabilities kept are capabilities over it only:
   * no device nodes, no mounts of its own over the binds, nothing of the host's beyond what the
   * mounts show. See "User namespaces" below.
   * "identity-mounting": the same map, for a tool that mounts in its namespace (mmdebstrap mounts
   * /proc, /sys and device files into the root it builds): it keeps every capability over the
   * namespace, which it enters only after bwrap made the binds, so that they are locked to it.
   * Only with root "host" and no `caps` (the namespace is what limits it).
   */
  userns?: 'identity' | 'identity-mounting';
  /** The host's network (default true); false: a network namespace of its own, with loopback only. */
  net?: boolean;
}

/**
 * What a tool acting as root inside an image may do, and no more: own and change files (owners,
 * modes, file capabilities, device nodes), switch users, chroot, signal its children. Docker's
 * default set for a container's root, which package maintainer scripts are written to work with;
 * no mounting (CAP_SYS_ADMIN), no modules, raw I/O, clock or network administration.
 */
export const ROOT_IN_IMAGE = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
] as const;

/**
 * Tools acting on an image or kiln's caches from outside (ldconfig -r, systemd-sysusers --root,
 * apt-get update into the package cache, systemd-repart): the host read-only, its /usr replaced by
 * the tools tree's when `tools` is given, and only `writable` (the image, the work directory, a
 * cache) bound read-write at their own paths; as root in the image.
 */
export function hostTools(env: Record<string, string>, writable: string[], tools?: string | null): Sandbox {
  return { root: 'host', tools, dev: 'minimal', caps: ROOT_IN_IMAGE, env, mounts: writable.map((p) => ({ type: 'bind', source: p, target: p })) };
}

/**
 * A package manager installing into an image from outside (apt/dpkg, dnf, zypper, pacman): the
 * host read-only (its /usr the tools tree's when `tools` is given), root over the image's files
 * only, in a user namespace of its own, and read-write only the work directory, the package cache
 * and the image. `mounts` (the tool's own caches, scratch space, keyring) come next; the image
 * gets /proc and bwrap's own /dev last, for the scripts and hooks the tool chroots into.
 */
export function packageManager(p: { tools?: string | null; work: string; packageCache: string; root: string; net: boolean; env: Record<string, string>; mounts?: Mount[] }): Sandbox {
  return {
    root: 'host',
    tools: p.tools,
    dev: 'minimal',
    caps: ROOT_IN_IMAGE,
    userns: 'identity',
    net: p.net,
    env: p.env,
    mounts: [
      ...[p.work, p.packageCache, p.root].map((dir): Mount => ({ type: 'bind', source: dir, target: dir })),
      ...(p.mounts ?? []),
      { type: 'proc', target: path.join(p.root, 'proc') },
      { type: 'dev', target: path.join(p.root, 'dev') },
    ],
  };
}

/**
 * The tools tree's files that stand in for the host's: its programs' libraries and alternatives,
 * and the configuration of its apt and dpkg (the install step runs them), so that the host's
 * /etc/apt (its apt.conf.d, its keyrings, which mmdebstrap asks apt-config for) never reaches a
 * build: the mirror is verified with the tree's debian-archive-keyring.
 */
const TOOLS_ETC = ['etc/ld.so.cache', 'etc/alternatives', 'etc/ssl', 'etc/ca-certificates', 'etc/apt', 'etc/dpkg'];

function mountArgs(m: Mount): string[] {
  switch (m.type) {
    case 'bind':
    case 'ro-bind':
    case 'dev-bind':
      return [`--${m.type}${m.optional ? '-try' : ''}`, m.source, m.target];
    case 'symlink':
      return ['--symlink', m.source, m.target];
    default:
      return [`--${m.type}`, m.target];
  }
}

/** The bwrap arguments (everything before the command) of a sandbox. */
export function bwrapArgs(box: Sandbox): string[] {
  const args = ['--die-with-parent', ...(box.unshare ?? ['pid', 'ipc']).map((n) => `--unshare-${n}`)];
  if (box.net === false && !box.unshare?.includes('net')) args.push('--unshare-net');
  // bwrap waits on descriptor 3 until kiln has written the id map; it says its child's PID on 4.
  if (box.userns === 'identity') args.push('--unshare-user', '--uid', '0', '--gid', '0', '--userns-block-fd', '3', '--info-fd', '4');
  if (box.root === 'host') {
    args.push('--ro-bind', '/', '/');
    if (box.tools) {
      args.push('--ro-bind', path.join(box.tools, 'usr'), '/usr');
      for (const rel of TOOLS_ETC) args.push('--ro-bind-try', path.join(box.tools, rel), `/${rel}`);
    }
  } else if (box.root) {
    args.push('--bind', box.root, '/');
  }
  if (box.dev === 'host') args.push('--dev-bind', '/dev', '/dev');
  else if (box.dev === 'minimal') args.push('--dev', '/dev');
  if (box.proc ?? true) args.push('--proc', '/proc');
  if (box.tmp ?? true) args.push('--tmpfs', '/tmp');
  for (const m of box.mounts ?? []) args.push(...mountArgs(m));
  if (box.cwd) args.push('--chdir', box.cwd);
  if (box.caps) args.push('--cap-drop', 'ALL', ...box.caps.flatMap((c) => ['--cap-add', c]));
  args.push('--clearenv', ...Object.entries(box.env).flatMap(([k, v]) => ['--setenv', k, v]));
  return args;
}

/** The program and arguments that run `command` in the sandbox. */
export function sandboxCommand(box: Sandbox, command: string[]): { file: string; args: string[] } {
  if (box.userns === 'identity-mounting') {
    if (box.root !== 'host' || box.caps) throw new Error('a sandbox whose tool mounts in its own user namespace sees the host (root "host") and keeps no capability list');
    return { file: 'bwrap', args: [...bwrapArgs(box), '--', ...enterIdentity(command)] };
  }
  return { file: 'bwrap', args: [...bwrapArgs(box), '--', ...command] };
}

// ---------------------------------------------------------------------------------------------
// User namespaces. A sandbox with `userns: "identity"` is bwrap's child in a user namespace of
// its own, created with its mount namespace: the host's mounts it copies are locked to it, and the
// binds bwrap makes are made from the outside and then bwrap keeps only `caps`, which never hold
// CAP_SYS_ADMIN; so nothing in it can mount, unmount or remount (`mount -o remount,rw` fails
// with EPERM), and a user namespace it makes in turn gets the binds locked read-only. Its root is
// root over the namespace only: it cannot create device nodes, reach a device the mounts do not
// show, or use a capability on the host. bwrap maps a single id itself; packages own files as
// other users (messagebus, _apt, portage), so kiln writes the map instead (--userns-block-fd):
// every id 0-65535 kiln's own namespace has, to itself. As root on the host that is 0-65535;
// run by the rootless mode from a user namespace of the user's subordinate ids, it is the ids that
// namespace maps, still to themselves, so the image's owners are the same ids either way and
// nesting needs no privilege kiln does not already hold in its namespace (CAP_SETUID over it).

/** The identity map of `ids` (the lines of /proc/self/uid_map or gid_map) over 0-65535. */
export function identityMap(ids: string, limit = 65536): string {
  const lines: string[] = [];
  for (const l of ids.trim().split('\n')) {
    const [inner, , count] = l.trim().split(/\s+/).map(Number);
    const end = Math.min(inner + count, limit);
    if (inner < end) lines.push(`${inner} ${inner} ${end - inner}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * `command` in a user namespace (and a mount namespace) entered inside bwrap, after its binds:
 * sh and unshare (the tools tree's when the sandbox has one) start it, write its identity map from outside (as root on the host,
 * or over kiln's namespace), and let it go on. Two FIFOs in bwrap's own /tmp, which this shell
 * holds open both ways so that nothing blocks on a side that died: on the first the child says
 * its PID once unshared (or its subshell says "exit N" when unshare failed), on the second the
 * shell says the map is written. /proc stays bwrap's (mmdebstrap binds it when it cannot mount one).
 */
function enterIdentity(command: string[]): string[] {
  const map = (kind: string) => identityMap(fs.readFileSync(`/proc/self/${kind}`, 'utf8')).replace(/\n/g, '\\n');
  const script = [
    'set -e',
    'mkfifo /tmp/.kiln-unshared /tmp/.kiln-mapped',
    'exec 3<>/tmp/.kiln-unshared 4<>/tmp/.kiln-mapped',
    `( rc=0; unshare --user --mount --keep-caps -- sh -c 'exec 3>&- 4>&-; echo $$ > /tmp/.kiln-unshared; read _ < /tmp/.kiln-mapped; exec "$@"' sh "$@" || rc=$?; echo "exit $rc" >&3; exit $rc ) &`,
    'read pid <&3',
    'case "$pid" in exit*) wait $!; exit 1;; esac',
    `printf '${map('uid_map')}' > /proc/$pid/uid_map`,
    `printf '${map('gid_map')}' > /proc/$pid/gid_map`,
    'echo >&4',
    'wait $!',
  ].join('\n');
  return ['sh', '-c', script, 'sh', ...command];
}

/** Reads bwrap's --info-fd JSON (its child's PID), writes the child's id maps, then lets it go on. */
async function mapIdentity([block, info]: Duplex[]): Promise<void> {
  let text = '';
  const pid = await new Promise<number | null>((resolve) => {
    info.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      try {
        resolve(JSON.parse(text)['child-pid']);
      } catch {
        // not whole yet
      }
    });
    // bwrap failed before its child ran: its exit code and message say why.
    info.on('close', () => resolve(null));
    info.on('error', () => resolve(null));
  });
  if (pid === null) return;
  for (const kind of ['uid_map', 'gid_map']) {
    try {
      fs.writeFileSync(`/proc/${pid}/${kind}`, identityMap(fs.readFileSync(`/proc/self/${kind}`, 'utf8')));
    } catch (e) {
      throw new Error(`cannot map the ids of the sandbox's user namespace (/proc/${pid}/${kind}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  await new Promise<void>((resolve) => block.end('1', resolve));
}

/**
 * Runs `command` in the sandbox through run(): the log, abort, progress and error message are
 * run()'s, the error naming the command rather than bwrap.
 */
export async function runIn(ctx: RunContext, box: Sandbox, command: string[], opts: Omit<RunOptions, 'env' | 'extendEnv' | 'cwd' | 'pipes'>): Promise<string> {
  const { file, args } = sandboxCommand(box, command);
  // bwrap itself gets the tools' environment (it is found on their PATH); the command gets box.env.
  return run(ctx, file, args, { ...opts, program: command[0], ...(box.userns ? { pipes: { count: 2, spawned: mapIdentity } } : {}) });
}

