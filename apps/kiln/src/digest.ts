#!/usr/bin/env node
/**
 * kiln-digest: the runtime input of each preset's Nx target, run by Nx whenever it hashes the
 * target (the daemon included). It computes the fingerprint from the files as they are now
 * (fingerprint.ts): nothing of it is frozen into the Nx graph. It loads node builtins and the
 * fingerprint's modules only, and the project's facts come from a stat-checked cache, so a warm
 * run costs little more than starting node.
 *
 *   kiln-digest -C DIR [-p PRESET] [SETTINGS...]
 *
 * SETTINGS are the command line's settings, as `kiln build` takes them (--profile NAME, -r
 * RELEASE, --Setting=value...): the Nx plugin's variant targets pass them. `kiln digest -C DIR -p
 * PRESET SETTINGS...` prints the same line; `--list` there shows what goes into it.
 */
import { fingerprint, FingerprintError } from '@kiln/config/dist/fingerprint';
import type { Override } from '@kiln/config/dist/project';
import { buildIdentity } from './version';
import { runScript } from './config-scripts';
import { parseSettingArgs } from './setting-args';

/** The settings among the arguments (setting-args.ts, the plugin's own reading of them). */
function settingsOf(args: string[]): Override[] {
  const parsed = parseSettingArgs(args);
  if ('notASetting' in parsed) throw new UsageError(`unknown argument "${parsed.notASetting}"`);
  if ('error' in parsed) throw new FingerprintError(parsed.error);
  return parsed.overrides;
}

class UsageError extends Error {}

export function main(argv: string[]): number {
  let dir = '.';
  let preset: string | undefined;
  const settings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-C' || a === '--directory') dir = argv[++i];
    else if (a === '-p' || a === '--preset') preset = argv[++i];
    else settings.push(a);
  }
  try {
    const overrides = settings.length ? settingsOf(settings) : [];
    process.stdout.write(`${fingerprint(dir, preset, { identity: buildIdentity(), runScript, overrides })}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kiln-digest: ${e.message} (usage: kiln-digest -C DIR [-p PRESET] [--profile NAME, --Setting=value...])\n`);
      return 2;
    }
    // A setting the table does not know, or a project that cannot be read.
    if (e instanceof FingerprintError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
