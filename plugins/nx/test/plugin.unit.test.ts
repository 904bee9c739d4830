/**
 * createNodes and createDependencies on a temp workspace, as Nx calls them: project names and
 * roots per preset, targets, inputs and outputs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { logger, type CreateNodesContextV2, type ProjectConfiguration } from '@nx/devkit';
import { createDependencies, createNodes } from '../src';
import { DEPENDENCY_IMAGE_FILES } from '../src/inputs';

function workspace(files: Record<string, string>): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-plugin-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ws, rel)), { recursive: true });
    fs.writeFileSync(path.join(ws, rel), text);
  }
  return ws;
}

const files = {
  'images/os/mkosi.conf': '[Output]\nFormat=tar\n[Content]\nBaseTrees=%O/base\n[Build]\nEnvironment=TOKEN\n',
  'images/os/mkosi.extra/etc/motd': 'hi\n',
  'images/os/mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n',
  'images/os/mkosi.images/initrd.conf': '[Output]\nFormat=cpio\n',
  'images/os/README.md': 'docs\n',
};

async function nodes(ws: string, options = {}, nxJsonConfiguration = {}) {
  const context = { workspaceRoot: ws, nxJsonConfiguration } as CreateNodesContextV2;
  const configFiles = ['images/os/mkosi.conf', 'images/os/mkosi.images/base/mkosi.conf'];
  const results = await createNodes[1](configFiles, options, context);
  return Object.assign({}, ...results.map(([, r]) => r.projects)) as Record<string, ProjectConfiguration>;
}

describe('createNodes', () => {
  it('makes one project per preset, rooted where the preset is defined', async () => {
    const projects = await nodes(workspace(files));
    expect(Object.fromEntries(Object.entries(projects).map(([root, p]) => [root, p.name]))).toEqual({
      'images/os': 'os',
      'images/os/mkosi.images/base': 'os-base',
      'images/os/mkosi.images/initrd.conf': 'os-initrd',
    });
  });

  it('gives each an image target with kiln build, its inputs and regular-file outputs', async () => {
    const projects = await nodes(workspace(files));
    const image = projects['images/os'].targets!.image;
    expect(image.cache).toBe(true);
    expect(image.executor).toBe('@kiln/nx:image');
    expect(image.options).toEqual({ directory: 'images/os', preset: 'os' });
    expect(image.dependsOn).toEqual(['^image']);
    // Output= defaults to ImageId= or "image" for the main image, as in mkosi.
    // The manifest's signature is there when the build was signed (KILN_SIGNING_KEY).
    expect(image.outputs).toEqual(['{workspaceRoot}/images/os/mkosi.output/image.tar.zst', '{workspaceRoot}/images/os/mkosi.output/image.manifest.json.sig', '{workspaceRoot}/images/os/mkosi.output/image.manifest.json']);
    // Config files are not file inputs (a comment changes nothing resolved); the fingerprint,
    // computed when Nx hashes, covers settings, modes, environment and tools. No absolute path.
    expect(image.inputs).toEqual([
      { fileset: '{workspaceRoot}/images/os/kiln.lock', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra/**/*', includeIgnored: true },
      { runtime: `node -e "process.exitCode=require('@kiln/nx/dist/digest.js').main(process.argv.slice(1))" -- -C images/os -p os` },
      { dependentTasksOutputFiles: '**/!(*.manifest.json|*.manifest.json.sig)' },
      { externalDependencies: [] },
    ]);
    // A directory image is cached as its archive, with its manifest; a README is in no input.
    expect(projects['images/os/mkosi.images/base'].targets!.image.outputs).toEqual([
      '{workspaceRoot}/images/os/mkosi.output/base.tar.zst',
      '{workspaceRoot}/images/os/mkosi.output/base.manifest.json.sig',
      '{workspaceRoot}/images/os/mkosi.output/base.manifest.json',
    ]);
    expect(JSON.stringify(projects)).not.toContain('README');
  });

  it('hashes the image files of the presets it reads, not their build manifests or signatures (as Nx\'s glob engine matches)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { matchGlobPaths } = require('nx/src/native') as { matchGlobPaths(globs: string[], paths: string[]): boolean[] };
    const files = ['images/os/mkosi.output/base.tar.zst', 'images/os/mkosi.output/initrd.cpio.zst', 'images/os/mkosi.output/base.manifest.json', 'images/os/mkosi.output/base.manifest.json.sig'];
    expect(matchGlobPaths([DEPENDENCY_IMAGE_FILES], files)).toEqual([true, true, false, false]);
  });

  it('adds summary to the main image, clean and lock (not cached) to every preset, in a kiln target group', async () => {
    const projects = await nodes(workspace(files));
    expect(Object.keys(projects['images/os'].targets!).sort()).toEqual(['clean', 'image', 'lock', 'summary']);
    expect(Object.keys(projects['images/os/mkosi.images/base'].targets!).sort()).toEqual(['clean', 'image', 'lock']);
    expect(projects['images/os'].metadata).toMatchObject({ targetGroups: { kiln: ['image', 'clean', 'lock', 'summary'] } });
    expect(projects['images/os/mkosi.images/base'].targets!.lock).toMatchObject({
      executor: '@kiln/nx:kiln',
      cache: false,
      options: { command: 'lock', directory: 'images/os', preset: 'base' },
      // For `nx show projects --affected`: the config files base is read from, the main one's too.
      inputs: [
        { fileset: '{workspaceRoot}/images/os/mkosi.conf', includeIgnored: true },
        { fileset: '{workspaceRoot}/images/os/mkosi.images/base/mkosi.conf', includeIgnored: true },
      ],
    });
    expect(projects['images/os'].targets!.image.metadata).toMatchObject({ technologies: ['kiln', 'mkosi'] });
    // Never cached, so no inputs: Nx would otherwise hash the default inputs of every project
    // they depend on, for nothing.
    for (const t of ['summary', 'clean']) expect(projects['images/os'].targets![t]).toMatchObject({ cache: false, inputs: [] });
  });

  it('gives a vm target (kiln vm, never cached, after its own image) to the presets kiln vm can boot, and to no other', async () => {
    const projects = await nodes(
      workspace({
        'images/os/mkosi.conf': '[Output]\nFormat=disk\n',
        'images/os/mkosi.images/uki.conf': '[Output]\nFormat=uki\n',
        'images/os/mkosi.images/esp.conf': '[Output]\nFormat=esp\n',
        // A cpio or directory image boots with a kernel: Linux=, or Bootable=yes (it has one).
        'images/os/mkosi.images/guest.conf': '[Output]\nFormat=cpio\n[Content]\nBootable=yes\n',
        'images/os/mkosi.images/tree.conf': '[Output]\nFormat=directory\n[Content]\nBootable=yes\n',
        'images/os/mkosi.images/initrd.conf': '[Output]\nFormat=cpio\n',
        'images/os/mkosi.images/base.conf': '[Output]\nFormat=directory\n',
        'images/os/mkosi.images/archive.conf': '[Output]\nFormat=tar\n',
      }),
    );
    const withVm = Object.values(projects).filter((p) => p.targets!.vm).map((p) => p.name).sort();
    expect(withVm).toEqual(['os', 'os-esp', 'os-guest', 'os-tree', 'os-uki']);
    expect(projects['images/os'].targets!.vm).toMatchObject({
      executor: '@kiln/nx:kiln',
      cache: false,
      dependsOn: ['image'],
      options: { command: 'vm', directory: 'images/os', preset: 'os' },
    });
    expect(projects['images/os'].metadata).toMatchObject({ targetGroups: { kiln: ['image', 'clean', 'lock', 'vm', 'summary'] } });
    const renamed = await nodes(workspace({ 'images/os/mkosi.conf': '[Output]\nFormat=disk\n' }), { targetName: 'build', vmTargetName: 'boot' });
    expect(renamed['images/os'].targets!.boot.dependsOn).toEqual(['build']);
  });

  it("gives the presets named inputs without {projectRoot} filesets (a preset's root may be a file, or not exist), the same whichever files exist", async () => {
    const ws = workspace({ ...files, 'images/os/mkosi.conf': '[Output]\nFormat=tar\n[Build]\nToolsTree=default\n' });
    const nxJson = { namedInputs: { production: ['default', '!{projectRoot}/**/*.md'] } };
    const projects = await nodes(ws, {}, nxJson);
    // The main image is its directory: Nx's own named inputs work there.
    expect(projects['images/os'].namedInputs).toBeUndefined();
    // The generated tools preset, rooted at a mkosi.tools.conf that does not exist.
    expect(projects['images/os/mkosi.tools.conf'].namedInputs).toEqual({
      default: ['{workspaceRoot}/images/os/mkosi.tools.conf', '{workspaceRoot}/images/os/mkosi.tools.conf/**/*'],
      production: ['default', '!{workspaceRoot}/images/os/mkosi.tools.conf/**/*.md'],
    });
    expect(projects['images/os/mkosi.images/initrd.conf'].namedInputs!.default).toEqual([
      '{workspaceRoot}/images/os/mkosi.images/initrd.conf',
      '{workspaceRoot}/images/os/mkosi.images/initrd.conf/**/*',
    ]);
    // Nx hashes a project's named inputs into each of its tasks: a config file appearing (here a
    // gitignored one, which the daemon does not see) must not change them.
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.local.conf'), '[Content]\nWithDocs=no\n');
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.tools.conf'), '[Content]\nPackages=strace\n');
    const again = await nodes(ws, {}, nxJson);
    for (const root of Object.keys(projects)) expect(again[root].namedInputs).toEqual(projects[root].namedInputs);
  });

  it('lets options rename the targets', async () => {
    const projects = await nodes(workspace(files), { targetName: 'os-image' });
    expect(Object.keys(projects['images/os'].targets!)).toContain('os-image');
    expect(projects['images/os'].targets!['os-image'].dependsOn).toEqual(['^os-image']);
  });

  it('turns a configuration error into a message naming file:line, and keeps every other project', async () => {
    const ws = workspace({
      ...files,
      'images/os/mkosi.conf': '[Output]\nFormat=zip\n',
      'images/other/mkosi.conf': '[Output]\nFormat=cpoi\n',
      'images/good/mkosi.conf': '[Output]\nFormat=tar\n',
    });
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const context = { workspaceRoot: ws, nxJsonConfiguration: {} } as CreateNodesContextV2;
    // Nx fails every command when a plugin reports an error: the plugin never throws.
    const results = await createNodes[1](['images/os/mkosi.conf', 'images/other/mkosi.conf', 'images/good/mkosi.conf'], {}, context);
    // Both broken projects are shown, each with its file:line, and not with the workspace path.
    expect(warn.mock.calls.map((c) => c[0])).toEqual([
      expect.stringMatching(/^kiln: images\/os\/mkosi\.conf:2: Format=: "zip" is not a valid value .*images\/os's targets fail until this is fixed/),
      expect.stringMatching(/^kiln: images\/other\/mkosi\.conf:2: Format=: "cpoi" is not a valid value/),
    ]);
    warn.mockRestore();
    const projects = Object.assign({}, ...results.map(([, r]) => r.projects)) as Record<string, ProjectConfiguration>;
    expect(Object.values(projects).map((p) => p.name).sort()).toEqual(['good', 'os', 'other']);
    expect(projects['images/good'].targets!.image.cache).toBe(true);
    // A broken project's image target is never cached; running it fails with the message (kiln build).
    expect(projects['images/os'].targets!.image).toMatchObject({ executor: '@kiln/nx:image', cache: false, options: { directory: 'images/os', preset: 'os' } });
    expect(projects['images/os'].tags).toContain('kiln:broken');
  });

  it('shows warnings (unknown settings) through Nx\'s logger, on every graph computation', async () => {
    const ws = workspace({ 'img/mkosi.conf': '[Output]\nFormat=tar\nFrobnicate=yes\n' });
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const context = { workspaceRoot: ws, nxJsonConfiguration: {} } as CreateNodesContextV2;
    await createNodes[1](['img/mkosi.conf'], {}, context);
    await createNodes[1](['img/mkosi.conf'], {}, context);
    expect(warn.mock.calls.map((c) => c[0])).toEqual([
      'kiln: img/mkosi.conf:3: warning: unknown setting Frobnicate= is ignored',
      'kiln: img/mkosi.conf:3: warning: unknown setting Frobnicate= is ignored',
    ]);
    warn.mockRestore();
  });

  it('sees a config file created after the last read (a gitignored mkosi.local.conf)', async () => {
    const ws = workspace(files);
    expect((await nodes(ws))['images/os'].tags).toContain('kiln:tar');
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.local.conf'), '[Output]\nFormat=cpio\n');
    expect((await nodes(ws))['images/os'].tags).toContain('kiln:cpio');
  });
});

