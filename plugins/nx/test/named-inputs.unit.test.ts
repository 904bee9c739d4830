/**
 * The named inputs of a preset's project: every `{projectRoot}` fileset said as a
 * `{workspaceRoot}` one, so that Nx's native hasher never looks the preset up in its project file
 * map (which has no entry for a project rooted at a file, or at a path that does not exist).
 */
import { presetNamedInputs } from '../src/named-inputs';

describe('presetNamedInputs', () => {
  it("says Nx's default (every file of the project) as the root itself and what is under it", () => {
    expect(presetNamedInputs('img/mkosi.tools.conf', undefined)).toEqual({
      default: ['{workspaceRoot}/img/mkosi.tools.conf', '{workspaceRoot}/img/mkosi.tools.conf/**/*'],
    });
  });

  it("rewrites the workspace's named inputs, negations and object filesets too, and keeps everything else", () => {
    const named = presetNamedInputs('img/mkosi.images/base.conf', {
      default: ['{projectRoot}/**', 'sharedGlobals'],
      production: ['default', '!{projectRoot}/**/*.spec.ts', { fileset: '{projectRoot}/src/**/*', includeIgnored: true }],
      sharedGlobals: ['{workspaceRoot}/tsconfig.base.json', { runtime: 'node -v' }, { env: 'CI' }, { externalDependencies: ['nx'] }],
      config: [{ json: '{projectRoot}/package.json', fields: ['name'] }],
    });
    expect(named).toEqual({
      default: ['{workspaceRoot}/img/mkosi.images/base.conf', '{workspaceRoot}/img/mkosi.images/base.conf/**', 'sharedGlobals'],
      production: ['default', '!{workspaceRoot}/img/mkosi.images/base.conf/**/*.spec.ts', { fileset: '{workspaceRoot}/img/mkosi.images/base.conf/src/**/*', includeIgnored: true }],
      sharedGlobals: ['{workspaceRoot}/tsconfig.base.json', { runtime: 'node -v' }, { env: 'CI' }, { externalDependencies: ['nx'] }],
      config: [{ json: '{workspaceRoot}/img/mkosi.images/base.conf/package.json', fields: ['name'] }],
    });
    // Not one {projectRoot} fileset left for the native hasher to look up.
    expect(JSON.stringify(named)).not.toMatch(/"!?\{projectRoot\}/);
  });
});
