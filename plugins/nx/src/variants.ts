/**
 * The `variants` option: named sets of command-line settings (`kiln build --profile debug`, `-r
 * trixie`, `--Hostname=x`), each giving every preset it reaches a target of its own
 * (`image-debug`) with its own fingerprint, outputs and order. Nx hashes per target, not per
 * target configuration (a configuration cannot change a runtime input's command), so a variant
 * is a target rather than an Nx configuration.
 *
 * Each variant's arguments are written in one form, `--Name=value` (the setting's own name): the
 * runtime input reads that form without loading the settings table (@kiln/cli digest.ts), and the
 * facts cache, keyed by the settings, is shared by the plugin, kiln-digest and the executor.
 */
import type { Override } from '@kiln/config/dist/project';
import { parseSettingArgs } from '@kiln/cli/dist/setting-args';

export type VariantsOption = Record<string, string[]>;

export interface Variant {
  name: string;
  /** `--Name=value` each, in order; empty when `error` is set. */
  args: string[];
  overrides: Override[];
  /** Why the variant is unusable: its targets fail with this message. */
  error?: string;
}

/** Letters, digits, `-`, `_`, `.`: a target name part Nx and shells take as it is (no `:`). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The variants of the options (`variants`, then one per name of `profiles`), each checked: a name
 * usable in a target name, and arguments that are settings only (kiln's own options such as
 * --force or --preset belong to no variant). Returns the good and the bad ones (with `error`); a
 * bad name cannot name a target and is only in `warnings`.
 */
export function readVariants(option: unknown, profiles?: unknown): { variants: Variant[]; warnings: string[] } {
  const variants: Variant[] = [];
  const warnings: string[] = [];
  const entries: [string, unknown][] = [];
  if (option !== undefined) {
    if (typeof option !== 'object' || option === null || Array.isArray(option)) {
      warnings.push('nx.json: @kiln/nx option "variants" must be an object of variant names to argument lists ({ "debug": ["--profile", "debug"] })');
    } else entries.push(...Object.entries(option as Record<string, unknown>));
  }
  // `"profiles": ["debug"]`: a variant per profile, named after it (`--Profiles=NAME`: the form
  // read without the settings table).
  if (profiles !== undefined) {
    if (!Array.isArray(profiles) || !profiles.every((p) => typeof p === 'string')) warnings.push('nx.json: @kiln/nx option "profiles" must be a list of profile names (["debug"])');
    else {
      for (const p of profiles as string[]) {
        if (entries.some(([n]) => n === p)) warnings.push(`nx.json: @kiln/nx profile "${p}" is a variant already (the variant's settings count)`);
        else entries.push([p, [`--Profiles=${p}`]]);
      }
    }
  }
  for (const [name, given] of entries) {
    if (!NAME.test(name)) {
      warnings.push(`nx.json: @kiln/nx variant "${name}": a variant name is letters, digits, "-", "_" and "." (it becomes part of target names such as image-${name.replace(/[^A-Za-z0-9_.-]/g, '-')}); it has no targets`);
      continue;
    }
    if (!Array.isArray(given) || !given.every((a) => typeof a === 'string')) {
      const error = `nx.json: @kiln/nx variant "${name}": its value must be a list of kiln build arguments, such as ["--profile", "${name}"]`;
      variants.push({ name, args: [], overrides: [], error });
      continue;
    }
    const parsed = parseArguments(given);
    if ('error' in parsed) variants.push({ name, args: [], overrides: [], error: `nx.json: @kiln/nx variant "${name}": ${parsed.error}` });
    else variants.push({ name, args: parsed.overrides.map((o) => `--${o.name}=${o.value}`), overrides: parsed.overrides });
  }
  for (const v of variants) if (v.error) warnings.push(`${v.error} (its targets fail until this is fixed)`);
  return { variants, warnings };
}

/**
 * kiln build's settings among `args`: the CLI's one reading of them (@kiln/cli setting-args.ts),
 * which kiln-digest hashes too.
 */
export function parseArguments(args: readonly string[]): { overrides: Override[] } | { error: string } {
  const parsed = parseSettingArgs(args);
  if ('notASetting' in parsed) return { error: `"${parsed.notASetting}" is not a setting (a variant takes settings only: --profile NAME, -d, -r, -E, --image-version, --Setting=value)` };
  return parsed;
}