describe('variants (nx.json: "variants": { NAME: kiln build settings })', () => {
  const withProfile = {
    ...files,
    // The profile changes the main image (a tree of its own) and adds a preset only it reaches.
    'images/os/mkosi.profiles/debug/mkosi.conf': '[Content]\nHostname=debug\n[Config]\nDependencies=base\nDependencies=initrd\nDependencies=tools\n',
    'images/os/mkosi.profiles/debug/mkosi.extra/etc/debug': 'on\n',
    'images/os/mkosi.images/tools/mkosi.conf': '[Match]\nProfiles=debug\n[Output]\nFormat=tar\n',
  };
  const variants = { debug: ['--profile', 'debug'], trixie: ['-r', 'trixie'] };

  it('gives every preset a variant reaches a target image-VARIANT with its settings, hash, outputs and order', async () => {
    const projects = await nodes(workspace(withProfile), { variants });
    const os = projects['images/os'].targets!;
    expect(os['image-debug']).toMatchObject({
      executor: '@kiln/nx:image',
      cache: true,
      // One spelling, --Name=value, for the options (part of the hash) and kiln-digest.
      options: { directory: 'images/os', preset: 'os', args: ['--Profiles=debug'] },
      dependsOn: ['^image-debug'],
      outputs: ['{workspaceRoot}/images/os/mkosi.output/image.tar.zst', '{workspaceRoot}/images/os/mkosi.output/image.manifest.json.sig', '{workspaceRoot}/images/os/mkosi.output/image.manifest.json'],
    });
    expect(os['image-debug'].inputs).toEqual([
      { fileset: '{workspaceRoot}/images/os/kiln.lock', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra/**/*', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.profiles/debug/mkosi.extra', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.profiles/debug/mkosi.extra/**/*', includeIgnored: true },
      { runtime: `node -e "process.exitCode=require('@kiln/nx/dist/digest.js').main(process.argv.slice(1))" -- -C images/os -p os --Profiles=debug` },
      { dependentTasksOutputFiles: '**/!(*.manifest.json|*.manifest.json.sig)' },
      { externalDependencies: [] },
    ]);
    // The default target does not read the profile's tree.
    expect(JSON.stringify(os.image.inputs)).not.toContain('mkosi.profiles');
    expect(projects['images/os/mkosi.images/base'].targets!['image-trixie'].options).toEqual({ directory: 'images/os', preset: 'base', args: ['--Release=trixie'] });
    expect(projects['images/os'].metadata).toMatchObject({ targetGroups: { kiln: ['image', 'clean', 'lock', 'summary', 'image-debug', 'image-trixie'] } });
    // Not lock nor clean: they are the same files whatever the variant.
    expect(Object.keys(projects['images/os/mkosi.images/base'].targets!).sort()).toEqual(['clean', 'image', 'image-debug', 'image-trixie', 'lock']);
  });

  it('makes a project for a preset only a variant reaches, with only that variant\'s targets, and edges over all variants', async () => {
    const ws = workspace(withProfile);
    const projects = await nodes(ws, { variants });
    expect(projects['images/os/mkosi.images/tools']).toMatchObject({ name: 'os-tools', tags: ['kiln', 'kiln:tar'] });
    expect(Object.keys(projects['images/os/mkosi.images/tools'].targets!)).toEqual(['image-debug']);
    expect(projects['images/os/mkosi.images/tools'].targets!['image-debug'].dependsOn).toBeUndefined();
    expect(projects['images/os'].metadata).toMatchObject({ kiln: { dependencies: ['os-base', 'os-initrd', 'os-tools'] } });
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    expect(deps.map((d) => `${d.source} -> ${d.target}`).sort()).toEqual(['os -> os-base', 'os -> os-initrd', 'os -> os-tools']);
    // Without variants, the preset does not exist (mkosi drops it).
    expect(Object.values(await nodes(ws)).map((p) => p.name)).not.toContain('os-tools');
  });

  it('takes "profiles": ["debug"] as the variant debug of --profile debug', async () => {
    const ws = workspace(withProfile);
    const byProfile = await nodes(ws, { profiles: ['debug'] });
    const byVariant = await nodes(ws, { variants: { debug: ['--profile', 'debug'] } });
    expect(byProfile).toEqual(byVariant);
    expect(byProfile['images/os/mkosi.images/tools'].targets!['image-debug'].options).toEqual({ directory: 'images/os', preset: 'tools', args: ['--Profiles=debug'] });
  });

  it('gives a bootable preset vm-VARIANT after its image-VARIANT, and follows the names of the targets', async () => {
    const projects = await nodes(workspace({ 'images/os/mkosi.conf': '[Output]\nFormat=disk\n' }), { variants: { debug: ['--Hostname=x'] }, targetName: 'build', vmTargetName: 'boot' });
    expect(projects['images/os'].targets!['boot-debug']).toMatchObject({
      executor: '@kiln/nx:kiln',
      cache: false,
      dependsOn: ['build-debug'],
      options: { command: 'vm', directory: 'images/os', preset: 'os', args: ['--Hostname=x'] },
    });
  });

  it("checks a variant target against the configuration read with the variant's settings", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { staleGraph } = require('../src/executors/image/executor') as typeof import('../src/executors/image/executor');
    const ws = workspace(withProfile);
    const projects = await nodes(ws, { variants });
    const byName = Object.fromEntries(Object.values(projects).map((p) => [p.name!, p]));
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    const graph = { nodes: {}, dependencies: { os: deps.filter((d) => d.source === 'os').map((d) => ({ source: d.source, target: d.target, type: d.type })) } };
    const context = { root: ws, projectName: 'os', targetName: 'image-debug', projectsConfigurations: { version: 2, projects: byName }, projectGraph: graph } as never;
    const debug = [{ name: 'Profiles', value: 'debug' }];
    expect(staleGraph(projects['images/os'].targets!['image-debug'].options, context, debug)).toBeNull();
    // The default image target, with an edge only the variant has (to os-tools): it only orders.
    expect(staleGraph({ directory: 'images/os', preset: 'os' }, { ...(context as object), targetName: 'image' } as never)).toBeNull();
    const without = { ...graph, dependencies: { os: graph.dependencies.os.filter((d) => d.target !== 'os-tools') } };
    expect(staleGraph({ directory: 'images/os', preset: 'os' }, { ...(context as object), projectGraph: without } as never, debug)).toBe('it now depends on os-tools too (the graph has os-base, os-initrd)');
  });

  it('warns about a bad variant, naming nx.json and the variant; its targets fail with the message, every other one works', async () => {
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const bad = { 'bad:name': ['--profile', 'x'], force: ['--force'], novalue: ['--release'], notalist: '--profile debug', zip: ['--Format=zip'], debug: ['--profile', 'debug'] };
    const projects = await nodes(workspace(withProfile), { variants: bad });
    expect(warn.mock.calls.map((c) => c[0])).toEqual([
      expect.stringMatching(/^kiln: nx\.json: @kiln\/nx variant "bad:name": a variant name is letters, digits/),
      'kiln: nx.json: @kiln/nx variant "force": "--force" is not a setting (a variant takes settings only: --profile NAME, -d, -r, -E, --image-version, --Setting=value) (its targets fail until this is fixed)',
      'kiln: nx.json: @kiln/nx variant "novalue": --release needs a value (--release=VALUE; an empty value resets Release=) (its targets fail until this is fixed)',
      'kiln: nx.json: @kiln/nx variant "notalist": its value must be a list of kiln build arguments, such as ["--profile", "notalist"] (its targets fail until this is fixed)',
      expect.stringMatching(/^kiln: --Format=zip: "zip" is not a valid value .*\(variant zip: --Format=zip\) \(images\/os's image-zip targets fail until this is fixed/),
    ]);
    warn.mockRestore();
    const os = projects['images/os'].targets!;
    expect(Object.keys(os).filter((t) => t.startsWith('image')).sort()).toEqual(['image', 'image-debug', 'image-force', 'image-notalist', 'image-novalue', 'image-zip']);
    expect(os['image-force']).toMatchObject({ cache: false, options: { directory: 'images/os', preset: 'os', error: expect.stringContaining('"--force" is not a setting') } });
    expect(os['image-zip']).toMatchObject({ cache: false, options: { args: ['--Format=zip'] } });
    expect(os['image-debug'].cache).toBe(true);
    // The executor fails with the message, and refuses arguments that are not settings given by
    // hand (kiln build would take --force).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const executor = (require('../src/executors/image/executor') as typeof import('../src/executors/image/executor')).default;
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await executor(os['image-notalist'].options, { root: '/nonexistent' } as never)).toEqual({ success: false });
    expect(await executor({ directory: 'images/os', preset: 'os', args: ['--force'] }, { root: '/nonexistent' } as never)).toEqual({ success: false });
    expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([
      'kiln: nx.json: @kiln/nx variant "notalist": its value must be a list of kiln build arguments, such as ["--profile", "notalist"]\n',
      expect.stringContaining('kiln: "--force" is not a setting'),
    ]);
    stderr.mockRestore();
  });
});

describe('createDependencies', () => {
  it('reads the projects Nx gives it, not state left by createNodes in this process', async () => {
    const ws = workspace(files);
    const projects = await nodes(ws);
    jest.resetModules();
    // A fresh module instance, as in another process.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fresh = require('../src') as typeof import('../src');
    const deps = await fresh.createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    expect(deps).toHaveLength(2);
  });

  it('adds an edge for Dependencies= and for reading another preset\'s output', async () => {
    const ws = workspace(files);
    const projects = await nodes(ws);
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    expect(deps).toEqual(
      expect.arrayContaining([
        { source: 'os', target: 'os-base', type: 'implicit' },
        { source: 'os', target: 'os-initrd', type: 'implicit' },
      ]),
    );
    expect(deps).toHaveLength(2);
  });

  it('takes the edges from the projects createNodes made, without reading the configuration again', async () => {
    const ws = workspace(files);
    const projects = await nodes(ws);
    expect(projects['images/os'].metadata).toMatchObject({ kiln: { dependencies: ['os-base', 'os-initrd'] } });
    fs.rmSync(ws, { recursive: true });
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    expect(deps.map((d) => `${d.source} -> ${d.target}`).sort()).toEqual(['os -> os-base', 'os -> os-initrd']);
  });
});

describe('@kiln/nx:image', () => {
  it('stops with the fix when the graph no longer matches the configuration (a gitignored mkosi.local.conf)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { staleGraph } = require('../src/executors/image/executor') as typeof import('../src/executors/image/executor');
    const ws = workspace(files);
    const projects = await nodes(ws);
    const byName = Object.fromEntries(Object.values(projects).map((p) => [p.name!, p]));
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    const graph = { nodes: {}, dependencies: { os: deps.filter((d) => d.source === 'os').map((d) => ({ source: d.source, target: d.target, type: d.type })) } };
    const context = { root: ws, projectName: 'os', targetName: 'image', projectsConfigurations: { version: 2, projects: byName }, projectGraph: graph } as never;
    const options = { directory: 'images/os', preset: 'os' };
    expect(staleGraph(options, context)).toBeNull();
    // A workspace whose Nx cache still has the static edges an older @kiln/nx declared has each
    // edge twice (static and implicit): the same dependencies, not a stale graph.
    const twice = { ...graph, dependencies: { os: graph.dependencies.os.flatMap((d) => [d, { ...d, type: 'static' }]) } };
    expect(staleGraph(options, { ...(context as object), projectGraph: twice } as never)).toBeNull();

    fs.writeFileSync(path.join(ws, 'images/os/mkosi.local.conf'), '[Output]\nFormat=cpio\n');
    expect(staleGraph(options, context)).toBe('its outputs are now images/os/mkosi.output/image.cpio.zst, images/os/mkosi.output/image.manifest.json, images/os/mkosi.output/image.manifest.json.sig, not images/os/mkosi.output/image.manifest.json, images/os/mkosi.output/image.manifest.json.sig, images/os/mkosi.output/image.tar.zst');
    // An edge the graph lacks: Nx would not build that preset first.
    fs.rmSync(path.join(ws, 'images/os/mkosi.local.conf'));
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.images/base/mkosi.local.conf'), '[Config]\nDependencies=initrd\n');
    const base = { ...(context as object), projectName: 'os-base' } as never;
    expect(staleGraph({ directory: 'images/os', preset: 'base' }, base)).toBe('it now depends on os-initrd too (the graph has no dependency)');
    // An edge the configuration no longer has only orders (the graph's edges are the union over
    // the variants): not stale. mkosi 26 reads mkosi.local.conf first and an empty BaseTrees=
    // there cannot drop mkosi.conf's: the main config stops reading base, and the local
    // Dependencies= leaves base unreached, so it is dropped.
    fs.rmSync(path.join(ws, 'images/os/mkosi.images/base/mkosi.local.conf'));
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.conf'), '[Output]\nFormat=tar\n[Build]\nEnvironment=TOKEN\n');
    fs.writeFileSync(path.join(ws, 'images/os/mkosi.local.conf'), '[Config]\nDependencies=initrd\n');
    expect(staleGraph(options, context)).toBeNull();
  });
});
