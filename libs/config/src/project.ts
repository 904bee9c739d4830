/**
 * Reads a project (an mkosi project, or its kiln.toml twin) into presets, in mkosi's order. For a
 * config directory (the project, a drop-in directory, an included directory, a preset directory):
 *
 *   mkosi.conf conditions     ([Match] failing here skips the whole directory)
 *   mkosi.local/, mkosi.local.conf  (project, preset and mkosi.tools.conf directories; often
 *                             gitignored): read first, so that [Match] sections and profiles see
 *                             their values, then moved to the image's override layer
 *                             (image-state.ts), so that they win over everything read after them
 *                             as mkosi 26 does; the command line still wins over them
 *   default files             (mkosi.skeleton/, mkosi.extra/, mkosi.build, mkosi.version, ...)
 *   mkosi.conf settings       (Include= is read where it appears, each file once per image)
 *   mkosi.conf.d/*            (sorted; *.conf files, and directories read like a project root)
 *   mkosi.profiles/NAME(.conf) for each of Profiles=
 *
 * The command line's settings (LoadOptions.overrides) are the main image's overrides before any
 * file is read, as mkosi's `cli` namespace.
 *
 * then, for the project only, one preset per mkosi.images/NAME.conf or mkosi.images/NAME/; the
 * images the main image's Dependencies= does not reach are dropped (graph.ts), as mkosi does.
 * Relative paths are relative to the config directory being read (mkosi's working directory).
 * kiln.toml projects use kiln.toml, kiln.conf.d/*.toml, kiln.profiles/, kiln.local.toml and
 * kiln.images/NAME.toml (or NAME/kiln.toml); the default files keep mkosi's names.
 */
import * as path from 'node:path';
import { ConfigError, Warning, quote } from './errors';
import { defaultInitrdPreset, initrdFile, toolsPreset, wantsDefaultInitrd, type GeneratedContext, type GeneratedKind, type GeneratedState } from './generated';
import { builtinConfigDir, isBuiltinConfig } from './builtin-configs';
import { fileValue, type ScriptRunner } from './file-values';
import { buildGraph, Edge } from './graph';
import { ImageState } from './image-state';
import { parseIni } from './ini';
import { CONDITION_SECTIONS, conditionsHold } from './match';
import { Config, findSetting, forcedOnPresets, mainOnly, settingValue, OLD_SECTIONS, SECTIONS, SETTINGS, SettingDef, suggestSetting } from './settings';
import { Assignment, SourceFile } from './source';
import { parseToml } from './toml';
import { splitList } from './values';
import * as probe from './probe';

export type Syntax = 'mkosi' | 'toml';

export interface Preset {
  /** The preset's name; the main image is named after the project directory. */
  name: string;
  main: boolean;
  config: Config;
  /** Where each explicitly set setting got its value. */
  origins: Record<string, { file: string; line: number }>;
  /** Where each list item holding a space was written, by spacedItemKey (list-items.ts). */
  itemOrigins?: Record<string, { file: string; line: number }>;
  /** Config files read for this preset, in reading order (absolute): inputs, whether they applied or not. */
  files: string[];
  /** Of `files`, the config files that applied: what mkosi's summary lists. */
  appliedFiles: string[];
  /** Where the preset is defined: mkosi.images/NAME.conf or mkosi.images/NAME/ (the config directory for the main image). */
  source: string;
  /** Variables Environment= passes through from the environment kiln runs in. */
  passedEnvironment: string[];
  /** Presets this one needs built first, with why. */
  dependencies: Edge[];
  /** A preset kiln generated (generated.ts): the tools tree of ToolsTree=default, the default initrd. */
  generated?: GeneratedKind;
}

export interface Project {
  root: string;
  syntax: Syntax;
  /** All presets in build order (dependencies first); the main image is among them. */
  presets: Preset[];
  main: Preset;
  warnings: Warning[];
}

interface Layout {
  syntax: Syntax;
  conf: string;
  dropins: string;
  dropinExt: string;
  profiles: string;
  local: string;
  images: string[];
  read(file: string): SourceFile;
}

const READ_SECTIONS = new Set<string>([...CONDITION_SECTIONS, ...SECTIONS, ...OLD_SECTIONS]);
const readsSection = (name: string) => READ_SECTIONS.has(name);

