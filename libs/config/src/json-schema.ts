/**
 * The JSON Schema of kiln.toml, generated from the settings table (through zod): a table per
 * section, each setting with its type, description and default, plus the condition sections.
 * Editors (Even Better TOML, taplo) use it for completion and checking.
 */
import { z } from 'zod';
import { matchKeys } from './match';
import { SECTIONS, SETTINGS, SettingDef } from './settings';

export function tomlSchema(): z.ZodType {
  const sections: Record<string, z.ZodType> = {};
  for (const section of SECTIONS) {
    const shape: Record<string, z.ZodType> = {};
    for (const def of SETTINGS as readonly SettingDef[]) {
      if (def.section !== section) continue;
      const meta: { description: string; default?: unknown } = { description: `${def.help} (scope: ${def.scope})` };
      if (def.default !== null && typeof def.default !== 'function') meta.default = def.default;
      shape[def.name] = def.kind.toml.optional().meta(meta);
    }
    sections[section] = z.strictObject(shape).optional();
  }
  const condition = z.strictObject(Object.fromEntries(matchKeys().map((k) => [k, z.union([z.string(), z.array(z.string())]).optional()]))).optional();
  for (const name of ['Match', 'TriggerMatch', 'Assert', 'TriggerAssert']) sections[name] = condition;
  return z.strictObject(sections);
}

export function tomlJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(tomlSchema(), { target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: 'kiln.toml',
    description: 'A kiln preset: the settings of mkosi.conf, a TOML table per section. Generated from the settings table; do not edit.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
