import { runScript } from '../config-scripts';
import { loadProject, summaryJson, summaryText, type Override } from '@kiln/config';
import { reportWarnings } from '../report';

export function summaryCommand(opts: { directory: string; json?: boolean; overrides?: readonly Override[] }): void {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  process.stdout.write(opts.json ? `${JSON.stringify(summaryJson(project), null, 2)}\n` : summaryText(project));
}
