import type { Config, LockedTool, Preset, Project, SettingName } from '@kiln/config';
import { BuildError } from './errors';
import type { RunContext } from './exec';

/** Everything a build step needs about the preset being built. */
export interface BuildContext extends RunContext {
  project: Project;
  preset: Preset;
  /** The image tree being built. */
  root: string;
  /** Scratch space of this build (removed at the end, whatever happens). */
  work: string;
  /** Downloaded packages, shared across builds and presets. */
  packageCache: string;
  sourceDateEpoch: number;
  /** kiln's own environment (Environment= pass-through reads it). */
  env: Record<string, string | undefined>;
  /** A line the user should see even without tool output (what a step left out, and why). */
  note?: (what: string) => void;
  /** What a locked build runs from (kiln.lock's [[tool]]: a stage3, a repository snapshot). */
  lockedTools?: LockedTool[];
  /**
   * The tools tree the output steps and the Debian install (mmdebstrap, apt) run their tools from (ToolsTree=: a path, or the tools
   * preset's tree for ToolsTree=default, unpacked from its archive into the user's cache): its
   * /usr stands in for the host's (sandbox.ts hostTools). Set by build.ts's withBuildContext
   * (tools-tree.ts resolveTools). null or absent: the host's tools, whose versions the steps
   * check with requireTool (tool-check.ts). The tools preset itself always builds with null.
   */
  tools?: string | null;
  /**
   * SandboxTrees= laid into one directory, in order, each at its target (sandbox-trees.ts): where
   * the installers look for repository files, keys and keyrings, as in mkosi's sandbox tree.
   * Set by withBuildContext; null or absent: the preset has none.
   */
  sandboxTree?: string | null;
}

/** A setting of the preset being built, typed by the settings table (a misspelled name does not compile). */
export const cfg = <K extends SettingName>(ctx: BuildContext, name: K): Config[K] => ctx.preset.config[name];

/** A setting this step cannot do without (Release= for apt's sources): a BuildError naming it when unset. */
export function required<K extends SettingName>(ctx: BuildContext, name: K): NonNullable<Config[K]> {
  const v = ctx.preset.config[name];
  if (v === null || v === undefined) throw new BuildError(`${name}= is not set, and ${ctx.preset.config.Distribution} has no default for it: set it`, ctx.preset.name);
  return v as NonNullable<Config[K]>;
}
