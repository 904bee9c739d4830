/**
 * createNodes and createDependencies on a temp workspace, as Nx calls them: project names and
 * roots per preset, targets, inputs and outputs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CreateNodesContextV2, ProjectConfiguration } from '@nx/devkit';
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

async function nodes(ws: string, options = {}) {
  const context = { workspaceRoot: ws, nxJsonConfiguration: {} } as CreateNodesContextV2;
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
    expect(image.options.command).toMatch(/^node \S+main\.js build -C images\/os --preset os --force --no-deps$/);
    expect(image.dependsOn).toEqual(['^image']);
    // Output= defaults to ImageId= or "image" for the main image, as in mkosi.
    expect(image.outputs).toEqual(['{workspaceRoot}/images/os/mkosi.output/image.tar.zst', '{workspaceRoot}/images/os/mkosi.output/image.manifest.json']);
    expect(image.inputs).toEqual([
      { fileset: '{workspaceRoot}/images/os/mkosi.conf', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/kiln.lock', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra', includeIgnored: true },
      { fileset: '{workspaceRoot}/images/os/mkosi.extra/**/*', includeIgnored: true },
      { runtime: expect.stringMatching(/^node \S+digest\.js --root images\/os --cache \S+ --extra kiln:0\.1\.0\+[0-9a-f]{16} --extra settings:[0-9a-f]{32} images\/os\/mkosi\.extra$/) },
      { env: 'SOURCE_DATE_EPOCH' },
      { env: 'TOKEN' },
      { dependentTasksOutputFiles: '**/!(*.manifest.json)' },
      { externalDependencies: [] },
    ]);
    // A directory image is cached as its archive, with its manifest; a README is in no input.
    expect(projects['images/os/mkosi.images/base'].targets!.image.outputs).toEqual([
      '{workspaceRoot}/images/os/mkosi.output/base.tar.zst',
      '{workspaceRoot}/images/os/mkosi.output/base.manifest.json',
    ]);
    expect(JSON.stringify(projects)).not.toContain('README');
  });

  it('hashes the image files of the presets it reads, not their build manifests (as Nx\'s glob engine matches)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { matchGlobPaths } = require('nx/src/native') as { matchGlobPaths(globs: string[], paths: string[]): boolean[] };
    const files = ['images/os/mkosi.output/base.tar.zst', 'images/os/mkosi.output/initrd.cpio.zst', 'images/os/mkosi.output/base.manifest.json'];
    expect(matchGlobPaths([DEPENDENCY_IMAGE_FILES], files)).toEqual([true, true, false]);
  });

  it('adds summary to the main image, clean and lock (not cached) to every preset, in a kiln target group', async () => {
    const projects = await nodes(workspace(files));
    expect(Object.keys(projects['images/os'].targets!).sort()).toEqual(['clean', 'image', 'lock', 'summary']);
    expect(Object.keys(projects['images/os/mkosi.images/base'].targets!).sort()).toEqual(['clean', 'image', 'lock']);
    expect(projects['images/os'].metadata).toMatchObject({ targetGroups: { kiln: ['image', 'clean', 'lock', 'summary'] } });
    expect(projects['images/os/mkosi.images/base'].targets!.lock).toMatchObject({ cache: false, options: { command: expect.stringMatching(/ lock -C images\/os --preset base$/) } });
    expect(projects['images/os'].targets!.image.metadata).toMatchObject({ technologies: ['kiln', 'mkosi'] });
  });

  it('lets options rename the targets', async () => {
    const projects = await nodes(workspace(files), { targetName: 'os-image' });
    expect(Object.keys(projects['images/os'].targets!)).toContain('os-image');
    expect(projects['images/os'].targets!['os-image'].dependsOn).toEqual(['^os-image']);
  });

  it('turns a configuration error into a message naming file:line', async () => {
    const ws = workspace({ ...files, 'images/os/mkosi.conf': '[Output]\nFormat=zip\n' });
    await expect(nodes(ws)).rejects.toThrow(/^kiln: .*images\/os\/mkosi\.conf:2: Format=: "zip" is not a valid value/);
  });
});

describe('createDependencies', () => {
  it('adds an edge for Dependencies= and for reading another preset\'s output', async () => {
    const ws = workspace(files);
    const projects = await nodes(ws);
    const deps = await createDependencies({}, { workspaceRoot: ws, projects, nxJsonConfiguration: {} } as never);
    expect(deps).toEqual(
      expect.arrayContaining([
        { source: 'os', target: 'os-base', type: 'static', sourceFile: 'images/os/mkosi.conf' },
        { source: 'os', target: 'os-initrd', type: 'static', sourceFile: 'images/os/mkosi.conf' },
      ]),
    );
    expect(deps).toHaveLength(2);
  });
});
