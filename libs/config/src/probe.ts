/**
 * The file system as the config reader sees it, recorded. Reading a project goes through these
 * functions; inside `recording()` each access leaves a probe (a path and its signature), so that
 * a later process can tell, with a few stat calls and without loading the reader, whether the
 * project would read the same way again (facts.ts). What decides a read:
 *
 *  - a file's content: its signature (inode, size, mtime and ctime in nanoseconds);
 *  - whether a name exists, and whether it is a file or a directory: the listing of its parent,
 *    whose mtime changes with every entry created, removed or renamed in it;
 *  - a directory listing: the directory's own signature;
 *  - a glob: its pattern and the sorted list it expanded to;
 *  - a variable of kiln's environment (a `$VAR` in a path, an Environment= pass-through): a
 *    SHA-256 of its value, never the value (it may be a secret, and the cache is a file).
 *
 * Node builtins only: facts.ts loads this on every Nx hash, where loading zod would cost more
 * than the whole check.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Probes = Record<string, string>;

/**
 * The probes being recorded. Kept on a global symbol, not in a module variable: the reader and
 * the recorder must share it even when two copies of this module are loaded (two installed
 * copies of @kiln/config, or a test's module registry reset between them).
 */
const SLOT = Symbol.for('kiln.config.probes');
const slot = globalThis as unknown as { [SLOT]?: Probes | null };
const current = (): Probes | null => slot[SLOT] ?? null;

/** Runs fn, returning what it returned and every probe it left. */
export function recording<T>(fn: () => T): { result: T; probes: Probes } {
  const outer = current();
  const probes: Probes = {};
  slot[SLOT] = probes;
  try {
    return { result: fn(), probes };
  } finally {
    slot[SLOT] = outer;
  }
}

