/**
 * The output formats, one module each, in one registry keyed by Format= value. Everything that
 * depends on the format asks here: output names (outputs.ts), CompressOutput='s default
 * (settings.ts), the graph (a format without an image has no output to read), and the engine,
 * which looks up its writer by the same name.
 *
 * A new format is one module beside these plus its entry below (replacing its `planned` line), and
 * a writer in libs/engine/src/outputs/.
 */
import * as path from 'node:path';
import { cpio } from './cpio';
import { directory } from './directory';
import { confext, portable, sysext } from './extension';
import { disk, esp, uki } from './boot';
import { planned, type Compression, type FormatName, type OutputFile, type OutputFormat } from './format';
import { none } from './none';
import { tar } from './tar';

export { compressionSuffix, type Compression, type FormatName, type OutputFile, type OutputFormat } from './format';

/** Every Format= value (typed against settings' FORMATS, so none can be missing), in FORMATS order. */
export const OUTPUT_FORMATS: Readonly<Record<FormatName, OutputFormat>> = {
  directory,
  tar,
  cpio,
  disk,
  uki,
  esp,
  oci: planned('oci', 'gz'),
  sysext,
  confext,
  portable,
  addon: planned('addon', 'zstd'),
  none,
};

/** The format of a preset's settings. Format= is validated when read, so it is always known. */
export function formatOf(config: Record<string, unknown>): OutputFormat {
  const format = OUTPUT_FORMATS[config.Format as FormatName];
  if (!format) throw new Error(`unknown Format=${String(config.Format)}`);
  return format;
}

/** CompressOutput='s default for a format ('none' for a value that is not a format). */
export function defaultCompression(format: string): Compression {
  return OUTPUT_FORMATS[format as FormatName]?.compression ?? 'none';
}

/** The formats kiln builds, in FORMATS order (for "cannot be built yet (supported: ...)"). */
export function buildableFormats(): FormatName[] {
  return Object.values(OUTPUT_FORMATS).filter((f) => f.buildable).map((f) => f.name);
}

/** The image files and trees a preset writes, relative to OutputDirectory=. */
export function imageFiles(config: Record<string, unknown>): OutputFile[] {
  return formatOf(config).files(config.Output as string, config.CompressOutput as Compression, config);
}

/** Whether the preset publishes an image other presets can read (all formats but none). */
export function writesImage(config: Record<string, unknown>): boolean {
  return formatOf(config).image;
}

/**
 * Whether the image root itself becomes an output (Format=directory): it is renamed into place,
 * so it must be a plain directory then, not an overlay on an incremental layer.
 */
export function publishesRoot(config: Record<string, unknown>): boolean {
  return imageFiles(config).some((f) => f.kind === 'tree');
}

/**
 * The file in OutputDirectory= that stands for a preset's output when another preset names it as a
 * base tree (BaseTrees=%O/NAME), or null when its format has none.
 */
export function baseTreeFile(config: Record<string, unknown>): string | null {
  const name = imageFiles(config).find((f) => f.baseTree)?.name;
  return name ? path.join(config.OutputDirectory as string, name) : null;
}
