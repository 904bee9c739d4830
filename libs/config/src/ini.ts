/**
 * systemd-style INI as mkosi reads it (mkosi/config.py parse_ini): `[Section]` headers, `Key=Value`
 * (keys may repeat), lines starting with whitespace continue the previous value, and `#` starts a
 * comment anywhere on a line (so `Packages=systemd  # why` works; there is no escape). Blank and
 * comment-only lines never end a continued value. A common indent of the whole file is removed.
 * Lines of a section the reader does not read (`readSection`, mkosi's only_sections) are skipped
 * unparsed, as mkosi skips them: a `[PostInstall]` of shell lines is not an error.
 */
import { ConfigError, quote } from './errors';
import { SourceFile, SourceSection } from './source';

export function parseIni(text: string, file: string, opts: { readSection?: (name: string) => boolean } = {}): SourceFile {
  const sections: SourceSection[] = [];
  let current: SourceSection | undefined;
  let last: { value: string } | undefined;
  const lines = dedent(text.replace(/^\uFEFF/, '').split(/\r?\n/));

  lines.forEach((full, i) => {
    const line = i + 1;
    // A NUL byte is never text: in a value it would cut the argument a tool sees.
    if (full.includes('\0')) throw new ConfigError('contains a NUL byte (a config file is text: remove it)', { file, line });
    const hash = full.indexOf('#');
    const raw = (hash < 0 ? full : full.slice(0, hash)).trimEnd();
    const trimmed = raw.trim();
    if (trimmed === '') return;

    const header = /^\[([^\]]*)\]$/.exec(trimmed);
    // In a skipped section only a header counts (indented or not: nothing there continues a value).
    const skipping = current !== undefined && opts.readSection !== undefined && !opts.readSection(current.name);
    if (skipping && !header) return;

    if (/^\s/.test(raw) && !skipping) {
      if (!last) {
        throw new ConfigError(`indented line ${quote(trimmed)} continues no setting (start it at column 1 as KEY=VALUE, or put it under a KEY= line)`, { file, line });
      }
      last.value = last.value === '' ? trimmed : `${last.value}\n${trimmed}`;
      return;
    }

    if (header) {
      const name = header[1].trim();
      if (!name) throw new ConfigError('empty section header "[]" (write a section name such as [Content])', { file, line });
      current = { name, line, assignments: [] };
      sections.push(current);
      last = undefined;
      return;
    }

    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError(`${quote(trimmed)} is not a setting (expected KEY=VALUE)`, { file, line });
    }
    const key = trimmed.slice(0, eq).trim();
    if (!current) {
      throw new ConfigError(`${key}= is outside any section (put it under a section header such as [Content])`, { file, line });
    }
    const assignment = { key, value: trimmed.slice(eq + 1).trim(), line };
    current.assignments.push(assignment);
    last = assignment;
  });

  return { path: file, sections };
}

/** Removes the indent every non-blank line shares, as textwrap.dedent() does for mkosi. */
function dedent(lines: string[]): string[] {
  let common: string | undefined;
  for (const l of lines) {
    if (l.trim() === '') continue;
    const indent = /^[ \t]*/.exec(l)![0];
    if (common === undefined || !indent.startsWith(common)) {
      let n = 0;
      while (common !== undefined && n < common.length && n < indent.length && common[n] === indent[n]) n++;
      common = common === undefined ? indent : common.slice(0, n);
    }
    if (common === '') return lines;
  }
  return common ? lines.map((l) => (l.startsWith(common!) ? l.slice(common!.length) : l.trimStart())) : lines;
}
