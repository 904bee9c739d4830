/**
 * `kiln build`: builds a preset after the presets it depends on. Per preset, mkosi's order:
 *
 *   base trees -> skeleton trees -> sandbox trees -> packages -> prepare scripts ->
 *   [the incremental layer: with Incremental=, everything before comes from layers.ts's cache] ->
 *   build packages + build scripts (in a copy of the image; only $DESTDIR comes back) ->
 *   extra trees -> post-installation scripts -> Hostname/Locale/Timezone/RootPassword ->
 *   RemoveFiles/RemovePackages/CleanPackageMetadata -> finalize scripts -> normalise -> output
 *
 * Everything happens in a work directory next to the outputs; the outputs and the manifest are
 * published as one set at the very end (publish.ts), so a failed, interrupted or killed build
 * leaves the previous outputs as they were. A preset is built under its lock (locks.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { baseTreeFile, cachedOutputNames, checkBuildValues, checkSupported, ConfigError, formatProblem, imageFiles, lockfilePath, outputNames, outputPath, presetInputs, producerOf, signatureName, writesImage, type Lock, type LockedPackage, type Preset, type Project } from '@kiln/config';
import { inputsManifest, startManifest, writeManifest } from './build-manifest';
import { clampMtimes, cleanPackageMetadata, normalise, removeFiles, removePackages } from './cleanup';
import { cfg, type BuildContext } from './context';
import { installerOf } from './installers';
import { BuildError, isNoSpace, noSpaceError } from './errors';
import type { RunContext } from './exec';
import { ensureDir, processAlive, removeDetached, removeIfEmpty, removeTree, REPLACED, userCacheDir } from './fsutil';
import { packageCacheLockFile, presetLockFile, takeLock, withLocks } from './locks';
import { checkOutputName, committed, publishSet, rollForward } from './publish';
import { applyImageSettings } from './image-settings';
import { currentLock, writeLock, type LockChange } from './lock';
import { checkOutputs, writeOutputs } from './outputs';
import { findLayer, layerCacheDir, layerKey, removeLayers, restoreLayer, storeLayer, strictMiss, type Layer } from './layers';
import { runScripts, type ScriptDirs } from './scripts';
import { checkAllowedSigners, verifyPresetOutputs } from './check-outputs';
import { checkSigningKey } from './signing';
import { laySandboxTrees } from './sandbox-trees';
import { copyTree } from './trees';
import { resolveTools, unpackedToolsPath } from './tools-tree';

/**
 * When neither SourceDateEpoch= nor $SOURCE_DATE_EPOCH is set, builds still clamp to a fixed
 * time: 1980-01-01, the earliest a zip file can hold (the value Nix uses for the same reason).
 */
export const DEFAULT_SOURCE_DATE_EPOCH = 315532800;

export interface BuildOptions {
  /** The preset to build (default: the main image); the presets it depends on come first. */
  preset?: string;
  /** Rebuild the named preset even when its outputs exist. */
  force?: boolean;
  /** Build only the named preset (a build system such as Nx has built its dependencies). */
  noDeps?: boolean;
  /** Resolve and rewrite each built preset's lock (kiln.lock) first, instead of refusing a stale one. */
  relock?: boolean;
  log?: (line: string) => void;
  /** Progress lines ("base: installing packages"), shown even when tool output is not. */
  step?: (preset: string, what: string) => void;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  /** kiln's build identity (version + code hash), recorded in each build's manifest. */
  identity?: string;
}

export interface PresetResult {
  preset: string;
  status: 'built' | 'up-to-date' | 'skipped';
  outputs: string[];
  seconds: number;
}

