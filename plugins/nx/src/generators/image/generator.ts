/**
 * `nx g @kiln/nx:image NAME`: scaffolds an image the plugin picks up at once.
 *  - without --project, a new project in DIRECTORY (default NAME) with its mkosi.conf (or
 *    kiln.toml): the Nx project NAME;
 *  - with --project P, a preset in P's mkosi.images/NAME/ (kiln.images/NAME/ for kiln.toml
 *    projects): the Nx project `<P>-NAME`, built before P's main image like every preset.
 * Every value written is checked with the settings table first, so a generated config always loads.
 * It writes that one config file and nothing else.
 *
 * Not named `preset`: `nx g` treats a generator of that name as a workspace preset and writes
 * apps/.gitkeep and libs/.gitkeep before running it (nx/src/command-line/generate/generate.js).
 */
import * as path from 'node:path';
import { formatFiles, glob, logger, type Tree } from '@nx/devkit';
import { ConfigError, distributionFacts, findSetting, parseIni, parseToml, SECTIONS, ValueError, type ParseContext, type SettingDef } from '@kiln/config';
import { INNER } from '../../plugin';

export interface ImageOptions {
  name: string;
  project?: string;
  directory?: string;
  syntax?: 'mkosi' | 'toml';
  distribution?: string;
  release?: string;
  format?: string;
  packages?: string | string[];
  baseTree?: string;
  skipFormat?: boolean;
}

/** mkosi's image name rule (no path separators, no leading dot). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Settings to write (key, value). No section here: each setting's section comes from the settings
 * table when the file is rendered, so a setting cannot land in the wrong one, and each section is
 * written once however the options that fill it are combined.
 */
type Entries = [key: string, value: string | string[]][];

interface KilnProject {
  dir: string;
  syntax: 'mkosi' | 'toml';
  /** The file holding the main image's settings. */
  conf: string;
}

export async function imageGenerator(tree: Tree, options: ImageOptions): Promise<void> {
  const name = options.name?.trim();
  if (!name || !NAME.test(name)) throw new Error(`kiln: "${options.name}" is not an image name: use letters, digits, "_", "." and "-", starting with a letter or digit`);
  const packages = (Array.isArray(options.packages) ? options.packages : (options.packages ?? '').split(/[\s,]+/)).filter(Boolean);

  if (options.project) {
    const project = findProject(tree, options.project);
    if (options.directory) throw new Error('kiln: --directory is for a new project; a preset lives in its project\'s mkosi.images/');
    addPreset(tree, project, name, options, packages);
  } else {
    if (options.baseTree) throw new Error('kiln: --baseTree names another preset of the same project: give --project too');
    newProject(tree, name, options, packages);
  }
  if (!options.skipFormat) await formatFiles(tree);
}

export default imageGenerator;

function newProject(tree: Tree, name: string, options: ImageOptions, packages: string[]): void {
  const dir = path.posix.normalize(options.directory ?? name).replace(/\/$/, '');
  if (dir.startsWith('..') || path.posix.isAbsolute(dir)) throw new Error(`kiln: --directory ${dir} must be inside the workspace`);
  if (path.posix.basename(dir) !== name) {
    throw new Error(`kiln: a project's main image is named after its directory: use --directory ${path.posix.join(path.posix.dirname(dir), name)}, or name the image ${path.posix.basename(dir)}`);
  }
  if (INNER.test(dir)) throw new Error(`kiln: ${dir} is inside another project's directories; use --project to add a preset to it`);
  const syntax = options.syntax ?? 'mkosi';
  for (const f of ['mkosi.conf', 'kiln.toml', 'mkosi/mkosi.conf']) {
    if (tree.exists(path.posix.join(dir, f))) throw new Error(`kiln: ${dir} is already a kiln project (${f}); add a preset to it with --project ${dir}`);
  }
  const distribution = options.distribution ?? 'debian';
  // A new project pins the distribution's current stable release when it has one (Debian's,
  // Ubuntu's LTS), so the first build is reproducible: mkosi's own default for debian is
  // `testing`, a moving target.
  const release = options.release ?? distributionFacts(distribution)?.stableRelease;
  const entries: Entries = [['Distribution', distribution]];
  if (release) entries.push(['Release', release]);
  entries.push(['Format', options.format ?? 'tar']);
  if (packages.length) entries.push(['Packages', packages]);
  const file = path.posix.join(dir, syntax === 'toml' ? 'kiln.toml' : 'mkosi.conf');
  tree.write(file, render(syntax, entries, file, `The main image of ${dir} (Nx project ${name}).`));
}