const MKOSI: Layout = {
  syntax: 'mkosi',
  conf: 'mkosi.conf',
  dropins: 'mkosi.conf.d',
  dropinExt: '.conf',
  profiles: 'mkosi.profiles',
  local: 'mkosi.local.conf',
  images: ['mkosi.images', 'mkosi.presets'],
  // Sections mkosi does not read are skipped unparsed (only their header is kept, for a warning).
  read: (f) => parseIni(readText(f), f, { readSection: readsSection }),
};

const TOML: Layout = {
  syntax: 'toml',
  conf: 'kiln.toml',
  dropins: 'kiln.conf.d',
  dropinExt: '.toml',
  profiles: 'kiln.profiles',
  local: 'kiln.local.toml',
  images: ['kiln.images'],
  read: (f) => parseToml(readText(f), f),
};

function readText(file: string): string {
  try {
    return probe.readText(file);
  } catch (e) {
    if (e instanceof probe.NotAConfigFile) throw new ConfigError(e.message, { file, line: 0 });
    const err = e as NodeJS.ErrnoException;
    // ELOOP, EACCES, ...: say so in words rather than with the syscall's text.
    const why = err.code === 'ELOOP' ? 'is a symlink loop (fix the link or remove it)' : err.code === 'ENOENT' ? 'is a symlink to a file that does not exist (fix the link or remove it)' : `cannot be read: ${err.message}`;
    throw new ConfigError(why, { file, line: 0 });
  }
}

export interface LoadOptions {
  /** Environment for Environment= pass-through; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Settings from the command line (mkosi names or aliases, the value as typed), in order: the
   * main image's overrides (mkosi's `cli` namespace; see image-state.ts). Universal ones reach
   * the presets with the main image's value as every universal setting does.
   */
  overrides?: readonly Override[];
  /** Runs an executable mkosi.version (and the like) for its output (file-values.ts); without it such a file is an error. */
  runScript?: ScriptRunner;
}

/** One command-line setting: `--Packages=vim` is { name: 'Packages', value: 'vim' }. */
export interface Override {
  name: string;
  value: string;
}

/** Where errors in command-line settings point: file "<command line>", line 0. */
export const COMMAND_LINE = '<command line>';

/** Finds the config directory of a project (mkosi also looks in a mkosi/ subdirectory) and its syntax. */
export function findConfigDir(dir: string): { configDir: string; layout: Layout } {
  const root = path.resolve(dir);
  // A broken mkosi.conf link would otherwise read as "no mkosi.conf here".
  for (const name of [MKOSI.conf, TOML.conf]) refuseBrokenLink(path.join(root, name));
  const hasMkosi = probe.exists(path.join(root, MKOSI.conf));
  const hasToml = probe.exists(path.join(root, TOML.conf));
  if (hasMkosi && hasToml) {
    throw new ConfigError('both mkosi.conf and kiln.toml are here: keep one of them', { file: root, line: 0 });
  }
  if (hasMkosi) return { configDir: root, layout: MKOSI };
  if (hasToml) return { configDir: root, layout: TOML };
  if (probe.exists(path.join(root, 'mkosi', MKOSI.conf))) return { configDir: path.join(root, 'mkosi'), layout: MKOSI };
  throw new ConfigError('no mkosi.conf or kiln.toml here (run kiln in a project directory, or pass -C DIR)', { file: root, line: 0 });
}

