/**
 * The presets kiln generates, as mkosi does (mkosi/config.py finalize_default_tools and
 * finalize_default_initrd), each a preset like any other: its own lock, its own cached Nx target,
 * and graph edges from the presets that use it.
 *
 * - `tools` (ToolsTree=default or yes in the main image): the tools tree the output steps run
 *   from. Format=directory, Output=mkosi.tools (mkosi's name), so the tree is
 *   OutputDirectory/mkosi.tools and its cached archive mkosi.tools.tar.zst. Its settings:
 *   Distribution=/Release=/Mirror=/Repositories=/SandboxTrees= from ToolsTreeDistribution= and
 *   the like, Packages=ToolsTreePackages=; then the project's mkosi.tools.conf (a file, or a
 *   directory read like a project) on top; then kiln's own package list (tools-tree.ts) added,
 *   Format=directory and ToolsTree= unset forced (the tools tree builds with the host's tools);
 *   WithDocs=no unless mkosi.tools.conf says otherwise.
 *   It gets the main image's multiversal settings (SourceDateEpoch=, PackageCacheDirectory=, ...
 *   from the table's scopes) as overrides, and its X= from the main image's ToolsTreeX= (the
 *   `tools` scope, by name prefix, as mkosi's removeprefix): an override stays an override, a
 *   configured value a configured value, a default a default. Not its Architecture= (the tools
 *   run on the host, as in mkosi). Deliberately unlike mkosi, it also keeps the main image's
 *   OutputDirectory= and cache settings (kiln keeps the tree and its cache with the project's
 *   outputs; mkosi writes it to the working directory). Every other preset depends on it (edge
 *   reason ToolsTree=).
 *   Its source, the lock's place and the Nx project's root, is mkosi.tools.conf, present or not:
 *   the lock is mkosi.tools.lock beside it (mkosi.tools.conf/kiln.lock for a directory).
 *
 * - `default-initrd` (a bootable preset without Initrds=): Format=cpio, Output=default-initrd
 *   (not mkosi's "initrd", which projects often name a preset of their own); everything else
 *   from the built-in mkosi-initrd configuration (libs/config/resources/mkosi-initrd: Format=cpio,
 *   MakeInitrd=yes, Bootable=no, its packages), read on top of what the main image passes down, as
 *   mkosi's finalize_default_initrd reads its own.
 *   It starts from the main image as mkosi's finalize_default_initrd: universal and multiversal
 *   settings forced, inherit and initrd-inherit ones (Hostname=, Timezone=, RootPassword=, ...)
 *   as its own, its X= from the main image's InitrdX= (the `initrd` scope, by prefix), and the
 *   Environment= keys PassEnvironment= names. A preset
 *   wanting it gets Initrds=OutputDirectory/default-initrd.cpio.zst: the resolved Initrds= value
 *   is what the boot steps read, so they need nothing special, and the Initrds= path makes the
 *   graph edge. Its source is mkosi.default-initrd.conf in the config directory (never read): the
 *   lock is mkosi.default-initrd.lock.
 *
 * Every distribution gets it as in mkosi (for those kiln cannot build yet, so that the summary
 * and the graph are mkosi's; the build refuses the distribution), except Gentoo: kiln's
 * mkosi-initrd names no Gentoo packages yet, so a bootable Gentoo preset needs Initrds=.
 *
 * Which presets want the default initrd (mkosi's want_default_initrd): not Bootable=no; with
 * Bootable=yes any format that holds a kernel (not cpio, sysext, confext, portable, addon, none);
 * with Bootable=auto only disk, uki and esp images that install a kernel package (linux-image-*),
 * as mkosi checks, so an image of the default Format=disk without a kernel is left alone.
 */
import * as path from 'node:path';
import { ConfigError, type Origin, type Warning } from './errors';
import { packageManagerOf } from './distributions';
import { imageFiles } from './formats';
import { builtinConfigDir } from './builtin-configs';
import { ImageState } from './image-state';
import * as probe from './probe';
import { findSetting, SETTINGS, type Config, type Scope, type SettingDef } from './settings';
import {
  DEFAULT_INITRD_PRESET,
  TOOLS_OUTPUT,
  TOOLS_PRESET,
  toolsTreePackages,
} from './tools-tree';

