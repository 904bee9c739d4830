/**
 * The files a preset's build writes into OutputDirectory=, derived from its settings (the engine
 * writes them, the Nx plugin declares them as outputs, freshness checks look for them). The image
 * files come from its format (formats/); the build manifest follows them.
 */
import { imageFiles } from './formats';

export { compressionSuffix } from './formats';

/** The image files a preset writes, relative to OutputDirectory: for Format=directory the tree and its archive. */
export function imageOutputNames(config: Record<string, unknown>): string[] {
  return imageFiles(config).map((f) => f.name);
}

/**
 * The build manifest (manifest.ts), OUTPUT.manifest.json beside the image: written last, so it
 * exists only for a complete build. A preset without image files has none.
 */
export function manifestName(config: Record<string, unknown>): string | null {
  return imageOutputNames(config).length ? `${config.Output as string}.manifest.json` : null;
}

/**
 * The manifest's detached signature (`ssh-keygen -Y sign` writes FILE.sig), present when the build
 * was signed (KILN_SIGNING_KEY). A cached output, so that a restore brings it along.
 */
export function signatureName(config: Record<string, unknown>): string | null {
  const manifest = manifestName(config);
  return manifest ? `${manifest}.sig` : null;
}

/** Every output, relative to OutputDirectory: the image files, then the signature (when signed) and the manifest. */
export function outputNames(config: Record<string, unknown>): string[] {
  const manifest = manifestName(config);
  return manifest ? [...imageOutputNames(config), signatureName(config)!, manifest] : [];
}

/**
 * The outputs a cache keeps: regular files only (Nx copies outputs file by file; a directory
 * image holds device nodes), so a directory image is kept as its archive; and the manifest, so
 * that a restored build can still be explained and checked, and its signature (optional).
 */
export function cachedOutputNames(config: Record<string, unknown>): string[] {
  const manifest = manifestName(config);
  const files = imageFiles(config).filter((f) => f.kind === 'file').map((f) => f.name);
  return manifest ? [...files, signatureName(config)!, manifest] : [];
}
