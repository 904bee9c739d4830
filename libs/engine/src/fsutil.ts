/**
 * File-system helpers with the safety rules of the engine: nothing is removed through a mount
 * point left behind by an interrupted tool (outputs are published by publish.ts).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';

/** The mounts of kiln's namespace (from /proc/self/mountinfo): mount point, type, super options. */
export function mounts(): { point: string; type: string; options: string }[] {
  let info = '';
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [before, after = ''] = line.split(' - ');
      const [type = '', , options = ''] = after.split(' ');
      return { point: unescape(before.split(' ')[4] ?? ''), type, options: unescape(options) };
    });
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir);
  return mounts()
    .map((m) => m.point)
    .filter((m) => m === root || m.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

/** Whether a process runs (a build that left a work or temporary directory may still be going). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** kiln's directory in the user's cache ($XDG_CACHE_HOME/kiln, default ~/.cache/kiln). */
export function userCacheDir(env: Record<string, string | undefined>, ...sub: string[]): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln', ...sub);
}

/**
 * Removes a tree. Mounts left below it (a killed tool's /proc or /dev) are detached first, so the
 * removal can never reach the host's files through them.
 */
export async function removeTree(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  for (const m of mountsUnder(dir)) await execa('umount', ['--lazy', m], { reject: false });
  if (mountsUnder(dir).length) throw new Error(`refusing to remove ${dir}: it still has mounts below it`);
  // Images contain immutable-free root-owned trees; chmod is not needed as root.
  await fs.promises.rm(dir, { recursive: true, force: true });
}

/** Writes a file whole or not at all (a temporary name renamed over it), its directory made first. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.kiln-tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** The prefix of replaced output trees handed to the detached remover. */
export const REPLACED = 'replaced-';

/**
 * The detached remover: renames the tree to end in its own pid, leaves it if anything is mounted
 * below it (removeTree's rule; the stale-work sweep unmounts and removes it later), removes it, and
 * then its directory when that is empty (the work base, which builds remove when empty).
 */
const REMOVER = String.raw`
const fs = require('fs'), path = require('path');
const [from] = process.argv.slice(1);
const dir = from.replace(/\.\d+$/, '.' + process.pid);
fs.renameSync(from, dir);
const unescape = (s) => s.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  .map((l) => unescape(l.split(' ')[4] || '')).some((m) => m === dir || m.startsWith(dir + '/'));
if (mounted) process.exit(1);
fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
try { fs.rmdirSync(path.dirname(dir)); } catch {}
`;

/**
 * Removes a tree (old outputs a publish replaced) off the build's path: removing a whole image
 * takes seconds that neither the build nor Nx, waiting for kiln to exit, need to wait for. The tree
 * is moved into `workBase` (same file system) under a name ending in this pid, then in the
 * remover's: a later build's sweep of stale work (build.ts) removes it only if that process died.
 */
export function removeDetached(dir: string, workBase: string): void {
  const aside = path.join(workBase, `${REPLACED}${randomBytes(4).toString('hex')}.${process.pid}`);
  fs.renameSync(dir, aside);
  const child = spawn(process.execPath, ['-e', REMOVER, aside], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined); // not started: the stale-work sweep removes the tree later
  child.unref();
}

/** Removes a directory if it is empty (another build or a remover may be using it or removing it). */
export function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
}

export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** SHA256 of a file, streamed (base trees and layers can be large). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
