/**
 * Test helpers: the engine's build and lock as the CLI calls them, temp projects, and archive
 * inspection. Engine tests call the engine; the CLI's own behaviour (exit codes, printed
 * messages, signals) is tested in apps/kiln/test, which runs the built command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { currentManifest, diffManifests, formatExplanation, loadProject, manifestPath, readManifest, type Project } from '@kiln/config';
import { build, lockProject, type BuildOptions, type LockResult, type PresetResult } from '../src/build';
import type { BuildContext } from '../src/context';
import { toolsIdentity } from '../src/tools';
import { cacheRoot } from './test-cache';

export const repo = path.resolve(__dirname, '../../..');


/** The kiln identity engine tests' builds record in their manifests (the CLI passes version + code hash). */
export const IDENTITY = '0.1.0+0123456789abcdef';

/** What a build or lock did: its results, or the error it threw, and its progress lines. */
export interface Run<T> {
  results?: T;
  error?: unknown;
  /** Progress lines as the CLI prints them ("proj: installing hello"), tool output ("  ...") with verbose. */
  log: string;
}

type Options = Omit<BuildOptions, 'log' | 'step'> & { verbose?: boolean };

async function collect<T>(dir: string, opts: Options, fn: (project: Project, o: BuildOptions) => Promise<T>): Promise<Run<T>> {
  const run: Run<T> = { log: '' };
  const { verbose, ...rest } = opts;
  try {
    const project = loadProject(dir);
    run.results = await fn(project, {
      identity: IDENTITY,
      ...rest,
      log: verbose ? (line) => (run.log += `  ${line}\n`) : undefined,
      step: (preset, what) => (run.log += `${preset}: ${what}\n`),
    });
  } catch (e) {
    run.error = e;
  }
  return run;
}

/** The engine's build of the project in `dir` (loadProject + build, as `kiln build` does); never throws. */
export function buildIn(dir: string, opts: Options = {}): Promise<Run<PresetResult[]>> {
  return collect(dir, opts, build);
}

/** The engine's lock of the project in `dir` (loadProject + lockProject, as `kiln lock` does); never throws. */
export function lockIn(dir: string, opts: Options = {}): Promise<Run<LockResult[]>> {
  return collect(dir, opts, lockProject);
}

/** The message of a run's error ('' if it succeeded). */
export function failure(run: Run<unknown>): string {
  return run.error instanceof Error ? run.error.message : run.error === undefined ? '' : String(run.error);
}

/** What `kiln explain` says changed since a preset's last build, for builds made with IDENTITY. */
export function explain(dir: string, presetName?: string): string {
  const project = loadProject(dir);
  const preset = presetName ? project.presets.find((p) => p.name === presetName)! : project.main;
  const read = readManifest(manifestPath(preset)!);
  if (read.status !== 'found') throw new Error(`no manifest for ${preset.name}: ${JSON.stringify(read)}`);
  return formatExplanation(diffManifests(read.manifest, currentManifest(project, preset, { identity: IDENTITY, tools: toolsIdentity(project, preset) })));
}

/** Every temp directory a test made: image trees are large, so each suite removes them afterwards. */
const temps: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/**
 * A package cache of hard links to the user's warm bookworm one (apt replaces files by rename,
 * never in place), for a suite that damages or empties its cache. Without the warm cache's lock
 * files: linked, they would be the same files, and every build of the suite would wait on the
 * builds of other suites that use the warm cache.
 */
export function linkedPackageCache(prefix: string): string {
  const warm = path.join(cacheRoot(), 'packages/debian~bookworm~x86-64');
  const cache = path.join(tempDir(prefix), 'packages');
  if (fs.existsSync(warm)) execFileSync('cp', ['-al', warm, cache]);
  else fs.mkdirSync(cache);
  execFileSync('find', [cache, '(', '-name', 'lock', '-o', '-name', '*.lock', ')', '-type', 'f', '-delete']);
  return cache;
}

