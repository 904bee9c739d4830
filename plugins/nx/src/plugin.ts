/**
 * The Nx plugin. Graph creation reads project facts only (@kiln/config's facts.ts, cached per
 * project and checked against the files it read), never the engine.
 *
 * Naming: the main image of the project in DIR is the Nx project named after DIR's basename
 * (examples/system -> `system`), rooted at DIR; each preset NAME is the project `<main>-NAME`,
 * rooted at its own definition, mkosi.images/NAME/ or mkosi.images/NAME.conf, so that a change
 * there makes only that preset (and the presets using it) affected. Every project gets an
 * `image` target (renamable with the `targetName` option), run by the `@kiln/nx:image` executor:
 * `kiln build` of that preset alone; Nx orders presets through the dependency edges and caches
 * each one. Inputs: see inputs.ts. A preset's root may be a file, or a path that does not exist
 * (the generated presets): its named inputs say Nx's with `{workspaceRoot}` paths (named-inputs.ts).
 *
 * A project whose config cannot be read is shown (file:line: message) on every graph
 * computation and keeps one failing target; every other project keeps its targets. Warnings (an
 * unknown setting) are shown once per graph computation.
 */
import * as path from 'node:path';
import type { CreateDependencies, CreateNodesContextV2, CreateNodesResult, CreateNodesV2, ProjectConfiguration, RawProjectGraphDependency, TargetConfiguration } from '@nx/devkit';
import { isFactsError, projectFacts, type PresetFacts, type ProjectFacts } from '@kiln/config/dist/facts';
import { configInputs, imageInputs, imageOutputs } from './inputs';
import { presetNamedInputs } from './named-inputs';
import { readVariants, type Variant, type VariantsOption } from './variants';
import { runScript } from '@kiln/cli/dist/config-scripts';

export const name = '@kiln/nx';

/**
 * Nx's logger, loaded when there is something to say: @nx/devkit's entry point costs about 90 ms
 * to load in the plugin worker, a tenth of the whole graph computation, and a workspace whose
 * configs read cleanly never needs it.
 */
function warn(message: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('@nx/devkit') as typeof import('@nx/devkit')).logger.warn(message);
}

export interface KilnPluginOptions {
  /** Name of the cacheable build target of each preset (default: image). */
  targetName?: string;
  /** Name of the target printing the project's summary (default: summary). */
  summaryTargetName?: string;
  /** Name of the target removing a preset's outputs (default: clean). */
  cleanTargetName?: string;
  /** Name of the target writing a preset's kiln.lock (default: lock). */
  lockTargetName?: string;
  /** Name of the target booting a bootable preset in qemu (default: vm). */
  vmTargetName?: string;
  /**
   * Named sets of kiln build's settings (`{ "debug": ["--profile", "debug"] }`): every preset the
   * variant reaches gets `<targetName>-<variant>` (and `<vmTargetName>-<variant>` when bootable),
   * cached with its own hash. See variants.ts.
   */
  variants?: VariantsOption;
  /** Profiles, each a variant named after it: `["debug"]` is `{ "debug": ["--profile", "debug"] }`. */
  profiles?: string[];
}

type Options = Required<Omit<KilnPluginOptions, 'variants' | 'profiles'>>;

export function normalizeOptions(o: KilnPluginOptions | undefined): Options {
  return {
    targetName: o?.targetName ?? 'image',
    summaryTargetName: o?.summaryTargetName ?? 'summary',
    cleanTargetName: o?.cleanTargetName ?? 'clean',
    lockTargetName: o?.lockTargetName ?? 'lock',
    vmTargetName: o?.vmTargetName ?? 'vm',
  };
}

/** Config files that belong to a project read from a parent directory, never projects themselves. */
export const INNER = /(^|\/)(mkosi\.tools\.conf|mkosi\.images|mkosi\.presets|mkosi\.conf\.d|mkosi\.profiles|mkosi\.local|kiln\.images|kiln\.conf\.d|kiln\.profiles|mkosi\.output|node_modules)(\/|$)/;

/** The project directory a config file makes, or null for a file read as part of another project. */
export function projectDir(file: string): string | null {
  let dir = path.dirname(file);
  if (INNER.test(dir)) return null;
  // mkosi also reads a project from DIR/mkosi/mkosi.conf: the project is DIR.
  if (path.basename(dir) === 'mkosi' && path.basename(file) === 'mkosi.conf') dir = path.dirname(dir);
  return dir;
}

