#!/usr/bin/env node
/**
 * kiln-digest: the runtime input of each preset's Nx target. The plugin resolves the preset's
 * configuration when Nx builds the graph and calls this with the paths to fingerprint; this
 * entry point loads nothing but node builtins and input-digest, so that it costs a few tens of
 * milliseconds on every `nx run`.
 *
 *   kiln-digest --root DIR [--cache FILE] [--extra TEXT]... PATH...
 */
import { digestInputs } from '@kiln/config/dist/input-digest';

function main(argv: string[]): void {
  const paths: string[] = [];
  const extra: string[] = [];
  let root = process.cwd();
  let cacheFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root') root = argv[++i];
    else if (a === '--cache') cacheFile = argv[++i];
    else if (a === '--extra') extra.push(argv[++i]);
    else paths.push(a);
  }
  process.stdout.write(`${digestInputs(paths, { root, cacheFile, extra })}\n`);
}

main(process.argv.slice(2));
