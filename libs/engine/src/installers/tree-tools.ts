/**
 * The install's tools from a tools tree (ToolsTree=): the tree must have them (else a clear error
 * naming the Debian package that holds each), and the build log says which versions run, once per
 * build, as the programs say it themselves in a sandbox like the install's ("mmdebstrap 1.5.7,
 * apt 3.0.4 (amd64)", "dnf 4.23.0, RPM version 4.20.1"). Without a tree the host's tools run, and
 * their versions are in the tools' identity (the manifest, the fingerprint).
 */
import type { BuildContext } from '../context';
import { toolEnv } from '../exec';
import { hostTools, runIn } from '../sandbox';
import { requireTool } from '../tool-check';

/** The builds whose log names their install tools already. */
const announced = new WeakSet<BuildContext>();

/** `tools` must be in the tree; `versions` is a shell line printing one version line a tool. */
export async function treeTools(ctx: BuildContext, tools: string[], versions: string): Promise<void> {
  if (!ctx.tools) return;
  for (const t of tools) requireTool(ctx, t);
  if (announced.has(ctx)) return;
  announced.add(ctx);
  const out = await runIn({ ...ctx, log: () => undefined }, hostTools(toolEnv(), [], ctx.tools), ['sh', '-c', versions], {
    step: 'asking the tools tree for its install tools',
  });
  ctx.log(`install tools from the tools tree ${ctx.tools}: ${out.trim().split('\n').join(', ')}`);
}
