import { runScript } from '../config-scripts';
import { loadProject, mkosiSummaryJson, summaryJson, summaryText, type Override } from '@kiln/config';
import { reportWarnings } from '../report';

/** `--json` alone is kiln's own form (tests and users read it); `--json=mkosi` is mkosi 26's shape (the CLI refuses other forms). */
export function summaryCommand(opts: { directory: string; json?: boolean | 'mkosi'; overrides?: readonly Override[] }): void {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  if (opts.json === 'mkosi') process.stdout.write(`${JSON.stringify(mkosiSummaryJson(project), null, 4)}\n`);
  else process.stdout.write(opts.json ? `${JSON.stringify(summaryJson(project), null, 2)}\n` : summaryText(project));
}