/** The presets to build for `target`, dependencies first. */
export function buildPlan(project: Project, target?: string): Preset[] {
  const byName = new Map(project.presets.map((p) => [p.name, p]));
  const start = target ? byName.get(target) : project.main;
  if (!start) {
    throw new BuildError(`no preset named "${target}" (accepted: ${project.presets.map((p) => p.name).join(', ')})`);
  }
  const needed = new Set<string>();
  const visit = (p: Preset) => {
    if (needed.has(p.name)) return;
    needed.add(p.name);
    for (const d of p.dependencies) visit(byName.get(d.preset)!);
  };
  visit(start);
  return project.presets.filter((p) => needed.has(p.name));
}

export function sourceDateEpoch(preset: Preset, env: Record<string, string | undefined>): number {
  const configured = preset.config.SourceDateEpoch;
  if (configured !== null) return configured;
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  return DEFAULT_SOURCE_DATE_EPOCH;
}

export function defaultPackageCache(preset: Preset, env: Record<string, string | undefined>): string {
  const configured = preset.config.PackageCacheDirectory;
  if (configured) return configured;
  const c = preset.config;
  return userCacheDir(env, 'packages', `${c.Distribution}~${c.Release}~${c.Architecture}`);
}

/**
 * Whether a preset's outputs are there: those a cache keeps (for Format=directory the archive, not
 * the tree: it is what caches restore and what BaseTrees= reads).
 */
export function outputsExist(preset: Preset): boolean {
  const dir = preset.config.OutputDirectory;
  // Optional files (a Bootable=auto image's split-out kernel) may be absent from a complete build.
  const optional = new Set(imageFiles(preset.config).filter((f) => f.optional).map((f) => f.name));
  // The manifest's signature is there only when the build was signed.
  optional.add(signatureName(preset.config) ?? '');
  const names = cachedOutputNames(preset.config).filter((n) => !optional.has(n));
  return names.length > 0 && names.every((n) => fs.existsSync(path.join(dir, n)));
}

export async function build(project: Project, opts: BuildOptions = {}): Promise<PresetResult[]> {
  const plan = opts.noDeps ? buildPlan(project, opts.preset).slice(-1) : buildPlan(project, opts.preset);
  const target = plan[plan.length - 1];
  // The presets whose outputs the plan reads may be rebuilt here too (useCheckedOutputs), and with
  // --no-deps (Nx, turbo) they are not in the plan: checked with it, before minutes of work.
  preflight(project, withProducers(project, plan), 'build');
  // A signing key or allowed-signers file that cannot be used: said now, not after the build.
  checkSigningKey(opts.env ?? process.env);
  checkAllowedSigners(opts.env ?? process.env);
  const results: PresetResult[] = [];
  // Presets whose outputs this run built or checked: trusted for the rest of it.
  const trusted = new Set<string>();
  for (const preset of plan) {
    const started = Date.now();
    const force = opts.force && preset === target;
    if (!writesImage(preset.config) && !force && preset !== target) {
      results.push({ preset: preset.name, status: 'skipped', outputs: [], seconds: 0 });
      continue;
    }
    // The outputs it reads are checked (and rebuilt when refused) before its own lock is taken, so
    // that a build never waits for one preset's lock while holding another's: kiln clean takes
    // them producers first, and -p PRODUCER --all then the package cache's, which this build's
    // lock comes with (a lock-order inversion, a deadlock). Checked again under the lock: when
    // its outputs were there but are gone (cleaned meanwhile), it lets go and checks first.
    let checked = false;
    let result: PresetResult | null = null;
    while (!result) {
      if (!checked && (force || !outputsExist(preset))) {
        results.push(...(await useCheckedOutputs(project, preset, opts, trusted)));
        checked = true;
      }
      result = await withPresetLocks(preset, opts, `kiln build of ${preset.name}`, async () => {
        if (!force && outputsExist(preset)) {
          opts.step?.(preset.name, 'up to date (its outputs exist; --force rebuilds)');
          return { preset: preset.name, status: 'up-to-date' as const, outputs: outputNames(preset.config), seconds: 0 };
        }
        if (!checked) return null;
        const outputs = await buildPreset(project, preset, opts);
        return { preset: preset.name, status: 'built' as const, outputs, seconds: (Date.now() - started) / 1000 };
      });
    }
    // Built here: trusted for the rest of the run (outputs found up to date are checked when read).
    if (result.status === 'built') trusted.add(preset.name);
    results.push(result);
  }
  return results;
}

