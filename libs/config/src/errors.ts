/** Where a value or a problem comes from: a config file and a 1-based line (0 when unknown). */
export interface Origin {
  file: string;
  line: number;
}

/**
 * A mistake in the user's configuration. The message always says what is wrong and how to fix
 * it; `origin` says where. The CLI prints `file:line: message` and exits non-zero, never a stack.
 */
export class ConfigError extends Error {
  constructor(
    message: string,
    public origin?: Origin,
  ) {
    super(origin ? `${formatOrigin(origin)}: ${message}` : message);
    this.name = 'ConfigError';
  }

  /** The message without the location, for re-wrapping with a better origin. */
  get reason(): string {
    return this.origin ? this.message.slice(formatOrigin(this.origin).length + 2) : this.message;
  }
}

/** A value that a parser refused; the caller attaches the origin. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

export function formatOrigin(o: Origin): string {
  return o.line > 0 ? `${o.file}:${o.line}` : o.file;
}

/** Non-fatal findings (unknown setting, setting in the wrong section), each with its location. */
export interface Warning {
  origin: Origin;
  message: string;
}

/** How much of a value an error message quotes: a 20 MB line must not become a 20 MB message. */
const QUOTE_LIMIT = 120;

/**
 * A value quoted for a one-line message: control characters escaped (a newline or a NUL in a
 * value must not break the `file:line: message` line), and cut short past QUOTE_LIMIT characters.
 */
export function quote(v: string): string {
  const cut = v.length > QUOTE_LIMIT ? `${v.slice(0, QUOTE_LIMIT)}...` : v;
  return `"${cut.replace(/[\u0000-\u001f\u007f"\\]/g, (c) => (c === '"' || c === '\\' ? c : c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;
}
