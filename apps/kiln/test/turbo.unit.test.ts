import type { PresetFacts, ProjectFacts } from '@kiln/config/dist/facts';
import { planTurbo, rootPackageJson, rootTurboJson, type WorkspaceView } from '../src/turbo';

/** Facts of a project /ws/images/os with presets base (directory) and system (tar on base). */
function facts(): ProjectFacts {
  const preset = (p: Partial<PresetFacts> & { name: string }): PresetFacts =>
    ({ main: false, source: '', format: 'tar', bootable: false, files: [], cachedOutputs: [], dependencies: [], settingsHash: '', lockfile: '', paths: [], readsOutputsOf: [], environment: [], tools: {} as never, ...p }) as PresetFacts;
  return {
    dir: '/ws/images/os',
    root: '/ws/images/os',
    presets: [
      preset({ name: 'base', format: 'directory', cachedOutputs: ['/ws/images/os/mkosi.output/base.tar.zst', '/ws/images/os/mkosi.output/base.manifest.json'] }),
      preset({ name: 'os', main: true, dependencies: ['base'], readsOutputsOf: ['base'], environment: ['SOURCE_DATE_EPOCH'], cachedOutputs: ['/ws/images/os/mkosi.output/os.tar.zst'] }),
    ],
  } as unknown as ProjectFacts;
}

function view(files: Record<string, string>): WorkspaceView {
  return {
    read: (rel) => files[rel],
    list: (rel) => [...new Set(Object.keys(files).filter((f) => f.startsWith(`${rel}/`)).map((f) => f.slice(rel.length + 1).split('/')[0]))],
  };
}

describe('kiln turbo: the files it plans (turbo.ts)', () => {
  const root = { 'package.json': '{ "name": "w", "workspaces": ["apps/*"], "scripts": { "lint": "eslint ." } }' };

  it('a package per preset: the digest as the only input, outputs under $TURBO_ROOT$, env, dependencies', () => {
    const plan = planTurbo(facts(), '/ws', view(root));
    const os = JSON.parse(plan.write.get('kiln.turbo/os/package.json')!);
    expect(os.name).toBe('@kiln-turbo/os');
    expect(os.dependencies).toEqual({ '@kiln-turbo/os-base': '*' });
    expect(os.scripts.image).toBe('kiln turbo check && kiln build -C ../../images/os --preset os --force --no-deps');
    expect(os.kiln).toEqual({ directory: 'images/os', preset: 'os' });
    const task = JSON.parse(plan.write.get('kiln.turbo/os-base/turbo.json')!).tasks.image;
    expect(task).toEqual({
      dependsOn: ['^image'],
      inputs: ['kiln.digest'],
      outputs: ['$TURBO_ROOT$/images/os/mkosi.output/base.tar.zst', '$TURBO_ROOT$/images/os/mkosi.output/base.manifest.json'],
      env: [],
      // turbo 2's strict env mode: without these, signing and signature checks were silently off.
      passThroughEnv: ['KILN_SIGNING_KEY', 'KILN_ALLOWED_SIGNERS', 'KILN_VERBOSE', 'KILN_PROGRESS_INTERVAL', 'KILN_DIGEST_CACHE', 'KILN_TOOLS_PATH'],
    });
    expect(JSON.parse(plan.write.get('kiln.turbo/os/turbo.json')!).tasks.image.env).toEqual(['SOURCE_DATE_EPOCH']);
    expect(plan.write.get('kiln.turbo/.gitignore')).toContain('*/kiln.digest');
  });

  it('the project directory is quoted in the script npm runs with sh -c', () => {
    const f = facts();
    f.dir = f.root = "/ws/images/my os's";
    const plan = planTurbo(f, '/ws', view(root));
    expect(JSON.parse(plan.write.get('kiln.turbo/os/package.json')!).scripts.image).toBe(`kiln turbo check && kiln build -C '../../images/my os'\\''s' --preset os --force --no-deps`);
  });

  it("merges the root files, keeping the user's workspaces, scripts and tasks; twice gives the same", () => {
    const once = planTurbo(facts(), '/ws', view({ ...root, 'turbo.json': '{ "tasks": { "lint": {}, "image": { "dependsOn": ["build"] } } }' }));
    const pkg = JSON.parse(once.write.get('package.json')!);
    expect(pkg.workspaces).toEqual(['apps/*', 'kiln.turbo/*']);
    expect(pkg.scripts).toEqual({ lint: 'eslint .', image: 'kiln turbo digests && turbo run image' });
    expect(JSON.parse(once.write.get('turbo.json')!).tasks).toEqual({ lint: {}, image: { dependsOn: ['build'] } });
    const twice = planTurbo(facts(), '/ws', view(Object.fromEntries(once.write)));
    expect(twice.write).toEqual(once.write);
    expect(rootPackageJson('{ "workspaces": { "packages": ["a/*"], "nohoist": [] } }')).toContain('"kiln.turbo/*"');
    expect(JSON.parse(rootTurboJson(undefined)).tasks).toEqual({ image: { dependsOn: ['^image'] } });
  });

  it("removes packages of this project's presets that are gone, never another project's", () => {
    const files = {
      ...root,
      'kiln.turbo/os-old/package.json': '{ "kiln": { "directory": "images/os", "preset": "old" } }',
      'kiln.turbo/other/package.json': '{ "kiln": { "directory": "images/other", "preset": "other" } }',
      'kiln.turbo/mine/package.json': '{ "name": "mine" }',
    };
    expect(planTurbo(facts(), '/ws', view(files)).remove).toEqual(['kiln.turbo/os-old']);
  });

  it('bad input: a one-line message naming the file, nothing planned', () => {
    expect(() => planTurbo(facts(), '/ws', view({ 'package.json': '{ nope' }))).toThrow(/^package\.json:1: not valid JSON/);
    expect(() => planTurbo(facts(), '/ws', view({}))).toThrow(/package\.json: not found/);
    expect(() => planTurbo(facts(), '/elsewhere', view(root))).toThrow(/outside the workspace/);
    expect(() => planTurbo(facts(), '/ws', view({ ...root, 'pnpm-workspace.yaml': 'packages:\n  - apps/*\n' }))).toThrow(/^pnpm-workspace\.yaml:1: .*add `  - "kiln\.turbo\/\*"` under packages:/);
    expect(planTurbo(facts(), '/ws', view({ ...root, 'pnpm-workspace.yaml': "packages:\n  - apps/*\n  - 'kiln.turbo/*'\n" })).write.size).toBeGreaterThan(0);
  });
});