/**
 * What is refused before a build (or a lock) runs or writes anything, at the line that sets it:
 *  - settings that would change an image but that the engine ignores (unsupported.ts; a build
 *    only: resolving packages does not use them);
 *  - values mkosi reads but kiln cannot build (list-items.ts checkBuildValues): Hostname=a_b,
 *    list items written with spaces where mkosi 26 wants commas (Packages=vim less);
 *  - an output outside its output directory, whatever the configuration says (a build only).
 * One function, so that every path to buildPreset (the plan, a refused producer rebuilt here) and
 * kiln lock check the same things.
 */
export function preflight(project: Project, presets: readonly Preset[], what: 'build' | 'lock'): void {
  // checkSupported includes checkBuildValues.
  for (const p of presets) (what === 'build' ? checkSupported : checkBuildValues)(p, project.root, project.main);
  if (what === 'build') for (const p of presets) for (const name of outputNames(p.config)) checkOutputName(p.config.OutputDirectory, name, p.name);
}

/** `plan` and, transitively, the presets whose outputs its presets read, in project order. */
function withProducers(project: Project, plan: readonly Preset[]): Preset[] {
  const names = new Set<string>();
  const visit = (p: Preset) => {
    if (names.has(p.name)) return;
    names.add(p.name);
    for (const n of presetInputs(project, p).readsOutputsOf) visit(project.presets.find((x) => x.name === n)!);
  };
  plan.forEach(visit);
  return project.presets.filter((p) => names.has(p.name));
}

/**
 * Before a preset reads other presets' outputs (BaseTrees=%O/base, Initrds=, ToolsTree=default),
 * each is checked against its manifest, and its signature when KILN_ALLOWED_SIGNERS is set
 * (signing.ts): under Nx they were restored from a cache, which may have been written by anyone
 * who could push to it. An output that fails is never used: the log says why, and its preset is
 * rebuilt here, into place (after the same check of the outputs it reads), as if it had not been
 * restored; the build then goes on with it. Returns those builds. Outputs not there at all are
 * left to the step that reads them (it names the preset to build).
 */
async function useCheckedOutputs(project: Project, preset: Preset, opts: BuildOptions, trusted: Set<string>): Promise<PresetResult[]> {
  const env = opts.env ?? process.env;
  const byName = new Map(project.presets.map((p) => [p.name, p]));
  const results: PresetResult[] = [];
  for (const name of presetInputs(project, preset).readsOutputsOf) {
    if (trusted.has(name)) continue;
    const producer = byName.get(name)!;
    // The deepest producers first: a manifest records the hashes of the outputs its preset read,
    // so those are settled (checked, or rebuilt here) before it is compared with the inputs here.
    results.push(...(await useCheckedOutputs(project, producer, opts, trusted)));
    const rebuilt = await withPresetLocks(producer, opts, `kiln build of ${name}`, async () => {
      const check = verifyPresetOutputs(project, producer, { env, identity: opts.identity });
      if (check.status !== 'refused') return null;
      const show = (f: string) => path.relative(project.root, f);
      for (const p of check.problems) opts.step?.(preset.name, `refusing the output of preset ${name}: ${formatProblem(p, show)}`);
      opts.step?.(name, `rebuilding here: ${preset.name} reads its output, which did not pass the check against its manifest`);
      const started = Date.now();
      const outputs = await buildPreset(project, producer, opts);
      return { preset: name, status: 'built' as const, outputs, seconds: (Date.now() - started) / 1000 };
    });
    trusted.add(name);
    if (rebuilt) results.push(rebuilt);
  }
  return results;
}