export const createNodes: CreateNodesV2<KilnPluginOptions> = [
  '**/{mkosi.conf,kiln.toml}',
  async (configFiles, rawOptions, context) => {
    const options = normalizeOptions(rawOptions);
    const { variants, warnings } = readVariants(rawOptions?.variants, rawOptions?.profiles);
    for (const w of warnings) warn(`kiln: ${w}`);
    const results: [string, CreateNodesResult][] = [];
    for (const file of configFiles) {
      const dir = projectDir(file);
      if (dir === null) continue;
      const facts = projectFacts(path.join(context.workspaceRoot, dir), { runScript });
      if (isFactsError(facts)) {
        // Reported to Nx, any error fails every command of the workspace (measured with Nx 24:
        // "Failed to process project graph", even with partial results). So the project stays,
        // with targets that fail with the message, and every Nx command shows it once.
        const message = `kiln: ${relativeMessage(facts.error.message, context.workspaceRoot)}`;
        warn(`${message} (${dir}'s targets fail until this is fixed; every other project works)`);
        results.push([file, { projects: brokenProject(dir, message, options) }]);
        continue;
      }
      for (const w of facts.warnings) {
        warn(`kiln: ${path.relative(context.workspaceRoot, w.file)}${w.line ? `:${w.line}` : ''}: warning: ${w.message}`);
      }
      const projects = createProjects(facts, dir, options, context);
      for (const variant of variants) addVariant(projects, facts, variant, dir, options, context);
      results.push([file, { projects }]);
    }
    return results;
  },
];

/**
 * A project whose configuration cannot be read: named after its directory, with an image target
 * that is never cached and fails with the message (kiln build reads the configuration again).
 */
function brokenProject(dir: string, message: string, options: Options): Record<string, ProjectConfiguration> {
  const name = path.basename(dir);
  const image: TargetConfiguration = {
    executor: '@kiln/nx:image',
    options: { directory: dir, preset: name },
    cache: false,
    metadata: { description: message, technologies: ['kiln'] },
  };
  return { [dir]: { name, root: dir, tags: ['kiln', 'kiln:broken'], targets: { [options.targetName]: image }, metadata: { description: message, technologies: ['kiln'] } } };
}

/** Nx 21-24 look for createNodesV2 or createNodes; both are the array form. */
export const createNodesV2 = createNodes;

/** Error messages name files by absolute path; in Nx's output they read better from the workspace. */
function relativeMessage(message: string, workspaceRoot: string): string {
  return message.split(`${workspaceRoot}/`).join('');
}

export function projectName(facts: ProjectFacts, preset: PresetFacts): string {
  const main = facts.presets.find((p) => p.main)!;
  return preset.main ? preset.name : `${main.name}-${preset.name}`;
}

/** mkosi.images/NAME/ or mkosi.images/NAME.conf, relative to the workspace. */
function presetRoot(workspaceRoot: string, preset: PresetFacts, dir: string): string {
  return preset.main ? dir : path.relative(workspaceRoot, preset.source);
}

const GENERATED: Record<string, string> = { tools: 'the tools tree of ToolsTree=default', 'default-initrd': 'the default initrd of the bootable presets without Initrds=' };

function describe(preset: PresetFacts): string {
  if (preset.main) return `kiln image ${preset.name}`;
  return preset.generated ? `kiln preset ${preset.name}, generated: ${GENERATED[preset.generated] ?? preset.generated}` : `kiln preset ${preset.name}`;
}

/** What createDependencies needs of a preset, in its project's metadata. */
interface KilnMetadata {
  /** The projects of the presets built first. */
  dependencies: string[];
}

