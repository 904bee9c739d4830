import { runScript } from '../config-scripts';
import { loadProject, type Override } from '@kiln/config';
import { build, BuildError } from '@kiln/engine';
import { reportWarnings } from '../report';
import { buildIdentity } from '../version';

export interface BuildCommandOptions {
  directory: string;
  preset?: string;
  force?: boolean;
  deps?: boolean;
  relock?: boolean;
  verbose?: boolean;
  /** Settings from the command line (--profile, --Setting=value). */
  overrides?: readonly Override[];
}

/**
 * Builds the preset and its dependencies. SIGINT/SIGTERM abort the running tools; the build's
 * work directory is removed and the previous outputs stay as they were.
 */
export async function buildCommand(opts: BuildCommandOptions): Promise<void> {
  // Before anything is written: files kiln writes into the image (/etc/hostname...), the work
  // tree itself and what tools and scripts create get their modes from the umask, which is the
  // builder's (077 or 027 on hardened hosts) unless kiln fixes it. 022 is what images expect.
  process.umask(0o022);
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    // Once is enough: a rootless build's Ctrl-C comes from the terminal and again from the outer CLI.
    if (abort.signal.aborted) return;
    process.stderr.write(`kiln: ${sig}: stopping the build\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const results = await build(project, {
      preset: opts.preset,
      force: opts.force,
      noDeps: opts.deps === false,
      relock: opts.relock,
      signal: abort.signal,
      log: opts.verbose ? (line) => process.stderr.write(`  ${line}\n`) : undefined,
      step: (preset, what) => process.stderr.write(`${preset}: ${what}\n`),
      identity: buildIdentity(),
    });
    for (const r of results) {
      if (r.status === 'built') process.stdout.write(`${r.preset}: built ${r.outputs.join(', ')} in ${r.seconds.toFixed(1)}s\n`);
    }
  } catch (e) {
    if (abort.signal.aborted && e instanceof BuildError) {
      process.exitCode = 130;
      throw new BuildError('interrupted; previous outputs are unchanged');
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
