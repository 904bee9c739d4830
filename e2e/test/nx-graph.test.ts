/**
 * The edges between presets in a real Nx graph follow the configuration as it is now, whichever
 * file changed them: a drop-in, the main image's config, a gitignored mkosi.local.conf. (Nx keeps
 * a `static` edge with the file it names and restores it from its cache while that file is
 * unchanged: such edges would stay until `nx reset`. The plugin's edges are `implicit`.) No
 * image is built: this reads graphs only, with the daemon off and on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { graphEdges, initWorkspace, removeWorkspace, tempWorkspace, writeIn } from './workspace';

jest.setTimeout(300_000);

function suite(daemon: boolean) {
  const { ws, env } = tempWorkspace('kiln-nx-graph-', daemon);
  const img = path.join(ws, 'img');
  const write = (rel: string, text: string) => writeIn(img, rel, text);
  const edges = () => graphEdges(ws, env, 'img');

  beforeAll(() => {
    write('mkosi.conf', '[Output]\nFormat=tar\n[Content]\nBaseTrees=%O/base\n');
    write('mkosi.images/base/mkosi.conf', '[Output]\nFormat=directory\n');
    write('mkosi.images/tools/mkosi.conf', '[Output]\nFormat=directory\n');
    write('mkosi.images/app/mkosi.conf', '[Config]\nDependencies=base\n[Output]\nFormat=tar\n');
    initWorkspace(ws, 'e2e-graph');
  });

  afterAll(() => removeWorkspace(ws, env, daemon));

  it('has the edges of Dependencies= and of reading an output', () => {
    expect(edges()).toMatchObject({ img: ['img-app', 'img-base', 'img-tools'], 'img-app': ['img-base'], 'img-base': [], 'img-tools': [] });
  });

  it('adds and drops an edge set in a drop-in, while the preset\'s first file is unchanged', () => {
    write('mkosi.images/app/mkosi.conf.d/10-tools.conf', '[Config]\nDependencies=tools\n');
    expect(edges()['img-app']).toEqual(['img-base', 'img-tools']);
    write('mkosi.images/app/mkosi.conf.d/10-tools.conf', '[Config]\nDependencies=\n');
    expect(edges()['img-app']).toEqual([]);
    fs.rmSync(path.join(img, 'mkosi.images/app/mkosi.conf.d'), { recursive: true });
    expect(edges()['img-app']).toEqual(['img-base']);
  });

  it('drops and restores edges set in a drop-in of the main image', () => {
    // The main image builds after every preset, unless its Dependencies= says otherwise.
    write('mkosi.conf.d/20-deps.conf', '[Config]\nDependencies=tools\n');
    expect(edges().img).toEqual(['img-base', 'img-tools']);
    fs.rmSync(path.join(img, 'mkosi.conf.d'), { recursive: true });
    expect(edges().img).toEqual(['img-app', 'img-base', 'img-tools']);
  });

  if (!daemon) {
    // The daemon does not watch gitignored files (shared/DESIGN.md): without it, every command sees them.
    it('follows a gitignored mkosi.local.conf', () => {
      write('mkosi.images/app/mkosi.local.conf', '[Config]\nDependencies=tools\n');
      expect(edges()['img-app']).toEqual(['img-base', 'img-tools']);
      fs.rmSync(path.join(img, 'mkosi.images/app/mkosi.local.conf'));
      expect(edges()['img-app']).toEqual(['img-base']);
    });
  }
}

describe('daemon off', () => suite(false));
describe('daemon on', () => suite(true));