export function loadProject(dir: string, opts: LoadOptions = {}): Project {
  const root = path.resolve(dir);
  const { configDir, layout } = findConfigDir(root);
  const reader = new Reader(layout, configDir, opts.env ?? process.env, opts.runScript);

  const main = new ImageState('main', configDir, reader.env, undefined, reader.warnings);
  applyOverrides(main, opts.overrides ?? [], configDir);
  reader.readDirectory(configDir, main, { local: true, profiles: true });
  const mainConfig = main.resolve();

  const universal = new Map<string, unknown>();
  for (const d of SETTINGS as readonly SettingDef[]) if (forcedOnPresets(d.scope)) universal.set(d.name, settingValue(mainConfig, d.name));

  const states: ImageState[] = [];
  const sources = new Map<string, string>();
  for (const [name, entry] of reader.presetEntries()) {
    sources.set(name, entry);
    const state = new ImageState(name, configDir, reader.env, universal, reader.warnings, 'preset');
    state.inherit(main);
    const matched = probe.isDirectory(entry)
      ? reader.readDirectory(entry, state, { local: true, profiles: true })
      : reader.readFile(entry, state, configDir);
    // A preset whose conditions fail does not exist for this configuration (mkosi drops it).
    if (matched) states.push(state);
  }

  // The main image depends on every preset unless Dependencies= says otherwise (as in mkosi).
  if (mainConfig.Dependencies === null) mainConfig.Dependencies = states.map((s) => s.image);
  const unordered: Preset[] = [
    toPreset(path.basename(root), true, main, mainConfig, configDir),
    ...states.map((s) => {
      const config = s.resolve();
      config.Dependencies ??= [];
      return toPreset(s.image, false, s, config, sources.get(s.image) as string);
    }),
  ];
  unordered.push(...generatedPresets(reader, configDir, main, mainConfig, universal, unordered));
  const presets = buildGraph(unordered, configDir, { dropUnreachable: true });
  // mkosi drops them silently; a preset that vanishes from the graph deserves a line.
  const mainPreset = presets.find((p) => p.main) as Preset;
  for (const p of unordered) {
    if (presets.includes(p)) continue;
    const origin = mainPreset.origins.Dependencies ?? { file: p.source, line: 0 };
    reader.warnings.push({ origin, message: `preset ${quote(p.name)} is not built: the main image's Dependencies= does not reach it, so mkosi drops it too (add it to Dependencies= to build it)` });
  }
  return { root: configDir, syntax: layout.syntax, presets, main: presets.find((p) => p.main) as Preset, warnings: reader.warnings };
}

/** The command line's settings as the main image's overrides; a bad name or value is said naming the option. */
function applyOverrides(main: ImageState, overrides: readonly Override[], dir: string): void {
  for (const o of overrides) {
    const def = findSetting(o.name);
    if (!def) {
      const hint = suggestSetting(o.name);
      throw new ConfigError(`--${o.name}: no such setting${hint ? ` (did you mean --${hint}=?)` : ''}`);
    }
    try {
      main.override(def, { key: def.name, value: o.value, line: 0 }, COMMAND_LINE, dir);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`--${o.name}=${o.value}: ${e.reason.replace(new RegExp(`^${def.name}=: `), '')}`);
      throw e;
    }
  }
}

/**
 * The tools tree of ToolsTree=default and the default initrd (generated.ts), after the project's
 * presets: a preset wanting the default initrd gets it as Initrds=, which makes the graph edge.
 */
function generatedPresets(reader: Reader, root: string, main: ImageState, mainConfig: Config, universal: ReadonlyMap<string, unknown>, presets: Preset[]): Preset[] {
  const g: GeneratedContext = {
    root,
    env: reader.env,
    warnings: reader.warnings,
    main,
    mainConfig,
    read: (entry, state) => {
      if (probe.isDirectory(entry)) reader.readDirectory(entry, state, { local: true, profiles: true });
      else reader.readFile(entry, state, root);
    },
  };
  const made: GeneratedState[] = [];
  const tools = toolsPreset(g);
  if (tools) made.push(tools);
  const wanting = presets.filter((p) => wantsDefaultInitrd(p.config));
  const initrd = defaultInitrdPreset(g, wanting, universal);
  for (const m of made.concat(initrd ? [initrd] : [])) {
    const own = presets.find((p) => !p.main && p.name === m.state.image);
    if (own) {
      const why = m.kind === 'tools' ? 'the tools tree ToolsTree=default builds' : 'the initrd of the bootable presets without Initrds=';
      throw new ConfigError(`preset name ${quote(own.name)} is taken by kiln's generated preset (${why}): rename the preset`, { file: own.source, line: 0 });
    }
  }
  if (initrd) {
    made.push(initrd);
    // As mkosi: the initrd is an Initrds= path and a dependency of each image wanting it.
    for (const p of wanting) {
      p.config.Initrds = [initrdFile(initrd.config)];
      p.config.Dependencies = [...(p.config.Dependencies ?? []), initrd.state.image];
    }
  }
  return made.map((m) => ({ ...toPreset(m.state.image, false, m.state, m.config, m.source), generated: m.kind }));
}

