/**
 * Copying trees into the image: SOURCE[:TARGET] directories or archives (skeleton, extra and
 * sandbox trees, base trees). GNU tar does the copying in both cases, because it keeps modes,
 * symlinks, xattrs and numeric owners and, with --keep-directory-symlink, writes through the
 * image's /lib -> usr/lib style links instead of replacing them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modePolicy, type Tree } from '@kiln/config';
import { BuildError } from './errors';
import { run, RunContext } from './exec';

const ARCHIVE = /\.(tar|tar\.(gz|xz|zst|zstd|bz2|lz4)|tgz|txz|cpio(\.\w+)?)$/;

export function isArchive(p: string): boolean {
  return ARCHIVE.test(p) && fs.statSync(p).isFile();
}

export interface CopyOptions {
  /**
   * Files from the user's project belong to root in the image (mkosi does the same); base trees
   * are images already and keep their owners.
   */
  rootOwned: boolean;
  /**
   * A tree of the user's project (skeleton, extra, sandbox trees): it reaches the image as its
   * fingerprint describes it (input-digest.ts), whatever checkout it was read from. Its modes
   * follow the tree's mode policy (git's two file modes inside a checkout), every mtime is
   * SOURCE_DATE_EPOCH, and extended attributes stay behind (a tar archive tree carries modes,
   * xattrs and capabilities on purpose).
   */
  userTree?: boolean;
  what: string;
}

/** Copies a directory or unpacks an archive into `root`, at `target` (default `/`). */
export async function copyTree(ctx: RunContext & { sourceDateEpoch?: number }, tree: Tree, root: string, opts: CopyOptions): Promise<void> {
  const src = tree.source;
  if (!fs.existsSync(src)) throw new BuildError(`${opts.what} ${src} does not exist`, ctx.label);
  const dest = path.join(root, tree.target ?? '/');
  fs.mkdirSync(dest, { recursive: true });
  if (fs.statSync(src).isDirectory()) {
    const owner = opts.rootOwned ? '--owner=0 --group=0' : '';
    let create = `--numeric-owner ${owner} --xattrs --xattrs-include='*'`;
    let extract = `--numeric-owner --same-owner --keep-directory-symlink --xattrs --xattrs-include='*'`;
    if (opts.userTree) {
      // The same rule as modePolicy/normalMode: a-st,u=rwX,go=rX gives 0755 to directories and
      // to files with any execute bit, 0644 to the rest.
      const mode = modePolicy(src) === 'git' ? `--mode=a-st,u=rwX,go=rX` : '';
      create = `--numeric-owner ${owner} ${mode} --mtime=@${ctx.sourceDateEpoch ?? 0}`;
      extract = '--numeric-owner --same-owner --keep-directory-symlink';
    }
    const script = `tar -C "$1" -cf - ${create} . | tar -C "$2" -xpf - ${extract}`;
    await run(ctx, 'bash', ['-o', 'pipefail', '-c', script, 'copy', src, dest], { step: `copying ${opts.what} ${src}` });
    return;
  }
  if (!isArchive(src)) throw new BuildError(`${opts.what} ${src} is neither a directory nor an archive (.tar, .tar.zst, .tar.xz, .tar.gz, .cpio)`, ctx.label);
  await checkMembers(ctx, src, opts.what);
  if (/\.cpio(\.\w+)?$/.test(src)) {
    await run(ctx, 'bash', ['-o', 'pipefail', '-c', `${decompressor(src)} < "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames ${opts.rootOwned ? '-R 0:0' : ''})`, 'cpio', src, dest], {
      step: `unpacking ${opts.what} ${src}`,
    });
    return;
  }
  await run(ctx, 'tar', ['-xpf', src, '-C', dest, '--numeric-owner', '--keep-directory-symlink', '--xattrs', '--xattrs-include=*', ...(opts.rootOwned ? ['--no-same-owner'] : ['--same-owner'])], {
    step: `unpacking ${opts.what} ${src}`,
  });
}

function decompressor(file: string): string {
  if (file.endsWith('.zst') || file.endsWith('.zstd')) return 'zstd -dc';
  if (file.endsWith('.xz')) return 'xz -dc';
  if (file.endsWith('.gz')) return 'gzip -dc';
  if (file.endsWith('.bz2')) return 'bzip2 -dc';
  if (file.endsWith('.lz4')) return 'lz4 -dc';
  return 'cat';
}

/**
 * Archives may come from outside: refuse absolute member names and `..` before unpacking
 * anything, so a crafted archive cannot write outside the image.
 */
async function checkMembers(ctx: RunContext, archive: string, what: string): Promise<void> {
  const list = /\.cpio(\.\w+)?$/.test(archive)
    ? await run(ctx, 'bash', ['-o', 'pipefail', '-c', `${decompressor(archive)} < "$1" | cpio -it --quiet`, 'list', archive], { step: `listing ${archive}` })
    : await run({ ...ctx, log: () => undefined }, 'tar', ['-tf', archive], { step: `listing ${archive}` });
  for (const member of list.split('\n')) {
    if (!member) continue;
    if (member.startsWith('/') || member.split('/').includes('..')) {
      throw new BuildError(`${what} ${archive} has a member that escapes the image ("${member}"): refusing to unpack it`, ctx.label);
    }
  }
}
