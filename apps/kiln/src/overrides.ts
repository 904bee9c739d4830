/**
 * Settings on the command line, as mkosi takes them: `--profile NAME`, `-d/--distribution`,
 * `-r/--release`, `-E/--environment KEY=VALUE`, `--image-version`, and `--Setting=value` or
 * `--Setting value` for any setting of the table, by its name (or an old name) or in mkosi's
 * kebab-case spelling (--image-id, --tools-tree, --package). They become the main image's
 * overrides (loadProject's LoadOptions.overrides: mkosi's `cli` namespace), in the order given; a
 * list setting given twice has both values, an empty value (`--Packages=`) resets it.
 *
 * They are taken out of the arguments before commander sees them (commander cannot declare an
 * option per setting without crowding every command's --help); kiln's own options keep their
 * meaning (-p is --preset, not mkosi's --package; -f is --force).
 */
import { SETTINGS, suggestSetting, type Override, type SettingDef } from '@kiln/config';

/** mkosi's long options that are not the kebab-case of the setting's name (mkosi/config.py SETTINGS `long`). */
const MKOSI_LONG: Record<string, string> = {
  Profiles: 'profile',
  Dependencies: 'dependency',
  ConfigureScripts: 'configure-script',
  RepartDirectories: 'repart-directory',
  CleanScripts: 'clean-script',
  Packages: 'package',
  BuildPackages: 'build-package',
  VolatilePackages: 'volatile-package',
  PackageDirectories: 'package-directory',
  VolatilePackageDirectories: 'volatile-package-directory',
  BaseTrees: 'base-tree',
  SkeletonTrees: 'skeleton-tree',
  ExtraTrees: 'extra-tree',
  RemovePackages: 'remove-package',
  SyncScripts: 'sync-script',
  PrepareScripts: 'prepare-script',
  BuildScripts: 'build-script',
  PostInstallationScripts: 'postinst-script',
  FinalizeScripts: 'finalize-script',
  PostOutputScripts: 'postoutput-script',
  UnifiedKernelImageProfiles: 'uki-profile',
  Initrds: 'initrd',
  InitrdProfiles: 'initrd-profile',
  InitrdPackages: 'initrd-package',
  InitrdVolatilePackages: 'initrd-volatile-package',
  SELinuxRelabel: 'selinux-relabel',
  OpenPGPTool: 'openpgp-tool',
  ToolsTreeProfiles: 'tools-tree-profile',
  ToolsTreeRepositories: 'tools-tree-repository',
  ToolsTreeSandboxTrees: 'tools-tree-sandbox-tree',
  ToolsTreePackages: 'tools-tree-package',
  ToolsTreePackageDirectories: 'tools-tree-package-directory',
  ExtraSearchPaths: 'extra-search-path',
  SandboxTrees: 'sandbox-tree',
  EnvironmentFiles: 'env-file',
  NSpawnSettings: 'settings',
  Credentials: 'credential',
  RuntimeTrees: 'runtime-tree',
  UnitProperties: 'unit-property',
  VirtualMachineMonitor: 'vmm',
  CPUs: 'cpus',
  MaxMem: 'maxmem',
  VSock: 'vsock',
  VSockCID: 'vsock-cid',
  Drives: 'drive',
};

/** mkosi's older long options, still accepted (SETTINGS `compat_longs`). */
const MKOSI_COMPAT: Record<string, readonly string[]> = {
  OutputDirectory: ['output-dir'],
  RepartDirectories: ['repart-dir'],
  ToolsTreeSandboxTrees: ['tools-tree-package-manager-tree'],
  SandboxTrees: ['package-manager-tree'],
  WorkspaceDirectory: ['workspace-dir'],
  CacheDirectory: ['cache-dir'],
  PackageCacheDirectory: ['package-cache-dir'],
  BuildDirectory: ['build-dir'],
  SysupdateDirectory: ['sysupdate-dir'],
  CPUs: ['qemu-smp'],
  RAM: ['qemu-mem'],
  KVM: ['qemu-kvm'],
  VSock: ['qemu-vsock'],
  VSockCID: ['qemu-vsock-cid'],
  TPM: ['qemu-swtpm'],
  Removable: ['qemu-removable'],
  Firmware: ['qemu-firmware'],
  FirmwareVariables: ['qemu-firmware-variables'],
  Linux: ['qemu-kernel'],
  Drives: ['qemu-drive'],
};

