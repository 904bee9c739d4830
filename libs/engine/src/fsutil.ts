/**
 * File-system helpers with the safety rules of the engine: nothing is removed through a mount
 * point left behind by an interrupted tool, and outputs appear by rename only (never half-written).
 */
import { createHash } from 'node:crypto';
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

/**
 * Moves a finished output into place. Files are renamed over the old one (atomic); a directory
 * replaces the old directory by two renames, so a reader sees the old tree or the new one.
 */
export async function publish(tmp: string, final: string): Promise<void> {
  const st = fs.lstatSync(tmp);
  if (!st.isDirectory()) {
    fs.renameSync(tmp, final);
    return;
  }
  const old = `${path.dirname(final)}/.${path.basename(final)}.old-${process.pid}`;
  const hadOld = fs.existsSync(final);
  if (hadOld) fs.renameSync(final, old);
  fs.renameSync(tmp, final);
  if (hadOld) await removeTree(old);
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
