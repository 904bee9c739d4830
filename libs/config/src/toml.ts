/**
 * kiln.toml: a table per section with the same setting names as mkosi.conf. TOML values are
 * turned into the text mkosi.conf would hold (booleans as yes/no, arrays as items), so that the
 * same parsers, and the same messages, apply. smol-toml gives no positions, so lines are found
 * by a small scan of the text (a key's line inside its table), good enough for messages.
 */
import { parse, TomlError } from 'smol-toml';
import { ConfigError, quote } from './errors';
import { Assignment, SourceFile, SourceSection } from './source';

export function parseToml(text: string, file: string): SourceFile {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      throw new ConfigError(`invalid TOML: ${e.message.split('\n')[0]}`, { file, line: e.line });
    }
    throw e;
  }
  const lines = locateKeys(text);
  const sections: SourceSection[] = [];

  for (const [name, table] of Object.entries(doc)) {
    const line = lines.get(name) ?? 0;
    if (table === null || typeof table !== 'object' || Array.isArray(table) || table instanceof Date) {
      throw new ConfigError(`${quote(name)} must be a table of settings such as [${name}] (top-level keys are not settings)`, { file, line });
    }
    const assignments: Assignment[] = [];
    for (const [key, value] of Object.entries(table as Record<string, unknown>)) {
      assignments.push(toAssignment(key, value, { file, line: lines.get(`${name}.${key}`) ?? line }));
    }
    sections.push({ name, line, assignments });
  }
  sections.sort((a, b) => a.line - b.line);
  return { path: file, sections };
}

function toAssignment(key: string, value: unknown, origin: { file: string; line: number }): Assignment {
  // Types are checked against the setting's TOML type when it is applied (image-state.ts), where
  // the setting is known; here every value just becomes the text mkosi.conf would hold.
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    return JSON.stringify(v) ?? String(v);
  };
  if (Array.isArray(value)) {
    const items = value.map(scalar);
    return { key, value: items.join(' '), items, toml: value, line: origin.line };
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    // Environment = { KEY = "value" }
    const items = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${scalar(v)}`);
    return { key, value: items.join(' '), items, toml: value, line: origin.line };
  }
  return { key, value: scalar(value), toml: value, line: origin.line };
}

/** What a TOML value is, for messages: "an integer", "an array of tables", ... */
export function tomlTypeName(v: unknown): string {
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return 'an integer';
  if (typeof v === 'number') return 'a float';
  if (v instanceof Date) return 'a date';
  if (Array.isArray(v)) {
    const odd = v.find((x) => typeof x !== 'string');
    return odd === undefined ? 'an array of strings' : `an array holding ${tomlTypeName(odd)}`;
  }
  const odd = Object.values(v as object).find((x) => typeof x !== 'string');
  return odd === undefined ? 'a table of strings' : `a table holding ${tomlTypeName(odd)}`;
}

/** Maps "Section" and "Section.Key" to the 1-based line where each is written. */
function locateKeys(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let table = '';
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    const header = /^\[\s*([A-Za-z0-9_.-]+)\s*\]/.exec(t);
    if (header) {
      table = header[1];
      if (!out.has(table)) out.set(table, i + 1);
      return;
    }
    const key = /^"?([A-Za-z0-9_-]+)"?\s*=/.exec(t);
    if (key && table && !out.has(`${table}.${key[1]}`)) out.set(`${table}.${key[1]}`, i + 1);
  });
  return out;
}
