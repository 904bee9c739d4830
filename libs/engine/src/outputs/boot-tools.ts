/**
 * How the bootable formats run their tools (systemd-repart, ukify, bootctl, depmod, cpio, zstd):
 * each in the one sandbox (sandbox.ts hostTools), the host read-only with the tools tree's /usr
 * over the host's (ToolsTree=, ctx.tools), only the directories a step writes bound read-write, and
 * SOURCE_DATE_EPOCH set so that mkfs, mcopy and ukify stamp the build's time, never the clock's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildContext } from '../context';
import { toolEnv } from '../exec';
import { ensureDir } from '../fsutil';
import { hostTools, runIn } from '../sandbox';

export function runTool(ctx: BuildContext, writable: string[], command: string[], step: string, env: Record<string, string> = {}, readable: string[] = []): Promise<string> {
  // Temporary files (repart's trial file systems are as large as the image) go to the work directory.
  const tmp = ensureDir(path.join(ctx.work, 'tmp'));
  const box = hostTools({ ...toolEnv(), SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch), TMPDIR: tmp, ...env }, [], ctx.tools);
  // The sandbox's /tmp is a fresh tmpfs, and a project (a test's) may live under the host's /tmp:
  // what the tools read (the project, its outputs, the image in the work directory, the
  // definitions and initrds it names, and `readable`) is bound back read-only, then what they write read-write.
  const c = ctx.preset.config;
  const read = [ctx.project.root, c.OutputDirectory, ctx.work, ...c.RepartDirectories, ...c.Initrds, ...readable]
    .filter((p): p is string => typeof p === 'string' && fs.existsSync(p))
    .sort((a, b) => a.length - b.length);
  box.mounts = [...read.map((p) => ({ type: 'ro-bind' as const, source: p, target: p })), ...[tmp, ...writable].map((p) => ({ type: 'bind' as const, source: p, target: p }))];
  return runIn(ctx, box, command, { step });
}
