/**
 * The init and image generators on Nx's in-memory tree; then the generated files are written to
 * disk and read back with @kiln/config and the plugin, as Nx will read them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { logger, readJson, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { loadProject, summaryJson } from '@kiln/config';
import { initGenerator } from '../src/generators/init/generator';
import { imageGenerator } from '../src/generators/image/generator';

/** Writes the tree's files to a temp directory (what `nx g` does when it finishes). */
function flush(tree: Tree): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gen-'));
  for (const change of tree.listChanges()) {
    if (change.type === 'DELETE' || !change.content) continue;
    fs.mkdirSync(path.dirname(path.join(dir, change.path)), { recursive: true });
    fs.writeFileSync(path.join(dir, change.path), change.content);
  }
  return dir;
}

const gen = (tree: Tree, o: Parameters<typeof imageGenerator>[1]) => imageGenerator(tree, { skipFormat: true, ...o });

/** The tree's changes as `TYPE path`, sorted, to compare what a generator wrote exactly. */
const changes = (tree: Tree) => tree.listChanges().map((c) => `${c.type} ${c.path}`).sort();

/** How often each `[Section]` header appears in a file. */
function sectionCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [, name] of text.matchAll(/^\[([^\]]+)\]$/gm)) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('init', () => {
  it('registers the plugin once, ignores mkosi build directories and adds the package', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('.gitignore', 'node_modules\n/mkosi.output/');
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)?.plugins?.filter((p) => (typeof p === 'string' ? p : p.plugin) === '@kiln/nx')).toEqual(['@kiln/nx']);
    const ignore = tree.read('.gitignore', 'utf-8') as string;
    expect(ignore.startsWith('node_modules\n/mkosi.output/\n')).toBe(true);
    expect(ignore.match(/mkosi\.output/g)).toHaveLength(1);
    expect(ignore).toContain('mkosi.cache/\n');
    expect(ignore).toContain('mkosi.local.conf\n');
    expect(readJson(tree, 'package.json').devDependencies['@kiln/nx']).toMatch(/^\^\d+\.\d+\.\d+$/);
  });

  it('writes only the options that differ from the defaults, and keeps an existing registration', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await initGenerator(tree, { skipFormat: true, targetName: 'os-image', cleanTargetName: 'clean' });
    expect(readNxJson(tree)?.plugins).toContainEqual({ plugin: '@kiln/nx', options: { targetName: 'os-image' } });

    const other = createTreeWithEmptyWorkspace();
    const nx = readJson(other, 'nx.json');
    other.write('nx.json', JSON.stringify({ ...nx, plugins: [{ plugin: '@kiln/nx', options: { targetName: 'img' }, exclude: ['vendor/**'] }] }));
    await initGenerator(other, { skipFormat: true, skipPackageJson: true });
    expect(readNxJson(other)?.plugins).toEqual([{ plugin: '@kiln/nx', options: { targetName: 'img' }, exclude: ['vendor/**'] }]);
    expect(readJson(other, 'package.json').devDependencies?.['@kiln/nx']).toBeUndefined();
  });
});

describe('the generator collection', () => {
  // `nx g` writes apps/.gitkeep and libs/.gitkeep before running a generator named `preset`
  // (it takes it for a workspace preset), so no generator may have that name, nor that alias.
  it('has no generator named or aliased preset; image is the one that scaffolds', () => {
    const collection = JSON.parse(fs.readFileSync(path.join(__dirname, '../generators.json'), 'utf8')) as {
      generators: Record<string, { factory: string; schema: string; aliases?: string[] }>;
    };
    expect(Object.keys(collection.generators).sort()).toEqual(['ci', 'image', 'init', 'turbo']);
    for (const g of Object.values(collection.generators)) expect(g.aliases ?? []).not.toContain('preset');
    expect(collection.generators.image.factory).toBe('./dist/generators/image/generator#imageGenerator');
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', collection.generators.image.schema), 'utf8'));
    expect(schema.$id).toBe('KilnImage');
  });
});

