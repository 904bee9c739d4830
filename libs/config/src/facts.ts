/**
 * What the Nx plugin and the fingerprint need to know of a project, computed from its config and
 * remembered: the presets, their outputs and edges, and per preset the inputs of its build (the
 * resolved settings' hash, its trees and scripts, the environment it reads).
 *
 * Reading a project loads the reader (zod, smol-toml, fast-glob: about 70 ms) and the files; the
 * fingerprint runs on every `nx run` for every preset, and the graph on every change. So the
 * facts are kept in a small cache file per project, with the probes of the read (probe.ts): when
 * every probed file and directory is as it was, the facts are reused with a few stat calls and
 * nothing but node builtins loaded. Nothing here is frozen into the Nx graph: whoever asks gets
 * facts that match the files now, including gitignored ones created since the graph was made.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonCache, writeJsonCache } from './input-digest';
import { changedProbe, recording, signature, type Probes } from './probe';
import { toolSourceOf, type ToolSource } from './tools-identity';
import type { Override } from './project';
import type { ScriptRunner } from './file-values';

export interface PresetFacts {
  name: string;
  main: boolean;
  /** mkosi.images/NAME.conf or NAME/ (the config directory for the main image), absolute. */
  source: string;
  format: string;
  /**
   * Whether `kiln vm` can boot it (the Nx plugin gives it a `vm` target): a disk, ESP or UKI, or a
   * cpio or directory image with a kernel to boot it (Linux=, or Bootable=yes: the image has one).
   */
  bootable: boolean;
  /** Config files the preset was read from, absolute, in reading order. */
  files: string[];
  /** The files its build leaves for a cache (image files and manifest), absolute. */
  cachedOutputs: string[];
  /** Presets built first (Dependencies=, or reading their outputs). */
  dependencies: string[];
  settingsHash: string;
  lockfile: string;
  /** Trees, scripts and other files whose content goes into the image, absolute. */
  paths: string[];
  readsOutputsOf: string[];
  environment: string[];
  /** What the install runs (its installer, ToolsTree=): the tools identity is computed from it. */
  tools: ToolSource;
  /** A preset kiln generated (the tools tree, the default initrd), or absent. */
  generated?: string;
}

export interface FactsWarning {
  file: string;
  line: number;
  message: string;
}

export interface ProjectFacts {
  /** The project directory (holding mkosi.conf, mkosi/mkosi.conf or kiln.toml). */
  dir: string;
  /** The config directory (dir, or dir/mkosi). */
  root: string;
  presets: PresetFacts[];
  warnings: FactsWarning[];
}

/** A project that cannot be read: the message (file:line: what and the fix). */
export interface FactsError {
  error: { message: string; file: string | null; line: number };
}

interface CacheFile {
  version: string;
  home: string;
  /** When the read started (ns): files changed in the same clock tick are not trusted. */
  started: string;
  probes: Probes;
  facts: ProjectFacts | FactsError;
}

export interface FactsOptions {
  /** Where the cache lives (default: digestCacheDir()); null: no cache. */
  cacheDir?: string | null;
  /** Settings from the command line (loadProject's LoadOptions.overrides): facts of their own. */
  overrides?: readonly Override[];
  /** Runs an executable mkosi.version (LoadOptions.runScript); a read that runs one is never cached. */
  runScript?: ScriptRunner;
}

/** The cache of facts, content hashes and tool versions: per user, in the temp directory. */
export function digestCacheDir(): string {
  return process.env.KILN_DIGEST_CACHE || path.join(os.tmpdir(), `kiln-digest-${process.getuid?.() ?? 'user'}`);
}

export function cacheKey(dir: string): string {
  return createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16);
}

/**
 * What identifies the reader's code: a new kiln may read the same files differently. The stat
 * signatures of this package's compiled files (about 25 stat calls).
 */
let codeStamp: string | undefined;
function readerVersion(): string {
  if (codeStamp) return codeStamp;
  const h = createHash('sha256');
  // .ts: the sources, where the tests run them.
  for (const f of fs.readdirSync(__dirname).filter((n) => /\.(js|ts)$/.test(n)).sort()) h.update(`${f} ${signature(path.join(__dirname, f))}\n`);
  codeStamp = h.digest('hex').slice(0, 16);
  return codeStamp;
}

/** Clock ticks of the file system are coarser than a nanosecond: a file changed within this of the read is re-read. */
const RACY_NS = 100_000_000n;

