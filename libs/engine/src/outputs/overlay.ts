/**
 * Overlay=yes (mkosi: the base trees are overlayfs lower layers and the output is the upper one):
 * the output holds only what the image adds or changes on top of its BaseTrees=. kiln builds the
 * image as usual and, before writing it, removes every entry that is the same in the base trees:
 * a file with the same type, mode, owner and bytes (a symlink: the same target), and a directory
 * left empty by that whose base has it with the same mode and owner. What stays is what the
 * preset's packages, trees and scripts made: a system extension of a base image rather than the
 * whole base /usr again.
 *
 * Not carried: removals (overlayfs whiteouts; an extension cannot remove a host file either) and
 * changes of extended attributes alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveBaseTree } from '../build';
import { cfg, type BuildContext } from '../context';
import { ensureDir, removeTree } from '../fsutil';
import { copyTree } from '../trees';

/** The base trees laid over each other in a directory of the work directory, as the build laid them. */
async function baseView(ctx: BuildContext): Promise<string> {
  const dir = ensureDir(path.join(ctx.work, 'overlay-base'));
  for (const base of cfg(ctx, 'BaseTrees')) {
    await copyTree(ctx, { source: resolveBaseTree(ctx, base), target: null }, dir, { rootOwned: false, what: 'base tree' });
  }
  return dir;
}

function sameBytes(a: string, b: string, size: number): boolean {
  if (size === 0) return true;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.alloc(Math.min(size, 1 << 20));
    const bb = Buffer.alloc(ba.length);
    for (let pos = 0; pos < size; ) {
      const na = fs.readSync(fa, ba, 0, ba.length, pos);
      const nb = fs.readSync(fb, bb, 0, bb.length, pos);
      if (na !== nb || na === 0 || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      pos += na;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

const sameMeta = (a: fs.Stats, b: fs.Stats) => a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;

/** Whether `entry` (in the image) is unchanged from `base` (lstat, no link followed). */
function unchanged(entry: string, st: fs.Stats, base: string): boolean {
  const bst = fs.lstatSync(base, { throwIfNoEntry: false });
  if (!bst || !sameMeta(st, bst)) return false;
  if (st.isSymbolicLink()) return fs.readlinkSync(entry) === fs.readlinkSync(base);
  if (st.isFile()) return st.size === bst.size && sameBytes(entry, base, st.size);
  if (st.isCharacterDevice() || st.isBlockDevice()) return st.rdev === bst.rdev;
  return st.isFIFO() || st.isSocket();
}

/**
 * Removes from `dir` what `base` has the same, depth first; returns whether `dir` is now empty.
 * Nothing here follows a link: both sides are walked with lstat, so a link is compared, not entered.
 */
function prune(dir: string, base: string): boolean {
  let left = 0;
  for (const name of fs.readdirSync(dir)) {
    const entry = path.join(dir, name);
    const other = path.join(base, name);
    const st = fs.lstatSync(entry);
    if (st.isDirectory()) {
      const bst = fs.lstatSync(other, { throwIfNoEntry: false });
      if (bst?.isDirectory() && prune(entry, other) && sameMeta(st, bst)) fs.rmdirSync(entry);
      else left++;
    } else if (unchanged(entry, st, other)) {
      fs.rmSync(entry);
    } else {
      left++;
    }
  }
  return left === 0;
}

/** Overlay=yes: leaves in the image root only what is not the same in its base trees. */
export async function overlayOnBaseTrees(ctx: BuildContext): Promise<void> {
  ctx.note?.('Overlay=yes: keeping only what the image adds to its base trees');
  const base = await baseView(ctx);
  prune(ctx.root, base);
  await removeTree(base);
}
