/**
 * The one seed of a build's systemd-repart runs (disk, esp, sysext, confext, portable), from which
 * repart derives partition UUIDs and the file system UUIDs it hands to the mkfs tools. mkosi uses
 * Seed= (mkosi.seed) or a random one; kiln derives a fixed one from the preset's name and Output=
 * when Seed= is unset, so two builds of the same inputs give the same bytes. Seed=random is
 * honoured (and gives a different image each time, as asked).
 */
import { createHash } from 'node:crypto';
import { cfg, type BuildContext } from '../context';

/** systemd-repart's --seed: Seed= when set ("random" stays random), else derived from the preset. */
export function repartSeed(ctx: BuildContext): string {
  const seed = cfg(ctx, 'Seed');
  if (seed) return seed;
  return derivedUuid(`kiln repart seed\0${ctx.preset.name}\0${cfg(ctx, 'Output')}`);
}

/** A UUID derived from `text`, version-4-shaped (repart takes any UUID; the shape just says it is not a real one). */
export function derivedUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * What systemd-repart 257 leaves random when it runs mkfs, given to mkfs through its
 * SYSTEMD_REPART_MKFS_OPTIONS_<FS> variables: ext4's directory hash seed (mke2fs draws it at
 * random even with SOURCE_DATE_EPOCH). Derived from the seed, so Seed=random stays random.
 */
export function mkfsEnv(ctx: BuildContext): Record<string, string> {
  const seed = repartSeed(ctx);
  if (seed === 'random') return {};
  const hashSeed = derivedUuid(`kiln ext4 hash seed\0${seed}`);
  return { SYSTEMD_REPART_MKFS_OPTIONS_EXT4: `-E hash_seed=${hashSeed}`, SYSTEMD_REPART_MKFS_OPTIONS_EXT3: `-E hash_seed=${hashSeed}`, SYSTEMD_REPART_MKFS_OPTIONS_EXT2: `-E hash_seed=${hashSeed}` };
}