function trustworthy(c: CacheFile): boolean {
  if (c.version !== readerVersion() || c.home !== os.homedir()) return false;
  // A read always probes the project directory: no probes means a broken recording, never "unchanged".
  if (Object.keys(c.probes).length === 0) return false;
  if (changedProbe(c.probes) !== null) return false;
  const started = BigInt(c.started);
  for (const [key, sig] of Object.entries(c.probes)) {
    if (!key.startsWith('path:') || sig === 'missing') continue;
    const mtime = BigInt(sig.split(':')[4]);
    if (mtime >= started - RACY_NS) return false;
  }
  return true;
}

export function isFactsError(f: ProjectFacts | FactsError): f is FactsError {
  return 'error' in f;
}

/** The facts of the project in `dir`, from the cache when nothing it read has changed. */
export function projectFacts(dir: string, opts: FactsOptions = {}): ProjectFacts | FactsError {
  const abs = path.resolve(dir);
  const cacheDir = opts.cacheDir === undefined ? digestCacheDir() : opts.cacheDir;
  const overrides = opts.overrides ?? [];
  // Each set of command-line settings reads the project differently: a cache file of its own.
  const variant = overrides.length ? `-${createHash('sha256').update(JSON.stringify(overrides)).digest('hex').slice(0, 16)}` : '';
  const file = cacheDir ? path.join(cacheDir, `facts-${cacheKey(abs)}${variant}.json`) : null;
  const cached = file ? readJsonCache<CacheFile>(file) : null;
  try {
    if (cached && trustworthy(cached)) return cached.facts;
  } catch {
    // damaged: read the project
  }
  const started = BigInt(Date.now()) * 1_000_000n;
  const { result, probes } = recording(() => readFacts(abs, overrides, opts.runScript));
  if (file) writeJsonCache(file, { version: readerVersion(), home: os.homedir(), started: String(started), probes, facts: result } satisfies CacheFile);
  return result;
}

/** Reads the project for real (the slow path): the reader is loaded only here. */
function readFacts(dir: string, overrides: readonly Override[], runScript?: ScriptRunner): ProjectFacts | FactsError {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadProject } = require('./project') as typeof import('./project');
  const { presetInputs } = require('./inputs') as typeof import('./inputs');
  const { cachedOutputNames } = require('./outputs') as typeof import('./outputs');
  const { ConfigError } = require('./errors') as typeof import('./errors');
  /* eslint-enable @typescript-eslint/no-require-imports */
  try {
    const project = loadProject(dir, { overrides, runScript });
    const all = new Map(project.presets.map((p) => [p.name, presetInputs(project, p)]));
    const toolsPreset = project.presets.find((p) => p.generated === 'tools');
    const toolsId = toolsPreset ? { name: toolsPreset.name, settingsHash: all.get(toolsPreset.name)!.settingsHash, lockfile: all.get(toolsPreset.name)!.lockfile } : null;
    const presets = project.presets.map((preset): PresetFacts => {
      const inputs = all.get(preset.name)!;
      const out = preset.config.OutputDirectory;
      return {
        name: preset.name,
        main: preset.main,
        source: preset.source,
        format: preset.config.Format,
        bootable: bootableFormat(preset.config.Format, preset.config.Linux !== null, preset.config.Bootable === 'enabled'),
        files: inputs.configFiles,
        cachedOutputs: cachedOutputNames(preset.config).map((n) => path.join(out, n)),
        dependencies: preset.dependencies.map((d) => d.preset),
        settingsHash: inputs.settingsHash,
        lockfile: inputs.lockfile,
        paths: inputs.paths,
        readsOutputsOf: inputs.readsOutputsOf,
        environment: inputs.environment,
        tools: toolSourceOf(preset.config, preset.dependencies.some((e) => e.reason === 'ToolsTree=') ? toolsId : null),
        ...(preset.generated ? { generated: preset.generated } : {}),
      };
    });
    const warnings = project.warnings.map((w) => ({ file: w.origin.file, line: w.origin.line, message: w.message }));
    return { dir, root: project.root, presets, warnings };
  } catch (e) {
    if (e instanceof ConfigError) return { error: { message: e.message, file: e.origin?.file ?? null, line: e.origin?.line ?? 0 } };
    throw e;
  }
}

/** See PresetFacts.bootable: mkosi's formats for `vm`, the direct-boot ones only with a kernel. */
export function bootableFormat(format: string, linux: boolean, bootable: boolean): boolean {
  if (format === 'disk' || format === 'esp' || format === 'uki') return true;
  return (format === 'cpio' || format === 'directory') && (linux || bootable);
}