export function createProjects(facts: ProjectFacts, dir: string, options: Options, context: Pick<CreateNodesContextV2, 'workspaceRoot' | 'nxJsonConfiguration'>): Record<string, ProjectConfiguration> {
  const projects: Record<string, ProjectConfiguration> = {};
  for (const preset of facts.presets) {
    const root = presetRoot(context.workspaceRoot, preset, dir);
    const pname = projectName(facts, preset);
    const cli = (command: string, cliOptions: Record<string, unknown>, description: string) => cliTarget(dir, command, cliOptions, description);
    const image = imageTarget(preset, dir, options.targetName, context.workspaceRoot);
    const lock = cli('lock', { preset: preset.name }, `Resolve the packages of ${pname} into its kiln.lock (exact versions and checksums)`);
    // Not cached: a lock records what the mirror has now. Its inputs are the config files, so
    // that `nx show projects --affected` sees a config change (see inputs.ts).
    lock.inputs = configInputs(preset, facts.presets.find((p) => p.main)!, context.workspaceRoot);
    const targets: Record<string, TargetConfiguration> = {
      [options.targetName]: image,
      [options.cleanTargetName]: cli('clean', { preset: preset.name }, `Remove the outputs of ${pname}`),
      [options.lockTargetName]: lock,
    };
    if (preset.bootable) targets[options.vmTargetName] = vmTarget(dir, preset.name, pname, options.targetName, []);
    if (preset.main) targets[options.summaryTargetName] = cli('summary', {}, `Show every preset of ${dir} with its resolved settings`);
    projects[root] = presetProject(facts, preset, root, targets, context);
  }
  return projects;
}

function presetProject(facts: ProjectFacts, preset: PresetFacts, root: string, targets: Record<string, TargetConfiguration>, context: Pick<CreateNodesContextV2, 'nxJsonConfiguration'>): ProjectConfiguration {
  const byName = new Map(facts.presets.map((p) => [p.name, p]));
  const kiln: KilnMetadata = { dependencies: preset.dependencies.map((d) => projectName(facts, byName.get(d)!)) };
  return {
    name: projectName(facts, preset),
    root,
    // A preset's root may be a file or not exist: see named-inputs.ts. The main image's is its directory.
    ...(preset.main ? {} : { namedInputs: presetNamedInputs(root, context.nxJsonConfiguration?.namedInputs) }),
    tags: ['kiln', `kiln:${preset.format}`, ...(preset.generated ? ['kiln:generated'] : [])],
    targets,
    metadata: { description: describe(preset), technologies: ['kiln'], targetGroups: { kiln: Object.keys(targets) }, kiln },
  };
}

/** kiln build of one preset, cached; `args` are a variant's settings (none for `image`). */
function imageTarget(preset: PresetFacts, dir: string, targetName: string, workspaceRoot: string, args: string[] = [], variant?: string): TargetConfiguration {
  const options = { directory: dir, preset: preset.name, ...(args.length ? { args } : {}) };
  return {
    executor: '@kiln/nx:image',
    options,
    cache: true,
    inputs: imageInputs(preset, dir, workspaceRoot, args),
    outputs: imageOutputs(preset, workspaceRoot),
    ...(preset.dependencies.length ? { dependsOn: [`^${targetName}`] } : {}),
    metadata: {
      description: `Build the ${preset.main ? 'main image' : `preset ${preset.name}`} of ${dir} (${preset.format}) with kiln${variant ? `, variant ${variant} (${args.join(' ')})` : ''}`,
      technologies: ['kiln', 'mkosi'],
      help: { command: 'npx --no -- kiln build --help', example: { options } },
    },
  };
}

/**
 * Never cached, so no hash is needed: no inputs, and Nx does not hash its default named inputs of
 * this project and of every project it depends on (dozens of presets for `summary`) for nothing.
 */
function cliTarget(dir: string, command: string, cliOptions: Record<string, unknown>, description: string): TargetConfiguration {
  return {
    executor: '@kiln/nx:kiln',
    options: { command, directory: dir, ...cliOptions },
    cache: false,
    inputs: [],
    metadata: { description, technologies: ['kiln'] },
  };
}

/** Never cached (a boot is not a build), after the preset's own image target: `nx run system:vm`. */
function vmTarget(dir: string, preset: string, pname: string, imageTargetName: string, args: string[]): TargetConfiguration {
  const vm = cliTarget(dir, 'vm', { preset, ...(args.length ? { args } : {}) }, `Boot ${pname}${args.length ? ` (${args.join(' ')})` : ''} in qemu (kiln vm), its serial console on the terminal`);
  vm.dependsOn = [imageTargetName];
  return vm;
}

