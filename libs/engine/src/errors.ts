/** A build step that failed: says which preset, which step and why, for the CLI to print as one line. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly preset?: string,
  ) {
    super(preset ? `${preset}: ${message}` : message);
    this.name = 'BuildError';
  }
}
