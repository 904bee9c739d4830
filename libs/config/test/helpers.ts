import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadProject, Preset, Project } from '../src';

/** Writes a project into a fresh temp dir: keys are relative paths, values file contents (null: a directory). */
export function makeProject(files: Record<string, string | null>, name = 'proj'): string {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-config-')), name);
  fs.mkdirSync(root, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (content === null) {
      fs.mkdirSync(p, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  return root;
}

export function load(files: Record<string, string | null>, env: Record<string, string> = {}): Project {
  return loadProject(makeProject(files), { env });
}

/** The main image's resolved settings of a project given as files. */
export function main(files: Record<string, string | null>, env: Record<string, string> = {}): Record<string, unknown> {
  return load(files, env).main.config;
}

export function preset(project: Project, name: string): Preset {
  const p = project.presets.find((x) => x.name === name);
  if (!p) throw new Error(`no preset ${name} in ${project.presets.map((x) => x.name).join(', ')}`);
  return p;
}

/** The ConfigError loading the project at `root` raises (an Error when it loads, or throws something else). */
export function loadError(root: string, env: Record<string, string> = {}): ConfigError {
  try {
    loadProject(root, { env });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, but the project loaded');
}

/** The ConfigError a project raises, with its path made relative to the project root. */
export function configError(files: Record<string, string | null>, env: Record<string, string> = {}): { message: string; file: string; line: number } {
  const root = makeProject(files);
  const e = loadError(root, env);
  const file = e.origin ? path.relative(root, e.origin.file) : '';
  return { message: e.reason, file, line: e.origin?.line ?? 0 };
}
