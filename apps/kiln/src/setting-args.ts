/**
 * The settings among command-line arguments (`--Name=value`, `--profile NAME`, `-r RELEASE`, ...),
 * one reading for every caller that must agree: kiln-digest (the Nx target's runtime input) and
 * the Nx plugin's variants and executor (what the build then reads). Were they two, a drift would
 * hash one set of settings and build another: a silent cache-correctness bug.
 *
 * The plugin writes each setting as `--Name=value`: those are read here, with no table (a bad
 * name is reported by the read of the project, naming the option). Any other spelling needs the
 * settings table (overrides.ts), which loads zod and the whole reader (some 70 ms on every hash),
 * so it is loaded only then.
 */
import type { Override } from '@kiln/config/dist/project';

const CANONICAL = /^--([A-Z][A-Za-z0-9]*)=/;

export type SettingArgs =
  | { overrides: Override[] }
  /** A setting given wrongly (an unknown name, a missing value): overrides.ts's message. */
  | { error: string }
  /** The first argument that is not a setting (--force, a stray word). */
  | { notASetting: string };

export function parseSettingArgs(args: readonly string[]): SettingArgs {
  if (args.every((a) => CANONICAL.test(a))) return { overrides: args.map((a) => ({ name: CANONICAL.exec(a)![1]!, value: a.slice(a.indexOf('=') + 1) })) };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { takeOverrides, OverrideError } = require('./overrides') as typeof import('./overrides');
  try {
    const { rest, overrides } = takeOverrides(args);
    return rest.length ? { notASetting: rest[0]! } : { overrides };
  } catch (e) {
    if (e instanceof OverrideError) return { error: e.message };
    throw e;
  }
}
