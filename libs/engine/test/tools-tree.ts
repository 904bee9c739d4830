/**
 * The tools tree the output-format tests run their tools from: built once per machine with
 * kiln's own engine from the real Debian mirror (trixie, the default tools tree's packages) and
 * kept under the user's cache (~/.cache/kiln/test-tools/<hash of its configuration>/), so that
 * every suite (and every CI run on the same machine) shares one. A build goes into a directory of
 * its own and is renamed into place when whole, so concurrent suites never see half a tree.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TOOLS_TREE_DEFAULTS, TOOLS_TREE_PACKAGES } from '@kiln/config';
import { buildIn, failure } from './kiln';

export function toolsTreeConfig(): string {
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
    `Packages=${TOOLS_TREE_PACKAGES.join(' ')}`,
    '',
  ].join('\n');
}

let built: Promise<string> | undefined;

/** The test tools tree's root (a directory with usr/), built on first use. */
export function testToolsTree(): Promise<string> {
  built ??= buildToolsTree();
  return built;
}

async function buildToolsTree(): Promise<string> {
  const conf = toolsTreeConfig();
  const base = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln', 'test-tools');
  const dir = path.join(base, createHash('sha256').update(conf).digest('hex').slice(0, 16));
  const tree = path.join(dir, 'mkosi.output', 'tools');
  if (fs.existsSync(path.join(tree, 'usr/bin/systemd-repart'))) return tree;
  fs.mkdirSync(base, { recursive: true });
  const work = fs.mkdtempSync(path.join(base, 'build-'));
  fs.writeFileSync(path.join(work, 'mkosi.conf'), conf);
  const run = await buildIn(work);
  if (run.error) throw new Error(`building the test tools tree failed:\n${failure(run)}\n${run.log}`);
  try {
    fs.renameSync(work, dir);
  } catch (e) {
    // Another suite's build got there first: use it, drop ours.
    if (!fs.existsSync(path.join(tree, 'usr/bin/systemd-repart'))) throw e;
    fs.rmSync(work, { recursive: true, force: true });
  }
  return tree;
}
