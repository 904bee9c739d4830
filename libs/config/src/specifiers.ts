/**
 * `%x` specifiers in setting values, expanded while the configuration is read (mkosi(1),
 * "Specifiers"). Values are those configured at that point, or their defaults.
 */
import { defaultFilesystem } from './distributions';
import { ValueError } from './errors';

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

export const SPECIFIERS: Record<string, { help: string; value: Expander }> = {
  d: { help: 'Distribution=', value: (c) => c.get('Distribution') },
  r: { help: 'Release=', value: (c) => c.get('Release') },
  a: { help: 'Architecture=', value: (c) => c.get('Architecture') },
  i: { help: 'ImageId=', value: (c) => c.get('ImageId') },
  v: { help: 'ImageVersion=', value: (c) => c.get('ImageVersion') },
  t: { help: 'Format=', value: (c) => c.get('Format') },
  o: { help: 'Output=', value: (c) => c.get('Output') },
  O: { help: 'OutputDirectory=', value: (c) => c.get('OutputDirectory') },
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
      throw new ValueError(`unknown specifier "${whole}" in "${text}" (accepted: %% for "%", ${known})`);
    }
    const v = spec.value(c);
    if (v === null || v === undefined || v === '') {
      throw new ValueError(`specifier "${whole}" in "${text}" has no value here (set ${spec.help} first)`);
    }
    return String(v);
  });
}
