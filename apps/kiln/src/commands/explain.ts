import { runScript } from '../config-scripts';
import * as path from 'node:path';
import { type Override, type Project, currentManifest, diffIsEmpty, diffManifests, formatExplanation, invalidManifestMessage, loadProject, manifestPath, readManifest } from '@kiln/config';
import { BuildError, toolsIdentity } from '@kiln/engine';
import { reportWarnings } from '../report';
import { buildIdentity } from '../version';

/**
 * `kiln explain`: what changed in a preset's inputs since its last build, from the manifest that
 * build left beside its outputs: settings, files, packages, the outputs of presets it reads,
 * environment, tools, kiln itself. Exit code 0 whether something changed or not.
 */
export function explainCommand(opts: { directory: string; preset?: string; json?: boolean; against?: string; overrides?: readonly Override[] }): void {
  const project = loadProject(opts.directory, { runScript, overrides: opts.overrides });
  reportWarnings(project.warnings);
  if (opts.against !== undefined) return explainAgainst(project, opts.against, opts);
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

/**
 * `kiln explain --against FILE`: the inputs here compared with a manifest from elsewhere (one a
 * remote cache restored, one saved from CI), to tell why this machine's hash differs from that
 * build's: the same comparison, from that manifest to the inputs here. The preset is the one the
 * manifest names, unless -p says otherwise. A file that is not a kiln manifest is an error.
 */
function explainAgainst(project: Project, file: string, opts: { preset?: string; json?: boolean }): void {
  const read = readManifest(path.resolve(file));
  if (read.status === 'missing') throw new BuildError(`--against ${file}: no such file (give a manifest, OUTPUT.manifest.json, from another build)`);
  if (read.status === 'invalid') throw new BuildError(`--against ${invalidManifestMessage(file, read.reason)}`);
  const name = opts.preset ?? read.manifest.preset;
  const preset = project.presets.find((p) => p.name === name);
  if (!preset) throw new BuildError(`${file} is the manifest of preset "${name}", which this project does not have (accepted: ${project.presets.map((p) => p.name).join(', ')}; -p names one)`);
  const current = currentManifest(project, preset, { identity: buildIdentity(), tools: toolsIdentity(project, preset) });
  const diff = diffManifests(read.manifest, current);
  const out = (s: string) => process.stdout.write(s);
  if (opts.json) out(`${JSON.stringify({ preset: preset.name, against: file, changed: !diffIsEmpty(diff), diff, current }, null, 2)}\n`);
  else out(`${preset.name}: changes from ${file} to the inputs here\n${formatExplanation(diff)}`);
}
