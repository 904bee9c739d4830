/**
 * "Not supported by kiln yet": the settings of a resolved preset that would change its image but
 * that the engine does not act on. kiln reads every setting mkosi 26 knows (so no configuration is
 * refused for naming one), but building an image that silently lacks what a setting asks for
 * would be wrong, so the build refuses such a preset before doing anything (engine build.ts).
 *
 * A setting counts when the table marks it (`engine: false`, or a `supports` predicate that says
 * no to this value) and its cache role is not 'none' (runtime settings, cache locations and the
 * like cannot change the image: they are accepted whatever their value). A setting counts only
 * when its value differs from its default, and a 'scripts' one only when the preset runs
 * scripts, the only way it reaches the image.
 */
import { ConfigError, Origin } from './errors';
import { checkBuildValues } from './list-items';
import type { Preset } from './project';
import { DefaultContext, SETTINGS, SettingDef, settingValue } from './settings';

export interface UnsupportedSetting {
  name: string;
  /** The value as `kiln summary` shows it (paths relative to the project root). */
  value: string;
  /** The value to set instead (the default, or for a partly supported setting, its default when that is supported). */
  instead: string;
  /** Where the value was set; the preset's own config when it comes from a default file or the main image. */
  origin: Origin;
}

/** The default of `def` for `preset`, computed as the reader computes it (from the preset's other values). */
export function defaultValue(def: SettingDef, preset: Preset, root: string): unknown {
  if (typeof def.default !== 'function') return def.default;
  const ctx: DefaultContext = { image: preset.main ? 'main' : preset.name, root, get: (n) => settingValue(preset.config, n) };
  const v = (def.default as (c: DefaultContext) => unknown)(ctx);
  return v === undefined ? null : v;
}

const runsScripts = (preset: Preset) =>
  (SETTINGS as readonly SettingDef[]).some((d) => d.cache === 'script' && (settingValue(preset.config, d.name) as unknown[]).length > 0);

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Where `preset` got the value of `name`: its own line, else the main image's (a universal value
 * forced on a generated preset), else the preset's own config.
 */
function originOf(preset: Preset, name: string, main?: Preset): Origin {
  return preset.origins[name] ?? main?.origins[name] ?? { file: preset.source, line: 0 };
}

/**
 * Settings of `preset` whose value would change the image but that the engine ignores, in table
 * order. `main`, the main image, names the line of a value a generated preset got from it.
 */
export function unsupportedSettings(preset: Preset, root: string, main?: Preset): UnsupportedSetting[] {
  const out: UnsupportedSetting[] = [];
  const config = preset.config as unknown as Record<string, unknown>;
  const scripts = runsScripts(preset);
  for (const def of SETTINGS as readonly SettingDef[]) {
    if (def.engine !== false && !def.supports) continue;
    if (def.cache === 'none' || (def.cache === 'scripts' && !scripts)) continue;
    const value = config[def.name];
    const dflt = defaultValue(def, preset, root);
    // A default is never refused (a setting left alone asks for nothing); the defaults of
    // partly supported settings are supported values, or depend on one that is refused itself
    // (SecureBootSignTool=auto with SecureBoot=yes: SecureBoot= is the one named).
    if (same(value, dflt)) continue;
    if (def.engine !== false && (value === null || def.supports!(value as never, config))) continue;
    out.push({
      name: def.name,
      value: shown(def, value, root),
      instead: shown(def, dflt, root),
      origin: originOf(preset, def.name, main),
    });
  }
  return out;
}

function shown(def: SettingDef, v: unknown, root: string): string {
  if (v === null || v === undefined) return '(unset)';
  if (def.secret) return '(set)';
  if (Array.isArray(v) && v.length === 0) return '(empty)';
  return def.kind.show(v as never, { root }).split('\n').join(' ');
}

/**
 * Throws a ConfigError naming, at the line that set it, the first value of `preset` that mkosi
 * reads but kiln cannot build (`Hostname=: "a_b" is not valid (accepted: ...)`), else the first
 * unsupported setting (`Setting=value: not supported by kiln yet (remove it, or set it to
 * DEFAULT)`) and how many more there are.
 */
export function checkSupported(preset: Preset, root: string, main?: Preset): void {
  checkBuildValues(preset, root, main);
  const found = unsupportedSettings(preset, root, main);
  if (!found.length) return;
  const [first, ...more] = found;
  const also = more.length ? `; also ${more.map((u) => `${u.name}=`).join(', ')}` : '';
  const fix = first.instead === '(unset)' || first.instead === '(empty)' ? 'remove it' : `remove it, or set it to ${first.instead}`;
  throw new ConfigError(`${first.name}=${first.value}: not supported by kiln yet (${fix})${also}`, first.origin);
}

/**
 * The [Runtime] settings of `preset` set to a value `kiln vm` does not act on (TPM=yes,
 * RuntimeTrees=, ...): they cannot change the image, so they are accepted, and `kiln vm` notes
 * that it ignores them.
 */
export function ignoredRuntimeSettings(preset: Preset, root: string): UnsupportedSetting[] {
  const config = preset.config as unknown as Record<string, unknown>;
  return (SETTINGS as readonly SettingDef[])
    .filter((def) => def.section === 'Runtime' && (def.engine === false || def.supports))
    .filter((def) => {
      const value = config[def.name];
      const dflt = defaultValue(def, preset, root);
      return !same(value, dflt) && (def.engine === false || (value !== null && !def.supports!(value as never, config)));
    })
    .map((def) => ({
      name: def.name,
      value: shown(def, config[def.name], root),
      instead: shown(def, defaultValue(def, preset, root), root),
      origin: preset.origins[def.name] ?? { file: preset.source, line: 0 },
    }));
}
