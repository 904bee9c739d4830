/**
 * The Nx plugin. Graph creation reads configuration only (@kiln/config), never the engine.
 *
 * Naming: the main image of the project in DIR is the Nx project named after DIR's basename
 * (examples/system -> `system`), rooted at DIR; each preset NAME is the project `<main>-NAME`,
 * rooted at its own definition, mkosi.images/NAME/ or mkosi.images/NAME.conf, so that a change
 * there makes only that preset (and the presets using it) affected. Every project gets an
 * `image` target (renamable with the `targetName` option) that runs `kiln build` for that preset
 * alone; Nx orders presets through the dependency edges and caches each one.
 *
 * Inputs (see inputs.ts): the preset's config files, trees and scripts as filesets (gitignored
 * files included), a runtime `kiln-digest` covering what Nx's file hash cannot see (modes,
 * symlinks, empty directories, trees outside the workspace) plus the resolved settings and
 * kiln's version, the environment the build reads, and the outputs of the presets it reads.
 */
import * as path from 'node:path';
import type { CreateDependencies, CreateNodesContextV2, CreateNodesV2, ProjectConfiguration, RawProjectGraphDependency, TargetConfiguration } from '@nx/devkit';
import { loadProject, type Preset, type Project } from '@kiln/config';
import { imageInputs, imageOutputs, kilnBin } from './inputs';

export const name = '@kiln/nx';

export interface KilnPluginOptions {
  /** Name of the cacheable build target of each preset (default: image). */
  targetName?: string;
  /** Name of the target printing the project's summary (default: summary). */
  summaryTargetName?: string;
  /** Name of the target removing a preset's outputs (default: clean). */
  cleanTargetName?: string;
  /** Name of the target writing a preset's kiln.lock (default: lock). */
  lockTargetName?: string;
}

type Options = Required<KilnPluginOptions>;

export function normalizeOptions(o: KilnPluginOptions | undefined): Options {
  return {
    targetName: o?.targetName ?? 'image',
    summaryTargetName: o?.summaryTargetName ?? 'summary',
    cleanTargetName: o?.cleanTargetName ?? 'clean',
    lockTargetName: o?.lockTargetName ?? 'lock',
  };
}

/** Config files that belong to a project read from a parent directory, never projects themselves. */
export const INNER = /(^|\/)(mkosi\.images|mkosi\.presets|mkosi\.conf\.d|mkosi\.profiles|mkosi\.local|kiln\.images|kiln\.conf\.d|kiln\.profiles|mkosi\.output|node_modules)(\/|$)/;

/** Projects read during this graph computation, for createDependencies (same process). */
const loaded = new Map<string, Project>();

export const createNodes: CreateNodesV2<KilnPluginOptions> = [
  '**/{mkosi.conf,kiln.toml}',
  async (configFiles, rawOptions, context) => {
    const options = normalizeOptions(rawOptions);
    const results: Awaited<ReturnType<CreateNodesV2[1]>> = [];
    for (const file of configFiles) {
      let dir = path.dirname(file);
      if (INNER.test(dir)) continue;
      // mkosi also reads a project from DIR/mkosi/mkosi.conf: the project is DIR.
      if (path.basename(dir) === 'mkosi' && file.endsWith('mkosi.conf')) dir = path.dirname(dir);
      const project = loadWorkspaceProject(context, dir);
      results.push([file, { projects: createProjects(project, dir, options, context) }]);
    }
    return results;
  },
];

/** Nx 21-24 look for createNodesV2 or createNodes; both are the array form. */
export const createNodesV2 = createNodes;

function loadWorkspaceProject(context: CreateNodesContextV2, dir: string): Project {
  const abs = path.join(context.workspaceRoot, dir);
  try {
    const project = loadProject(abs);
    loaded.set(dir, project);
    return project;
  } catch (e) {
    // Nx shows this message as the reason the graph could not be created.
    throw new Error(`kiln: ${(e as Error).message}`);
  }
}

