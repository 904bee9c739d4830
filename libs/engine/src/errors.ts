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

/** Whether an error is a full file system (node's ENOSPC, or a tool saying so). */
export function isNoSpace(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code === 'ENOSPC' || /No space left on device/.test(String(err?.message ?? ''));
}

/** A full file system as one clear error: what was being written, where, and the fix. */
export function noSpaceError(what: string, where: string, preset?: string): BuildError {
  return new BuildError(
    `${what}: no space left on device in ${where}: free space there or set OutputDirectory= to a larger file system; the previous outputs are unchanged`,
    preset,
  );
}
