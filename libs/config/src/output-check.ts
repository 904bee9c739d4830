/**
 * Checking a preset's outputs against its build manifest before they are used: a restored output
 * (an Nx cache hit, local or remote) is only as honest as the cache it came from (CREEP,
 * CVE-2025-36852: a pull request can write an entry main then restores). The manifest records the
 * SHA-256 and size of every output file its build wrote (manifest.ts `outputs`); here each file
 * is hashed again and compared. The signature over the manifest (who wrote it) is the engine's
 * part (signing.ts), since it runs ssh-keygen.
 *
 * The result is a list of problems, one per file (file, expected, found), or one for the whole
 * set (no manifest, a damaged one, one written by a kiln that recorded no outputs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { imageFiles } from './formats';
import { fileHash, manifestPath, readManifest, type Manifest } from './manifest';
import type { Preset } from './project';

export interface OutputProblem {
  /** The file (or the manifest) the problem is about, as given (callers make it relative). */
  file: string;
  /** What the manifest says, or why it cannot say. */
  expected: string;
  /** What is there. */
  found: string;
}

export type OutputCheck =
  /** Every file the manifest records is there with its SHA-256 and size. */
  | { status: 'ok'; manifest: string; files: number }
  /** Neither outputs nor a manifest: never built (nothing to use, nothing to refuse). */
  | { status: 'unbuilt' }
  | { status: 'refused'; manifest: string; problems: OutputProblem[] };

/** What a build records of its output files: [path, name] pairs, regular files only. */
export function recordOutputs(files: readonly [string, string][]): NonNullable<Manifest['outputs']> {
  const out: NonNullable<Manifest['outputs']> = {};
  for (const [file, name] of files) {
    const st = fs.lstatSync(file);
    // A Format=directory tree is not a cached output: its archive stands for it.
    if (!st.isFile()) continue;
    out[name] = { sha256: fileHash(file)!, size: st.size };
  }
  return out;
}

/** The outputs of `preset` against its manifest (no signature check: signing.ts). */
export function checkPresetOutputs(preset: Preset): OutputCheck {
  const file = manifestPath(preset);
  if (!file) return { status: 'unbuilt' };
  const dir = path.dirname(file);
  const read = readManifest(file);
  if (read.status === 'missing') {
    const present = fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith(`${preset.config.Output as string}.`) && !n.startsWith('.kiln-'));
    if (!present) return { status: 'unbuilt' };
    return { status: 'refused', manifest: file, problems: [{ file, expected: 'a build manifest beside the outputs', found: 'none (outputs of an older kiln, or copied without it)' }] };
  }
  if (read.status === 'invalid') return { status: 'refused', manifest: file, problems: [{ file, expected: 'a kiln build manifest', found: read.reason }] };
  return compareOutputs(read.manifest, dir, file, preset);
}

/**
 * The outputs of `preset` in `dir` against `manifest` (its file `file`). Not only the files the
 * manifest lists: a manifest is only evidence for the preset it names, and only for the outputs
 * that preset's configuration caches, so a signed manifest of another preset (or one leaving out
 * an optional output that is there) cannot vouch for files it never looked at. A recorded name
 * that is not one of the preset's outputs is refused before it is joined to `dir` (no path
 * outside the output directory is ever hashed).
 */
export function compareOutputs(manifest: Manifest, dir: string, file: string, preset: Preset): OutputCheck {
  const recorded = manifest.outputs;
  if (!recorded || !Object.keys(recorded).length) {
    return { status: 'refused', manifest: file, problems: [{ file, expected: 'the SHA-256 of each output', found: 'none recorded (a manifest of an older kiln)' }] };
  }
  const problems: OutputProblem[] = [];
  if (manifest.preset !== preset.name) problems.push({ file, expected: `the manifest of preset ${preset.name}`, found: `the manifest of preset ${manifest.preset}` });
  // The regular output files its configuration writes (a Format=directory tree is kept as its archive).
  const outputs = imageFiles(preset.config).filter((f) => f.kind === 'file');
  const known = new Set(outputs.map((f) => f.name));
  for (const name of Object.keys(recorded).sort()) {
    if (!known.has(name)) problems.push({ file, expected: `only outputs of preset ${preset.name} (${[...known].join(', ')})`, found: `it records ${JSON.stringify(name)}` });
  }
  for (const f of outputs) {
    if (f.name in recorded) continue;
    const p = path.join(dir, f.name);
    const there = fs.lstatSync(p, { throwIfNoEntry: false });
    // An optional output (a split-out kernel) may be absent, but one that is there must be recorded.
    if (!f.optional || there) problems.push({ file: p, expected: `recorded in ${path.basename(file)}`, found: there ? 'a file the manifest does not record' : 'neither the file nor its record' });
  }
  const checked = Object.keys(recorded).filter((n) => known.has(n)).sort();
  for (const name of checked) {
    const want = recorded[name];
    const p = path.join(dir, name);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    const expected = `sha256 ${want.sha256}, ${want.size} bytes`;
    if (!st) problems.push({ file: p, expected, found: 'no such file' });
    else if (!st.isFile()) problems.push({ file: p, expected, found: 'not a regular file' });
    else {
      // The size first: a truncated archive is told without reading it.
      const sha = st.size === want.size ? fileHash(p) : null;
      if (st.size !== want.size || sha !== want.sha256) problems.push({ file: p, expected, found: `sha256 ${sha ?? fileHash(p) ?? '(unreadable)'}, ${st.size} bytes` });
    }
  }
  return problems.length ? { status: 'refused', manifest: file, problems } : { status: 'ok', manifest: file, files: checked.length };
}

/** A problem as one line: `FILE: expected ..., found ...` (`show` makes paths relative). */
export function formatProblem(p: OutputProblem, show: (file: string) => string = (f) => f): string {
  return `${show(p.file)}: expected ${p.expected}, found ${p.found}`;
}
