#!/usr/bin/env node
/**
 * kiln-digest: the runtime input of each preset's Nx target, run by Nx whenever it hashes the
 * target (the daemon included). It computes the fingerprint from the files as they are now
 * (fingerprint.ts): nothing of it is frozen into the Nx graph. It loads node builtins and the
 * fingerprint's modules only, and the project's facts come from a stat-checked cache, so a warm
 * run costs little more than starting node.
 *
 *   kiln-digest -C DIR [-p PRESET]
 *
 * `kiln digest -C DIR -p PRESET` prints the same line; `--list` there shows what goes into it.
 */
import { fingerprint, FingerprintError } from '@kiln/config/dist/fingerprint';
import { buildIdentity } from './version';
import { runScript } from './config-scripts';

export function main(argv: string[]): number {
  let dir = '.';
  let preset: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-C' || a === '--directory') dir = argv[++i];
    else if (a === '-p' || a === '--preset') preset = argv[++i];
    else {
      process.stderr.write(`kiln-digest: unknown argument "${a}" (usage: kiln-digest -C DIR [-p PRESET])\n`);
      return 2;
    }
  }
  try {
    process.stdout.write(`${fingerprint(dir, preset, { identity: buildIdentity(), runScript })}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof FingerprintError)) throw e;
    process.stderr.write(`kiln: ${e.message}\n`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
