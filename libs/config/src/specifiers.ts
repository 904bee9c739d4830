/**
 * `%x` specifiers in setting values, expanded while the configuration is read (mkosi(1),
 * "Specifiers"). Values are those configured at that point, or their defaults.
 */
import { defaultFilesystem } from './distributions';
import { ValueError, quote } from './errors';
import { SETTINGS, type SettingDef } from './settings';

export interface SpecifierContext {
  get(name: string): unknown;
  /** The preset's name (`main` for the main image). */
  image: string;
  /** Directory of the file being read (%C). */
  configFileDir: string;
  /** The config directory being read (%P): relative paths resolve against it. */
  configDir: string;
  /** The project root. */
  root: string;
}

type Expander = (c: SpecifierContext) => unknown;

/** The letters that stand for a setting's value come from the settings table's `specifier` column. */
const FROM_SETTINGS: Record<string, { help: string; value: Expander }> = Object.fromEntries(
  (SETTINGS as readonly SettingDef[]).filter((d) => d.specifier).map((d) => [d.specifier, { help: `${d.name}=`, value: (c: SpecifierContext) => c.get(d.name) }]),
);

export const SPECIFIERS: Record<string, { help: string; value: Expander }> = {
  ...FROM_SETTINGS,
  C: { help: 'the directory of the config file', value: (c) => c.configFileDir },
  P: { help: 'the config directory being read', value: (c) => c.configDir },
  D: { help: 'the project directory (-C)', value: (c) => c.root },
  I: { help: 'the preset name (main for the main image)', value: (c) => c.image },
  F: { help: "the distribution's default filesystem", value: (c) => defaultFilesystem(String(c.get('Distribution'))) },
};

export function expandSpecifiers(text: string, c: SpecifierContext): string {
  if (!text.includes('%')) return text;
  return text.replace(/%(.?)/g, (whole, letter: string) => {
    if (letter === '%') return '%';
    const spec = SPECIFIERS[letter];
    if (!spec) {
      const known = Object.entries(SPECIFIERS).map(([k, s]) => `%${k} (${s.help})`).join(', ');
      throw new ValueError(`unknown specifier ${quote(whole)} in ${quote(text)} (accepted: %% for "%", ${known})`);
    }
    const v = spec.value(c);
    if (v === null || v === undefined || v === '') {
      throw new ValueError(`specifier ${quote(whole)} in ${quote(text)} has no value here (set ${spec.help} first)`);
    }
    return String(v);
  });
}
