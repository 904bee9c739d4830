/**
 * A config file as the evaluator sees it, whatever its syntax: sections in order, each with its
 * assignments and their lines. mkosi.conf (INI) and kiln.toml both read into this, so the same
 * rules and the same error messages apply to both.
 */
export interface Assignment {
  key: string;
  /** The text after `=` (continuation lines joined with "\n"); "" resets the setting. */
  value: string;
  /** TOML arrays and tables: one string per item, parsed without splitting on whitespace. */
  items?: string[];
  /** kiln.toml: the value as TOML typed it, checked against the setting's TOML type. */
  toml?: unknown;
  line: number;
}

export interface SourceSection {
  name: string;
  line: number;
  assignments: Assignment[];
}

export interface SourceFile {
  path: string;
  sections: SourceSection[];
}
