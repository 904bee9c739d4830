/**
 * Copying trees into the image: SOURCE[:TARGET] directories or archives (skeleton, extra and
 * sandbox trees, base trees). GNU tar does the copying in both cases, because it keeps modes,
 * symlinks, xattrs and numeric owners and, with --keep-directory-symlink, writes through the
 * image's /lib -> usr/lib style links instead of replacing them.
 *
 * tar follows those links as the host sees them, though: an image's `var/run -> /run` would send
 * an extra tree's var/run/x to the host's /run. So the directories of the tree that meet a
 * symlink in the image are found first and resolved inside the image (image-fs.ts); when there
 * are any, tar extracts at the image root with --transform rules that send their contents to the
 * resolved place (where the image itself would see them), and the linked directory's own entry
 * is left out (as --keep-directory-symlink leaves the link and its target's attributes alone).
 * Without such links (nearly always) the command is the plain copy it always was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, modePolicy, type Origin, type Tree } from '@kiln/config';
import { BuildError } from './errors';
import { BASH, run, RunContext } from './exec';
import { mkdirp, resolveIn } from './image-fs';
import { parseCpioListing, parseTarListing, refusal } from './archive-members';

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
  // TARGET is an image path: made (and its links resolved) inside the image.
  const target = mkdirp(root, tree.target ?? '/');
  const dest = target ? path.join(root, target) : root;
  if (fs.statSync(src).isDirectory()) {
    if (opts.userTree) await refuseDevices(ctx, src, opts.what);
    const links = linkedDirs(root, target, sourceDirs(src, root, target));
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
    if (!links.length) {
      const script = `tar -C "$1" -cf - ${create} . | tar -C "$2" -xpf - ${extract}`;
      await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', script, 'copy', src, dest], { step: `copying ${opts.what} ${src}` });
      return;
    }
    // The members named one by one (NUL-separated on stdin), without the linked directories'
    // own entries; extracted at the root, each member renamed to where the image puts it.
    const skip = new Set(links.map((l) => l.member));
    const names = ['.', ...walk(src).filter((m) => !skip.has(m))].map((m) => (m === '.' ? './' : `./${m}`));
    const rules = transforms(target, links).map((r) => `--transform=${r}`);
    const script = `tar -C "$1" -cf - ${create} --no-recursion --null -T - | tar -C "$2" -xpf - ${extract} "\${@:3}"`;
    await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', script, 'copy', src, root, ...rules], { step: `copying ${opts.what} ${src}`, input: names.join('\0') + '\0' });
    return;
  }
  if (!isArchive(src)) throw new BuildError(`${opts.what} ${src} is neither a directory nor an archive (.tar, .tar.zst, .tar.xz, .tar.gz, .cpio)`, ctx.label);
  const members = await checkMembers(ctx, src, opts);
  if (linkedDirs(root, target, memberDirs(members)).length) {
    // Rare (an archive with a directory that is a link in the image): unpacked beside the image
    // first, then copied as a directory, which resolves the links.
    const stage = fs.mkdtempSync(path.join(path.dirname(root), '.kiln-unpack-'));
    // Its top stands for TARGET, whose attributes the copy gives to TARGET: they stay its own
    // unless the archive has a "./" entry, as when it is unpacked there directly.
    const st = fs.statSync(dest);
    fs.chmodSync(stage, st.mode & 0o7777);
    fs.chownSync(stage, st.uid, st.gid);
    try {
      await copyTree(ctx, { source: src, target: null }, stage, { ...opts, userTree: false });
      await copyTree(ctx, { source: stage, target: tree.target }, root, { ...opts, userTree: false, rootOwned: false });
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
    return;
  }
  if (/\.cpio(\.\w+)?$/.test(src)) {
    await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', `${decompressor(src)} < "$1" | (cd "$2" && cpio -idm --quiet --no-absolute-filenames ${opts.rootOwned ? '-R 0:0' : ''})`, 'cpio', src, dest], {
      step: `unpacking ${opts.what} ${src}`,
    });
    return;
  }
  await run(ctx, 'tar', ['-xpf', src, '-C', dest, '--numeric-owner', '--keep-directory-symlink', '--xattrs', '--xattrs-include=*', ...(opts.rootOwned ? ['--no-same-owner'] : ['--same-owner'])], {
    step: `unpacking ${opts.what} ${src}`,
  });
}

/** Device nodes are for images (base trees), never for a tree of the project (as for archives: archive-members.ts). */
async function refuseDevices(ctx: RunContext, dir: string, what: string): Promise<void> {
  const found = await run({ ...ctx, log: () => undefined }, 'find', [dir, '(', '-type', 'b', '-o', '-type', 'c', ')', '-print', '-quit'], { step: `checking ${what} ${dir}` });
  if (found) {
    throw refuse(ctx, what, `${what} ${dir}: ${found} is a device node, which a tree of the project may not carry (put device nodes in the image with a script, or use BaseTrees=)`);
  }
}

