/**
 * The tools tree the output-format tests run their tools from: a Debian trixie tree with the
 * default tools tree's packages, built once per machine with kiln's own engine and shared by every
 * suite (cached-tree.ts: where it is kept, its key, concurrent builds).
 */
import { TOOLS_TREE_DEFAULTS, TOOLS_TREE_PACKAGES } from '@kiln/config';
import { cachedTree } from './cached-tree';

/** A trixie tree's configuration, of the default tools tree's packages unless others are given. */
export function toolsTreeConfig(packages: readonly string[] = TOOLS_TREE_PACKAGES): string {
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
  return cachedTree({ kind: 'test-tools', config: toolsTreeConfig(), marker: 'usr/bin/systemd-repart' });
}
