import { runScript } from '../config-scripts';
import * as path from 'node:path';
import { type Override, currentManifest, diffIsEmpty, diffManifests, formatExplanation, invalidManifestMessage, loadProject, manifestPath, readManifest } from '@kiln/config';
import { BuildError, toolsIdentity } from '@kiln/engine';
import { reportWarnings } from '../report';
import { buildIdentity } from '../version';

/**
 * `kiln explain`: what changed in a preset's inputs since its last build, from the manifest that
 * build left beside its outputs: settings, files, packages, the outputs of presets it reads,
 * environment, tools, kiln itself. Exit code 0 whether something changed or not.
 */
export function explainCommand(opts: { directory: string; preset?: string; json?: boolean; overrides?: readonly Override[] }): void {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  const preset = opts.preset ? project.presets.find((p) => p.name === opts.preset) : project.main;
  // main() prints it as "kiln: ..." with exit code 1.
  if (!preset) throw new BuildError(`no preset named "${opts.preset}" (accepted: ${project.presets.map((p) => p.name).join(', ')})`);
  const out = (s: string) => process.stdout.write(s);
  const file = manifestPath(preset);
  if (!file) {
    if (opts.json) out(`${JSON.stringify({ preset: preset.name, manifest: null, previous: 'none', problem: null, changed: null, diff: null }, null, 2)}\n`);
    else out(`${preset.name}: Format=${preset.config.Format} writes no outputs, so no build of it is recorded\n`);
    return;
  }
  const rel = path.relative(project.root, file);
  const current = currentManifest(project, preset, { identity: buildIdentity(), tools: toolsIdentity(project, preset) });
  const previous = readManifest(file);
  const diff = previous.status === 'found' ? diffManifests(previous.manifest, current) : null;
  const problem = previous.status === 'invalid' ? invalidManifestMessage(rel, previous.reason) : null;

  if (opts.json) {
    const changed = diff ? !diffIsEmpty(diff) : null;
    out(`${JSON.stringify({ preset: preset.name, manifest: rel, previous: previous.status, problem, changed, diff, current }, null, 2)}\n`);
  } else if (previous.status === 'missing') {
    out(`${preset.name}: no previous build (no manifest at ${rel})\n`);
  } else if (problem) {
    out(`${problem}\n${preset.name}: no previous build to compare with\n`);
  } else {
    out(`${preset.name}: changes since the last build (${rel})\n${formatExplanation(diff!)}`);
  }
}
