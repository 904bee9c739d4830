/**
 * The CI fan-out plan: which runner builds which affected preset, and in which order. Pure logic
 * (no Nx, no files): ci/main.ts feeds it what the workspace's nx says.
 *
 * Levels: a preset's level is 1 + the highest level of the affected presets it depends on,
 * directly or through projects that are not planned (unaffected, or without the target), so every
 * preset is built after everything it reads. Unaffected dependencies are not planned: a runner
 * restores them from the remote cache. Shards: each level's presets, sorted, are dealt to the
 * runners in turn, so a plan is the same for the same graph on any machine and runner i gets at
 * most one preset more than runner j. A runner building level L's share finds the presets of
 * levels < L in the remote cache, uploaded by the runners of earlier levels.
 *
 * Read-only runs (pull requests) cannot upload, so a later level could not restore what an
 * earlier level's runner built and would build it again. Their plan is one level whose shares
 * are whole connected components of the affected presets: no runner needs another's work.
 */

/** project -> the projects it depends on (Nx's project graph, every project). */
export type Dependencies = Record<string, readonly string[]>;

export interface Plan {
  /** levels[L][runner] = the presets that runner builds at level L+1 (possibly none). */
  levels: string[][][];
}

export class PlanError extends Error {}

/**
 * Each planned project's level (1-based). A dependency cycle cannot happen in a graph Nx accepted
 * for `dependsOn: ['^target']`, but is refused rather than looped on.
 */
export function levelsOf(planned: readonly string[], deps: Dependencies): Map<string, number> {
  const wanted = new Set(planned);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (p: string): number => {
    const known = depth.get(p);
    if (known !== undefined) return known;
    if (visiting.has(p)) throw new PlanError(`the project graph has a cycle through ${p}`);
    visiting.add(p);
    let below = 0;
    for (const d of deps[p] ?? []) below = Math.max(below, visit(d));
    visiting.delete(p);
    const own = below + (wanted.has(p) ? 1 : 0);
    depth.set(p, own);
    return own;
  };
  return new Map(planned.map((p) => [p, visit(p)]));
}

/** Deals the items, sorted, to `runners` runners in turn. */
export function shard<T>(items: readonly T[], runners: number, key: (t: T) => string = String): T[][] {
  const shares: T[][] = Array.from({ length: runners }, () => []);
  [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).forEach((item, i) => shares[i % runners].push(item));
  return shares;
}

/** The plan for a run that can upload to the remote cache: levels in dependency order. */
export function planLevels(planned: readonly string[], deps: Dependencies, runners: number): Plan {
  checkRunners(runners);
  const level = levelsOf(planned, deps);
  const depth = Math.max(0, ...level.values());
  const levels = Array.from({ length: depth }, (_, i) => shard([...level].filter(([, l]) => l === i + 1).map(([p]) => p), runners));
  return { levels };
}

/**
 * The plan for a run that cannot upload: one level, each share whole connected components of the
 * planned presets (a preset and the planned presets it reads, directly or through projects not
 * planned), dealt largest first to the least loaded runner.
 */
export function planComponents(planned: readonly string[], deps: Dependencies, runners: number): Plan {
  checkRunners(runners);
  if (!planned.length) return { levels: [] };
  const parent = new Map<string, string>();
  const find = (p: string): string => {
    let root = p;
    while ((parent.get(root) ?? root) !== root) root = parent.get(root)!;
    parent.set(p, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  // Linked only through planned presets: an unplanned dependency (the unaffected tools tree every
  // preset reads) is restored from the remote cache by each runner and ties no one to another.
  const wanted = new Set(planned);
  for (const p of planned) {
    const seen = new Set<string>();
    const walk = (q: string) => {
      for (const d of deps[q] ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        if (wanted.has(d)) union(p, d);
        walk(d);
      }
    };
    walk(p);
  }
  const groups = new Map<string, string[]>();
  for (const p of [...planned].sort()) groups.set(find(p), [...(groups.get(find(p)) ?? []), p]);
  const components = [...groups.values()].sort((a, b) => b.length - a.length || (a[0] < b[0] ? -1 : 1));
  const shares: string[][] = Array.from({ length: runners }, () => []);
  for (const c of components) shares.reduce((least, s) => (s.length < least.length ? s : least)).push(...c);
  return { levels: [shares.map((s) => s.sort())] };
}

/** Fails, naming the fix, when the plan is deeper than the workflow's level jobs. */
export function checkDepth(plan: Plan, jobs: number): void {
  if (plan.levels.length > jobs) {
    throw new PlanError(
      `the affected presets need ${plan.levels.length} levels of builds (${plan.levels.map((l) => l.flat().join(',')).join(' -> ')}) and the workflow has ${jobs} level jobs: run \`nx g @kiln/nx:ci --levels=${plan.levels.length}\` again and commit the workflow`,
    );
  }
}

function checkRunners(runners: number): void {
  if (!Number.isInteger(runners) || runners < 1) throw new PlanError(`--runners ${runners}: give a whole number of runners, 1 or more`);
}