describe('image', () => {
  it('creates a new project that loads with the settings asked for', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'appliance', directory: 'images/appliance', packages: 'systemd, udev  dbus' });
    expect(tree.read('images/appliance/mkosi.conf', 'utf-8')).toBe(
      '# The main image of images/appliance (Nx project appliance).\n\n[Distribution]\nDistribution=debian\nRelease=trixie\n\n[Output]\nFormat=tar\n\n[Content]\nPackages=systemd\n         udev\n         dbus\n',
    );
    const project = loadProject(path.join(flush(tree), 'images/appliance'));
    expect(project.main.name).toBe('appliance');
    expect(project.main.config).toMatchObject({ Distribution: 'debian', Release: 'trixie', Format: 'tar', Packages: ['dbus', 'systemd', 'udev'] });
  });

  it('pins Debian\'s current stable release, trixie, when no --release is given', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'plain' });
    expect(tree.read('plain/mkosi.conf', 'utf-8')).toContain('[Distribution]\nDistribution=debian\nRelease=trixie\n');
    await gen(tree, { name: 'plaintoml', syntax: 'toml' });
    expect(tree.read('plaintoml/kiln.toml', 'utf-8')).toContain('[Distribution]\nDistribution = "debian"\nRelease = "trixie"\n');
    const dir = flush(tree);
    expect(loadProject(path.join(dir, 'plain')).main.config.Release).toBe('trixie');
    expect(loadProject(path.join(dir, 'plaintoml')).main.config.Release).toBe('trixie');
  });

  it.each([
    ['a new project', [], { name: 'appliance', directory: 'images/appliance', packages: 'systemd' }, ['CREATE images/appliance/mkosi.conf']],
    ['a new kiln.toml project', [], { name: 'edge', syntax: 'toml' }, ['CREATE edge/kiln.toml']],
    ['a preset', ['os'], { name: 'rootfs', project: 'os', format: 'directory' }, ['CREATE os/mkosi.images/rootfs/mkosi.conf']],
  ] as const)('writes %s\'s config file and nothing else, formatted as nx g does', async (_what, projects, options, written) => {
    const tree = createTreeWithEmptyWorkspace();
    for (const p of projects) await gen(tree, { name: p });
    const before = changes(tree);
    // formatFiles runs as in `nx g`; the empty test workspace asks for oxfmt, which is not installed.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await imageGenerator(tree, { ...options });
    warn.mockRestore();
    expect(changes(tree)).toEqual([...before, ...written].sort());
    expect(tree.exists('apps/.gitkeep') || tree.exists('libs/.gitkeep')).toBe(false);
  });

  it('writes each section once when the options span sections (mkosi INI)', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'os', packages: 'systemd', format: 'directory' });
    await gen(tree, { name: 'base', project: 'os', format: 'directory' });
    await gen(tree, { name: 'app', project: 'os', baseTree: 'base', format: 'tar', packages: 'nginx,curl' });
    const text = tree.read('os/mkosi.images/app/mkosi.conf', 'utf-8') as string;
    expect(text).toBe(
      '# Preset app of os.\n\n[Config]\nDependencies=base\n\n[Output]\nFormat=tar\n\n[Content]\nBaseTrees=%O/base\nPackages=nginx\n         curl\n',
    );
    expect(sectionCounts(text)).toEqual({ Config: 1, Output: 1, Content: 1 });
    expect(sectionCounts(tree.read('os/mkosi.conf', 'utf-8') as string)).toEqual({ Distribution: 1, Output: 1, Content: 1 });
    const app = loadProject(path.join(flush(tree), 'os')).presets.find((p) => p.name === 'app')!;
    expect(app.config).toMatchObject({ Dependencies: ['base'], Format: 'tar', Packages: ['curl', 'nginx'] });
    expect(app.dependencies.map((d) => d.preset)).toEqual(['base']);
  });

  it('writes each table once when the options span tables (kiln.toml, where a repeated table is an error)', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'edge', syntax: 'toml', distribution: 'ubuntu', release: 'noble', format: 'directory', packages: 'systemd' });
    await gen(tree, { name: 'base', project: 'edge', format: 'directory' });
    await gen(tree, { name: 'app', project: 'edge', baseTree: 'base', packages: 'nginx curl' });
    const text = tree.read('edge/kiln.images/app/kiln.toml', 'utf-8') as string;
    expect(text).toBe(
      '# Preset app of edge.\n\n[Config]\nDependencies = ["base"]\n\n[Output]\nFormat = "tar"\n\n[Content]\nBaseTrees = ["%O/base"]\nPackages = ["nginx","curl"]\n',
    );
    expect(sectionCounts(text)).toEqual({ Config: 1, Output: 1, Content: 1 });
    expect(sectionCounts(tree.read('edge/kiln.toml', 'utf-8') as string)).toEqual({ Distribution: 1, Output: 1, Content: 1 });
    const project = loadProject(path.join(flush(tree), 'edge'));
    expect(project.presets.find((p) => p.name === 'app')?.config).toMatchObject({ Dependencies: ['base'], Packages: ['curl', 'nginx'] });
  });

  it('adds presets to an existing project, with a base tree, and the whole project loads', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'os', release: 'bookworm' });
    await gen(tree, { name: 'base', project: 'os', format: 'directory', packages: ['systemd'] });
    await gen(tree, { name: 'app', project: 'os/', baseTree: 'base', packages: 'nginx' });
    const project = loadProject(path.join(flush(tree), 'os'));
    const summary = summaryJson(project);
    expect(summary.presets.map((p) => p.name).sort()).toEqual(['app', 'base', 'os']);
    const app = project.presets.find((p) => p.name === 'app')!;
    expect(app.config).toMatchObject({ Release: 'bookworm', Format: 'tar', Dependencies: ['base'], Packages: ['nginx'] });
    expect(app.dependencies.map((d) => d.preset)).toEqual(['base']);
  });

  it('writes kiln.toml projects in TOML, with presets in kiln.images/', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'edge', syntax: 'toml', distribution: 'ubuntu', format: 'cpio', packages: 'systemd' });
    await gen(tree, { name: 'tools', project: 'edge', packages: 'curl' });
    expect(tree.read('edge/kiln.toml', 'utf-8')).toContain('[Content]\nPackages = ["systemd"]\n');
    expect(tree.exists('edge/kiln.images/tools/kiln.toml')).toBe(true);
    const project = loadProject(path.join(flush(tree), 'edge'));
    expect(project.main.config).toMatchObject({ Distribution: 'ubuntu', Release: 'noble', Format: 'cpio' });
    expect(project.presets.find((p) => p.name === 'tools')?.config.Packages).toEqual(['curl']);
  });

  it('warns when the main image lists its Dependencies= and the new preset is not among them', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('sys/mkosi.conf', '[Config]\nDependencies=base\n[Output]\nFormat=tar\n');
    tree.write('sys/mkosi.images/base/mkosi.conf', '[Output]\nFormat=directory\n');
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    await gen(tree, { name: 'extra', project: 'sys' });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('sys/mkosi.conf lists Dependencies= explicitly; add extra there'));
    warn.mockRestore();
  });

  it.each([
    ['a bad name', { name: '../x' }, /is not an image name/],
    ['a format the settings table does not know', { name: 'x', format: 'iso' }, /Format=iso: .*accepted/i],
    ['a distribution the settings table does not know', { name: 'x', distribution: 'windows' }, /Distribution=windows: .*accepted/i],
    ['a bad format in a kiln.toml project', { name: 'x', syntax: 'toml', format: 'qcow2' }, /Format=qcow2: .*accepted/i],
    ['a bad format on a preset', { name: 'x', project: 'os', format: 'iso' }, /Format=iso: .*accepted/i],
    ['a bad format on a preset whose options span every section', { name: 'x', project: 'os', baseTree: 'base', packages: 'nginx', format: 'img' }, /Format=img: .*accepted/i],
    ['a directory not named after the image', { name: 'x', directory: 'images/y' }, /use --directory images\/x, or name the image y/],
    ['an existing project', { name: 'os' }, /already a kiln project .*--project os/],
    ['an unknown project', { name: 'x', project: 'nope' }, /no kiln project "nope" .*os \(os\)/],
    ['an existing preset', { name: 'base', project: 'os' }, /the preset base exists already: os\/mkosi.images\/base/],
    ['a base tree that is no preset', { name: 'x', project: 'os', baseTree: 'gone' }, /--baseTree gone: os has no preset gone/],
    ['Distribution= on a preset', { name: 'x', project: 'os', distribution: 'fedora' }, /Distribution= is universal .*presets inherit the project's; set it in os\/mkosi.conf/],
    ['Release= on a preset (universal: the preset would not load)', { name: 'x', project: 'os', release: 'bookworm' }, /Release= is universal .*presets inherit the project's; set it in os\/mkosi.conf/],
  ])('refuses %s, naming the fix, and writes nothing', async (_what, options, message) => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'os' });
    await gen(tree, { name: 'base', project: 'os', format: 'directory' });
    const before = tree.listChanges().map((c) => c.path).sort();
    await expect(gen(tree, options as never)).rejects.toThrow(message);
    expect(tree.listChanges().map((c) => c.path).sort()).toEqual(before);
  });
});