export type GeneratedKind = 'tools' | 'default-initrd';

/** Whether ToolsTree= asks for the generated tools tree. */
export const wantsToolsPreset = (config: Pick<Config, 'ToolsTree'>): boolean => config.ToolsTree === 'default' || config.ToolsTree === 'yes';

/** The multiversal settings: forced on every image, the tools tree included (mkosi). */
const MULTIVERSAL = (SETTINGS as readonly SettingDef[]).filter((d) => d.scope === 'multiversal').map((d) => d.name);

/**
 * Universal settings kiln shares with the tools tree although mkosi does not: where outputs and
 * caches go, so that the tree is kept, cached and evicted with the project's outputs.
 */
const KEPT_WITH_TOOLS = ['OutputDirectory', 'CacheDirectory', 'CacheMaxSize', 'CacheMaxAge', 'Incremental'] as const;

/** The name prefix of each scope whose settings are another image's (mkosi's SettingScope.removeprefix). */
const SCOPE_PREFIX = { tools: 'ToolsTree', initrd: 'Initrd' } as const;

/**
 * Hands the main image's settings of `scope` (ToolsTreeX=, InitrdX=) to a generated image as its
 * X=, keeping their layer as mkosi does: an override (the command line, mkosi.local.conf) stays an
 * override, a configured value is configured, a default is only a default there.
 */
function passScoped(main: ImageState, to: ImageState, scope: keyof typeof SCOPE_PREFIX & Scope): void {
  const prefix = SCOPE_PREFIX[scope];
  for (const def of SETTINGS as readonly SettingDef[]) {
    if (def.scope !== scope || !def.name.startsWith(prefix)) continue;
    const target = findSetting(def.name.slice(prefix.length));
    if (!target) continue;
    const value = clone(main.get(def.name));
    const origin = main.origins.get(def.name);
    if (main.overrides.has(def.name)) {
      to.overrides.set(target.name, value);
      if (main.resets.has(def.name)) to.resets.add(target.name);
    } else if (main.values.has(def.name)) {
      to.values.set(target.name, value);
    } else {
      if (value !== null && value !== undefined) to.defaults.set(target.name, value);
      continue;
    }
    if (origin) to.origins.set(target.name, origin);
  }
}

export interface GeneratedContext {
  /** The config directory (holding mkosi.conf). */
  root: string;
  env: Record<string, string | undefined>;
  /** The reader's warnings. */
  warnings: Warning[];
  main: ImageState;
  mainConfig: Config;
  /** Reads a config file or directory into `state` (the project reader, with its layout). */
  read(entry: string, state: ImageState): void;
}

export interface GeneratedState {
  state: ImageState;
  config: Config;
  source: string;
  kind: GeneratedKind;
}

const clone = <T>(v: T): T => structuredClone(v);

/** The `tools` preset of a project with ToolsTree=default, or null. */
export function toolsPreset(g: GeneratedContext): GeneratedState | null {
  checkToolsTreePath(g);
  if (!wantsToolsPreset(g.mainConfig)) return null;
  const state = new ImageState(TOOLS_PRESET, g.root, g.env, undefined, g.warnings, 'tools');
  const set = (name: string, value: unknown, origin?: Origin) => {
    state.values.set(name, clone(value));
    if (origin) state.origins.set(name, origin);
  };
  for (const name of MULTIVERSAL) {
    state.overrides.set(name, clone(g.main.get(name)));
    const origin = g.main.origins.get(name);
    if (origin) state.origins.set(name, origin);
  }
  for (const name of KEPT_WITH_TOOLS) if (g.main.isSet(name)) set(name, g.main.get(name), g.main.origins.get(name));
  passScoped(g.main, state, 'tools');
  // Environment= keys PassEnvironment= names, as every preset gets them.
  const env = g.mainConfig.Environment;
  const passed = Object.fromEntries(g.mainConfig.PassEnvironment.filter((k) => k in env).map((k) => [k, env[k]]));
  if (Object.keys(passed).length) set('Environment', passed, g.main.origins.get('Environment'));

  // Small: no documentation (mkosi.tools.conf may say otherwise).
  set('WithDocs', false);
  const source = path.join(g.root, 'mkosi.tools.conf');
  if (probe.exists(source)) g.read(source, state);

  // kiln's package list after the project's (mkosi reads its bundled mkosi-tools last).
  // (values only: an override of ToolsTreePackages= is added by get(), after them)
  const packages = (state.values.get('Packages') as string[] | undefined) ?? [];
  const m = g.mainConfig;
  set('Packages', [...packages, ...toolsTreePackages(m.ToolsTreeProfiles, m.ToolsTreeDistribution, m.ToolsTreeRelease)]);
  // As mkosi forces them: the tools tree is a directory and is built with the host's tools.
  state.overrides.set('Format', 'directory');
  state.values.delete('ToolsTree');
  state.values.delete('CompressOutput');
  if (!state.values.has('Output')) set('Output', TOOLS_OUTPUT);
  const config = state.resolve();
  config.Dependencies = [];
  return { state, config, source, kind: 'tools' };
}

