/**
 * Image trees the build-lane suites share (the test tools tree, the bookworm test base): each
 * built once per machine with kiln's own engine from the real Debian mirror and kept under the
 * user's cache, ~/.cache/kiln/<kind>/<key>/mkosi.output/<Output=>, where the key is a hash of the
 * tree's configuration and of the engine code that builds a directory image (engineInputs()), so a
 * change to either builds a new tree and the tests always read what the current engine makes.
 *
 * Safe with concurrent jest workers (or CI runs): the first to ask takes an exclusive flock on
 * <kind>/<key>.lock and builds into a directory of its own, renamed into place only when whole;
 * the others wait on that lock and then find the tree. Within one process a tree is built once.
 * Each use touches the tree's directory; a new build removes the trees of its kind unused for a
 * week (older engines' trees: hundreds of MB each), never one another worktree may be using.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { takeLock } from '../src/locks';
import { cacheRoot } from './test-cache';
import { buildIn, failure, repo } from './kiln';

export interface CachedTree {
  /** The cache's subdirectory (test-tools, test-base). */
  kind: string;
  /** mkosi.conf of the one-preset project that builds it (Format=directory, an Output=). */
  config: string;
  /** A file of the tree (relative) whose presence says a build finished. */
  marker: string;
  /** Called when this caller builds the tree (rather than finding it): cached-tree.test counts builds. */
  onBuild?: () => void;
}

/** The code whose changes can change a directory image: the engine's and the config reader's sources. */
const ENGINE_INPUTS = ['libs/engine/src', 'libs/config/src'];
/** ...but for what building a directory never runs: the other formats' writers and kiln vm. */
const NOT_RUN = /^libs\/engine\/src\/(outputs\/(?!(directory|tar|index)\.ts$)|vm(-command)?\.ts$)/;

let engineHash: string | undefined;

/** A hash of the engine-relevant sources (their paths and bytes), computed once per process. */
export function engineInputs(): string {
  if (engineHash) return engineHash;
  const hash = createHash('sha256');
  const visit = (rel: string) => {
    const abs = path.join(repo, rel);
    if (fs.statSync(abs).isDirectory()) {
      for (const name of fs.readdirSync(abs).sort()) visit(`${rel}/${name}`);
    } else if (rel.endsWith('.ts') && !NOT_RUN.test(rel)) {
      hash.update(`${rel}\0`).update(fs.readFileSync(abs)).update('\0');
    }
  };
  for (const dir of ENGINE_INPUTS) visit(dir);
  engineHash = hash.digest('hex');
  return engineHash;
}

const built = new Map<string, Promise<string>>();

const keyOf = (tree: CachedTree) => createHash('sha256').update(tree.config).update('\0').update(engineInputs()).digest('hex').slice(0, 16);

/** The tree's root (a directory), built on first use; its archive NAME.tar.zst lies beside it. */
export function cachedTree(tree: CachedTree): Promise<string> {
  const id = `${tree.kind}/${keyOf(tree)}`;
  if (!built.has(id)) built.set(id, findOrBuild(tree));
  return built.get(id)!;
}

/** cachedTree without the per-process memo: what each of several processes asking at once does. */
export function findOrBuild(tree: CachedTree): Promise<string> {
  return buildOnce(tree, keyOf(tree));
}

/** Output= of the tree's configuration. */
const outputName = (config: string) => /^Output=(.+)$/m.exec(config)?.[1] ?? 'image';

async function buildOnce(tree: CachedTree, key: string): Promise<string> {
  const base = path.join(cacheRoot(), tree.kind);
  const dir = path.join(base, key);
  const root = path.join(dir, 'mkosi.output', outputName(tree.config));
  const done = () => fs.existsSync(path.join(root, tree.marker));
  const used = () => {
    const now = new Date();
    fs.utimesSync(dir, now, now);
    return root;
  };
  if (done()) return used();
  fs.mkdirSync(base, { recursive: true });
  const lock = await takeLock(path.join(base, `${key}.lock`), 'exclusive', { doing: `building the ${tree.kind} tree`, removeOnRelease: true });
  try {
    if (done()) return used(); // another worker built it while this one waited
    const work = fs.mkdtempSync(path.join(base, 'build-'));
    try {
      fs.writeFileSync(path.join(work, 'mkosi.conf'), tree.config);
      tree.onBuild?.();
      const run = await buildIn(work);
      if (run.error) throw new Error(`building the ${tree.kind} tree failed:\n${failure(run)}\n${run.log}`);
      fs.rmSync(dir, { recursive: true, force: true }); // a tree without its marker: damaged
      fs.renameSync(work, dir);
      removeUnused(base, dir);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
  return used();
}

const WEEK = 7 * 86_400_000;

/** Trees of `base` other than `keep` that no test has used for a week (their directory's mtime), and builds a killed process left. */
function removeUnused(base: string, keep: string): void {
  for (const name of fs.readdirSync(base)) {
    const p = path.join(base, name);
    if (p === keep || !/^([0-9a-f]{16}|build-.+)$/.test(name)) continue;
    if (Date.now() - fs.statSync(p).mtimeMs > WEEK) fs.rmSync(p, { recursive: true, force: true });
  }
}
