/**
 * Unified kernel images with ukify from the tools tree: the stub (the image's, else the tools
 * tree's), the image's kernel, initrds in order, the command line, the image's os-release and
 * --uname. ukify adds sections to a copy of the stub and stamps nothing of its own, so the same
 * inputs give the same bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cfg, type BuildContext } from '../context';
import { BuildError } from '../errors';
import { exists, hostPath, readFile } from '../image-fs';
import { runTool } from './boot-tools';
import type { Boot } from './kernel';

/** The image's os-release, as a host path (etc/os-release is usually a link to it). */
export function osRelease(ctx: BuildContext): string {
  for (const rel of ['usr/lib/os-release', 'etc/os-release']) if (exists(ctx.root, rel)) return hostPath(ctx.root, rel, { follow: true });
  throw new BuildError('a UKI needs the image\'s os-release (/usr/lib/os-release), and the image has none: install the distribution\'s base-files', ctx.preset.name);
}

/** The name a boot loader shows a UKI under (mkosi's entry token): ImageId=, else os-release's ID. */
export function entryToken(ctx: BuildContext): string {
  const id = cfg(ctx, 'ImageId');
  if (id) return id;
  const m = /^ID=["']?([A-Za-z0-9._-]+)/m.exec(fs.readFileSync(osRelease(ctx), 'utf8'));
  return m ? m[1] : 'linux';
}

/**
 * The command line (mkosi's finalize_cmdline): the image's /etc/kernel/cmdline (or
 * /usr/lib/kernel/cmdline), then KernelCommandLine=; with a root partition, a bare
 * `root=PARTUUID` becomes root=PARTUUID=<its UUID>, and root=PARTUUID=<its UUID> is added when
 * nothing names the root (mkosi's finalize_root, which its VMs get).
 */
export function finalCmdline(ctx: BuildContext, rootUuid: string | null): string[] {
  const file = ['etc/kernel/cmdline', 'usr/lib/kernel/cmdline'].find((f) => exists(ctx.root, f));
  const cmdline = [...(file ? readFile(ctx.root, file).trim().split(/\s+/).filter(Boolean) : []), ...cfg(ctx, 'KernelCommandLine')];
  if (!rootUuid) return cmdline;
  const out = cmdline.map((c) => (c === 'root=PARTUUID' ? `root=PARTUUID=${rootUuid}` : c));
  return out.some((c) => c.startsWith('root=')) ? out : [`root=PARTUUID=${rootUuid}`, ...out];
}

export async function buildUki(ctx: BuildContext, boot: Boot, initrds: string[], cmdline: string[], out: string): Promise<void> {
  // A file rather than an argument: older stubs want the section NUL-terminated (as mkosi does).
  const cmdlineFile = path.join(ctx.work, 'uki-cmdline');
  fs.writeFileSync(cmdlineFile, `${cmdline.join(' ')}\0`);
  const args = [
    'ukify', 'build',
    `--stub=${boot.stub}`,
    `--linux=${hostPath(ctx.root, boot.kernel.image, { follow: true })}`,
    ...initrds.map((i) => `--initrd=${i}`),
    `--cmdline=@${cmdlineFile}`,
    `--os-release=@${osRelease(ctx)}`,
    `--uname=${boot.kernel.kver}`,
    `--output=${out}`,
  ];
  await runTool(ctx, [path.dirname(out)], args, `building the UKI ${path.basename(out)} (kernel ${boot.kernel.kver})`);
}