/** The short options kiln takes from mkosi (others clash with kiln's own: -p, -f, -C). */
const SHORT: Record<string, string> = { '-d': 'Distribution', '-r': 'Release', '-E': 'Environment' };

/** kiln's own long options: never settings. */
const KILN_OPTIONS = new Set(['directory', 'json', 'preset', 'force', 'deps', 'no-deps', 'relock', 'verbose', 'list', 'all', 'help', 'version']);

/** CamelCase to kebab-case: ImageId -> image-id, ToolsTree -> tools-tree, KVM -> kvm. */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1-$2')
    .toLowerCase();
}

let byOption: Map<string, SettingDef> | undefined;

/** The setting an option name (without the dashes) stands for. */
export function settingOfOption(option: string): SettingDef | undefined {
  if (!byOption) {
    byOption = new Map();
    for (const d of SETTINGS as readonly SettingDef[]) {
      for (const n of [d.name, ...(d.aliases ?? [])]) {
        byOption.set(n, d);
        byOption.set(kebab(n), d);
      }
      for (const long of [MKOSI_LONG[d.name], ...(MKOSI_COMPAT[d.name] ?? [])]) if (long) byOption.set(long, d);
    }
    for (const k of KILN_OPTIONS) byOption.delete(k);
  }
  return byOption.get(option);
}

export class OverrideError extends Error {}

/**
 * Takes the settings out of `args` (the arguments after the command name, up to a `--`):
 * returns the arguments left for commander and the overrides in the order given.
 */
export function takeOverrides(args: readonly string[]): { rest: string[]; overrides: Override[] } {
  const rest: string[] = [];
  const overrides: Override[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i));
      break;
    }
    let def: SettingDef | undefined;
    let value: string | undefined;
    let option = a;
    if (SHORT[a.slice(0, 2)] && a.length >= 2 && !a.startsWith('--')) {
      def = settingOfOption(SHORT[a.slice(0, 2)]!);
      option = a.slice(0, 2);
      if (a.length > 2) value = a.slice(2).replace(/^=/, '');
    } else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      def = settingOfOption(name);
      option = `--${name}`;
      if (eq >= 0) value = a.slice(eq + 1);
    }
    if (!def) {
      // --CamelCase is meant as a setting: say so rather than commander's "unknown option".
      if (/^--[A-Z]/.test(a)) {
        const hint = suggestSetting(option.slice(2));
        throw new OverrideError(`${option}: no such setting${hint ? ` (did you mean --${hint}=?)` : ' (the settings are in kiln summary)'}`);
      }
      rest.push(a);
      continue;
    }
    if (value === undefined) {
      const next = args[i + 1];
      // Every setting takes a value, as in mkosi (`--with-docs yes`, not `--with-docs`).
      if (next === undefined || next === '--') throw new OverrideError(`${option} needs a value (${option}=VALUE; an empty value resets ${def.name}=)`);
      value = next;
      i++;
    }
    overrides.push({ name: def.name, value });
  }
  return { rest, overrides };
}

/** For each command's --help. */
export const OVERRIDES_HELP = `
Settings (as mkosi takes them, winning over the configuration files):
  --profile NAME              enable a profile (repeatable)
  -d, --distribution NAME     Distribution=
  -r, --release NAME          Release=
  -E, --environment KEY=VAL   Environment= (repeatable)
  --image-version VERSION     ImageVersion=
  --Setting=VALUE             any setting, by its name (--ImageId=x) or in kebab-case
                              (--image-id=x); an empty value resets it`;