/**
 * Runs `fn` holding the preset's lock and, shared, its package cache's (locks.ts), after rolling
 * forward or removing what a dead build of the preset left (publish.ts): so a preset is built by
 * one process at a time, its outputs are read whole, and `kiln clean --all` waits for the build.
 */
async function withPresetLocks<T>(preset: Preset, opts: BuildOptions, doing: string, fn: () => Promise<T>): Promise<T> {
  const env = opts.env ?? process.env;
  const outDir = preset.config.OutputDirectory;
  const say = (what: string) => opts.step?.(preset.name, what);
  try {
    return await withLocks(
      [
        () =>
          takeLock(presetLockFile(outDir, preset.name), 'exclusive', {
            doing,
            removeOnRelease: true,
            signal: opts.signal,
            onWait: (holder) => say(`waiting for ${holder ?? 'another kiln process'} to finish with this preset (its lock: ${presetLockFile(outDir, preset.name)})`),
          }),
        async () => {
          await removeStaleWork(path.join(outDir, '.kiln-work'), outDir, preset.name);
          const cache = defaultPackageCache(preset, env);
          return takeLock(packageCacheLockFile(cache), 'shared', {
            signal: opts.signal,
            onWait: (holder) => say(`waiting for ${holder ?? 'another kiln process'}, which is emptying the package cache ${cache}`),
          });
        },
      ],
      fn,
    );
  } finally {
    removeIfEmpty(path.join(outDir, '.kiln-work')); // the lock file went on release
  }
}

export interface LockResult {
  preset: string;
  file: string;
  packages: number;
  /** null: a new lock. */
  changes: LockChange | null;
}

/**
 * `kiln lock`: resolves and writes the lock of every preset, or of `preset` alone (and of the
 * presets it is built on that have no lock yet), dependencies first.
 */
export async function lockProject(project: Project, opts: BuildOptions = {}): Promise<LockResult[]> {
  const plan = opts.preset ? buildPlan(project, opts.preset) : project.presets;
  preflight(project, plan, 'lock');
  const results: LockResult[] = [];
  for (const preset of plan) {
    if (opts.preset && preset.name !== opts.preset && fs.existsSync(lockfilePath(preset))) continue;
    opts.step?.(preset.name, 'resolving packages');
    const r = await withPresetLocks(preset, opts, `kiln lock of ${preset.name}`, () => withBuildContext(project, preset, opts, (ctx) => writeLock(ctx), false));
    results.push({ preset: preset.name, file: r.file, packages: r.lock.package.length + r.lock['build-package'].length, changes: r.changes });
  }
  return results;
}

/**
 * Removes a preset's outputs (and a killed build's work files); with `all`, also its incremental
 * layers and its package cache. Waits for builds of the presets (and, with `all`, builds using the
 * package cache) to end, saying so through `note`. Returns what was removed.
 */
