/**
 * The seed systemd-repart derives partition UUIDs (and the erofs/verity UUIDs it hands to the
 * mkfs tools) from. mkosi uses Seed= (mkosi.seed) or a random one; kiln derives a fixed one from
 * the preset's name and Output= when Seed= is unset, so two builds of the same inputs give the
 * same bytes. Seed=random is honoured (and gives a different image each time, as asked).
 */
import { createHash } from 'node:crypto';
import { cfg, type BuildContext } from '../context';

export function repartSeed(ctx: BuildContext): string {
  const seed = cfg(ctx, 'Seed');
  if (seed) return seed;
  const h = createHash('sha256').update(`kiln repart seed\0${ctx.preset.name}\0${cfg(ctx, 'Output')}`).digest('hex');
  // A version-4 UUID's shape (repart takes any UUID; the shape just says it is not a real one).
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