/** The signature of a path now: what a probe compares. */
export function signature(p: string): string {
  // throwIfNoEntry: a missing path is a common answer (mkosi.local.conf), and an exception's
  // stack trace costs more than the stat itself. Other errors (ENOTDIR, EACCES) still throw.
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.statSync(p, { bigint: true, throwIfNoEntry: false });
  } catch {
    return 'missing';
  }
  if (!st) return 'missing';
  const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o';
  return `${kind}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

function note(key: string, value: () => string): void {
  const probes = current();
  if (probes && !(key in probes)) probes[key] = value();
}

/** A path whose content or listing was read. */
function content(p: string): void {
  note(`path:${p}`, () => signature(p));
}

/** A name looked up: its parent's listing decides whether it is there. */
function lookup(p: string): void {
  content(path.dirname(p));
}

export function exists(p: string): boolean {
  lookup(p);
  // One lstat answers for all but a symlink, whose target can change without its parent
  // changing: followed, as a content probe.
  const st = lstatQuiet(p);
  if (!st) return false;
  if (!st.isSymbolicLink()) return true;
  if (current()) content(p);
  return fs.existsSync(p);
}

export function isDirectory(p: string): boolean {
  lookup(p);
  const st = lstatQuiet(p);
  if (!st) return false;
  if (!st.isSymbolicLink()) return st.isDirectory();
  if (current()) content(p);
  try {
    return fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

/** A symlink's target when `p` is a symlink whose target does not exist (a dangling link); else null. */
export function danglingTarget(p: string): string | null {
  if (!isSymlink(p)) return null;
  if (current()) content(p);
  return fs.existsSync(p) ? null : fs.readlinkSync(p);
}

/** The largest config file read (mkosi.conf, a drop-in, mkosi.version): far beyond any real one. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** A config file that cannot be read as one: not a regular file, or too large. */
export class NotAConfigFile extends Error {}

/**
 * A config file's text. Only regular files are opened: a FIFO would block the reader forever and
 * /dev/zero would fill its memory, so their type is checked before opening (and again on the
 * opened file, O_NONBLOCK so that a FIFO swapped in meanwhile cannot block), and at most
 * MAX_CONFIG_BYTES are read.
 */
/** Whether following `p` never ends (a link to itself, or two links to each other). */
export function isSymlinkLoop(p: string): boolean {
  try {
    fs.statSync(p);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ELOOP';
  }
}

export function readText(p: string): string {
  lookup(p);
  content(p);
  refuseSpecial(fs.statSync(p));
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    refuseSpecial(fs.fstatSync(fd));
    const buf = Buffer.alloc(Math.min(fs.fstatSync(fd).size, MAX_CONFIG_BYTES) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > MAX_CONFIG_BYTES) throw new NotAConfigFile(`is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, too large for a config file (is it the right file?)`);
    return buf.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function refuseSpecial(st: fs.Stats): void {
  if (st.isFile()) {
    if (st.size > MAX_CONFIG_BYTES) throw new NotAConfigFile(`is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, too large for a config file (is it the right file?)`);
    return;
  }
  const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
  throw new NotAConfigFile(`is ${what}, not a regular file (a config file must be a regular file)`);
}

export function readdir(dir: string): string[] {
  lookup(dir);
  content(dir);
  return fs.readdirSync(dir);
}

export function realpath(p: string): string {
  lookup(p);
  if (current() && isSymlink(p)) content(p);
  return fs.realpathSync(p);
}

/** Whether `p` is a file kiln would run (mkosi runs an executable mkosi.version); its mode is in its signature (ctime). */
export function isExecutable(p: string): boolean {
  content(p);
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * A program whose output the read took (an executable mkosi.version): its output can change while
 * no file does (a version from the date or from git), so a read that ran one is never reused.
 * changedProbe() reports every `run:` probe as changed.
 */
export function ran(p: string): void {
  note(`run:${p}`, () => 'ran');
}

/** What an `env:` probe compares: a hash of the value, or "unset". */
function envSignature(value: string | undefined): string {
  return value === undefined ? 'unset' : createHash('sha256').update(value).digest('hex');
}

/**
 * A variable of the environment the read takes a value from. `env` is the reader's environment
 * (process.env unless a test gives another); a later check compares with process.env.
 */
export function envValue(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name];
  note(`env:${name}`, () => envSignature(value));
  return value;
}

/** A glob's expansion: checked again by expanding it again (globs are rare in configs). */
export function globbed(cwd: string, pattern: string, result: string[]): void {
  note(`glob:${cwd}\0${pattern}`, () => JSON.stringify(result));
}

/** Expands a glob the way the reader does (fast-glob, loaded only when a config has one). */
export function expandGlob(cwd: string, pattern: string): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fg = require('fast-glob') as typeof import('fast-glob');
  const result = fg.sync(pattern, { cwd, absolute: true, onlyFiles: true, dot: true }).sort();
  globbed(cwd, pattern, result);
  return result;
}

/** Whether every probe still holds: the first one that does not, or null. */
export function changedProbe(recorded: Probes): string | null {
  for (const [key, value] of Object.entries(recorded)) {
    if (key.startsWith('path:')) {
      if (signature(key.slice(5)) !== value) return key.slice(5);
    } else if (key.startsWith('glob:')) {
      const [cwd, pattern] = key.slice(5).split('\0');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fg = require('fast-glob') as typeof import('fast-glob');
      if (JSON.stringify(fg.sync(pattern, { cwd, absolute: true, onlyFiles: true, dot: true }).sort()) !== value) return pattern;
    } else if (key.startsWith('env:')) {
      if (envSignature(process.env[key.slice(4)]) !== value) return `$${key.slice(4)}`;
    } else {
      // run: (a program's output, see ran()), or a kind this code does not know: never unchanged.
      return key;
    }
  }
  return null;
}

function isSymlink(p: string): boolean {
  return lstatQuiet(p)?.isSymbolicLink() ?? false;
}

/** lstat, undefined when the path is not there (or cannot be reached). */
function lstatQuiet(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
