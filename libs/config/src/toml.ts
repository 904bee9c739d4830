/**
 * kiln.toml: a table per section with the same setting names as mkosi.conf. TOML values are
 * turned into the text mkosi.conf would hold (booleans as yes/no, arrays as items), so that the
 * same parsers, and the same messages, apply. smol-toml gives no positions, so lines are found
 * by a small scan of the text (a key's line inside its table), good enough for messages.
 */
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from './errors';
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
      throw new ConfigError(`"${name}" must be a table of settings such as [${name}] (top-level keys are not settings)`, { file, line });
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
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    throw new ConfigError(`${key} has a value of the wrong type (accepted: a string, boolean, number, or an array of strings)`, origin);
  };
  if (Array.isArray(value)) {
    const items = value.map(scalar);
    return { key, value: items.join(' '), items, line: origin.line };
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    // Environment = { KEY = "value" }
    const items = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${scalar(v)}`);
    return { key, value: items.join(' '), items, line: origin.line };
  }
  return { key, value: scalar(value), line: origin.line };
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
