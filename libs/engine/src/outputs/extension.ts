/**
 * Format=sysext, confext and portable (mkosi 26's make_extension_or_portable_image): the image
 * tree goes through systemd-repart --offline=yes (no loop devices, no root needed beyond the
 * sandbox's) into NAME.raw, a GPT image of
 *   root   erofs, CopyFiles= of /usr and /opt (sysext), /etc (confext) or / (portable)
 *   root-verity      its dm-verity hash tree   (Verity= hash or signed)
 *   root-verity-sig  the root hash's PKCS#7 signature with VerityKey=/VerityCertificate= (signed),
 *                    or its space alone, to be signed later (Verity=defer)
 * with partition and filesystem UUIDs from the repart seed (seed.ts) and file times from
 * SOURCE_DATE_EPOCH, so two builds give the same bytes. The partition definitions are written
 * here, from those facts, into the work directory (extension-verity.ts says which partitions),
 * and repart runs as for a disk (repart.ts). repart and mkfs.erofs come from the tools tree
 * (ToolsTree=): the host's systemd (252) has no --offline, which requireTool says before anything runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { ensureDir } from '../fsutil';
import * as imageFs from '../image-fs';
import type { StagedFile } from '.';
import { extensionReleaseOf, writeExtensionRelease } from './extension-release';
import { verityPlan, type VerityPlan } from './extension-verity';
import { overlayOnBaseTrees } from './overlay';
import { repart, type Partition } from './repart';
import { compressInto, publishPartitions, wants, writeRootHash } from './split';
import { requireTool } from '../tool-check';

type ExtensionFormat = 'sysext' | 'confext' | 'portable';

/** The image directories each format carries (only these reach the erofs partition). */
export const EXTENSION_DIRS: Readonly<Record<ExtensionFormat, readonly string[]>> = {
  sysext: ['usr', 'opt'],
  confext: ['etc'],
  portable: [''],
};

/** What must be there for the format to make sense, and how to say it is not. */
const REQUIRED: Readonly<Record<ExtensionFormat, { dir: string; why: string }>> = {
  sysext: { dir: 'usr', why: 'a system extension carries /usr (and /opt)' },
  confext: { dir: 'etc', why: 'a configuration extension carries /etc' },
  portable: { dir: 'usr', why: 'a portable service image is a whole OS tree' },
};

/** The systemd-repart definitions (file name, text) of a format's image with the given directories. */
export function extensionDefinitions(dirs: readonly string[], verity: VerityPlan['kind']): [string, string][] {
  const root = [
    '[Partition]',
    'Type=root',
    'Format=erofs',
    ...dirs.map((d) => `CopyFiles=/${d ? `${d}/` : ''}`),
    ...(verity === 'none' ? [] : ['Verity=data', 'VerityMatchKey=root']),
    'Minimize=best',
  ];
  const defs: [string, string][] = [['10-root.conf', root.join('\n') + '\n']];
  if (verity !== 'none') defs.push(['20-root-verity.conf', ['[Partition]', 'Type=root-verity', 'Verity=hash', 'VerityMatchKey=root', 'Minimize=best'].join('\n') + '\n']);
  if (verity === 'signed') defs.push(['30-root-verity-sig.conf', ['[Partition]', 'Type=root-verity-sig', 'Verity=signature', 'VerityMatchKey=root'].join('\n') + '\n']);
  // Deferred: the signature partition's space alone (16 KiB, what repart gives a signature), left
  // empty for a later signing step. mkosi defers a Verity=signature partition instead, which
  // systemd-repart 257 refuses without a --private-key even when the partition is deferred.
  if (verity === 'defer') defs.push(['30-root-verity-sig.conf', ['[Partition]', 'Type=root-verity-sig', 'SizeMinBytes=16K', 'SizeMaxBytes=16K'].join('\n') + '\n']);
  return defs;
}

