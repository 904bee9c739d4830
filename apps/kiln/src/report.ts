import * as path from 'node:path';
import { ConfigError, formatOrigin, Origin, Warning } from '@kiln/config';

/** Paths under the current directory are shown relative to it, as compilers do. */
function shortOrigin(o: Origin): string {
  const rel = path.relative(process.cwd(), o.file);
  return formatOrigin({ ...o, file: rel && !rel.startsWith('..') ? rel : o.file });
}

export function reportError(e: ConfigError): void {
  const where = e.origin ? `${shortOrigin(e.origin)}: ` : '';
  process.stderr.write(`${where}${e.reason}\n`);
}

export function reportWarnings(warnings: Warning[]): void {
  for (const w of warnings) process.stderr.write(`${shortOrigin(w.origin)}: warning: ${w.message}\n`);
}
