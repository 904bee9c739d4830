/**
 * `%x` specifiers in setting values, expanded while the configuration is read (mkosi(1),
 * "Specifiers"). Values are those configured at that point, or their defaults.
 *
 * As mkosi 26 (ParseContext.expand_specifiers): a specifier standing for a setting that is not
 * set yet (`%v` before ImageVersion=) expands to nothing with a warning, and so does an unknown
 * one (`%q`, both characters dropped); `%%` is "%", and a "%" ending the value stays.
 */
import { defaultFilesystem } from './distributions';
import { quote } from './errors';
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
  /** Where a specifier that expands to nothing is said (the reader's warnings, with file:line); absent: not said. */
  warn?(message: string): void;
}

type Expander = (c: SpecifierContext) => unknown;

/** The letters that stand for a setting's value come from the settings table's `specifier` column. */
const FROM_SETTINGS: Record<string, { help: string; value: Expander; setting?: string }> = Object.fromEntries(
  (SETTINGS as readonly SettingDef[]).filter((d) => d.specifier).map((d) => [d.specifier, { help: `${d.name}=`, setting: d.name, value: (c: SpecifierContext) => c.get(d.name) }]),
);

export const SPECIFIERS: Record<string, { help: string; value: Expander; setting?: string }> = {
  ...FROM_SETTINGS,
  C: { help: 'the directory of the config file', value: (c) => c.configFileDir },
  P: { help: 'the config directory being read', value: (c) => c.configDir },
  D: { help: 'the project directory (-C)', value: (c) => c.root },
  I: { help: 'the preset name (main for the main image)', value: (c) => c.image },
  F: { help: "the distribution's default filesystem", value: (c) => defaultFilesystem(String(c.get('Distribution'))), setting: 'Distribution' },
};

export function expandSpecifiers(text: string, c: SpecifierContext): string {
  if (!text.includes('%')) return text;
  return text.replace(/%([\s\S]?)/g, (whole, letter: string) => {
    if (letter === '%') return '%';
    // A "%" at the very end is kept as written.
    if (letter === '') return '%';
    const spec = SPECIFIERS[letter];
    if (!spec) {
      const known = Object.keys(SPECIFIERS).map((k) => `%${k}`).join(' ');
      c.warn?.(`unknown specifier ${quote(whole)} in ${quote(text)} is dropped, as mkosi drops it (accepted: %% for "%", ${known}; write %% for a literal "%")`);
      return '';
    }
    const v = spec.value(c);
    if (v === null || v === undefined) {
      c.warn?.(`${spec.setting ?? spec.help} is not yet set where ${quote(whole)} in ${quote(text)} is read: it expands to nothing, as in mkosi (set ${spec.setting ? `${spec.setting}=` : spec.help} earlier, or drop the specifier)`);
      return '';
    }
    return String(v);
  });
}
