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
