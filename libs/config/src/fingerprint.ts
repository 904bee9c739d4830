/**
 * The fingerprint of a preset's build: what Nx's `runtime` input hashes on every `nx run`, and
 * what `kiln digest` prints (the same function, line for line). Everything is computed from the
 * files and the environment at the moment of hashing, nothing from the Nx graph:
 *
 *   kiln <identity>                 the code that builds (version + hash of the engine)
 *   settings <hash>                 the resolved settings that can change the image
 *   tool <name> <identity>          the tools the installer runs (version lines, or ToolsTree= and its digest)
 *   env <NAME> <sha256|unset>       the variables the build reads
 *   file|dir|link|special|missing   every entry of the preset's trees and scripts (input-digest)
 *
 * Node builtins only on the warm path (facts.ts keeps the project's facts).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { cacheKey, digestCacheDir, isFactsError, projectFacts, type FactsError, type PresetFacts, type ProjectFacts } from './facts';
import { entryLine, inputEntries } from './input-digest';
import { toolsIdentity } from './tools-identity';
import type { Override } from './project';
import type { ScriptRunner } from './file-values';

export interface FingerprintOptions {
  /** kiln's build identity (version + code hash). */
  identity: string;
  env?: Record<string, string | undefined>;
  /** Cache directory (default: digestCacheDir()); null: compute everything. */
  cacheDir?: string | null;
  /** Settings from the command line (--profile, --Setting=value): they change the preset. */
  overrides?: readonly Override[];
  /** Runs an executable mkosi.version (LoadOptions.runScript). */
  runScript?: ScriptRunner;
}

export class FingerprintError extends Error {}

/** The preset named `name` (default: the main image), or a FingerprintError naming the choices. */
export function findPreset(facts: ProjectFacts | FactsError, name?: string): PresetFacts {
  if (isFactsError(facts)) throw new FingerprintError(facts.error.message);
  const preset = name ? facts.presets.find((p) => p.name === name) : facts.presets.find((p) => p.main);
  if (!preset) throw new FingerprintError(`no preset named "${name}" (accepted: ${facts.presets.map((p) => p.name).join(', ')})`);
  return preset;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The lines of the fingerprint of preset `name` of the project in `dir`. */
export function fingerprintLines(dir: string, name: string | undefined, opts: FingerprintOptions): string[] {
  const cacheDir = opts.cacheDir === undefined ? digestCacheDir() : opts.cacheDir;
  const env = opts.env ?? process.env;
  const facts = projectFacts(dir, { cacheDir, overrides: opts.overrides, runScript: opts.runScript });
  const preset = findPreset(facts, name);
  const root = (facts as ProjectFacts).root;
  const lines = [`kiln ${opts.identity}`, `settings ${preset.settingsHash}`];

  // The same lines the build manifest records as `tools` (tools-identity.ts).
  for (const [tool, value] of Object.entries(toolsIdentity(preset.tools, { root, env, cacheDir }))) lines.push(`tool ${tool} ${value}`);
  for (const v of preset.environment) lines.push(`env ${v} ${env[v] === undefined ? 'unset' : sha256(env[v]!)}`);

  const cacheFile = cacheDir ? path.join(cacheDir, `content-${cacheKey(dir)}-${preset.name}.json`) : undefined;
  // A tools tree counts through the tools identity (its digest) when the installer runs from it, and not at all otherwise.
  const trees = preset.paths.filter((p) => p !== preset.tools.toolsTree);
  for (const e of inputEntries(trees, { root, cacheFile })) lines.push(entryLine(e));
  return lines;
}

export function fingerprint(dir: string, name: string | undefined, opts: FingerprintOptions): string {
  return sha256(fingerprintLines(dir, name, opts).join('\n'));
}
