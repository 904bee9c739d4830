/**
 * Where a build's output steps take their tools from (BuildContext.tools):
 *
 *   ToolsTree=PATH       that tree;
 *   ToolsTree=default    the generated `tools` preset's tree (@kiln/config generated.ts);
 *   unset, no, none      null: the host's tools, whose versions tool-check.ts checks.
 *
 * The tools preset itself builds with the host's tools. Its tree is read from its archive
 * (OutputDirectory/mkosi.tools.tar.zst), never from the directory beside it: after an Nx cache
 * restore only the archive is there (a directory output's cached file), and a directory left by
 * an older build would be the wrong tools. The archive is unpacked once into the user's cache,
 * ~/.cache/kiln/tools/<sha256 of the archive>/, whole or not at all (unpacked beside it, then
 * renamed into place), and reused by every build and every project with the same tools tree.
 * Trees unused for CacheMaxAge= days go when another is used; `kiln clean --all` removes the
 * project's own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseTreeFile, type Preset, type Project } from '@kiln/config';
import { BuildError } from './errors';
import type { RunContext } from './exec';
import { removeTree, sha256File, userCacheDir } from './fsutil';
import { copyTree } from './trees';

/** The generated tools preset the preset's builds run their tools from, or undefined. */
export function toolsPresetOf(project: Project, preset: Preset): Preset | undefined {
  const edge = preset.dependencies.find((e) => e.reason === 'ToolsTree=');
  return edge && project.presets.find((p) => p.name === edge.preset);
}

/** The tools tree root of a preset's build (see the module comment), unpacking the tools preset's archive when needed. */
export async function resolveTools(project: Project, preset: Preset, run: RunContext, env: Record<string, string | undefined>): Promise<string | null> {
  if (preset.generated === 'tools') return null;
  const value = preset.config.ToolsTree;
  if (value === null || value === 'no' || value === 'none') return null;
  if (path.isAbsolute(value)) return value;
  const tools = toolsPresetOf(project, preset);
  if (!tools) throw new BuildError(`ToolsTree=${value} but the project has no tools preset (a kiln bug: it is generated with the project)`, preset.name);
  const archive = baseTreeFile(tools.config);
  if (!archive || !fs.existsSync(archive)) {
    throw new BuildError(`the tools tree (preset ${tools.name}, ToolsTree=${value}) is not built yet: ${archive ?? tools.config.Output} is missing (kiln build --preset ${tools.name}, or build this preset with its dependencies)`, preset.name);
  }
  return unpackedTools(archive, run, env, tools.config.CacheMaxAge);
}

/** Where the tools tree of an archive is unpacked (shared by every project of the user). */
export async function unpackedToolsPath(archive: string, env: Record<string, string | undefined>): Promise<string> {
  return path.join(userCacheDir(env, 'tools'), await sha256File(archive));
}

/**
 * The unpacked tree of a tools archive, from the cache (keyed by the archive's SHA-256) or
 * unpacked now. Each use stamps the tree's mtime; trees unused for `maxAgeDays` (CacheMaxAge=,
 * 0: never) are removed, as incremental layers are.
 */
export async function unpackedTools(archive: string, run: RunContext, env: Record<string, string | undefined>, maxAgeDays = 0): Promise<string> {
  const tree = await unpackedToolsPath(archive, env);
  const base = path.dirname(tree);
  if (fs.existsSync(path.join(tree, 'usr'))) {
    const now = new Date();
    fs.utimesSync(tree, now, now);
    await evictTools(base, tree, maxAgeDays);
    return tree;
  }
  fs.mkdirSync(base, { recursive: true });
  const partial = fs.mkdtempSync(path.join(base, '.unpacking-'));
  try {
    run.log(`unpacking the tools tree ${archive} into ${tree}`);
    await copyTree({ ...run, label: run.label }, { source: archive, target: null }, partial, { rootOwned: false, what: 'tools tree' });
    try {
      fs.renameSync(partial, tree);
    } catch (e) {
      // Another build unpacked the same archive first: use its tree.
      if (!fs.existsSync(path.join(tree, 'usr'))) throw e;
    }
  } finally {
    await removeTree(partial);
  }
  await evictTools(base, tree, maxAgeDays);
  return tree;
}

/** Removes unpacked tools trees (not `keep`) unused for more than `maxAgeDays` days. */
async function evictTools(base: string, keep: string, maxAgeDays: number): Promise<void> {
  if (!maxAgeDays) return;
  const limit = Date.now() - maxAgeDays * 86_400_000;
  for (const name of fs.readdirSync(base)) {
    const dir = path.join(base, name);
    if (dir === keep || !/^[0-9a-f]{64}$/.test(name)) continue;
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st && st.mtimeMs < limit) await removeTree(dir);
  }
}
