/**
 * List items written with spaces where mkosi 26 wants commas. mkosi 26 splits most list settings on
 * commas and newlines only, so `Packages=vim less` is the one item "vim less": mkosi reads it (its
 * summary shows it) and fails only when it builds. kiln reads it the same way, warns at the line
 * with the fix, and a build refuses the preset before doing anything (for the kinds whose items
 * cannot hold a space: the table's `spaced`, values.ts).
 */
import { ConfigError, Origin, quote } from './errors';
import type { Preset } from './project';
import { SETTINGS, SettingDef } from './settings';
import { Assignment } from './source';
import { commaHint, relPath, splitList, Tree } from './values';

/** The items of one assignment as written (before parsing), one for each parsed item of a comma list. */
function writtenItems(def: SettingDef, a: Assignment): string[] {
  return a.items ?? splitList(a.value, def.kind.delimiter ?? ',', def.kind.quoted ?? false);
}

/** The read-time warning for item `i` of assignment `a`, which holds a space its kind cannot hold. */
export function spacedItemMessage(def: SettingDef, a: Assignment, i: number): string {
  const written = writtenItems(def, a)[i] ?? '';
  const hint = commaHint(def.name, written, a.toml !== undefined);
  if (a.items) return `${def.name}=: ${quote(written)} holds a space, which no item of ${def.name}= does (${hint})`;
  const then = def.kind.spaced?.build === 'refuse' ? 'and a build refuses it' : 'which matches nothing unless a name holds that space';
  return `${def.name}=: ${quote(written)} is one item${a.toml === undefined ? ', as mkosi 26 reads it,' : ''} ${then} (${hint})`;
}

/**
 * The hint for a value a comma list refused that has an item with a space in it: most likely
 * items meant to be separate (`Include=a.conf b.conf`, `ManifestFormat=json changelog`).
 */
export function spaceHint(def: SettingDef, a: Assignment): string {
  // Kinds that mark spaced items check each word on its own: their error is about that word.
  if (!def.kind.list || def.kind.delimiter !== ',' || def.kind.spaced) return '';
  const spaced = writtenItems(def, a).find((x) => /\s/.test(x.trim()));
  return spaced ? ` (${commaHint(def.name, spaced, a.toml !== undefined)})` : '';
}

/** The key under which the origin of a list item holding a space is kept (Preset.itemOrigins). */
export function spacedItemKey(setting: string, item: unknown): string {
  return `${setting}\0${JSON.stringify(item)}`;
}

/**
 * Refuses a preset holding a value mkosi reads but kiln cannot build, naming the line that wrote
 * it and the fix: one loop for both kinds of such values, so that every caller checks both.
 *  - a value its kind refuses at build (`buildCheck`: Hostname=a_b, Timezone=../x), at the line
 *    that set the setting;
 *  - a list item holding a space that its kind cannot hold (a package name), at the line that
 *    wrote the item.
 * Run before a build or a lock does anything.
 */
export function checkBuildValues(preset: Preset, root: string, main?: Preset): void {
  const config = preset.config as unknown as Record<string, unknown>;
  for (const def of SETTINGS as readonly SettingDef[]) {
    const value = config[def.name];
    if (value === null || value === undefined) continue;
    const setAt: Origin = preset.origins[def.name] ?? main?.origins[def.name] ?? { file: preset.source, line: 0 };
    const why = def.kind.buildCheck?.(value as never);
    if (why) throw new ConfigError(`${def.name}=: ${why}`, setAt);
    const spaced = def.kind.spaced;
    if (!spaced || spaced.build !== 'refuse' || !Array.isArray(value)) continue;
    const bad = (value as unknown[]).find((x) => spaced.test(x));
    if (bad === undefined) continue;
    const text = typeof bad === 'string' ? relPath(bad, { root }) : relPath((bad as Tree).source, { root });
    // The line that wrote this item, not the setting's last assignment (which may be another file).
    const key = spacedItemKey(def.name, bad);
    const origin: Origin = preset.itemOrigins?.[key] ?? main?.itemOrigins?.[key] ?? setAt;
    throw new ConfigError(`${def.name}=: ${quote(text)} is one item holding a space, which kiln cannot build (${commaHint(def.name, text, /\.toml$/.test(origin.file))})`, origin);
  }
}