export async function clean(
  project: Project,
  presetName?: string,
  opts: { all?: boolean; env?: Record<string, string | undefined>; note?: (line: string) => void } = {},
): Promise<string[]> {
  const presets = presetName ? buildPlan(project, presetName).slice(-1) : project.presets;
  const removed: string[] = [];
  const env = opts.env ?? process.env;
  const note = opts.note ?? (() => undefined);
  // Never a path outside an output directory, whatever the configuration says: checked first.
  for (const p of presets) for (const name of outputNames(p.config)) checkOutputName(p.config.OutputDirectory, name, p.name);
  // The presets' locks first, then the caches', as builds take them (no deadlock): builds of these
  // presets end first, and builds of other presets sharing the cache too (their shared lock).
  // A build holds one preset's lock at a time (build() checks the outputs it reads before it takes
  // its own), so any order of the presets is safe here.
  const doing = `kiln clean${opts.all ? ' --all' : ''}`;
  const presetLocks = presets.map((p) => () =>
    takeLock(presetLockFile(p.config.OutputDirectory, p.name), 'exclusive', {
      doing,
      removeOnRelease: true,
      onWait: (holder) => note(`${p.name}: waiting for ${holder ?? 'another kiln process'} to finish with its outputs`),
    }),
  );
  const caches = opts.all ? [...new Set(presets.map((p) => defaultPackageCache(p, env)))].filter((d) => fs.existsSync(d)) : [];
  const cacheLocks = caches.map((dir) => () =>
    takeLock(packageCacheLockFile(dir), 'exclusive', {
      doing,
      onWait: () => note(`waiting for the builds using the package cache ${dir} to end`),
    }),
  );
  await withLocks([...presetLocks, ...cacheLocks], async () => {
    for (const p of presets) {
      const dir = p.config.OutputDirectory;
      await removeStaleWork(path.join(dir, '.kiln-work'), dir, p.name);
    }
    if (opts.all) {
      const names = presets.map((p) => p.name);
      for (const dir of new Set(presets.map((p) => layerCacheDir(p, env)))) {
        for (const entry of await removeLayers(dir, project.root, names)) removed.push(`layer ${entry}`);
      }
      // The tools tree unpacked from the project's tools archive (tools-tree.ts).
      for (const p of presets.filter((x) => x.generated === 'tools')) {
        const archive = baseTreeFile(p.config);
        if (!archive || !fs.existsSync(archive)) continue;
        const tree = await unpackedToolsPath(archive, env);
        if (!fs.existsSync(tree)) continue;
        await removeTree(tree);
        removed.push(`tools tree ${tree}`);
      }
      for (const dir of caches) {
        // Under apt's lock too, and keeping both lock files (held by this process).
        await execa('flock', [path.join(dir, '.lock'), 'find', dir, '-mindepth', '1', '-maxdepth', '1', '!', '-name', '.lock', '!', '-name', path.basename(packageCacheLockFile(dir)), '-exec', 'rm', '-rf', '{}', '+']);
        removed.push(`package cache ${dir}`);
      }
    }
    for (const p of presets) {
      const dir = p.config.OutputDirectory;
      for (const name of outputNames(p.config)) {
        const f = path.join(dir, name);
        if (fs.existsSync(f)) {
          await removeTree(f);
          removed.push(path.relative(project.root, f));
        }
      }
    }
  });
  for (const p of presets) removeIfEmpty(path.join(p.config.OutputDirectory, '.kiln-work'));
  return removed;
}

/**
 * What builds that are no longer running left in the work base (killed, or the machine
 * rebooted): their work directories, and replaced trees whose remover died (fsutil.ts). The
 * caller holds `locked`'s preset lock, so every work directory of that preset is stale, and a
 * committed publish among them is rolled forward first (publish.ts); another preset's committed
 * one is left for that preset's next run, which holds its lock.
 */
async function removeStaleWork(workBase: string, outDir: string, locked: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(workBase);
  } catch (e) {
    // None, or a remover has just removed the empty work base.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  for (const entry of entries) {
    const m = /^(.*)\.(\d+)$/.exec(entry);
    if (!m) continue; // a preset's lock file
    const [, name, pidText] = m;
    const pid = Number(pidText);
    const dir = path.join(workBase, entry);
    if (entry.startsWith(REPLACED)) {
      // Its remover renames it to its own pid: this process's are starting.
      if (pid !== process.pid && !processAlive(pid)) await removeTree(dir);
      continue;
    }
    if (name !== locked && (processAlive(pid) || committed(dir))) continue;
    if (committed(dir)) rollForward(dir, outDir);
    await removeTree(dir);
  }
}

/**
 * Runs `fn` with a build context: a work directory of its own next to the outputs, removed
 * afterwards whatever happens. The caller holds the preset's locks (withPresetLocks), whose
 * taking removed stale work directories of killed builds.
 */
