/**
 * What an output format is, as far as configuration goes: the files it writes, what a cache keeps
 * of them, its default compression, and what the build must give it. The engine holds the writer
 * of each buildable format (libs/engine/src/outputs/), looked up by the same name.
 */
import type { COMPRESSIONS, FORMATS } from '../settings';

export type FormatName = (typeof FORMATS)[number];
export type Compression = (typeof COMPRESSIONS)[number];

/** One file or tree a format writes into OutputDirectory=. */
export interface OutputFile {
  /** Relative to OutputDirectory=. */
  name: string;
  /**
   * 'file': a regular file, written into the staging directory and renamed into place.
   * 'tree': the image root itself, renamed into place (no copy). A cache keeps regular files only
   * (Nx copies outputs file by file, and an image tree holds device nodes), so a format writing a
   * tree also writes a file that a cache keeps in its place.
   */
  kind: 'file' | 'tree';
  /** How a 'file' is compressed ('none': not at all). */
  compression: Compression;
  /**
   * This file stands for the output when another preset reads it as a base tree
   * (BaseTrees=%O/NAME): the cache keeps and restores it, so it is there when the tree is not.
   */
  baseTree?: boolean;
  /**
   * Written only when the build finds what it is made of (a split-out kernel or UKI of a
   * Bootable=auto image that has no kernel): a build without it is still complete.
   */
  optional?: boolean;
}

export interface OutputFormat {
  name: FormatName;
  /** false: an mkosi format kiln cannot build yet (a build says so, naming those it can). */
  buildable: boolean;
  /** false: the format publishes no image (Format=none), so no other preset can read its output. */
  image: boolean;
  /** CompressOutput='s default for this format. */
  compression: Compression;
  /** The files the format writes for Output=, CompressOutput= and the other settings ([] until it can be built). */
  files(output: string, compression: Compression, config: Record<string, unknown>): OutputFile[];
}

const SUFFIX: Record<Compression, string> = { none: '', zstd: '.zst', xz: '.xz', gz: '.gz', bz2: '.bz2', lz4: '.lz4', lzma: '.lzma' };

/** The file name suffix of a compression ('' for none or an unknown one). */
export function compressionSuffix(compression: string): string {
  return SUFFIX[compression as Compression] ?? '';
}

/**
 * An mkosi format kiln does not build yet: it still has a default compression (CompressOutput=
 * follows mkosi) and an image, so the graph treats its output like any other.
 */
export function planned(name: FormatName, compression: Compression): OutputFormat {
  return { name, buildable: false, image: true, compression, files: () => [] };
}
