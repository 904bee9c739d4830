import { runScript } from '../config-scripts';
import * as path from 'node:path';
import { loadProject, type Override } from '@kiln/config';
import { lockProject } from '@kiln/engine';
import { reportWarnings } from '../report';

export interface LockCommandOptions {
  directory: string;
  preset?: string;
  verbose?: boolean;
  overrides?: readonly Override[];
}

/** Resolves each preset's packages and writes its kiln.lock; says what changed. */
export async function lockCommand(opts: LockCommandOptions): Promise<void> {
  // As kiln build, before anything is written: kiln.lock (committed, read by every builder) and
  // the package lists it updates in the shared package cache must not get the builder's umask.
  process.umask(0o022);
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  const results = await lockProject(project, {
    preset: opts.preset,
    log: opts.verbose ? (line) => process.stderr.write(`  ${line}\n`) : undefined,
    step: (preset, what) => process.stderr.write(`${preset}: ${what}\n`),
  });
  for (const r of results) {
    const file = path.relative(process.cwd(), r.file) || r.file;
    const c = r.changes;
    const kinds = ['added', 'removed', 'upgraded', 'downgraded', 'changed'] as const;
    const what = !c ? 'new lock' : kinds.filter((k) => c[k].length).map((k) => `${c[k].length} ${k}`).join(', ') || 'unchanged';
    process.stdout.write(`${r.preset}: ${file}: ${r.packages} packages (${what})\n`);
    // Versions go up or down in the order of the distribution's package manager.
    const lines = c ? [...c.added.map((n) => `+ ${n}`), ...c.removed.map((n) => `- ${n}`), ...c.upgraded.map((n) => `~ ${n} (upgraded)`), ...c.downgraded.map((n) => `~ ${n} (downgraded)`), ...c.changed.map((n) => `~ ${n}`)] : [];
    for (const line of lines) process.stdout.write(`  ${line}\n`);
  }
}