function addPreset(tree: Tree, project: KilnProject, name: string, options: ImageOptions, packages: string[]): void {
  const images = path.posix.join(project.dir, project.syntax === 'toml' ? 'kiln.images' : 'mkosi.images');
  const ext = project.syntax === 'toml' ? '.toml' : '.conf';
  const conf = project.syntax === 'toml' ? 'kiln.toml' : 'mkosi.conf';
  for (const f of [path.posix.join(images, name), `${path.posix.join(images, name)}${ext}`]) {
    if (tree.exists(f)) throw new Error(`kiln: the preset ${name} exists already: ${f}`);
  }
  const entries: Entries = [];
  if (options.distribution) entries.push(['Distribution', options.distribution]);
  if (options.release) entries.push(['Release', options.release]);
  refuseUniversal(entries, project);
  if (options.baseTree) {
    const base = options.baseTree;
    if (![path.posix.join(images, base), `${path.posix.join(images, base)}${ext}`].some((f) => tree.exists(f))) {
      throw new Error(`kiln: --baseTree ${base}: ${project.dir} has no preset ${base} (in ${images}/)`);
    }
    entries.push(['Dependencies', [base]], ['BaseTrees', [`%O/${base}`]]);
  }
  entries.push(['Format', options.format ?? 'tar']);
  if (packages.length) entries.push(['Packages', packages]);
  const file = path.posix.join(images, name, conf);
  tree.write(file, render(project.syntax, entries, file, `Preset ${name} of ${project.dir}.`));

  const deps = mainDependencies(tree, project.conf);
  if (deps && !deps.includes(name)) {
    logger.warn(`kiln: ${project.conf} lists Dependencies= explicitly; add ${name} there if the main image needs it built first.`);
  }
}

/**
 * Universal settings (Distribution=, Release=, ...) may only be set in the main image: a preset
 * setting one does not load, so it is refused here, with where to set it instead.
 */
function refuseUniversal(entries: Entries, project: KilnProject): void {
  const universal = entries.find(([key]) => findSetting(key)?.scope === 'universal');
  if (universal) throw new Error(`kiln: ${universal[0]}= is universal in mkosi: presets inherit the project's; set it in ${project.conf}`);
}

/** The main image's explicit Dependencies= (null when it relies on mkosi's default: every preset). */
function mainDependencies(tree: Tree, file: string): string[] | null {
  const text = tree.read(file, 'utf-8') ?? '';
  const source = file.endsWith('.toml') ? parseToml(text, file) : parseIni(text, file);
  const kind = (findSetting('Dependencies') as SettingDef<string[]>).kind;
  const ctx: ParseContext = { dir: path.posix.dirname(file), expand: (t) => t, env: {} };
  let deps: string[] | null = null;
  for (const a of source.sections.flatMap((s) => s.assignments).filter((a) => a.key === 'Dependencies')) {
    const items = a.items ?? (a.value === '' ? [] : kind.parse(a.value, ctx));
    deps = a.value === '' && !a.items ? [] : [...(deps ?? []), ...items];
  }
  return deps;
}

/** A project given by directory, or by the Nx name of its main image (the directory's basename). */
function findProject(tree: Tree, wanted: string): KilnProject {
  const projects: KilnProject[] = [];
  for (const f of glob(tree, ['**/mkosi.conf', '**/kiln.toml'])) {
    let dir = path.posix.dirname(f);
    if (INNER.test(dir)) continue;
    if (path.posix.basename(dir) === 'mkosi' && f.endsWith('mkosi.conf')) dir = path.posix.dirname(dir);
    projects.push({ dir, syntax: f.endsWith('.toml') ? 'toml' : 'mkosi', conf: f });
  }
  const clean = wanted.replace(/\/$/, '');
  const hit = projects.find((p) => p.dir === clean) ?? projects.find((p) => path.posix.basename(p.dir) === clean);
  if (hit) return hit;
  const known = projects.map((p) => `${path.posix.basename(p.dir)} (${p.dir})`).join(', ') || 'none';
  throw new Error(`kiln: no kiln project "${wanted}" in this workspace (projects: ${known}); leave out --project to create one`);
}

/** Renders the entries as mkosi INI or kiln.toml, after checking each value with the settings table. */
function render(syntax: 'mkosi' | 'toml', entries: Entries, file: string, title: string): string {
  const ctx: ParseContext = { dir: path.posix.dirname(file), expand: (t) => t, env: {} };
  for (const [key, value] of entries) validate(key, value, ctx);
  const lines = [`# ${title}`];
  for (const [section, body] of bySection(syntax, entries)) lines.push('', `[${section}]`, ...body);
  return `${lines.join('\n')}\n`;
}

/** Throws, naming the setting and value, unless the settings table accepts every value. */
function validate(key: string, value: string | string[], ctx: ParseContext): void {
  const setting = findSetting(key) as SettingDef;
  for (const v of Array.isArray(value) ? value : [value]) {
    try {
      setting.kind.parse(v, ctx);
    } catch (e) {
      if (e instanceof ValueError || e instanceof ConfigError) throw new Error(`kiln: ${key}=${v}: ${e.message}`);
      throw e;
    }
  }
}

/**
 * Each section's lines, sections in mkosi's order ([Config], [Distribution], [Output],
 * [Content], ...): a section is a map key, so it is written once. In mkosi INI a repeated section
 * is merely untidy, but in TOML a repeated table is an error.
 */
function bySection(syntax: 'mkosi' | 'toml', entries: Entries): Map<string, string[]> {
  const sections = new Map<string, string[]>(SECTIONS.map((s) => [s, []]));
  for (const [key, value] of entries) sections.get((findSetting(key) as SettingDef).section)!.push(line(syntax, key, value));
  return new Map([...sections].filter(([, body]) => body.length));
}

/** One setting: `Key=value` (a list continued on indented lines) or `Key = <TOML value>`. */
function line(syntax: 'mkosi' | 'toml', key: string, value: string | string[]): string {
  if (syntax === 'toml') return `${key} = ${JSON.stringify(value)}`;
  return `${key}=${Array.isArray(value) ? value.join('\n' + ' '.repeat(key.length + 1)) : value}`;
}