/** A directory of a tree that is a symlink in the image: `member` (tree path) goes to `real` (image path). */
interface Link {
  member: string;
  /** Where tar would write it, relative to the root, after the rules before it: `<real parent>/<name>`. */
  at: string;
  real: string;
}

/** Every entry of a directory tree, parents first (tree paths without "./"); symlinks are not followed. */
function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(rel ? path.join(dir, rel) : dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const m = rel ? `${rel}/${e.name}` : e.name;
    out.push(m);
    if (e.isDirectory()) out.push(...walk(dir, m));
  }
  return out;
}

/**
 * The directories of a tree that could meet a link in the image: only where the image has
 * something at the same place (below a missing directory there is no link to meet).
 */
function sourceDirs(src: string, root: string, target: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(rel ? path.join(src, rel) : src, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const m = rel ? `${rel}/${e.name}` : e.name;
    out.push(m);
    const there = fs.lstatSync(path.join(root, target, m), { throwIfNoEntry: false });
    if (there?.isDirectory()) out.push(...sourceDirs(src, root, target, m));
  }
  return out;
}

/** The directories of an archive's members ("./a/b/c" -> a, a/b; "a/d/" -> a/d). */
function memberDirs(members: string[]): string[] {
  const dirs = new Set<string>();
  for (const m of members) {
    const parts = m.split('/').filter((p) => p && p !== '.');
    for (let i = 1; i < parts.length + (m.endsWith('/') ? 1 : 0); i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

/** Which of `dirs` (tree paths, with `target` their place in the image) meet a symlink in the image. */
function linkedDirs(root: string, target: string, dirs: string[]): Link[] {
  // Where each directory of the tree really is in the image (undefined: not there, or not a directory).
  const real = new Map<string, string | undefined>([['', target]]);
  const links: Link[] = [];
  const depth = (d: string) => d.split('/').length;
  for (const d of [...dirs].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1))) {
    const parent = real.get(path.posix.dirname(d) === '.' ? '' : path.posix.dirname(d));
    if (parent === undefined) continue;
    const at = parent ? `${parent}/${path.posix.basename(d)}` : path.posix.basename(d);
    const st = fs.lstatSync(path.join(root, at), { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      const r = resolveIn(root, at, { follow: true });
      links.push({ member: d, at, real: r });
      real.set(d, fs.lstatSync(path.join(root, r), { throwIfNoEntry: false })?.isDirectory() ? r : undefined);
    } else real.set(d, st?.isDirectory() ? at : undefined);
  }
  return links;
}

/**
 * tar --transform rules: every member moves under TARGET, then each linked directory's members
 * to its real place. Rules apply in order, each to the name the one before made, so a rule names
 * the directory by its real parent. Symlink targets are left alone (S); hard link targets are
 * member names and move with them. The delimiter is \x01, which no file name of a tree has.
 */
function transforms(target: string, links: Link[]): string[] {
  const D = '\x01';
  // Basic regular expressions: special characters in brackets.
  const re = (s: string) => s.replace(/[.*[\]\\$]/g, (c) => (c === ']' ? '[]]' : `[${c}]`));
  const sub = (s: string) => s.replace(/[\\&]/g, (c) => `\\${c}`);
  for (const l of links) {
    if (/[\x01\n]/.test(l.at + l.real)) throw new BuildError(`${l.member}: a file name with a control character cannot be copied through the image's symlink`);
  }
  const rules = [`s${D}^\\(\\./\\)*${D}./${target ? `${sub(target)}/` : ''}${D}S`];
  // A link to the root itself (`etc/up -> /`) sends its members to the top.
  for (const l of links) rules.push(`s${D}^\\./${re(l.at)}\\(/\\|$\\)${D}.${l.real ? `/${sub(l.real)}` : ''}\\1${D}S`);
  return rules;
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
 * Archives may come from outside: their whole member list is read and checked against the rules
 * of archive-members.ts before anything is unpacked, so a crafted archive cannot write outside
 * the image. A damaged archive (truncated, corrupt compression) is refused here with the reason,
 * before it half-unpacks.
 */
async function checkMembers(ctx: RunContext, archive: string, opts: CopyOptions): Promise<string[]> {
  const cpio = /\.cpio(\.\w+)?$/.test(archive);
  const errors: string[] = [];
  let listing: string;
  try {
    listing = cpio
      ? await run({ ...ctx, log: () => undefined }, 'bash', [...BASH, '-o', 'pipefail', '-c', `${decompressor(archive)} < "$1" | cpio -itvn --quiet`, 'list', archive], {
          step: `listing ${archive}`,
          onLine: (l) => errors.push(l),
        })
      : await run({ ...ctx, log: () => undefined }, 'tar', ['-tvf', archive, '--quoting-style=c', '--numeric-owner'], { step: `listing ${archive}`, onLine: (l) => errors.push(l) });
  } catch (e) {
    // An interrupted listing is the interruption, not a damaged archive.
    if (!(e instanceof BuildError) || ctx.signal?.aborted) throw e;
    throw refuse(ctx, opts.what, `${opts.what} ${archive} cannot be read (${damage(errors)}): refusing to unpack it; replace the archive with a whole one`);
  }
  const members = cpio ? parseCpioListing(listing) : parseTarListing(listing);
  const why = refusal(members, { devices: !opts.userTree });
  if (why) throw refuse(ctx, opts.what, `${opts.what} ${archive}: ${why}: refusing to unpack it`);
  return members.map((m) => m.name);
}

const SETTING: Record<string, string> = { 'skeleton tree': 'SkeletonTrees', 'extra tree': 'ExtraTrees', 'sandbox tree': 'SandboxTrees', 'base tree': 'BaseTrees' };

/**
 * A tree refused for what it holds is bad input: the error names the setting where the
 * configuration gave it (`file:line: SkeletonTrees=: ...`), else the preset.
 */
function refuse(ctx: RunContext, what: string, message: string): Error {
  const setting = SETTING[what];
  const origin = (ctx as { preset?: { origins?: Record<string, Origin> } }).preset?.origins?.[setting];
  return setting && origin ? new ConfigError(`${setting}=: ${message}`, origin) : new BuildError(message, ctx.label);
}

/** The reason a tool gave for failing to read an archive: its first error line, without the tool's name. */
function damage(lines: string[]): string {
  const noise = /Exiting with failure status|Error is not recoverable|Child returned status|premature end of file$/;
  const errs = lines.filter((l) => /^(\/\S+\/)?(tar|cpio|gzip|xz|zstd|bzip2|lz4|bash)\b[^:]*: /.test(l) && !noise.test(l));
  const first = errs[0] ?? lines.filter((l) => !noise.test(l)).pop() ?? 'the tool failed';
  // "zstd: /*stdin*\ : Read error (39) : premature end", "gzip: stdin: invalid compressed data--crc error"
  return first
    .replace(/^(\/\S+\/)?(tar|cpio|gzip|xz|zstd|bzip2|lz4|bash)\b[^:]*: /, '')
    .replace(/^(\/\*stdin\*\\|\(stdin\)|stdin)\s*: /, '')
    .trim();
}
