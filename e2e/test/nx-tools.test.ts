/**
 * The generated presets in a real Nx graph: with ToolsTree=default the tools tree is a project
 * `<main>-tools` with a cached image target that every other preset depends on; a bootable
 * preset without Initrds= depends on `<main>-default-initrd`, which depends on the tools tree too.
 * Their outputs are inputs of the dependents (dependentTasksOutputFiles), so the same tools tree
 * is a hit and a different one a miss: Nx hashes those files; this suite checks that they are
 * inputs. Edges follow the configuration as it is now. A user's own targets with Nx's default
 * inputs run on a project depending on them, whose roots are files or absent. No image is built:
 * graphs, project configurations and `true` commands only, with the daemon off and on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { graphEdges, initWorkspace, removeWorkspace, runNx, tempWorkspace, writeIn } from './workspace';

jest.setTimeout(300_000);

interface ShownProject {
  name: string;
  root: string;
  tags: string[];
  targets: Record<string, { cache?: boolean; inputs?: unknown[]; outputs?: string[]; dependsOn?: string[]; options?: Record<string, unknown> }>;
}

function suite(daemon: boolean) {
  const { ws, env } = tempWorkspace('kiln-nx-tools-', daemon);
  const img = path.join(ws, 'img');
  const nx = (args: string[]) => runNx(ws, env, args);
  const write = (rel: string, text: string) => writeIn(img, rel, text);
  const edges = () => graphEdges(ws, env, 'img');
  const show = (name: string) => JSON.parse(nx(['show', 'project', name, '--json'])) as ShownProject;
  /** Runs `nx ARGS` and gives each task's cache verdict (run.json). */
  function run(args: string[]): Record<string, 'hit' | 'miss'> {
    nx([...args, '--outputStyle=static']);
    const last = JSON.parse(fs.readFileSync(path.join(ws, '.nx-cache', 'run.json'), 'utf8')) as { tasks: { taskId: string; cacheStatus: string }[] };
    return Object.fromEntries(last.tasks.map((t) => [t.taskId, t.cacheStatus === 'cache-miss' ? 'miss' : 'hit']));
  }
  const inputFiles = (target: string) => (JSON.parse(nx(['show', 'target', 'inputs', target, '--json'])) as { files: string[] }).files;

  beforeAll(() => {
    write('mkosi.conf', '[Output]\nFormat=tar\n[Build]\nToolsTree=default\n');
    write('mkosi.tools.conf', '[Content]\nPackages=strace\n');
    write('mkosi.images/sys.conf', '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64,systemd\n');
    write('mkosi.images/base.conf', '[Output]\nFormat=directory\n');
    // A user's own targets on the main image's project, as a project.json or another plugin gives
    // them: `lint` with Nx's default inputs, `check` with nx.json's production ones (which leave
    // out the main image's mkosi.images/, so a preset's definition reaches `check` only through
    // ^production, the preset project's own named input).
    write('project.json', JSON.stringify({ targets: { lint: { command: 'true', cache: true }, check: { command: 'true', cache: true, inputs: ['production', '^production'] } } }));
    initWorkspace(ws, 'e2e-tools', [], { namedInputs: { production: ['default', '!{projectRoot}/mkosi.images/**'] } });
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
    expect(tools.targets.image.outputs).toEqual(['{workspaceRoot}/img/mkosi.output/mkosi.tools.tar.zst', '{workspaceRoot}/img/mkosi.output/mkosi.tools.manifest.json.sig', '{workspaceRoot}/img/mkosi.output/mkosi.tools.manifest.json']);
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
      expect(image.inputs).toContainEqual({ dependentTasksOutputFiles: '**/!(*.manifest.json|*.manifest.json.sig)' });
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

  // Presets' projects are rooted at files (mkosi.images/sys.conf) or at paths that do not exist
  // (mkosi.default-initrd.conf, mkosi.tools.conf removed here). Nx 24's hasher has no project
  // file map entry for them: hashing their {projectRoot} filesets failed "project img-base not found".
  it("runs a user's targets with default and production inputs on a project depending on presets rooted at files, without mkosi.tools.conf", () => {
    fs.rmSync(path.join(img, 'mkosi.tools.conf'));
    expect(run(['run-many', '-t', 'lint', 'check', '-p', 'img'])).toEqual({ 'img:lint': 'miss', 'img:check': 'miss' });
    expect(run(['run-many', '-t', 'lint', 'check', '-p', 'img'])).toEqual({ 'img:lint': 'hit', 'img:check': 'hit' });
  });

  it("hashes each preset's definition through ^production, and mkosi.tools.conf once it exists", () => {
    const files = inputFiles('img:check');
    expect(files).toEqual(expect.arrayContaining(['img/mkosi.conf', 'img/mkosi.images/sys.conf', 'img/mkosi.images/base.conf', 'img/project.json']));
    expect(files).not.toContain('img/mkosi.tools.conf');
    write('mkosi.images/sys.conf', '# a comment\n[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64,systemd\n');
    expect(run(['run', 'img:check'])).toEqual({ 'img:check': 'miss' });
    write('mkosi.tools.conf', '[Content]\nPackages=strace\n');
    expect(inputFiles('img:check')).toContain('img/mkosi.tools.conf');
    expect(run(['run-many', '-t', 'lint', 'check', '-p', 'img'])).toEqual({ 'img:lint': 'miss', 'img:check': 'miss' });
  });

  it('runs nx run img:summary, which shows the generated presets', () => {
    fs.rmSync(path.join(img, 'mkosi.tools.conf'), { force: true });
    try {
      const out = nx(['run', 'img:summary', '--outputStyle=static']);
      expect(out).toContain('IMAGE: tools (generated: the tools tree of ToolsTree=default)');
      expect(out).toMatch(/IMAGE: default-initrd \(generated/);
    } finally {
      write('mkosi.tools.conf', '[Content]\nPackages=strace\n');
    }
  });

  it('drops the default initrd when the bootable preset gets Initrds=', () => {
    write('mkosi.images/sys.conf', '[Output]\nFormat=disk\n[Content]\nPackages=linux-image-amd64,systemd\nInitrds=%O/base.tar.zst\n');
    const now = edges();
    expect(now['img-default-initrd']).toBeUndefined();
    expect(now['img-sys']).toEqual(['img-base', 'img-tools']);
  });
}

describe('generated presets in the Nx graph, daemon off', () => suite(false));
describe('generated presets in the Nx graph, daemon on', () => suite(true));
