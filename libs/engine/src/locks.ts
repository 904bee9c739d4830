/**
 * Locks between kiln processes, so that concurrent runs serialise instead of corrupting:
 *
 * - a preset's lock (OUT/.kiln-work/PRESET.lock), exclusive: held by a build or `kiln lock` of
 *   the preset for its whole run and by `kiln clean` while it removes the preset's outputs, so
 *   two builds of one preset never write the same work files or publish over each other, and a
 *   dead build's publish is rolled forward (publish.ts) by the next holder only;
 * - the package cache's users lock (CACHE/.users.lock): shared by every build using the cache for
 *   the whole build, exclusive for `kiln clean --all` emptying it, so that the package lists are
 *   never removed from under a build's apt (apt's own steps also take CACHE/.lock, exclusively and
 *   briefly, around each apt-get run).
 *
 * The locks are flock(2) locks on an open file description node holds: `flock` (util-linux) is
 * given the descriptor and locks it, and the lock stays until node closes it or dies, whatever
 * kills it (SIGKILL included), so no stale lock is ever left. The holder of an exclusive lock
 * writes its pid and what it does into the file, so that a waiting process can say whom it waits
 * for. Waiting is announced once (`onWait`) and can be aborted (the build's AbortSignal).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BuildError } from './errors';
import { ensureDir } from './fsutil';

export interface HeldLock {
  release(): void;
}

export interface LockOptions {
  /** What the holder does, written for waiting processes ("building proj"). Exclusive locks only. */
  doing?: string;
  /** Called once if the lock is held by another process, with who holds it when known. */
  onWait?: (holder: string | null) => void;
  signal?: AbortSignal;
  /**
   * Unlink the file on release (a preset's lock, so that the work base goes when empty). Taking
   * such a lock then checks that the file locked is still the one at `file`, else takes it again.
   */
  removeOnRelease?: boolean;
}

/** flock on descriptor 3 of the child, which is `fd`. */
function flockArgs(mode: 'shared' | 'exclusive', wait: boolean): string[] {
  return [...(wait ? [] : ['--nonblock']), mode === 'shared' ? '--shared' : '--exclusive', '3'];
}

function holderOf(file: string): string | null {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    const m = /^(\d+) (.+)$/.exec(text);
    if (!m) return null;
    return `process ${m[1]} (${m[2]})`;
  } catch {
    return null;
  }
}

/** Takes a lock on `file` (created if need be), waiting for it when another process holds it. */
export async function takeLock(file: string, mode: 'shared' | 'exclusive', opts: LockOptions = {}): Promise<HeldLock> {
  let announced = false;
  for (;;) {
    let fd: number;
    try {
      ensureDir(path.dirname(file));
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // its directory was removed as empty meanwhile
      throw e;
    }
    try {
      await flock(fd, file, mode, {
        ...opts,
        onWait: (holder) => {
          if (!announced) opts.onWait?.(holder);
          announced = true;
        },
      });
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    if (opts.removeOnRelease && fs.statSync(file, { throwIfNoEntry: false })?.ino !== fs.fstatSync(fd).ino) {
      fs.closeSync(fd); // its holder removed it on release: lock the file there now
      continue;
    }
    if (mode === 'exclusive' && opts.doing) {
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, `${process.pid} ${opts.doing}\n`, 0);
    }
    let held = true;
    return {
      release() {
        if (!held) return;
        held = false;
        if (opts.removeOnRelease) fs.rmSync(file, { force: true });
        else if (mode === 'exclusive' && opts.doing) fs.ftruncateSync(fd, 0);
        fs.closeSync(fd); // the last descriptor of the open file: the lock goes with it
      },
    };
  }
}

async function flock(fd: number, file: string, mode: 'shared' | 'exclusive', opts: LockOptions): Promise<void> {
  const tried = spawnSync('flock', flockArgs(mode, false), { stdio: ['ignore', 'ignore', 'pipe', fd] });
  if (tried.error) throw tried.error;
  if (tried.status === 0) return;
  if (tried.status !== 1) throw new Error(`flock ${file}: ${String(tried.stderr).trim() || `exit code ${tried.status}`}`);
  opts.onWait?.(holderOf(file));
  await new Promise<void>((resolve, reject) => {
    const child = spawn('flock', flockArgs(mode, true), { stdio: ['ignore', 'ignore', 'ignore', fd] });
    const abort = () => child.kill('SIGTERM');
    opts.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', reject);
    child.on('close', (code) => {
      opts.signal?.removeEventListener('abort', abort);
      if (code === 0) resolve();
      else reject(opts.signal?.aborted ? new BuildError('interrupted while waiting for a lock') : new Error(`flock ${file}: exit code ${code}`));
    });
  });
}

/** A preset's lock file: in the output directory's work base, beside the preset's work directories. */
export function presetLockFile(outDir: string, preset: string): string {
  return path.join(outDir, '.kiln-work', `${preset}.lock`);
}

/** The package cache's users lock (see the module comment; not apt's CACHE/.lock). */
export function packageCacheLockFile(cache: string): string {
  return path.join(cache, '.users.lock');
}

/** Runs `fn` holding the locks in order, releasing them in reverse whatever happens. */
export async function withLocks<T>(take: (() => Promise<HeldLock>)[], fn: () => Promise<T>): Promise<T> {
  const held: HeldLock[] = [];
  try {
    for (const t of take) held.push(await t());
    return await fn();
  } finally {
    for (const h of held.reverse()) h.release();
  }
}
