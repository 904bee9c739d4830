/**
 * Publishing a build's output set (its images and its manifest) as a whole or not at all, across
 * crashes: a SIGKILL, ENOSPC or a power cut at any instant leaves the previous set or the new one,
 * never a new archive beside an old manifest.
 *
 * Outputs stay regular files and trees in OutputDirectory= (no symlink farm to flip), so the set
 * cannot change in one rename. Instead a build publishes through a journal in its own work
 * directory (OUT/.kiln-work/PRESET.PID/publish.json):
 *
 *   1. Everything is written under the work directory first (archives, the tree, the manifest),
 *      each regular file synced. ENOSPC or a kill here: the journal does not exist, the previous
 *      set was never touched, and the next run removes the work directory.
 *   2. The journal, naming each staged path and its final name (manifest last), is written under
 *      a temporary name, synced and renamed: that rename is the commit point.
 *   3. Each entry is renamed into place. A tree (Format=directory) replacing a tree first moves the
 *      old one into the work directory (old/NAME), then the new one in. Renames need no space.
 *
 * The next kiln run on the preset (under its lock: locks.ts) rolls a dead build's committed
 * journal forward: entries whose staged path still exists are renamed, the rest were. It is
 * idempotent, so a kill during the roll-forward is rolled forward again. A journal-less work
 * directory is just removed. Old trees end up inside the work directory, so the work directory's
 * removal is the one cleanup for everything a build leaves; the detached remover (fsutil.ts) only
 * saves the build from waiting for a big old tree.
 *
 * Names are checked first (checkOutputName): whatever Output= or ImageVersion= hold, nothing is
 * renamed anywhere but directly into OutputDirectory=.
 *
 * Test hook: KILN_TEST_PUBLISH_PAUSE=FIFO makes every rename of a publish or roll-forward wait
 * until a writer has opened and closed the FIFO, so that a test can kill kiln between two given
 * renames by an event (a publish is a few synchronous renames: no other event falls inside it).
 * Unset, it costs one environment lookup per rename.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { BuildError } from './errors';

/** The journal in a build's work directory: its presence means the new set is committed. */
export const JOURNAL = 'publish.json';
/** Where old trees go in the work directory while they are replaced. */
const OLD = 'old';

interface Journal {
  /** [staged path relative to the work directory, final name in the output directory], in order. */
  entries: [string, string][];
}

/**
 * Refuses an output name that is not a plain file name in the output directory (a `/`, `..`, a
 * name the work directory uses): the engine's own check, whatever the configuration let through.
 */
export function checkOutputName(outDir: string, name: string, label?: string): void {
  const plain = name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && !name.startsWith('.kiln-');
  if (!plain || path.dirname(path.join(outDir, name)) !== path.resolve(outDir)) {
    throw new BuildError(`refusing output name ${JSON.stringify(name)}: outputs are plain file names inside OutputDirectory= (${outDir}); check Output= and ImageVersion=`, label);
  }
}

/** The test hook (module comment): the FIFO opened and read to its end. */
function pausePoint(env: Record<string, string | undefined>): void {
  const fifo = env.KILN_TEST_PUBLISH_PAUSE;
  if (!fifo) return;
  const fd = fs.openSync(fifo, 'r');
  try {
    const buf = Buffer.alloc(64);
    while (fs.readSync(fd, buf) > 0);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Publishes `files` ([staged path inside `work`, final name]) into `outDir` as one set, in the
 * order given (the manifest last). Returns the old trees' directory inside `work`, if any tree was
 * replaced (the caller hands it to the detached remover).
 */
export async function publishSet(work: string, outDir: string, files: [string, string][], opts: { label?: string; env?: Record<string, string | undefined> } = {}): Promise<string | null> {
  const entries = files.map(([staged, name]): [string, string] => {
    checkOutputName(outDir, name, opts.label);
    const rel = path.relative(work, staged);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`kiln bug: staged output ${staged} is not in the work directory ${work}`);
    return [rel, name];
  });
  // Durable before the commit: regular files one by one, a tree by syncing its file system.
  for (const [rel] of entries) {
    const p = path.join(work, rel);
    if (fs.lstatSync(p).isDirectory()) await execa('sync', ['--file-system', p]);
    else fsyncPath(p);
  }
  const tmp = path.join(work, `${JOURNAL}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify({ entries } satisfies Journal) + '\n');
  fsyncPath(tmp);
  fs.renameSync(tmp, path.join(work, JOURNAL)); // the commit point
  fsyncPath(work);
  return rollForward(work, outDir, opts.env ?? process.env);
}

/** Whether a work directory holds a committed publish. */
export function committed(work: string): boolean {
  return fs.existsSync(path.join(work, JOURNAL));
}

/**
 * Completes a committed publish (idempotent): every entry whose staged path is still in `work` is
 * renamed into place. Returns the directory holding the replaced trees, if any.
 */
export function rollForward(work: string, outDir: string, env: Record<string, string | undefined> = process.env): string | null {
  const journal = JSON.parse(fs.readFileSync(path.join(work, JOURNAL), 'utf8')) as Journal;
  const old = path.join(work, OLD);
  for (const [rel, name] of journal.entries) {
    checkOutputName(outDir, name);
    const staged = path.join(work, rel);
    const final = path.join(outDir, name);
    const from = fs.lstatSync(staged, { throwIfNoEntry: false });
    if (!from) continue; // renamed already
    const to = fs.lstatSync(final, { throwIfNoEntry: false });
    if (to && (to.isDirectory() || from.isDirectory())) {
      // A tree is not renamed over: the old one moves aside first (a kill between the two renames
      // leaves it there, and the roll-forward goes on with the second).
      fs.mkdirSync(old, { recursive: true });
      pausePoint(env);
      fs.renameSync(final, path.join(old, name));
    }
    pausePoint(env);
    fs.renameSync(staged, final);
  }
  fsyncPath(outDir);
  return fs.existsSync(old) ? old : null;
}
