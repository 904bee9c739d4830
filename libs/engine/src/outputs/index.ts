/**
 * Writing a preset's outputs. The format registry (@kiln/config formats/) says which files a format
 * writes; each buildable format has a writer here, registered under its name. Files are written
 * into the staging directory under their final names; a tree output is the image root itself. The
 * build publishes them by rename only once everything succeeded, so an output is whole or absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildableFormats, formatOf, imageFiles, wantedArtifacts, type OutputFile } from '@kiln/config';
import type { BuildContext } from '../context';
import { BuildError } from '../errors';
import { flattenRoot } from '../layers';
import { writeDisk, writeEsp, writeUkiFormat } from './boot-formats';
import { writeCpioFiles } from './cpio';
import { writeDirectory } from './directory';
import { checkExtension, writeExtension } from './extension';
import { writeNone } from './none';
import { writeTarFiles } from './tar';

/** A file or tree of the registry, with where the build stages it. */
export interface StagedFile extends OutputFile {
  path: string;
}

/** Writes a format's files (its trees are already there: they are the root). */
export type Writer = (ctx: BuildContext, files: StagedFile[]) => Promise<void>;

/** The writer of each buildable format, by Format= value. */
export const WRITERS: Readonly<Record<string, Writer>> = {
  directory: writeDirectory,
  tar: writeTarFiles,
  cpio: writeCpioFiles,
  sysext: writeExtension,
  confext: writeExtension,
  portable: writeExtension,
  disk: writeDisk,
  uki: writeUkiFormat,
  esp: writeEsp,
  none: writeNone,
};

/**
 * Checks of a format's settings that need no image (a verity key without its certificate), run
 * before the build starts so that a bad configuration fails in a second, not after the packages.
 */
export const CHECKS: Readonly<Record<string, (ctx: BuildContext) => void>> = {
  sysext: checkExtension,
  confext: checkExtension,
  portable: checkExtension,
};

/** Runs the format's checks (build.ts, first thing of a build). */
export function checkOutputs(ctx: BuildContext): void {
  const format = formatOf(ctx.preset.config).name;
  // Overlay= is done by the extension writers only (outputs/overlay.ts); elsewhere it would be ignored.
  if (ctx.preset.config.Overlay && !['sysext', 'confext', 'portable'].includes(format)) {
    throw new BuildError(`Overlay=yes is supported by kiln for Format=sysext and confext only, not Format=${format}: remove Overlay=`, ctx.preset.name);
  }
  // mkosi 26 writes these beside every format; kiln beside disk, esp and uki images: say so.
  if (['sysext', 'confext', 'portable'].includes(format)) {
    const unwritten = wantedArtifacts(ctx.preset.config).filter((a) => a === 'tar' || a === 'os-release');
    if (unwritten.length) ctx.note?.(`SplitArtifacts=${unwritten.join(',')}: not written for Format=${format} (kiln writes them for disk, esp and uki images)`);
  }
  CHECKS[format]?.(ctx);
}

/** Writes the outputs into `staging`; returns [staged path, final name] pairs, in publishing order. */
export async function writeOutputs(ctx: BuildContext, staging: string): Promise<[string, string][]> {
  const format = formatOf(ctx.preset.config);
  const write = format.buildable ? WRITERS[format.name] : undefined;
  if (!write) throw new BuildError(`Format=${format.name} cannot be built yet (supported: ${buildableFormats().join(', ')})`, ctx.preset.name);
  const files = imageFiles(ctx.preset.config).map((f): StagedFile => ({ ...f, path: f.kind === 'tree' ? ctx.root : path.join(staging, f.name) }));
  // A tree is renamed into place, no copy: an overlay root on an incremental layer cannot be.
  if (files.some((f) => f.kind === 'tree')) await flattenRoot(ctx);
  await write(ctx, files);
  // Regular files first, trees last: a tree is written by nothing after this (the archives read it).
  // An optional file (a split-out kernel of an image without one) that was not written is not an output.
  const written = files.filter((f) => !f.optional || fs.existsSync(f.path));
  const ordered = [...written.filter((f) => f.kind === 'file'), ...written.filter((f) => f.kind === 'tree')];
  return ordered.map((f) => [f.path, f.name]);
}