function toPreset(name: string, main: boolean, state: ImageState, config: Config, source: string): Preset {
  return {
    name,
    main,
    config,
    origins: Object.fromEntries(state.origins),
    itemOrigins: Object.fromEntries(state.itemOrigins),
    files: state.files,
    appliedFiles: state.files.filter((f) => !state.unlisted.has(f)),
    source,
    passedEnvironment: [...state.passedEnvironment].sort(),
    dependencies: [],
  };
}

interface DirectoryOptions {
  /** Read mkosi.local/ and mkosi.local.conf (the project and preset directories). */
  local: boolean;
  /** Read mkosi.profiles/ (not in drop-in directories). */
  profiles: boolean;
}

class Reader {
  readonly warnings: Warning[] = [];

  constructor(
    private readonly layout: Layout,
    private readonly root: string,
    readonly env: Record<string, string | undefined>,
    private readonly runScript?: ScriptRunner,
  ) {}

  /** Outputs of the executable default files run in this read (file-values.ts). */
  private readonly scriptOutputs = new Map<string, string>();

  /** Reads a config directory; false when its config's conditions failed (nothing of it applies). */
  readDirectory(dir: string, state: ImageState, opts: DirectoryOptions): boolean {
    const confPath = path.join(dir, this.layout.conf);
    const conf = probe.exists(confPath) ? this.layout.read(confPath) : undefined;
    // A config whose conditions fail is still listed (editing it can change the result); one that
    // holds is listed after the local files read before it, in mkosi's order.
    if (conf && !conditionsHold(conf, this.matchContext(state, confPath, dir))) {
      state.files.push(confPath);
      state.unlisted.add(confPath);
      return false;
    }
    if (opts.local) this.readLocal(dir, state);
    if (conf) state.files.push(confPath);
    this.applyDefaultFiles(dir, state);
    if (conf) this.applySettings(conf, state, dir);

    for (const entry of sortedEntries(path.join(dir, this.layout.dropins))) {
      if (entry.isDirectory()) this.readDirectory(entry.path, state, { local: false, profiles: false });
      else if (entry.name.endsWith(this.layout.dropinExt)) this.readFile(entry.path, state, dir);
    }

    if (opts.profiles) {
      for (const profile of state.get('Profiles') as string[]) {
        const base = path.join(dir, this.layout.profiles, profile);
        refuseBrokenLink(base);
        refuseBrokenLink(base + this.layout.dropinExt);
        let found = false;
        if (probe.isDirectory(base)) {
          this.readDirectory(base, state, { local: false, profiles: false });
          found = true;
        }
        if (probe.exists(base + this.layout.dropinExt)) {
          this.readFile(base + this.layout.dropinExt, state, dir);
          found = true;
        }
        if (!found && dir === this.root && !this.knownProfile(profile)) {
          this.warnings.push({ origin: state.origins.get('Profiles') ?? { file: dir, line: 0 }, message: `profile ${quote(profile)} has no ${this.layout.profiles}/${profile} here (only [Match] Profiles= sections can use it)` });
        }
      }
    }

    return true;
  }

  /**
   * mkosi.local/ then mkosi.local.conf (kiln.local.toml), right after the directory's own
   * conditions: each one's values then move to the override layer, so that they win over the
   * files read after them (mkosi 26's parse_local).
   */
  private readLocal(dir: string, state: ImageState): void {
    const localDir = path.join(dir, this.layout.local.replace(/\.(conf|toml)$/, ''));
    if (this.layout.syntax === 'mkosi' && probe.isDirectory(localDir)) {
      this.readDirectory(localDir, state, { local: false, profiles: false });
      state.promoteToOverrides();
    }
    const local = path.join(dir, this.layout.local);
    refuseBrokenLink(local);
    if (probe.exists(local) && !probe.isDirectory(local)) {
      this.readFile(local, state, dir);
      state.promoteToOverrides();
    }
  }

  /** Reads one file in config directory `dir`; false when its conditions failed. */
  readFile(file: string, state: ImageState, dir: string): boolean {
    const source = this.layout.read(file);
    state.files.push(file);
    if (!conditionsHold(source, this.matchContext(state, file, dir))) {
      state.unlisted.add(file);
      return false;
    }
    this.applySettings(source, state, dir);
    return true;
  }

