/**
 * The init and preset generators on Nx's in-memory tree; then the generated files are written to
 * disk and read back with @kiln/config and the plugin, as Nx will read them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { logger, readJson, readNxJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { loadProject, summaryJson } from '@kiln/config';
import { initGenerator } from '../src/generators/init/generator';
import { presetGenerator } from '../src/generators/preset/generator';

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

const gen = (tree: Tree, o: Parameters<typeof presetGenerator>[1]) => presetGenerator(tree, { skipFormat: true, ...o });

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

describe('preset', () => {
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
    ['a directory not named after the image', { name: 'x', directory: 'images/y' }, /use --directory images\/x, or name the image y/],
    ['an existing project', { name: 'os' }, /already a kiln project .*--project os/],
    ['an unknown project', { name: 'x', project: 'nope' }, /no kiln project "nope" .*os \(os\)/],
    ['an existing preset', { name: 'base', project: 'os' }, /the preset base exists already: os\/mkosi.images\/base/],
    ['a base tree that is no preset', { name: 'x', project: 'os', baseTree: 'gone' }, /--baseTree gone: os has no preset gone/],
    ['Distribution= on a preset', { name: 'x', project: 'os', distribution: 'fedora' }, /presets inherit the project's/],
  ])('refuses %s, naming the fix, and writes nothing', async (_what, options, message) => {
    const tree = createTreeWithEmptyWorkspace();
    await gen(tree, { name: 'os' });
    await gen(tree, { name: 'base', project: 'os', format: 'directory' });
    const before = tree.listChanges().map((c) => c.path).sort();
    await expect(gen(tree, options as never)).rejects.toThrow(message);
    expect(tree.listChanges().map((c) => c.path).sort()).toEqual(before);
  });
});