/**
 * A variant's targets, added to `projects` (createProjects' result for the same directory): the
 * project's facts read with the variant's settings, each preset they reach getting
 * `<targetName>-<variant>` (and a vm target when bootable). A preset only the variant reaches gets
 * a project of its own, with only its variant targets. The edges in `kiln.dependencies` become
 * the union over the variants: an edge the default configuration lacks only orders (see
 * createDependencies); Nx runs a variant target after its dependencies' targets of the same
 * variant (`^image-debug`).
 *
 * A variant that is not usable (its arguments, or the configuration read with them) keeps one
 * target on the main image that fails with the message; every other target works.
 */
export function addVariant(projects: Record<string, ProjectConfiguration>, facts: ProjectFacts, variant: Variant, dir: string, options: Options, context: Pick<CreateNodesContextV2, 'workspaceRoot' | 'nxJsonConfiguration'>): void {
  const targetName = `${options.targetName}-${variant.name}`;
  const mainProject = projects[dir]!;
  const broken = (message: string, error?: string) => {
    mainProject.targets![targetName] = {
      executor: '@kiln/nx:image',
      // A configuration the settings break: kiln build says why. Settings that cannot be read: `error`.
      options: { directory: dir, preset: mainProject.name!, ...(error ? { error } : { args: variant.args }) },
      cache: false,
      metadata: { description: message, technologies: ['kiln'] },
    };
    (mainProject.metadata!.targetGroups as Record<string, string[]>).kiln.push(targetName);
  };
  if (variant.error) return broken(variant.error, variant.error);
  const vfacts = projectFacts(path.join(context.workspaceRoot, dir), { runScript, overrides: variant.overrides });
  if (isFactsError(vfacts)) {
    const message = `kiln: ${relativeMessage(vfacts.error.message, context.workspaceRoot)} (variant ${variant.name}: ${variant.args.join(' ')})`;
    warn(`${message} (${dir}'s ${targetName} targets fail until this is fixed; every other target works)`);
    return broken(message);
  }
  for (const preset of vfacts.presets) {
    const root = presetRoot(context.workspaceRoot, preset, dir);
    const pname = projectName(vfacts, preset);
    const targets: Record<string, TargetConfiguration> = { [targetName]: imageTarget(preset, dir, targetName, context.workspaceRoot, variant.args, variant.name) };
    if (preset.bootable) targets[`${options.vmTargetName}-${variant.name}`] = vmTarget(dir, preset.name, pname, targetName, variant.args);
    const project = projects[root];
    if (!project) {
      projects[root] = presetProject(vfacts, preset, root, targets, context);
      continue;
    }
    Object.assign(project.targets!, targets);
    const metadata = project.metadata as { targetGroups: Record<string, string[]>; kiln: KilnMetadata };
    metadata.targetGroups.kiln.push(...Object.keys(targets));
    const byName = new Map(vfacts.presets.map((p) => [p.name, p]));
    const deps = preset.dependencies.map((d) => projectName(vfacts, byName.get(d)!));
    metadata.kiln.dependencies = [...new Set([...metadata.kiln.dependencies, ...deps])];
  }
}

/**
 * Preset -> preset edges: Dependencies=, and reading another preset's output (BaseTrees=%O/base).
 * createNodes wrote them into each project's metadata (`kiln.dependencies`, from the same facts
 * that made the project), so they come from the projects Nx passes here, never from what
 * createNodes left in this process (Nx may run the two in different processes), and cost no
 * file system access: reading the facts again here cost as much as createNodes itself.
 *
 * They are `implicit` edges, not `static` ones: Nx keeps a static edge with the file it names
 * (sourceFile) and, while that file is unchanged, restores the edges it had from its cache and
 * drops the ones returned now (nx 24, build-project-graph.ts). An edge added or removed by a
 * drop-in, an included file, the main image's config or a gitignored mkosi.local.conf would stay
 * wrong until `nx reset`. Implicit edges are taken as returned on every graph computation.
 */
export const createDependencies: CreateDependencies<KilnPluginOptions> = async (_options, context) => {
  const deps: RawProjectGraphDependency[] = [];
  const names = new Set(Object.values(context.projects).map((p) => p.name));
  for (const project of Object.values(context.projects)) {
    const kiln = (project.metadata as { kiln?: KilnMetadata } | undefined)?.kiln;
    if (!kiln || !project.name) continue;
    for (const target of kiln.dependencies) {
      // An edge to a project Nx does not have fails every Nx command: leave it to kiln build's message.
      if (names.has(target)) deps.push({ source: project.name, target, type: 'implicit' } as RawProjectGraphDependency);
    }
  }
  return deps;
};
