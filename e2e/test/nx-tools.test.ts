/**
 * The generated presets in a real Nx graph: with ToolsTree=default the tools tree is a project
 * `<main>-tools` with a cached image target that every other preset depends on; a bootable
 * preset without Initrds= depends on `<main>-default-initrd`, which depends on the tools tree too.
 * Their outputs are inputs of the dependents (dependentTasksOutputFiles), so the same tools tree
 * is a hit and a different one a miss: Nx hashes those files; this suite checks that they are
 * inputs. Edges follow the configuration as it is now. No image is built: graphs and project
 * configurations only, with the daemon off and on.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initWorkspace, nxBin, nxEnv, removeWorkspace } from './workspace';

jest.setTimeout(300_000);

interface ShownProject {
  name: string;
  root: string;
  tags: string[];
  targets: Record<string, { cache?: boolean; inputs?: unknown[]; outputs?: string[]; dependsOn?: string[]; options?: Record<string, unknown> }>;
}

function suite(daemon: boolean) {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-nx-tools-'));
  const env = { ...nxEnv(ws), NX_DAEMON: daemon ? 'true' : 'false' };
  const img = path.join(ws, 'img');

  function nx(args: string[]): string {
    const r = spawnSync(process.execPath, [nxBin, ...args], { cwd: ws, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nx ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(img, rel)), { recursive: true });
    fs.writeFileSync(path.join(img, rel), text);
  };

  function edges(): Record<string, string[]> {
    const file = path.join(ws, '.nx-data', `graph-${Date.now()}.json`);
    nx(['graph', `--file=${file}`]);
    const graph = JSON.parse(fs.readFileSync(file, 'utf8')).graph as { dependencies: Record<string, { target: string }[]> };
    return Object.fromEntries(
      Object.entries(graph.dependencies)
        .filter(([source]) => source.startsWith('img'))
        .map(([source, deps]) => [source, deps.map((d) => d.target).sort()]),
    );
  }
  const show = (name: string) => JSON.parse(nx(['show', 'project', name, '--json'])) as ShownProject;

  beforeAll(() => {
    write('mkosi.conf', '[Output]\nFormat=tar\n[Build]\nToolsTree=default\n');
    write('mkosi.tools.conf', '[Content]\nPackages=strace\n');
    write('mkosi.images/sys.conf', '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64 systemd\n');
    write('mkosi.images/base.conf', '[Output]\nFormat=directory\n');
    initWorkspace(ws, 'e2e-tools');
  });

  afterAll(() => removeWorkspace(ws, env, daemon));

  it('shows the tools tree and the default initrd as projects every preset using them depends on', () => {
    expect(edges()).toEqual({
      img: ['img-base', 'img-sys', 'img-tools'],
      'img-base': ['img-tools'],
      'img-sys': ['img-default-initrd', 'img-tools'],
      'img-default-initrd': ['img-tools'],
      'img-tools': [],
    });
  });

  it('gives the tools tree a cached image target whose outputs are its archive and manifest, rooted at mkosi.tools.conf', () => {
    const tools = show('img-tools');
    expect(tools.root).toBe('img/mkosi.tools.conf');
    expect(tools.tags).toEqual(expect.arrayContaining(['kiln', 'kiln:directory', 'kiln:generated']));
    expect(tools.targets.image).toMatchObject({ cache: true, options: { directory: 'img', preset: 'tools' } });
    expect(tools.targets.image.outputs).toEqual(['{workspaceRoot}/img/mkosi.output/mkosi.tools.tar.zst', '{workspaceRoot}/img/mkosi.output/mkosi.tools.manifest.json']);
    // Its lock is its own (beside mkosi.tools.conf), an input of its image.
    expect(tools.targets.image.inputs).toContainEqual({ fileset: '{workspaceRoot}/img/mkosi.tools.lock', includeIgnored: true });
    // mkosi.tools.conf is a config file of the tools preset, never a project of its own.
    expect(tools.targets.lock.inputs).toContainEqual({ fileset: '{workspaceRoot}/img/mkosi.tools.conf', includeIgnored: true });
  });

  it("makes the tools tree's and the initrd's image files inputs of their dependents", () => {
    const initrd = show('img-default-initrd');
    expect(initrd.tags).toContain('kiln:cpio');
    expect(initrd.targets.image.outputs).toContain('{workspaceRoot}/img/mkosi.output/default-initrd.cpio.zst');
    for (const name of ['img', 'img-base', 'img-sys', 'img-default-initrd']) {
      const image = show(name).targets.image;
      expect(image.dependsOn).toEqual(['^image']);
      expect(image.inputs).toContainEqual({ dependentTasksOutputFiles: '**/!(*.manifest.json)' });
    }
  });

  it('drops the tools project and its edges when ToolsTree= is unset, and brings them back', () => {
    write('mkosi.conf', '[Output]\nFormat=tar\n');
    const without = edges();
    expect(without['img-tools']).toBeUndefined();
    expect(without['img-sys']).toEqual(['img-default-initrd']);
    write('mkosi.conf', '[Output]\nFormat=tar\n[Build]\nToolsTree=default\n');
    expect(edges()['img-sys']).toEqual(['img-default-initrd', 'img-tools']);
  });

  it('keeps the tools project without a mkosi.tools.conf (its root names the file it would be read from)', () => {
    fs.rmSync(path.join(img, 'mkosi.tools.conf'));
    expect(edges()['img-base']).toEqual(['img-tools']);
    expect(show('img-tools').root).toBe('img/mkosi.tools.conf');
    write('mkosi.tools.conf', '[Content]\nPackages=strace\n');
  });

  it('drops the default initrd when the bootable preset gets Initrds=', () => {
    write('mkosi.images/sys.conf', '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64 systemd\nInitrds=%O/base.tar.zst\n');
    const now = edges();
    expect(now['img-default-initrd']).toBeUndefined();
    expect(now['img-sys']).toEqual(['img-base', 'img-tools']);
  });
}

describe('generated presets in the Nx graph, daemon off', () => suite(false));
describe('generated presets in the Nx graph, daemon on', () => suite(true));