export async function withBuildContext<T>(
  project: Project,
  preset: Preset,
  opts: BuildOptions,
  fn: (ctx: BuildContext) => Promise<T>,
  /** Resolve ctx.tools (tools-tree.ts): a build does; writing a lock runs no output step. */
  withTools = true,
): Promise<T> {
  const env = opts.env ?? process.env;
  const outDir = ensureDir(preset.config.OutputDirectory);
  const workBase = ensureDir(path.join(outDir, '.kiln-work'));
  const work = ensureDir(path.join(workBase, `${preset.name}.${process.pid}`));
  const run: RunContext = { log: opts.log ?? (() => undefined), signal: opts.signal, label: preset.name };
  const ctx: BuildContext = {
    ...run,
    project,
    preset,
    root: ensureDir(path.join(work, 'root')),
    work,
    packageCache: ensureDir(defaultPackageCache(preset, env)),
    sourceDateEpoch: sourceDateEpoch(preset, env),
    env,
    note: (what) => opts.step?.(preset.name, what),
  };
  try {
    ctx.tools = withTools ? await resolveTools(project, preset, run, env) : null;
    if (ctx.tools) opts.step?.(preset.name, `tools from ${path.relative(project.root, ctx.tools).startsWith('..') ? ctx.tools : path.relative(project.root, ctx.tools)}`);
    ctx.sandboxTree = await laySandboxTrees(ctx);
    return await fn(ctx);
  } finally {
    await removeTree(work);
  }
}

export async function buildPreset(project: Project, preset: Preset, opts: BuildOptions): Promise<string[]> {
  // Why it rebuilds, then the build; the manifest of its inputs is published with the outputs, last.
  const manifestOpts = { identity: opts.identity, env: opts.env ?? process.env, step: opts.step };
  // The manifest reads the preset's kiln.lock before the build does: a broken lock is the
  // preset's error, as currentLock says it (lock.ts readLock), whatever the format.
  let manifest: ReturnType<typeof startManifest>;
  try {
    manifest = startManifest(project, preset, manifestOpts);
  } catch (e) {
    if (e instanceof ConfigError) throw new BuildError(e.message, preset.name);
    throw e;
  }
  const outDir = preset.config.OutputDirectory;
  return withBuildContext(project, preset, opts, async (ctx) => {
    const outputs = await noSpace(ctx, () => buildInContext(ctx, opts));
    // --relock rewrote kiln.lock, one of the inputs: the manifest records it as the build used it.
    const written = await noSpace(ctx, () => writeManifest(preset, opts.relock ? inputsManifest(project, preset, manifestOpts) : manifest, ctx.work, outputs, ctx.env));
    if (opts.signal?.aborted) throw new BuildError('interrupted', preset.name);
    const set = [...outputs, ...written];
    opts.step?.(preset.name, `publishing ${set.map(([, n]) => n).join(', ')}`);
    const old = await noSpace(ctx, () => publishSet(ctx.work, outDir, set, { label: preset.name, env: ctx.env }));
    // An optional output this build did not write (a split-out kernel of an image that has none
    // now) must not stay from an earlier build beside outputs it does not belong to.
    const published = new Set(set.map(([, n]) => n));
    for (const f of imageFiles(preset.config)) if (f.optional && !published.has(f.name)) fs.rmSync(path.join(outDir, f.name), { force: true });
    // Nor an earlier build's signature beside an unsigned manifest (it would not verify: refused, never trusted).
    const sig = signatureName(preset.config);
    if (sig && !published.has(sig)) fs.rmSync(path.join(outDir, sig), { force: true });
    // Replaced trees go off the build's path: removing a whole image takes seconds.
    if (old) removeDetached(old, path.dirname(ctx.work));
    return outputs.map(([, name]) => name);
  });
}

/**
 * A full file system as one clear error (errors.ts): a failed tool's message names its step
 * ("writing small.tar.zst"); node's own writes are named by their file.
 */
