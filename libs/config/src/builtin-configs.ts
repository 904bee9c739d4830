/**
 * mkosi's built-in configurations, as kiln has them: `Include=mkosi-initrd`, `mkosi-vm`,
 * `mkosi-tools`, `mkosi-addon` and `mkosi-obs` (mkosi(1), Include=) name a configuration that
 * ships with the tool rather than a path. kiln's are its own configuration directories in
 * libs/config/resources/NAME, written from what mkosi documents and is observed to do (mkosi's
 * files are LGPL code; kiln does not copy them), read as mkosi reads its own: a directory read in
 * place, with its drop-ins and profiles, relative paths relative to it.
 *
 * They cover the apt family (Debian, Ubuntu, Kali); for other distributions their [Match]
 * sections add nothing (kiln builds Debian and Gentoo; mkosi's Gentoo has no such lists either).
 *
 * The directory is found relative to this module (dist/ or src/ beside resources/), which holds in
 * the repository, in dist/, and in an installed @kiln/config (package.json `files` ships
 * resources/).
 */
import * as path from 'node:path';

/** The names Include= takes as built-in configurations (mkosi 26's BUILTIN_CONFIGS). */
export const BUILTIN_CONFIGS = ['mkosi-tools', 'mkosi-initrd', 'mkosi-vm', 'mkosi-addon', 'mkosi-obs'] as const;
export type BuiltinConfig = (typeof BUILTIN_CONFIGS)[number];

/** libs/config/resources, from src/ (tests) or dist/ (built and installed). */
export const RESOURCES_DIR = path.resolve(__dirname, '..', 'resources');

export function isBuiltinConfig(name: string): name is BuiltinConfig {
  return (BUILTIN_CONFIGS as readonly string[]).includes(name);
}

/** The directory of built-in configuration `name`. */
export function builtinConfigDir(name: BuiltinConfig): string {
  return path.join(RESOURCES_DIR, name);
}