export function removeTempDirs(): void {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/**
 * For tests of the engine's file operations on an image (image-fs, trees, archives): an image
 * root, a host directory (holding a file `keep`) that the image's links point at, and a project.
 */
export function imageSetup(prefix = 'kiln-image-'): { work: string; root: string; host: string; project: string } {
  const work = tempDir(prefix);
  const root = path.join(work, 'root');
  fs.mkdirSync(root);
  const host = tempDir('kiln-host-');
  fs.writeFileSync(path.join(host, 'keep'), "the host's\n");
  const project = path.join(work, 'proj');
  fs.mkdirSync(project);
  return { work, root, host, project };
}

/** The little of a build context that copyTree, applyImageSettings and removeFiles read. */
export function imageContext(root: string, project: string, config: Record<string, unknown> = {}): BuildContext {
  return {
    log: () => undefined,
    label: 'test',
    root,
    work: path.dirname(root),
    sourceDateEpoch: 1700000000,
    project: { root: project },
    preset: { name: 'test', config: { Hostname: null, Locale: null, Timezone: null, RootPassword: null, RemoveFiles: [], Format: 'directory', MakeInitrd: false, ...config } },
  } as unknown as BuildContext;
}

/** copyTree's options for a tree of the project. */
export const USER_TREE = { rootOwned: true, userTree: true, what: 'extra tree' };

export function tempProject(files: Record<string, string | { text: string; mode: number } | { symlink: string }>, name = 'proj'): string {
  const root = path.join(tempDir('kiln-engine-'), name);
  fs.mkdirSync(root, { recursive: true });
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') fs.writeFileSync(p, spec);
    else if ('symlink' in spec) fs.symlinkSync(spec.symlink, p);
    else fs.writeFileSync(p, spec.text, { mode: spec.mode });
  }
  return root;
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Unpacks a tar or cpio output into a fresh directory and returns it. */
export function unpack(archive: string): string {
  const dir = tempDir('kiln-unpack-');
  const cmd = archive.includes('.cpio')
    ? `zstd -dc "${archive}" | (cd "${dir}" && cpio -idm --quiet --no-absolute-filenames)`
    : `tar -C "${dir}" -xpf "${archive}" --numeric-owner`;
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unpacking ${archive}: ${r.stderr}`);
  return dir;
}

/** name -> version of what dpkg says is installed in a tree. */
export function installed(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const para of fs.readFileSync(path.join(root, 'var/lib/dpkg/status'), 'utf8').split('\n\n')) {
    const field = (f: string) => para.match(new RegExp(`^${f}: (.*)$`, 'm'))?.[1];
    if (field('Status')?.endsWith(' installed')) out.set(field('Package') as string, field('Version') as string);
  }
  return out;
}

/**
 * Resolves when `file` exists: an event (fs.watch on its directory, which must exist), never a
 * deadline; the jest test's timeout is the only limit, so a loaded machine is only slower.
 */
export function waitFor(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(path.dirname(file), () => check());
    watcher.on('error', (e) => {
      watcher.close();
      reject(e);
    });
    const check = () => {
      if (!fs.existsSync(file)) return;
      watcher.close();
      resolve();
    };
    check(); // it may be there already (made before the watch started)
  });
}

/** Resolves with the first line of `stream` matching `pattern` (kiln's progress lines on stderr). */
export function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let rest = '';
    const onData = (chunk: Buffer | string) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      const hit = lines.find((l) => pattern.test(l));
      if (hit === undefined) return;
      stream.off('data', onData);
      stream.off('end', onEnd);
      resolve(hit);
    };
    const onEnd = () => reject(new Error(`the stream ended before a line matching ${pattern}`));
    stream.on('data', onData);
    stream.on('end', onEnd);
  });
}


/**
 * The small real project the safety and CLI build tests share: bookworm's essential set as a tar
 * image with an initrd preset (cpio), and a finalize script that writes a file (whose mtime must
 * be clamped), fails when $SRCDIR/fail exists and hangs when $SRCDIR/hang does. With `layers`,
 * Incremental=yes layers in that directory: a rebuild installs no package (for the suites about
 * what happens after the packages: scripts, interruptions, what the CLI prints).
 */
export function smallProject(opts: { layers?: string } = {}): string {
  const finalize = [
    '#!/bin/sh',
    'if [ -e "$SRCDIR/fail" ]; then echo "failing on purpose" >&2; exit 3; fi',
    'if [ -e "$SRCDIR/hang" ]; then touch "$SRCDIR/started"; sleep 300; fi',
    'echo finalized > "$BUILDROOT/etc/finalized"',
    '',
  ].join('\n');
  return tempProject({
    'mkosi.conf':
      '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=small\nFormat=tar\n[Content]\nSourceDateEpoch=1700000000\nWithDocs=no\n' +
      (opts.layers ? `[Build]\nIncremental=yes\nCacheDirectory=${opts.layers}\n` : ''),
    'mkosi.finalize': { text: finalize, mode: 0o755 },
    'mkosi.images/initrd/mkosi.conf': '[Output]\nFormat=cpio\n[Content]\nWithDocs=no\n',
    'mkosi.images/initrd/mkosi.extra/init': { text: '#!/bin/sh\nexec /bin/sh\n', mode: 0o755 },
  });
}

/** smallProject()'s outputs: the images and their build manifests (a manifest is as reproducible as its image). */
export const SMALL_OUTPUTS = ['initrd.cpio.zst', 'initrd.manifest.json', 'small.manifest.json', 'small.tar.zst'];

/** sha256 of each of smallProject()'s outputs in `out`. */
export const smallHashes = (out: string): Record<string, string> => Object.fromEntries(SMALL_OUTPUTS.map((f) => [f, sha256(path.join(out, f))]));

/** Variables that tar, zstd, xz, gzip, apt and scripts would read if kiln passed them on. */
export const hostileEnv = (home: string): Record<string, string> => ({
  TAR_OPTIONS: '--owner=1234 --mode=0777',
  LC_ALL: 'de_DE.UTF-8',
  LANG: 'de_DE.UTF-8',
  LANGUAGE: 'de',
  TZ: 'Pacific/Kiritimati',
  HOME: home,
  ZSTD_CLEVEL: '1',
  ZSTD_NBTHREADS: '4',
  XZ_DEFAULTS: '-T0',
  GZIP: '-1',
});