async function noSpace<T>(ctx: BuildContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!isNoSpace(e) || (e instanceof BuildError && /no space left on device in /.test(e.message))) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = e instanceof BuildError ? err.message.split('\n')[0].replace(`${ctx.preset.name}: `, '').replace(/ failed \(.*$/, '') : `writing ${err.path ?? 'the outputs'}`;
    throw noSpaceError(what, ctx.work, ctx.preset.name);
  }
}

async function buildInContext(ctx: BuildContext, opts: BuildOptions): Promise<[string, string][]> {
  const { project, preset, work } = ctx;
  const step = (what: string) => opts.step?.(preset.name, what);
  const staging = ensureDir(path.join(work, 'out'));
  const scriptDirs = { outputdir: staging };
  checkOutputs(ctx);

  const lock = opts.relock ? (await writeLock(ctx)).lock : currentLock(ctx);
  ctx.lockedTools = lock?.tool;
  if (lock) step(`locked: ${lock.package.length} packages (${path.relative(project.root, lockfilePath(preset))})`);
  else step('unlocked: packages resolved now (kiln lock pins them)');
  await imageUpToLayer(ctx, lock, opts, scriptDirs);
  await buildScripts(ctx, staging, lock?.['build-package']);

  for (const tree of cfg(ctx, 'ExtraTrees')) {
    step(`extra tree ${path.relative(project.root, tree.source)}`);
    await copyTree(ctx, tree, ctx.root, { rootOwned: true, userTree: true, what: 'extra tree' });
  }
  await runScripts(ctx, 'postinst', cfg(ctx, 'PostInstallationScripts'), scriptDirs);
  await applyImageSettings(ctx);
  await removeFiles(ctx);
  await removePackages(ctx);
  await cleanPackageMetadata(ctx);
  await runScripts(ctx, 'finalize', cfg(ctx, 'FinalizeScripts'), scriptDirs);
  await normalise(ctx);

  step(`writing ${cfg(ctx, 'Format')} output`);
  const written = await writeOutputs(ctx, staging);
  // Files the scripts left in $OUTPUTDIR are outputs too.
  const extra = fs.readdirSync(staging).map((f) => [path.join(staging, f), f] as [string, string]).filter(([p]) => !written.some(([w]) => w === p));
  if (opts.signal?.aborted) throw new BuildError('interrupted', preset.name);
  return [...written, ...extra];
}

/**
 * Base trees, skeleton and sandbox trees, packages and prepare scripts: with Incremental=, from
 * the layer cache when it has them (layers.ts), else built and kept there.
 */
async function imageUpToLayer(ctx: BuildContext, lock: Lock | null, opts: BuildOptions, scriptDirs: ScriptDirs): Promise<void> {
  const mode = cfg(ctx, 'Incremental');
  if (mode === 'no') return installImage(ctx, lock, opts, scriptDirs);
  const step = (what: string) => opts.step?.(ctx.preset.name, what);
  const key = await layerKey(ctx, lock, opts.identity ?? 'unknown', (base) => resolveBaseTree(ctx, base));
  const plan = await findLayer(ctx, key, step);
  const short = (l: Layer) => l.manifest.key.slice(0, 12);
  if (plan.kind === 'exact') {
    step(`layer: starting from ${short(plan.layer)}: its packages and trees are what this build would install`);
    await restoreLayer(ctx, plan.layer, step);
    return;
  }
  if (mode === 'strict') throw strictMiss(ctx);
  if (plan.kind === 'append') {
    step(`layer: adding ${plan.missing.map((p) => p.name).join(' ')} to layer ${short(plan.layer)}, which has the rest of the lock`);
    await restoreLayer(ctx, plan.layer, step);
    await installerOf(ctx).append(ctx, plan.missing, key.requested);
  } else {
    step('layer: none cached for these packages and trees; building one');
    await installImage(ctx, lock, opts, scriptDirs);
  }
  if (!lock) step('layer: the preset is unlocked, so its layer is keyed by package names, not versions (kiln lock makes it exact)');
  await clampMtimes(ctx);
  await storeLayer(ctx, key, step);
}

