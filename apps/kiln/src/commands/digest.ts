import { runScript } from '../config-scripts';
import { createHash } from 'node:crypto';
import { fingerprintLines, FingerprintError, isFactsError, projectFacts, type Override } from '@kiln/config';
import { reportWarnings } from '../report';
import { buildIdentity } from '../version';

/**
 * `kiln digest`: the fingerprint of a preset's build that its Nx target hashes (kiln-digest runs
 * the same function), or with --list the lines it is made of, or with --json both.
 */
export function digestCommand(opts: { directory: string; preset?: string; list?: boolean; json?: boolean; overrides?: readonly Override[] }): void {
  // The facts the fingerprint reads (cached): their warnings, without reading the project twice.
  const facts = projectFacts(opts.directory, { runScript, overrides: opts.overrides });
  if (!isFactsError(facts)) reportWarnings(facts.warnings.map((w) => ({ origin: { file: w.file, line: w.line }, message: w.message })));
  let lines: string[];
  try {
    lines = fingerprintLines(opts.directory, opts.preset, { identity: buildIdentity(), runScript, overrides: opts.overrides });
  } catch (e) {
    if (!(e instanceof FingerprintError)) throw e;
    process.stderr.write(`kiln: ${e.message}\n`);
    process.exitCode = 1;
    return;
  }
  const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
  if (opts.json) process.stdout.write(`${JSON.stringify({ digest, lines }, null, 2)}\n`);
  else if (opts.list) process.stdout.write(`${lines.join('\n')}\n`);
  else process.stdout.write(`${digest}\n`);
}