/** Bad settings found before anything is built (build.ts runs the format's check first). */
export function checkExtension(ctx: BuildContext): void {
  const plan = verityPlan(ctx);
  if ('error' in plan) throw new BuildError(`Format=${cfg(ctx, 'Format')}: ${plan.error}`, ctx.preset.name);
  if (plan.kind === 'signed') {
    // Read as mkosi reads them, a key or certificate that does not exist is kept as text (a key
    // `mkosi genkey` writes later, or an engine's key name): said here, before the build, where it is needed.
    for (const [name, file] of [['VerityKey', plan.key], ['VerityCertificate', plan.certificate]] as const) {
      if (!path.isAbsolute(file) || !fs.existsSync(file)) {
        throw new BuildError(`${name}=${file}: no such file, and the signed verity partition needs it (create the key and its certificate, e.g. with openssl req -x509 -newkey rsa:2048 -nodes, or set Verity=hash)`, ctx.preset.name);
      }
    }
  }
  // As mkosi: an extension's packages are installed on the base it extends, never bootstrapped alone.
  const format = cfg(ctx, 'Format');
  if ((format === 'sysext' || format === 'confext') && cfg(ctx, 'Packages').length && !cfg(ctx, 'BaseTrees').length) {
    throw new BuildError(`Packages= in a Format=${format} image needs BaseTrees= (packages are installed on the image it extends): set BaseTrees=, e.g. %O/base, or remove Packages=`, ctx.preset.name);
  }
  if (cfg(ctx, 'Overlay')) {
    if (cfg(ctx, 'Format') === 'portable') throw new BuildError('Overlay=yes cannot be used with Format=portable (a portable image is a whole OS tree): remove Overlay=', ctx.preset.name);
    if (!cfg(ctx, 'BaseTrees').length) throw new BuildError('Overlay=yes needs BaseTrees= (the output is what the image adds on top of them): set BaseTrees=, e.g. %O/base, or remove Overlay=', ctx.preset.name);
  }
}

/** Whether image directory `rel` exists and has at least one entry. */
function hasEntries(root: string, rel: string): boolean {
  if (!imageFs.isDirectory(root, rel)) return false;
  return fs.readdirSync(imageFs.hostPath(root, rel, { follow: true })).length > 0;
}

export async function writeExtension(ctx: BuildContext, files: StagedFile[]): Promise<void> {
  const format = cfg(ctx, 'Format') as ExtensionFormat;
  const plan = verityPlan(ctx);
  if ('error' in plan) throw new BuildError(`Format=${format}: ${plan.error}`, ctx.preset.name);
  const release = extensionReleaseOf(ctx);
  if (cfg(ctx, 'Overlay')) await overlayOnBaseTrees(ctx);
  const need = REQUIRED[format];
  if (!hasEntries(ctx.root, need.dir)) {
    const overlay = cfg(ctx, 'Overlay') ? ' beyond its base trees (Overlay=yes keeps only what the image adds)' : '';
    throw new BuildError(`Format=${format}: the image has nothing in /${need.dir}${overlay}, and ${need.why}: add files under ${need.dir}/ (an extra tree, packages or a script), or choose another Format=`, ctx.preset.name);
  }
  // The tools, checked before anything is written: a clear error naming the package, not a usage message.
  requireTool(ctx, 'systemd-repart');
  requireTool(ctx, 'mkfs.erofs');
  for (const c of new Set(files.map((f) => f.compression))) if (c === 'zstd' || c === 'xz') requireTool(ctx, c);
  writeExtensionRelease(ctx, release);
  const dirs = EXTENSION_DIRS[format].filter((d) => d === '' || imageFs.isDirectory(ctx.root, d));

  const defsDir = ensureDir(path.join(ctx.work, `${format}.repart.d`));
  for (const [name, text] of extensionDefinitions(dirs, plan.kind)) fs.writeFileSync(path.join(defsDir, name), text);
  const [image] = files;
  // Named as the image, beside it, so that repart names the split-out partitions IMAGE.<type>.raw.
  const raw = path.join(path.dirname(image.path), `${cfg(ctx, 'Output')}.raw`);
  const split = wants(ctx, 'partitions');
  // repart.ts, as for a disk: the tools tree's systemd-repart, offline, mkfs.erofs stamping
  // SOURCE_DATE_EPOCH, temporary file systems in the work directory.
  const partitions = await repart(ctx, {
    image: raw,
    root: ctx.root,
    definitions: [defsDir],
    create: true,
    split,
    ...(plan.kind === 'signed' ? { signing: { key: plan.key, certificate: plan.certificate } } : {}),
    step: `writing ${path.basename(raw)}`,
  });
  checkPartitions(ctx, partitions, plan);
  await compressInto(ctx, raw, image);
  if (split) await publishPartitions(ctx, files, partitions);
  writeRootHash(ctx, files, [partitions]);
}

/** repart's JSON has the partitions the plan asked for (mkosi checks the signed case the same way). */
function checkPartitions(ctx: BuildContext, parts: Partition[], plan: VerityPlan): void {
  const types = parts.map((p) => p.type);
  const want = plan.kind === 'signed' || plan.kind === 'defer' ? ['verity', 'verity-sig'] : plan.kind === 'hash' ? ['verity'] : [];
  for (const suffix of want) {
    if (!types.some((t) => t.endsWith(`-${suffix}`))) throw new BuildError(`systemd-repart wrote no ${suffix} partition (partitions: ${types.join(', ')}), though Verity= asks for one`, ctx.preset.name);
  }
  const hash = parts.find((p) => p.roothash)?.roothash;
  if (hash) ctx.log(`verity root hash ${hash}`);
}