/** The image up to the layer, from scratch. */
async function installImage(ctx: BuildContext, lock: Lock | null, opts: BuildOptions, scriptDirs: ScriptDirs): Promise<void> {
  const { project } = ctx;
  const step = (what: string) => opts.step?.(ctx.preset.name, what);
  const bases = cfg(ctx, 'BaseTrees');
  for (const base of bases) {
    step(`base tree ${path.relative(project.root, base)}`);
    await copyTree(ctx, { source: resolveBaseTree(ctx, base), target: null }, ctx.root, { rootOwned: false, what: 'base tree' });
  }
  for (const tree of cfg(ctx, 'SkeletonTrees')) {
    await copyTree(ctx, tree, ctx.root, { rootOwned: true, userTree: true, what: 'skeleton tree' });
  }
  // The laid sandbox trees go into the image too, which mkosi does not do (its sandbox only):
  // the Debian install still finds a sandbox tree's extra apt sources in the image's etc/apt.
  if (ctx.sandboxTree) await copyTree(ctx, { source: ctx.sandboxTree, target: null }, ctx.root, { rootOwned: true, userTree: true, what: 'sandbox tree' });
  const d = installerOf(ctx);
  const packages = cfg(ctx, 'Packages');
  if (bases.length === 0) {
    step(`installing ${packages.length ? packages.join(' ') : 'the essential set'}`);
    await d.bootstrap(ctx, packages, lock?.package);
  } else if (packages.length) {
    step(`installing ${packages.join(' ')} on the base tree`);
    await d.install(ctx, packages, lock?.package);
  }
  await runScripts(ctx, 'prepare', cfg(ctx, 'PrepareScripts'), scriptDirs);
}

/**
 * BaseTrees= names a directory or an archive. For another preset's output, the file its format
 * says stands for it counts (a directory output's archive NAME.tar.zst): it is the output a cache
 * keeps and restores, so a tree left in the output directory by an older build is never read in
 * its place.
 */
export function resolveBaseTree(ctx: BuildContext, base: string): string {
  const producer = producerOf(ctx.project, ctx.preset, base);
  const file = producer && outputPath(producer) === base ? baseTreeFile(producer.config) : null;
  if (file && fs.existsSync(file)) return file;
  if (fs.existsSync(base)) return base;
  for (const suffix of ['.tar.zst', '.tar', '.tar.xz', '.tar.gz']) if (fs.existsSync(base + suffix)) return base + suffix;
  const hint = producer ? `build preset "${producer.name}" first (kiln build --preset ${producer.name})` : 'check the path';
  throw new BuildError(`base tree ${base} does not exist: ${hint}`, ctx.preset.name);
}

/**
 * Build scripts run in a copy of the image with BuildPackages= installed, so that compilers and
 * headers never reach the image; what they install into $DESTDIR is copied in afterwards.
 */
async function buildScripts(ctx: BuildContext, staging: string, locked?: LockedPackage[]): Promise<void> {
  const scripts = cfg(ctx, 'BuildScripts');
  if (!scripts.length) return;
  const buildRoot = ensureDir(path.join(ctx.work, 'buildroot'));
  const destdir = ensureDir(path.join(ctx.work, 'dest'));
  ctx.log('preparing the build overlay');
  await copyTree(ctx, { source: ctx.root, target: null }, buildRoot, { rootOwned: false, what: 'image' });
  const buildCtx = { ...ctx, root: buildRoot };
  const buildPackages = cfg(ctx, 'BuildPackages');
  if (buildPackages.length) await installerOf(ctx).install(buildCtx, buildPackages, locked);
  await runScripts(buildCtx, 'build', scripts, { destdir, outputdir: staging }, buildRoot);
  await copyTree(ctx, { source: destdir, target: null }, ctx.root, { rootOwned: true, what: '$DESTDIR' });
  await removeTree(buildRoot);
}
