/**
 * The systemd version `[Match] SystemdVersion=` compares with. mkosi 26 asks the host
 * (`systemctl --version`, its second word: "252"), even when the build runs its tools from a tools
 * tree. kiln asks the systemd the build's tools come from, the one the condition is about
 * (systemd-repart, ukify, the stubs), read from files rather than by running a program:
 *
 *  - ToolsTree=default (or yes): the systemd package pinned by the tools tree's lock
 *    (mkosi.tools.lock, or kiln.lock in a mkosi.tools.conf/ directory), so the answer is known
 *    before the tree is built and is the same on every machine. An unlocked tools tree has no
 *    known systemd yet: the host's is taken, as mkosi does, with a warning saying to lock it
 *    (an error would stop `kiln lock` itself, which reads the configuration first);
 *  - ToolsTree=PATH: that tree's libsystemd-shared-VERSION.so;
 *  - no tools tree: the host's libsystemd-shared-VERSION.so (the library every systemd tool
 *    links; its name carries the version systemctl prints).
 *
 * Everything is read through probe.ts, so the project's facts (facts.ts) are read again when the
 * lock or the library directory changes (a systemd upgrade renames the library): a condition that
 * turns true then changes the resolved settings, and with them the Nx hash (fingerprint.ts).
 * The major version is what is compared ("257" from 257.9-1~deb13u1), as systemctl prints it.
 */
import * as path from 'node:path';
import { ValueError } from './errors';
import { readLockfile } from './lockfile';
import * as probe from './probe';

export interface SystemdVersion {
  version: string;
  /** Where it was read, for messages. */
  from: string;
  /** Why the answer is not the one kiln prefers (an unlocked tools tree), for a warning. */
  warning?: string;
}

/**
 * The systemd version for a configuration whose ToolsTree= is `toolsTree` so far, in the project
 * whose config directory is `root`; `hostRoot` is the host's / (tests give another).
 */
export function systemdVersion(toolsTree: string | null, root: string, hostRoot = '/'): SystemdVersion {
  if (toolsTree === 'default' || toolsTree === 'yes') return fromToolsLock(root, hostRoot);
  if (toolsTree && path.isAbsolute(toolsTree)) return fromTree(toolsTree, `the tools tree ${toolsTree} (ToolsTree=)`);
  return fromTree(hostRoot, 'the host');
}

/** The tools tree's lock: beside mkosi.tools.conf, or in it when it is a directory (generated.ts). */
export function toolsLockPath(root: string): string {
  const conf = path.join(root, 'mkosi.tools.conf');
  return probe.isDirectory(conf) ? path.join(conf, 'kiln.lock') : path.join(root, 'mkosi.tools.lock');
}

function fromToolsLock(root: string, hostRoot: string): SystemdVersion {
  const file = toolsLockPath(root);
  const lock = probe.exists(file) ? readLockfile(file) : null;
  const rel = path.relative(root, file);
  const systemd = lock?.package.find((p) => p.name === 'systemd');
  const major = systemd && majorVersion(systemd.version);
  if (major) return { version: major, from: `${rel} (systemd ${systemd.version})` };
  // Not known yet: the host's, as mkosi, rather than an error that `kiln lock` would stop on too.
  const why = lock ? `its lock ${rel} has no systemd package` : `the tools tree (ToolsTree=default) is not locked`;
  let host: SystemdVersion;
  try {
    host = fromTree(hostRoot, 'the host');
  } catch (e) {
    if (!(e instanceof ValueError)) throw e;
    throw new ValueError(`${why} and ${e.message}`);
  }
  const fix = lock ? `add systemd to ToolsTreePackages= and run \`kiln lock\`` : `run \`kiln lock\` to compare with the tools tree's (${rel})`;
  return { ...host, warning: `SystemdVersion= compares with the host's systemd ${host.version}, as mkosi does, because ${why}: ${fix}` };
}

/** Directories holding libsystemd-shared-*.so in a tree (Debian's multiarch one, Fedora's lib64, Arch's lib). */
function libraryDirs(tree: string): string[] {
  const usrLib = path.join(tree, 'usr/lib');
  const multiarch = probe.isDirectory(usrLib) ? probe.readdir(usrLib).filter((n) => /^[a-z0-9_]+-linux-[a-z0-9_]+$/.test(n)).sort() : [];
  return [path.join(usrLib, 'systemd'), ...multiarch.map((n) => path.join(usrLib, n, 'systemd')), path.join(tree, 'usr/lib64/systemd')];
}

function fromTree(tree: string, what: string): SystemdVersion {
  for (const dir of libraryDirs(tree)) {
    if (!probe.isDirectory(dir)) continue;
    const lib = probe.readdir(dir).find((n) => /^libsystemd-shared-\d/.test(n));
    if (lib) return { version: majorVersion(lib.slice('libsystemd-shared-'.length))!, from: `${what} (${path.join(dir, lib)})` };
  }
  throw new ValueError(`${what} has no systemd (no libsystemd-shared-*.so in /usr/lib/systemd, /usr/lib/<multiarch>/systemd or /usr/lib64/systemd), so SystemdVersion= cannot be known`);
}

/** "257" of "257.9-1~deb13u1", "1:257.9-1" or "256.11-1.fc41.so": the leading number after an epoch. */
export function majorVersion(v: string): string | null {
  return /^(?:\d+:)?(\d+)/.exec(v)?.[1] ?? null;
}