/** A kernel package, by the distribution's naming (mkosi's is_kernel_package). */
function isKernelPackage(distribution: string, name: string): boolean {
  if (packageManagerOf(distribution) === 'apt') return /^linux-image-/.test(name);
  if (distribution === 'gentoo') return /^(sys-kernel\/)?(gentoo|vanilla)-kernel(-bin)?\b/.test(name);
  return name === 'kernel' || name === 'linux';
}

const NO_KERNEL_FORMATS = ['cpio', 'sysext', 'confext', 'portable', 'addon', 'none'];

/** Whether a preset gets the default initrd (see the module comment). */
export function wantsDefaultInitrd(config: Config): boolean {
  if (config.Initrds.length || config.Bootable === 'disabled') return false;
  if (config.Bootable === 'enabled') return !NO_KERNEL_FORMATS.includes(config.Format);
  if (!['disk', 'uki', 'esp'].includes(config.Format)) return false;
  return config.Packages.some((p) => isKernelPackage(config.Distribution, p));
}

/** The `default-initrd` preset, when one of `configs` wants it (mkosi generates one per project). */
export function defaultInitrdPreset(g: GeneratedContext, wanting: { name: string; config: Config }[], universal: ReadonlyMap<string, unknown>): GeneratedState | null {
  // Not for Gentoo: kiln's mkosi-initrd has no Gentoo package names (its boot step says Initrds= is needed).
  if (!wanting.length || packageManagerOf(g.mainConfig.Distribution) === 'portage') return null;
  const state = new ImageState(DEFAULT_INITRD_PRESET, g.root, g.env, universal, g.warnings, 'initrd');
  state.inherit(g.main, (scope) => scope === 'inherit' || scope === 'initrd-inherit');
  passScoped(g.main, state, 'initrd');
  // As mkosi's finalize_default_initrd: the built-in mkosi-initrd configuration on top of what the
  // main image passes down (kiln's own, libs/config/resources/mkosi-initrd).
  g.read(builtinConfigDir('mkosi-initrd'), state);
  // Named default-initrd, not mkosi-initrd's "initrd", which projects often give a preset of their own.
  state.values.set('Output', DEFAULT_INITRD_PRESET);
  const config = state.resolve();
  config.Dependencies = [];
  return { state, config, source: path.join(g.root, 'mkosi.default-initrd.conf'), kind: 'default-initrd' };
}

/** The default initrd's file a bootable preset reads as Initrds=: its cpio archive in OutputDirectory=. */
export function initrdFile(config: Config): string {
  return path.join(config.OutputDirectory, imageFiles(config).find((f) => f.kind === 'file')!.name);
}

/**
 * ToolsTree=PATH must be a tree with a /usr (its /usr stands in for the host's): said at the
 * line that sets it, before any build.
 */
function checkToolsTreePath(g: GeneratedContext): void {
  const tree = g.mainConfig.ToolsTree;
  if (!tree || !path.isAbsolute(tree)) return;
  if (!probe.isDirectory(path.join(tree, 'usr'))) {
    const origin = g.main.origins.get('ToolsTree') ?? { file: g.root, line: 0 };
    throw new ConfigError(`ToolsTree=${tree} has no usr/ directory, so it is not a tools tree (give the root of one, or ToolsTree=default to build one)`, origin);
  }
}