export function projectName(project: Project, preset: Preset): string {
  return preset.main ? project.main.name : `${project.main.name}-${preset.name}`;
}

/** mkosi.images/NAME/ or mkosi.images/NAME.conf, relative to the workspace. */
function presetRoot(context: { workspaceRoot: string }, project: Project, preset: Preset, dir: string): string {
  return preset.main ? dir : path.relative(context.workspaceRoot, preset.source);
}

export function createProjects(project: Project, dir: string, options: Options, context: { workspaceRoot: string }): Record<string, ProjectConfiguration> {
  const projects: Record<string, ProjectConfiguration> = {};
  const kiln = kilnBin(context.workspaceRoot, 'main.js');
  for (const preset of project.presets) {
    const root = presetRoot(context, project, preset, dir);
    const pname = projectName(project, preset);
    const format = preset.config.Format as string;
    const image: TargetConfiguration = {
      executor: 'nx:run-commands',
      options: { command: `node ${kiln} build -C ${dir} --preset ${preset.name} --force --no-deps`, cwd: '.' },
      cache: true,
      inputs: imageInputs(project, preset, dir, context.workspaceRoot),
      outputs: imageOutputs(project, preset, context.workspaceRoot),
      ...(preset.dependencies.length ? { dependsOn: [`^${options.targetName}`] } : {}),
      metadata: {
        description: `Build the ${preset.main ? 'main image' : `preset ${preset.name}`} of ${dir} (${format}) with kiln`,
        technologies: ['kiln', 'mkosi'],
        help: { command: `node ${kiln} build --help`, example: { options: { verbose: true } } },
      },
    };
    const targets: Record<string, TargetConfiguration> = {
      [options.targetName]: image,
      [options.cleanTargetName]: {
        executor: 'nx:run-commands',
        options: { command: `node ${kiln} clean -C ${dir} --preset ${preset.name}`, cwd: '.' },
        cache: false,
        metadata: { description: `Remove the outputs of ${pname}`, technologies: ['kiln'] },
      },
      // Not cached: a lock records what the mirror has now.
      [options.lockTargetName]: {
        executor: 'nx:run-commands',
        options: { command: `node ${kiln} lock -C ${dir} --preset ${preset.name}`, cwd: '.' },
        cache: false,
        metadata: { description: `Resolve the packages of ${pname} into its kiln.lock (exact versions and checksums)`, technologies: ['kiln'] },
      },
    };
    if (preset.main) {
      targets[options.summaryTargetName] = {
        executor: 'nx:run-commands',
        options: { command: `node ${kiln} summary -C ${dir}`, cwd: '.' },
        cache: false,
        metadata: { description: `Show every preset of ${dir} with its resolved settings`, technologies: ['kiln'] },
      };
    }
    projects[root] = {
      name: pname,
      root,
      tags: ['kiln', `kiln:${format}`],
      targets,
      metadata: { description: `kiln ${preset.main ? 'image' : 'preset'} ${preset.name}`, technologies: ['kiln'], targetGroups: { kiln: Object.keys(targets) } },
    };
  }
  return projects;
}

/** Preset -> preset edges: Dependencies=, and reading another preset's output (BaseTrees=%O/base). */
export const createDependencies: CreateDependencies<KilnPluginOptions> = async (_options, context) => {
  const deps: RawProjectGraphDependency[] = [];
  for (const [dir, project] of loaded) {
    // Skip projects excluded from this plugin (nx.json "exclude") or gone since createNodes.
    if (!Object.values(context.projects).some((p) => p.root === dir)) continue;
    for (const preset of project.presets) {
      const source = projectName(project, preset);
      // Nx wants a file of the source project: the first config file the preset was read from.
      const sourceFile = path.relative(context.workspaceRoot, preset.files[0] ?? preset.source);
      for (const d of preset.dependencies) {
        const target = projectName(project, project.presets.find((p) => p.name === d.preset) as Preset);
        deps.push({ source, target, type: 'static', sourceFile } as RawProjectGraphDependency);
      }
    }
  }
  return deps;
};
