/**
 * The tools tree the tests run their tools from (the output formats' tools, and dnf, zypper and
 * pacman in tools-tree-installers.test.ts): a Debian trixie tree with the packages ToolsTree=default
 * installs with the default ToolsTreeProfiles=, built once per machine with kiln's own engine and
 * shared by every suite (cached-tree.ts: where it is kept, its key, concurrent builds).
 */
import { TOOLS_TREE_DEFAULTS, TOOLS_TREE_PROFILES, toolsTreePackages } from '@kiln/config';
import { cachedTree } from './cached-tree';

/** The tree's configuration: trixie, the default tools tree's packages with the default profiles. */
function toolsTreeConfig(): string {
  const packages = toolsTreePackages(TOOLS_TREE_PROFILES, TOOLS_TREE_DEFAULTS.distribution, TOOLS_TREE_DEFAULTS.release);
  return [
    '[Distribution]',
    `Distribution=${TOOLS_TREE_DEFAULTS.distribution}`,
    `Release=${TOOLS_TREE_DEFAULTS.release}`,
    '[Output]',
    'Format=directory',
    'Output=tools',
    '[Content]',
    'SourceDateEpoch=1700000000',
    'WithDocs=no',
    `Packages=${packages.join(',')}`,
    '',
  ].join('\n');
}

/** The test tools tree's root (a directory with usr/), built on first use. */
export function testToolsTree(): Promise<string> {
  return cachedTree({ kind: 'test-tools', config: toolsTreeConfig(), marker: 'usr/bin/zypper' });
}