  private knownProfile(profile: string): boolean {
    return probe.exists(path.join(this.root, this.layout.profiles, profile));
  }

  private matchContext(state: ImageState, file: string, dir: string) {
    const ctx = state.parseContext(file, dir);
    return { image: state.image, dir, root: state.root, get: (n: string) => state.get(n), expand: ctx.expand, warn: (origin: Warning['origin'], message: string) => void this.warnings.push({ origin, message }) };
  }

  private applySettings(source: SourceFile, state: ImageState, dir: string): void {
    const file = source.path;
    for (const section of source.sections) {
      if ((CONDITION_SECTIONS as readonly string[]).includes(section.name)) continue;
      const known = (SECTIONS as readonly string[]).includes(section.name) || (OLD_SECTIONS as readonly string[]).includes(section.name);
      if (!known) {
        this.warnings.push({
          origin: { file, line: section.line },
          message: `unknown section [${section.name}] is ignored (accepted: ${[...CONDITION_SECTIONS, ...SECTIONS].map((s) => `[${s}]`).join(', ')})`,
        });
        continue;
      }
      for (const a of section.assignments) {
        const origin = { file, line: a.line };
        const def = findSetting(a.key);
        if (!def) {
          const hint = suggestSetting(a.key);
          this.warnings.push({ origin, message: `unknown setting ${a.key}= is ignored${hint ? ` (did you mean ${hint}=?)` : ''}` });
          continue;
        }
        if (def.section !== section.name && !def.oldSections?.includes(section.name as never)) {
          this.warnings.push({ origin, message: `${a.key}= belongs in [${def.section}], not [${section.name}] (it is applied anyway; move it to [${def.section}])` });
        }
        if (a.key !== def.name) {
          this.warnings.push({ origin, message: `${a.key}= is an old name: write ${def.name}= instead` });
        }
        if (def.name === 'Include') this.include(def, a, file, dir, state);
        else state.assign(def, a, file, dir);
      }
    }
  }

  /**
   * Include= reads each target where it appears: a file in the current config directory, a
   * directory as its own; a built-in name (mkosi-vm, ...) is kiln's own directory of it
   * (builtin-configs.ts), kept in Include= as the name, as mkosi keeps it.
   */
  private include(def: SettingDef, a: Assignment, file: string, dir: string, state: ImageState): void {
    if (a.value.trim() === '' && !a.items?.length) return; // Include= cannot be reset (mkosi: reset=False)
    const words = a.items ?? splitList(a.value);
    if (words.some((w) => isBuiltinConfig(w.trim()))) {
      for (const w of words) {
        const name = w.trim();
        if (!isBuiltinConfig(name)) {
          this.include(def, { ...a, value: w, items: [w] }, file, dir, state);
          continue;
        }
        const target = builtinConfigDir(name);
        if (!state.values.has('Include')) state.values.set('Include', []);
        (state.values.get('Include') as string[]).push(name);
        state.origins.set('Include', { file, line: a.line });
        const id = probe.realpath(target);
        if (state.included.has(id)) continue;
        state.included.add(id);
        // The built-in directories are mkosi's syntax, in a kiln.toml project too.
        const reader = this.layout === MKOSI ? this : new Reader(MKOSI, this.root, this.env, this.runScript);
        reader.readDirectory(target, state, { local: false, profiles: true });
        if (reader !== this) this.warnings.push(...reader.warnings);
      }
      return;
    }
    // A count, not the list: assign() appends to the list in place.
    const before = ((state.values.get('Include') as string[] | undefined) ?? []).length;
    state.assign(def, a, file, dir);
    const targets = (state.values.get('Include') as string[]).slice(before);
    for (const target of targets) {
      const id = probe.realpath(target);
      if (state.included.has(id)) continue;
      state.included.add(id);
      if (probe.isDirectory(target)) this.readDirectory(target, state, { local: false, profiles: true });
      else {
        try {
          this.readFile(target, state, dir);
        } catch (e) {
          // Include=/dev/zero, Include= of a FIFO: said at the Include= line that names it.
          if (e instanceof ConfigError && e.origin?.file === target && e.origin.line === 0) throw new ConfigError(`Include=: ${target} ${e.reason}`, { file, line: a.line });
          throw e;
        }
      }
    }
  }

