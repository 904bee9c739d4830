/**
 * The end of a build: RemoveFiles=, RemovePackages=, CleanPackageMetadata=, then removing or
 * normalising what differs between two builds of the same inputs (logs, caches, machine-id,
 * mtimes), so that tar and cpio outputs are bit-identical.
 */
import { cfg, type BuildContext } from './context';
import { installerOf } from './installers';
import { run } from './exec';
import * as img from './image-fs';

/**
 * RemoveFiles=: the globs are expanded as in the image (a link on the way is followed inside it,
 * never onto the host: image-fs.ts), and what matches is removed, a symlink itself and not what
 * it points to. Deepest first, so that a directory and its contents can both match.
 */
export async function removeFiles(ctx: BuildContext): Promise<void> {
  const globs = cfg(ctx, 'RemoveFiles');
  if (!globs.length) return;
  // Plain paths are looked up one by one; only real globs go to the matcher, which tries every
  // pattern on every entry it walks (80k plain lines made that quadratic: minutes).
  const special = (g: string) => /[*?[\]{}()!+@\\]/.test(g);
  const plain = globs.filter((g) => !special(g));
  const patterns = globs.filter(special);
  const matches = new Set(plain.map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p && img.lexists(ctx.root, p)));
  if (patterns.length) for (const m of await img.glob(ctx.root, patterns)) matches.add(m);
  for (const m of [...matches].sort((a, b) => b.length - a.length)) img.remove(ctx.root, m);
}

export async function removePackages(ctx: BuildContext): Promise<void> {
  const packages = cfg(ctx, 'RemovePackages');
  if (packages.length) await installerOf(ctx).remove(ctx, packages);
}

export async function cleanPackageMetadata(ctx: BuildContext): Promise<void> {
  const mode = cfg(ctx, 'CleanPackageMetadata');
  if (mode === 'disabled') return;
  await installerOf(ctx).cleanMetadata(ctx, mode === 'enabled');
}

/** Files that record when or on which machine the image was built, not what it is. */
const VOLATILE = [
  'var/log/**/*.log', 'var/log/apt/eipp.log.xz', 'var/log/journal/*', 'var/cache/ldconfig/aux-cache',
  'var/lib/dpkg/*-old', 'var/cache/debconf/*-old', 'var/lib/systemd/random-seed', 'var/lib/dbus/machine-id',
  'etc/ssh/ssh_host_*', 'var/cache/man/**', 'var/lib/apt/extended_states~', 'etc/*-',
  'root/.bash_history', 'etc/.pwd.lock', 'var/lib/systemd/catalog/database', 'var/cache/apt/*.bin',
];

export async function normalise(ctx: BuildContext): Promise<void> {
  const root = ctx.root;
  for (const f of await img.glob(root, VOLATILE, { onlyFiles: true })) img.remove(root, f);
  // systemd's first-boot marker: the machine gets its own id when it boots (written where the
  // image has it: a link is followed inside the image).
  if (img.exists(root, 'etc/machine-id')) img.writeFile(root, 'etc/machine-id', 'uninitialized\n', { follow: true });
  await clampMtimes(ctx);
}

/**
 * Clamps every mtime to SOURCE_DATE_EPOCH (cpio has no --clamp-mtime; directories need it too).
 * Also done before an incremental layer is stored, so that the final clamp of a build on a layer
 * touches (and copies up into the overlay) only what the build changed.
 */
export async function clampMtimes(ctx: BuildContext): Promise<void> {
  await run(ctx, 'find', [ctx.root, '-xdev', '-newermt', `@${ctx.sourceDateEpoch}`, '-exec', 'touch', '--no-dereference', '--date', `@${ctx.sourceDateEpoch}`, '{}', '+'], {
    step: 'clamping mtimes to SOURCE_DATE_EPOCH',
  });
}
