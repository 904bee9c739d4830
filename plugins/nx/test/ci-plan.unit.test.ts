/**
 * kiln-ci-plan's logic: levels, shares, read-only plans, the depth check and what each CI system
 * is given. The graphs are small hand-written ones; e2e/test/nx-ci.test.ts plans the real demo.
 */
import { parse } from 'yaml';
import { checkDepth, levelsOf, planComponents, planLevels, PlanError, shard } from '../src/ci/plan';
import { githubOutput, gitlabPipeline, shares } from '../src/ci/render';

/** The demo's graph: system reads base and initrd, all three read the tools tree. */
const demo = { system: ['system-base', 'system-initrd', 'system-tools'], 'system-base': ['system-tools'], 'system-initrd': ['system-tools'], 'system-tools': [] };

describe('levels', () => {
  it('puts each preset one level above the highest affected preset it reads', () => {
    expect(levelsOf(['system', 'system-base', 'system-initrd', 'system-tools'], demo)).toEqual(
      new Map([
        ['system', 3],
        ['system-base', 2],
        ['system-initrd', 2],
        ['system-tools', 1],
      ]),
    );
  });

  it('an unaffected dependency adds no level (the runners restore it), and a path through an unplanned project still orders', () => {
    expect(levelsOf(['system', 'system-base'], demo)).toEqual(
      new Map([
        ['system', 2],
        ['system-base', 1],
      ]),
    );
    // app -> lib (no image target) -> base: app still comes after base.
    expect(levelsOf(['app', 'base'], { app: ['lib'], lib: ['base'], base: [] })).toEqual(
      new Map([
        ['app', 2],
        ['base', 1],
      ]),
    );
  });

  it('refuses a cycle instead of looping', () => {
    expect(() => levelsOf(['a'], { a: ['b'], b: ['a'] })).toThrow(PlanError);
  });
});

describe('shares', () => {
  it('deals sorted presets in turn: deterministic, balanced by count, whatever order they come in', () => {
    expect(shard(['e', 'a', 'd', 'b', 'c'], 3)).toEqual([['a', 'd'], ['b', 'e'], ['c']]);
    expect(shard(['c', 'b', 'a', 'e', 'd'], 3)).toEqual(shard(['e', 'a', 'd', 'b', 'c'], 3));
    expect(shard(['a'], 3)).toEqual([['a'], [], []]);
  });

  it('a plan is a list of levels, each the runners\' shares', () => {
    expect(planLevels(['system-tools', 'system-initrd', 'system-base', 'system'], demo, 3)).toEqual({
      levels: [[['system-tools'], [], []], [['system-base'], ['system-initrd'], []], [['system'], [], []]],
    });
    expect(planLevels([], demo, 3)).toEqual({ levels: [] });
    expect(() => planLevels(['system'], demo, 0)).toThrow(/--runners 0/);
  });

  it('a read-only plan is one level of independent groups: no runner needs what another built', () => {
    const graph = { ...demo, app: ['app-base', 'system-tools'], 'app-base': ['system-tools'], tool: [] };
    // system-tools unaffected: the two projects' presets are independent groups, tool a third.
    expect(planComponents(['system', 'system-base', 'system-initrd', 'app', 'app-base', 'tool'], graph, 2)).toEqual({
      levels: [[['system', 'system-base', 'system-initrd'], ['app', 'app-base', 'tool']]],
    });
    // system-tools affected: it ties every preset reading it into one group.
    expect(planComponents(['system', 'system-base', 'app', 'system-tools'], graph, 2)).toEqual({ levels: [[['app', 'system', 'system-base', 'system-tools'], []]] });
  });

  it('a plan deeper than the workflow\'s level jobs fails, naming the generator option that fixes it', () => {
    const plan = planLevels(['system-tools', 'system-base', 'system'], demo, 2);
    expect(() => checkDepth(plan, 2)).toThrow('run `nx g @kiln/nx:ci --levels=3` again');
    expect(() => checkDepth(plan, 3)).not.toThrow();
  });
});

describe('what the CI systems are given', () => {
  const plan = planLevels(['system-base', 'system-initrd', 'system'], demo, 3);
  const outputs = { system: ['s/mkosi.output/system.tar.zst', 's/mkosi.output/system.manifest.json'], 'system-base': ['s/mkosi.output/base.tar.zst'], 'system-initrd': ['s/mkosi.output/initrd.cpio.zst'] };
  const files = { outputs, presets: { system: 's:system', 'system-base': 's:base', 'system-initrd': 's:initrd' } };

  it('GitHub: one matrix per level job, only the shares with work, [] for a level with none', () => {
    const lines = Object.fromEntries(
      githubOutput(plan, files, 3)
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(lines)).toEqual(['plan', 'depth', 'level1', 'level2', 'level3']);
    expect(JSON.parse(lines.level1)).toEqual([
      { projects: 'system-base', outputs: 's/mkosi.output/base.tar.zst', verify: 's:base' },
      { projects: 'system-initrd', outputs: 's/mkosi.output/initrd.cpio.zst', verify: 's:initrd' },
    ]);
    expect(JSON.parse(lines.level2)).toEqual([{ projects: 'system', outputs: 's/mkosi.output/system.tar.zst\ns/mkosi.output/system.manifest.json', verify: 's:system' }]);
    expect(lines.level3).toBe('[]');
    expect(lines.depth).toBe('2');
  });

  it('GitLab: a child pipeline with a stage per level and a job per share, extending the template', () => {
    const child = parse(gitlabPipeline(plan, files, { include: '.gitlab/kiln-ci.yml', template: '.kiln-image' }));
    expect(child.include).toEqual([{ local: '.gitlab/kiln-ci.yml' }]);
    expect(child.stages).toEqual(['kiln-level-1', 'kiln-level-2']);
    expect(child['kiln level 2 runner 1']).toEqual({
      extends: '.kiln-image',
      stage: 'kiln-level-2',
      variables: { KILN_PROJECTS: 'system', KILN_VERIFY: 's:system' },
      artifacts: { name: 'kiln-level2-runner1', paths: outputs.system, when: 'on_success' },
    });
    expect(Object.keys(child).filter((k) => k.startsWith('kiln level'))).toHaveLength(shares(plan, files).flat().length);
  });

  it('GitLab: nothing affected is one job saying so (GitLab refuses a pipeline without jobs)', () => {
    const child = parse(gitlabPipeline({ levels: [] }, { outputs: {}, presets: {} }, { include: '.gitlab/kiln-ci.yml', template: '.kiln-image' }));
    expect(Object.keys(child)).toEqual(['include', 'kiln nothing affected']);
  });
});
