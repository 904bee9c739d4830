/**
 * A distribution installs packages into an image. Each lives in its own module; apt (Debian,
 * Ubuntu) is the first. Later: dnf, pacman, zypper, portage.
 */
import { BuildError } from '../errors';
import type { BuildContext } from '../context';
import { debian } from './debian';

export interface Distribution {
  /** Installs the essential set plus `packages` into an empty (or skeleton-only) root. */
  bootstrap(ctx: BuildContext, packages: string[]): Promise<void>;
  /** Installs `packages` into a root that already holds an image (base trees, build overlays). */
  install(ctx: BuildContext, packages: string[]): Promise<void>;
  /** Removes `packages` and what only they needed. */
  remove(ctx: BuildContext, packages: string[]): Promise<void>;
  /**
   * Deletes the package manager's caches, and its databases when `always` or when the tool that
   * uses them is not in the image (CleanPackageMetadata=auto).
   */
  cleanMetadata(ctx: BuildContext, always: boolean): Promise<void>;
}

const DISTRIBUTIONS: Record<string, Distribution> = { debian, ubuntu: debian, kali: debian };

export function distributionOf(ctx: BuildContext): Distribution {
  const name = ctx.preset.config.Distribution as string;
  const d = DISTRIBUTIONS[name];
  if (!d) {
    throw new BuildError(`Distribution=${name} cannot be built yet (supported: ${Object.keys(DISTRIBUTIONS).join(', ')})`, ctx.preset.name);
  }
  return d;
}