  /**
   * mkosi.skeleton/, mkosi.extra/, mkosi.build, mkosi.version, ... in a config directory count as
   * assignments made before the directory's mkosi.conf: list items come first, and an explicit
   * setting overrides a single value such as mkosi.version.
   */
  private applyDefaultFiles(dir: string, state: ImageState): void {
    for (const def of SETTINGS as readonly SettingDef[]) {
      if (state.prohibits(def)) continue;
      for (const name of def.defaultPaths ?? []) {
        const p = path.join(dir, name);
        refuseBrokenLink(p);
        if (!probe.exists(p)) continue;
        let a: Assignment;
        if (def.fileText) {
          state.files.push(p);
          state.unlisted.add(p);
          a = { key: def.name, value: fileValue(p, def.name, { dir, env: this.env, runScript: this.runScript, outputs: this.scriptOutputs, readText }), line: 0 };
        } else if (name.endsWith('.d') && probe.isDirectory(p)) {
          const scripts = sortedEntries(p).filter((e) => e.isFile()).map((e) => e.path);
          if (!scripts.length) continue;
          a = { key: def.name, value: scripts.join(' '), items: scripts, line: 0 };
        } else {
          a = { key: def.name, value: p, items: [p], line: 0 };
        }
        state.assign(def, a, p, dir);
      }
    }
  }

  /** The presets under mkosi.images/ (or mkosi.presets/): NAME.conf files and NAME/ directories. */
  presetEntries(): [string, string][] {
    const found = new Map<string, string>();
    for (const dirName of this.layout.images) {
      for (const e of sortedEntries(path.join(this.root, dirName))) {
        let name: string;
        if (e.isDirectory()) name = e.name;
        else if (e.name.endsWith(this.layout.dropinExt)) name = e.name.slice(0, -this.layout.dropinExt.length);
        else continue;
        if (found.has(name)) {
          throw new ConfigError(`preset ${quote(name)} is defined twice, by ${path.relative(this.root, found.get(name)!)} and ${path.relative(this.root, e.path)} (keep one)`, {
            file: e.path,
            line: 0,
          });
        }
        // mkosi takes any file name; kiln keeps to names that are safe as output names, Nx project
        // names and command-line words ("+" for versioned images such as k3s-1.31.5+k3s1).
        if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(name)) {
          throw new ConfigError(`preset name ${quote(name)} is not valid (accepted: letters, digits, "_", ".", "+" and "-")`, { file: e.path, line: 0 });
        }
        found.set(name, e.path);
      }
    }
    return [...found];
  }
}

interface Entry {
  name: string;
  path: string;
  isDirectory(): boolean;
  isFile(): boolean;
}

/**
 * Refuses a broken symlink where kiln looks for an optional file or directory (mkosi.version,
 * mkosi.conf.d/, a profile): mkosi reads such a link as "not there" and silently builds without
 * it; kiln names the link instead.
 */
function refuseBrokenLink(p: string): void {
  const target = probe.danglingTarget(p);
  if (target === null) return;
  if (probe.isSymlinkLoop(p)) throw new ConfigError(`is a symlink loop through ${quote(target)} (fix the link or remove it)`, { file: p, line: 0 });
  throw new ConfigError(`is a symlink to ${quote(target)}, which does not exist (fix the link or remove it)`, { file: p, line: 0 });
}

/** Directory entries sorted by name (byte order, as mkosi sorts drop-ins); [] when absent. */
function sortedEntries(dir: string): Entry[] {
  refuseBrokenLink(dir);
  let names: string[];
  try {
    names = probe.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    // An unreadable mkosi.conf.d/ must not quietly drop its drop-ins.
    throw new ConfigError(`cannot be listed: ${(e as Error).message}`, { file: dir, line: 0 });
  }
  return names
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => {
      const p = path.join(dir, name);
      // A dangling link would otherwise be skipped or fail to open: say what it is.
      refuseBrokenLink(p);
      const isDir = probe.isDirectory(p);
      return { name, path: p, isDirectory: () => isDir, isFile: () => !isDir };
    });
}
