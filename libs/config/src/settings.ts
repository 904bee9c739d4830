/**
 * THE settings table. One entry per setting; the INI and TOML readers, the zod model, the JSON
 * Schema, `kiln summary` and the Nx inputs are all derived from it. Adding a setting is adding an
 * entry here. Names, sections, types and defaults follow mkosi (mkosi/config.py, mkosi(1)).
 */
import { z } from 'zod';
// Runtime cycle-safe: formats/ imports only types from this file, and the default runs at read time.
import { defaultCompression } from './formats';
import {
  boolean,
  choice,
  credentialList,
  environment,
  feature,
  fileName,
  imagePathList,
  integer,
  Kind,
  packageList,
  packageOrder,
  pathList,
  pathValue,
  scriptList,
  size,
  spaceList,
  stringList,
  text,
  treeList,
} from './values';
import { architectureName, ARCHITECTURES, distributionFacts, DISTRIBUTIONS, hostArchitecture } from './distributions';
import { TOOLS_TREE_DEFAULTS, toolsTreeRelease } from './tools-tree';

export const SECTIONS = ['Include', 'Config', 'Distribution', 'Output', 'Content', 'Validation', 'Build', 'Runtime'] as const;
/** Sections older mkosi versions used; their settings are accepted there with a warning. */
export const OLD_SECTIONS = ['Host'] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * mkosi 26's scopes (mkosi/config.py SettingScope): where a setting may be set and which images
 * receive the main image's value.
 *  local: set anywhere, never passed on;
 *  universal: set in the main image (or the tools tree), forced on every preset;
 *  multiversal: set in the main image only, forced on every preset and the tools tree;
 *  inherit: presets start from the main image's value and may override it;
 *  main: the main image's own (how `kiln vm` runs it, PassEnvironment=), set nowhere else;
 *  tools: a ToolsTreeX= setting of the main image, X= of the generated tools tree;
 *  initrd: an InitrdX= setting of the main image, X= of the generated default initrd;
 *  initrd-inherit: local, but the default initrd inherits the main image's value.
 */
export type Scope = 'local' | 'universal' | 'multiversal' | 'inherit' | 'main' | 'tools' | 'initrd' | 'initrd-inherit';

/** Scopes only the main image may set (mkosi's is_main_setting, plus universal outside the tools tree). */
export const mainOnly = (scope: Scope): boolean => scope !== 'local' && scope !== 'inherit' && scope !== 'initrd-inherit';
/** Scopes whose main-image value every preset is held to. */
export const forcedOnPresets = (scope: Scope): boolean => scope === 'universal' || scope === 'multiversal';
/** Scopes whose main-image value a preset starts from. */
export const inheritedByPresets = (scope: Scope): boolean => scope === 'inherit';

/**
 * How a setting takes part in the cache key of a preset's build (the Nx inputs, the build manifest):
 * value: the resolved value is hashed; path: the files it points at are hashed by content (and
 * mode, symlink target, empty directories); script: like path, and the script is executable code;
 * environment: names environment variables the build reads; scripts: reaches the image only
 * through the scripts' environment ($PROFILES, $IMAGE_VERSION), so it counts only for a preset
 * that runs scripts; tools: the tools the build runs (ToolsTree=), a path whose contents count
 * through the installer's tool identity (tools-identity.ts) when it runs from them; none: cannot change the image (where to put caches, how to boot a VM, ...).
 */
export type CacheRole = 'value' | 'path' | 'script' | 'tools' | 'environment' | 'scripts' | 'none';

/**
 * The first build step that reads a setting (build.ts runs them in this order):
 * install: base, skeleton and sandbox trees, the package manager's view, prepare scripts: the
 *   steps before the incremental layer, so every such setting is part of the layer's key
 *   (layers.ts derives the key from this column);
 * packages: Packages=, which the layer keys by its locked packages instead (a layer can be
 *   appended to);
 * image: what is done to the image after the layer (extra trees, scripts, image settings);
 * output: how the image is written (format, compression, disk layout, boot);
 * none: read by kiln itself, never by a build step (where outputs go, caches, `kiln vm`).
 */
export type Stage = 'install' | 'packages' | 'image' | 'output' | 'none';

/** Defaults that depend on other settings or on the preset are computed, never read from the host. */
export interface DefaultContext {
  /** The preset's name; `main` for the main image. */
  image: string;
  /** The project root (the directory holding mkosi.conf or kiln.toml). */
  root: string;
  /** Values resolved so far (defaults are computed in table order). */
  get(name: string): unknown;
}

export interface SettingDef<T = unknown> {
  name: string;
  section: Section;
  kind: Kind<T>;
  default: T | null | ((ctx: DefaultContext) => T | null);
  scope: Scope;
  cache: CacheRole;
  help: string;
  /** Older names mkosi still accepts (PackageManagerTrees= is SandboxTrees= now). */
  aliases?: readonly string[];
  /** Sections older mkosi versions put this setting in: accepted without a warning. */
  oldSections?: readonly (Section | (typeof OLD_SECTIONS)[number])[];
  /** Files or directories next to the config picked up by default (mkosi.skeleton/, mkosi.build, ...). */
  defaultPaths?: readonly string[];
  /** The key a [Match] section tests this setting with, when it can be matched. */
  match?: string;
  /** The build step that first reads it (see Stage). */
  stage: Stage;
  /** A secret (RootPassword=): summaries say only whether it is set, manifests keep a hash. */
  secret?: boolean;
  /** Its default file (mkosi.version, mkosi.seed) holds the value as text, rather than being the value as a path. */
  fileText?: boolean;
  /** The `%x` specifier letter that stands for its value (%d is Distribution=). */
  specifier?: string;
  /** Its paths can name another preset's output (BaseTrees=%O/base), which makes an edge of the preset graph. */
  readsOutputs?: boolean;
}

export const FORMATS = [
  'directory', 'tar', 'cpio', 'disk', 'uki', 'esp', 'oci', 'sysext', 'confext', 'portable', 'addon', 'none',
] as const;
export const COMPRESSIONS = ['none', 'zstd', 'xz', 'bz2', 'gz', 'lz4', 'lzma'] as const;
export const BOOTLOADERS = ['none', 'uki', 'systemd-boot', 'grub', 'uki-signed', 'systemd-boot-signed', 'grub-signed'] as const;
export const INCREMENTAL = ['yes', 'no', 'strict'] as const;
/** mkosi's Verity= values: whether an extension image gets dm-verity, and signed (see outputs/extension-verity.ts). */
export const VERITY = ['disabled', 'hash', 'signed', 'defer', 'auto'] as const;
/** mkosi's Firmware= values `kiln vm` boots with (mkosi also has uefi-secure-boot and bios). */
export const FIRMWARES = ['auto', 'uefi', 'linux', 'linux-noinitrd'] as const;
/** SplitArtifacts= values (mkosi 26's ArtifactOutput). */
export const SPLIT_ARTIFACTS = ['uki', 'kernel', 'initrd', 'partitions', 'tar', 'pcrs', 'roothash', 'os-release', 'kernel-modules-initrd', 'repart-definitions'] as const;
/**
 * The modules of the kernel-modules initrd when KernelModulesInitrdInclude= is empty: what a qemu
 * VM's root needs (virtio disks and their PCI transport, AHCI/SATA and SCSI disks, NVMe, and the
 * file systems kiln's disk formats write). Their dependencies come from the image's modules.dep.
 */
export const DEFAULT_INITRD_MODULES = [
  'virtio_pci', 'virtio_blk', 'virtio_scsi', 'virtio_console', 'ahci', 'sd_mod', 'sr_mod', 'nvme', 'ext4', 'vfat', 'nls_cp437', 'nls_iso8859_1', 'erofs', 'crc32c_generic', 'crc32c_intel',
] as const;
export const GENTOO_INSTALLERS = ['native', 'emerge'] as const;
export const BINPKG_SIGNATURES = ['auto', 'required'] as const;

// `defaultPaths` lists each script both plain and `.chroot` (run inside the image), and a `.d/`.
const scriptPaths = (base: string) => [base, `${base}.chroot`, `${base}.d`];

/**
 * Values that reach file names, command lines or files in the image as one word. mkosi takes
 * these as free strings; kiln holds them to what they name, so that a value cannot climb out of
 * a directory (Release=../..), add an option (Mirror=-o...) or add lines to a file (newlines are
 * refused for every single-line setting in image-state.ts).
 */
const RELEASE = { pattern: /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, hint: 'a release name such as bookworm, 41 or 23.0' };
const URL = { pattern: /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s;|&$`'"\\<>()]+$/, hint: 'a URL such as http://deb.debian.org/debian, without white space or shell metacharacters' };
const WORD = (what: string) => (v: string) =>
  v.startsWith('-') ? `starts with "-" and would be read as an option (${what})` : /[\s;|&$`'"\\<>()]/.test(v) ? `contains white space or a shell metacharacter (${what})` : null;

/** Enum settings that also take a boolean (CompressOutput=yes, Incremental=no). */
function booleanAliases<T extends string>(yes: T, no: T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const w of ['1', 'true', 'yes', 'y', 't', 'on', 'always']) out[w] = yes;
  for (const w of ['0', 'false', 'no', 'n', 'f', 'off', 'never']) out[w] = no;
  return out;
}

/**
 * Keeps each entry's value type tied to its kind, and its name and default as written, so that
 * the typed Config below knows every setting's name and value type.
 */
function s<const N extends string, T, D extends T | null | ((ctx: DefaultContext) => T | null)>(
  def: SettingDef<T> & { name: N; default: D },
): Omit<SettingDef<T>, 'name' | 'default'> & { name: N; default: D } {
  return def;
}

export const SETTINGS = [
  // [Include] ([Config] before mkosi v25)
  s({ name: 'Include', section: 'Include', kind: pathList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'none', oldSections: ['Config'],
    help: 'Extra configuration files or directories, read at the point of the Include= line (each once).' }),

  // [Config]
  s({ name: 'Profiles', section: 'Config', kind: stringList({ pattern: /^(?!\.\.?$)[^/]+$/, hint: 'profile names without "/", not "." or ".."' }), default: [], scope: 'inherit', cache: 'scripts', stage: 'install',
    match: 'Profiles', aliases: ['Profile'], help: 'Profiles to enable: mkosi.profiles/NAME(.conf) is read for each, and [Match] Profiles= tests them.' }),
  s({ name: 'Dependencies', section: 'Config', kind: stringList(), default: null, scope: 'local', cache: 'value', stage: 'none',
    help: 'Presets to build before this one; the main image depends on every preset unless it says otherwise.' }),
  s({ name: 'PassEnvironment', section: 'Config', kind: spaceList(), default: [], scope: 'main', cache: 'value', stage: 'none',
    help: "Keys of the main image's Environment= that presets receive too." }),

  // [Distribution]
  s({ name: 'Distribution', section: 'Distribution', kind: choice(DISTRIBUTIONS),
    // mkosi defaults to the host's distribution; kiln never reads the host for a default (a preset
    // must be a pure function of its inputs), so the default is fixed.
    default: 'debian', scope: 'universal', cache: 'value', stage: 'install', specifier: 'd', match: 'Distribution',
    help: 'The distribution to install.' }),
  s({ name: 'Release', section: 'Distribution', kind: text(RELEASE), scope: 'universal', cache: 'value', stage: 'install', specifier: 'r', match: 'Release',
    default: (c) => distributionFacts(String(c.get('Distribution')))?.release ?? null,
    help: 'The release of the distribution (bookworm, 41, 23.0, ...).' }),
  s({ name: 'Architecture', section: 'Distribution', kind: choice(ARCHITECTURES, { x86_64: 'x86-64', aarch64: 'arm64', amd64: 'x86-64' }),
    default: () => hostArchitecture(), scope: 'universal', cache: 'value', stage: 'install', specifier: 'a', match: 'Architecture',
    help: "The architecture to build for; defaults to the build machine's (and is then part of the cache key)." }),
  s({ name: 'Mirror', section: 'Distribution', kind: text(URL), default: null, scope: 'universal', cache: 'value', stage: 'install',
    help: "The distribution's mirror (a URL); the distribution's default when unset." }),
  s({ name: 'LocalMirror', section: 'Distribution', kind: text(URL), default: null, scope: 'universal', cache: 'value', stage: 'install',
    help: 'A mirror used instead of all other repositories while building the image.' }),
  s({ name: 'RepositoryKeyCheck', section: 'Distribution', kind: boolean(), default: true, scope: 'multiversal', cache: 'value', stage: 'install',
    help: 'Verify repository signatures.' }),
  s({ name: 'Repositories', section: 'Distribution', kind: stringList({ check: WORD('a repository or component name such as contrib') }), default: [], scope: 'universal', cache: 'value', stage: 'install', match: 'Repositories',
    help: 'Extra repositories or components to enable (main, contrib, non-free-firmware, ...).' }),
  // Gentoo (kiln's own; mkosi has none of these).
  s({ name: 'Binhosts', section: 'Distribution', kind: stringList(URL), default: [], scope: 'universal', cache: 'value', stage: 'install',
    help: 'Gentoo binary package repositories (binhost URLs, http(s) or file), in priority order.' }),
  s({ name: 'PortageProfile', section: 'Distribution', kind: text({ pattern: /^(?!\.\.?(\/|$))[A-Za-z0-9_.+-]+(\/(?!\.\.?(\/|$))[A-Za-z0-9_.+-]+)*$/, hint: 'a profile path such as default/linux/amd64/23.0/systemd, without "." or ".." components' }),
    default: (c) => {
      const arch = c.get('Distribution') === 'gentoo' ? architectureName('gentoo', String(c.get('Architecture'))) : undefined;
      return arch ? `default/linux/${arch}/${c.get('Release')}/systemd` : null;
    },
    scope: 'universal', cache: 'value', stage: 'install',
    help: 'The Gentoo profile (it also picks the stage3 variant); a make.profile symlink in a sandbox tree wins.' }),
  s({ name: 'PortageSnapshot', section: 'Distribution', kind: text({ pattern: /^(latest|\d{8})$/, hint: 'latest, or a snapshot date such as 20261101' }), default: 'latest',
    scope: 'universal', cache: 'value', stage: 'install',
    help: 'The Gentoo repository snapshot (Mirror=/snapshots/gentoo-<value>.tar.xz) whose profiles emerge reads, when the tools tree has no repository.' }),
  s({ name: 'GentooInstaller', section: 'Distribution', kind: choice(GENTOO_INSTALLERS), default: 'native', scope: 'universal', cache: 'value', stage: 'install',
    help: "How Gentoo packages are installed: native (kiln reads the binhost and unpacks binary packages itself) or emerge (portage from the host or a stage3 tools tree)." }),
  s({ name: 'GentooKeyring', section: 'Distribution', kind: pathValue(), default: null, scope: 'universal', cache: 'path', stage: 'install',
    help: 'OpenPGP keys (armoured or binary keyring) that verify stage3 downloads and signed binary packages.' }),
  s({ name: 'BinpkgSignatures', section: 'Distribution', kind: choice(BINPKG_SIGNATURES), default: 'auto', scope: 'universal', cache: 'value', stage: 'install',
    help: 'Gentoo binary package signatures: auto verifies those present, required refuses unsigned packages.' }),
  s({ name: 'AcceptKeywords', section: 'Distribution', kind: stringList({ pattern: /^(\*\*|-?~?\*|-?~?[A-Za-z0-9][A-Za-z0-9_-]*)$/, hint: 'KEYWORDS tokens such as ~amd64, **, -*' }), default: [],
    scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo ACCEPT_KEYWORDS, added to the profile's (the architecture's stable keyword) as make.conf's are: ~amd64 accepts testing packages, ** any." }),
  s({ name: 'CollisionIgnore', section: 'Distribution', kind: stringList(), default: ['/lib/modules/*', '*.py[co]', '*$py.class'], scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo COLLISION_IGNORE: files (fnmatch patterns, or directories) a package may overwrite although another installed package owns them (portage's default)." }),
  s({ name: 'ConfigProtect', section: 'Distribution', kind: stringList(), default: ['/etc'], scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo CONFIG_PROTECT: where a package's file that would replace a different existing one is installed as ._cfg0000_<name> beside it instead." }),
  s({ name: 'ConfigProtectMask', section: 'Distribution', kind: stringList(), default: ['/etc/env.d'], scope: 'universal', cache: 'value', stage: 'install',
    help: 'Gentoo CONFIG_PROTECT_MASK: exceptions to ConfigProtect=.' }),

  // [Output]
  s({ name: 'Format', section: 'Output', kind: choice(FORMATS), default: 'disk', scope: 'local', cache: 'value', stage: 'output', specifier: 't', match: 'Format',
    help: 'The output format.' }),
  s({ name: 'Output', section: 'Output', kind: text({ pattern: /^(?!\.\.?$)[^/]+$/, hint: 'a file name without "/"' }), scope: 'local', cache: 'value', stage: 'output', specifier: 'o',
    default: (c) => {
      const base = c.image === 'main' ? (c.get('ImageId') as string | null) ?? 'image' : c.image;
      const version = c.get('ImageVersion') as string | null;
      return version ? `${base}_${version}` : base;
    },
    help: 'The output name inside OutputDirectory=: ImageId= (or "image") for the main image, the preset name for presets, then "_" and ImageVersion= when set.' }),
  s({ name: 'OutputDirectory', section: 'Output', kind: pathValue({ directory: true }), default: (c) => `${c.root}/mkosi.output`, scope: 'universal', cache: 'none', stage: 'none', specifier: 'O',
    defaultPaths: ['mkosi.output'],
    help: 'Where outputs are written. kiln defaults to mkosi.output/ even when it does not exist yet, so that Nx always knows where the outputs are.' }),
  s({ name: 'ImageId', section: 'Output', kind: text({ pattern: /^[A-Za-z0-9_.-]+$/, hint: 'letters, digits, "_", "." and "-"', check: fileName('ImageId=') }),
    default: null, scope: 'inherit', cache: 'scripts', stage: 'install', specifier: 'i', match: 'ImageId', help: 'The image identifier (IMAGE_ID= in os-release).' }),
  s({ name: 'ImageVersion', section: 'Output', kind: text({ pattern: /^[A-Za-z0-9_.~+-]+$/, hint: 'a version such as 1.2.3: letters, digits, ".", "_", "~", "+" and "-"', check: fileName('ImageVersion=') }), default: null, scope: 'inherit', cache: 'scripts', stage: 'install', fileText: true, specifier: 'v', match: 'ImageVersion',
    defaultPaths: ['mkosi.version'], help: 'The image version (IMAGE_VERSION= in os-release); mkosi.version supplies it when present: its text, or its output when it is executable (run in kiln\'s sandbox, in the config directory).' }),
  s({ name: 'CompressOutput', section: 'Output', kind: choice(COMPRESSIONS, { zst: 'zstd', gzip: 'gz', ...booleanAliases('zstd', 'none') }),
    default: (c) => defaultCompression(String(c.get('Format'))),
    scope: 'local', cache: 'value', stage: 'output',
    help: 'Compression of the output: zstd for tar, cpio, disk, uki, esp and addon by default (cached images stay small; for disk and esp the raw image is compressed, NAME.raw.zst, unlike mkosi: a cache stores a sparse image in full), gz for oci, none otherwise; yes means zstd. For uki it compresses the initrd inside.' }),
  s({ name: 'CompressLevel', section: 'Output', kind: integer({ min: 0, max: 22 }), default: 3, scope: 'inherit', cache: 'value', stage: 'output',
    help: 'The compression level.' }),
  s({ name: 'RepartDirectories', section: 'Output', kind: pathList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'output', defaultPaths: ['mkosi.repart'],
    help: 'systemd-repart partition definitions for disk images.' }),
  s({ name: 'Overlay', section: 'Output', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output',
    help: 'With BaseTrees=: the output holds only what the image adds or changes on top of its base trees (a system extension of a base image).' }),
  s({ name: 'Seed', section: 'Output', kind: text({ pattern: /^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|random)$/, hint: 'a UUID or "random"' }),
    default: null, scope: 'local', cache: 'value', stage: 'output', fileText: true, defaultPaths: ['mkosi.seed'],
    help: 'The seed for systemd-repart (partition UUIDs). kiln derives a fixed one from the image name when unset, so disk images are reproducible.' }),
  s({ name: 'SplitArtifacts', section: 'Output', kind: stringList({ pattern: new RegExp(`^(${SPLIT_ARTIFACTS.join('|')}|yes|no|true|false|1|0|on|off)$`), hint: `${SPLIT_ARTIFACTS.join(', ')} (or a boolean, as older mkosi)` }),
    default: ['uki', 'kernel', 'initrd'], scope: 'local', cache: 'value', stage: 'output',
    help: 'Artifacts written beside a bootable or disk image (mkosi 26): uki (NAME.efi), kernel (NAME.vmlinuz), initrd (NAME.initrd), kernel-modules-initrd (NAME.kernel-modules-initrd), os-release (NAME.osrelease), tar (NAME.tar, compressed per CompressOutput=), and for Format=disk partitions (NAME.<type>.raw per partition, compressed as the disk) and roothash (NAME.roothash, with a verity partition); pcrs (needs a signed UKI) and repart-definitions (a directory) are not written, which the build says; the default is uki, kernel and initrd, as mkosi; yes means those and partitions, no those three.' }),

  // [Content]
  s({ name: 'Packages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'local', cache: 'value', stage: 'packages',
    help: 'Packages to install (kept sorted, as mkosi does).' }),
  s({ name: 'BuildPackages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'local', cache: 'value', stage: 'image',
    help: 'Packages installed for the build scripts only; they do not stay in the image.' }),
  s({ name: 'RemovePackages', section: 'Content', kind: packageList(), default: [], scope: 'local', cache: 'value', stage: 'image',
    help: 'Packages removed at the end of the build.' }),
  s({ name: 'WithDocs', section: 'Content', kind: boolean(), default: true, scope: 'local', cache: 'value', stage: 'install', help: 'Install documentation.' }),
  s({ name: 'WithRecommends', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'install',
    help: 'Install weak dependencies (Recommends:).' }),
  s({ name: 'BaseTrees', section: 'Content', kind: pathList({ tree: true }), default: [], scope: 'local', cache: 'path', stage: 'install', readsOutputs: true,
    help: "Directories or archives the image starts from, often another preset's output (%O/base)." }),
  s({ name: 'SkeletonTrees', section: 'Content', kind: treeList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'install', readsOutputs: true,
    defaultPaths: ['mkosi.skeleton', 'mkosi.skeleton.tar'], help: 'Trees copied in before packages are installed (SOURCE[:TARGET]).' }),
  s({ name: 'ExtraTrees', section: 'Content', kind: treeList(), default: [], scope: 'local', cache: 'path', stage: 'image', readsOutputs: true,
    defaultPaths: ['mkosi.extra', 'mkosi.extra.tar'], help: 'Trees copied in after packages are installed (SOURCE[:TARGET]).' }),
  s({ name: 'RemoveFiles', section: 'Content', kind: imagePathList(), default: [], scope: 'local', cache: 'value', stage: 'image',
    help: 'Globs of files removed from the image at the end of the build.' }),
  s({ name: 'CleanPackageMetadata', section: 'Content', kind: feature(), default: 'auto', scope: 'local', cache: 'value', stage: 'image',
    help: "Remove the package manager's database from the image (auto: when the package manager itself is not installed)." }),
  s({ name: 'SourceDateEpoch', section: 'Content', kind: integer({ min: 0 }), default: null, scope: 'multiversal', cache: 'value', stage: 'install', oldSections: ['Output'],
    help: 'Timestamp clamping every mtime (SOURCE_DATE_EPOCH); the SOURCE_DATE_EPOCH environment variable is used when unset.' }),
  s({ name: 'PrepareScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'install', aliases: ['PrepareScript'],
    defaultPaths: scriptPaths('mkosi.prepare'), help: 'Scripts run after packages are installed.' }),
  s({ name: 'BuildScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['BuildScript'],
    defaultPaths: scriptPaths('mkosi.build'), help: 'Scripts that build software into $DESTDIR.' }),
  s({ name: 'PostInstallationScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['PostInstallationScript'],
    defaultPaths: scriptPaths('mkosi.postinst'), help: 'Scripts run after the extra trees are copied.' }),
  s({ name: 'FinalizeScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['FinalizeScript'],
    defaultPaths: scriptPaths('mkosi.finalize'), help: 'Scripts run last, before the output is written.' }),
  s({ name: 'Bootable', section: 'Content', kind: feature(), default: 'auto', scope: 'local', cache: 'value', stage: 'output', match: 'Bootable',
    help: 'Make a disk image bootable (auto: when a kernel and systemd-boot are available).' }),
  s({ name: 'Bootloader', section: 'Content', kind: choice(BOOTLOADERS), default: 'systemd-boot', scope: 'local', cache: 'value', stage: 'output',
    help: 'The bootloader of a bootable image.' }),
  s({ name: 'KernelModulesInitrd', section: 'Content', kind: boolean(), default: true, scope: 'local', cache: 'value', stage: 'output',
    help: "A bootable image's UKI gets an extra initrd with the image kernel's modules (after Initrds=)." }),
  s({ name: 'KernelModulesInitrdInclude', section: 'Content', kind: stringList({ pattern: /^[A-Za-z0-9_.*?\[\]^$|()+-]+$/, hint: 'module names or regular expressions over them' }), default: [], scope: 'local', cache: 'value', stage: 'output',
    help: `The modules of the kernel-modules initrd (regular expressions over module names), with their dependencies. Empty: kiln's set for a VM's root (${DEFAULT_INITRD_MODULES.join(' ')}); mkosi takes every module then, which makes a far larger initrd.` }),
  s({ name: 'KernelCommandLine', section: 'Content', kind: spaceList(), default: [], scope: 'local', cache: 'value', stage: 'output',
    help: 'The kernel command line (items split on spaces only).' }),
  s({ name: 'Initrds', section: 'Content', kind: pathList(), default: [], scope: 'local', cache: 'path', stage: 'output', readsOutputs: true,
    help: "Initrds to use, e.g. another preset's cpio output (%O/initrd)." }),
  s({ name: 'Hostname', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*$/, hint: 'a valid hostname' }),
    default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', help: "The image's /etc/hostname." }),
  s({ name: 'Locale', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, hint: 'a locale such as C.UTF-8 or en_US.UTF-8' }), default: null, scope: 'local', cache: 'value', stage: 'image', help: 'The system locale (LANG=).' }),
  s({ name: 'Timezone', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, hint: 'a zone name such as Europe/Berlin' }),
    default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', help: 'The system timezone.' }),
  s({ name: 'MakeInitrd', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'image',
    help: 'Make the image usable as an initrd: /etc/initrd-release (a link to /etc/os-release), which makes systemd run as an initrd. (/init -> systemd is made in every image with systemd, as mkosi.)' }),
  s({ name: 'RootPassword', section: 'Content', kind: text(), default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', secret: true,
    help: 'The root password; "hashed:..." for a crypt(3) hash. The summary shows only whether it is set.' }),

  // [Validation] (mkosi v25+): signing and verity
  s({ name: 'Verity', section: 'Validation', kind: choice(VERITY, booleanAliases('signed', 'disabled')), default: 'auto', scope: 'local', cache: 'value', stage: 'output',
    help: 'dm-verity of sysext, confext and portable images: auto (signed when VerityKey= and VerityCertificate= are set, none otherwise), signed (required), hash (a hash partition, no signature), disabled.' }),
  s({ name: 'VerityKey', section: 'Validation', kind: pathValue({ required: true }), default: null, scope: 'universal', cache: 'path', stage: 'output', defaultPaths: ['mkosi.key'],
    help: "The PEM private key signing the verity root hash (the image's verity signature partition); mkosi.key when present." }),
  s({ name: 'VerityCertificate', section: 'Validation', kind: pathValue({ required: true }), default: null, scope: 'universal', cache: 'path', stage: 'output', defaultPaths: ['mkosi.crt'],
    help: 'The X.509 certificate (PEM) of VerityKey=, embedded in the verity signature; mkosi.crt when present.' }),

  // [Build] (v25 gathered these from [Output], [Host], [Content] and [Distribution])
  s({ name: 'ToolsTree', section: 'Build', kind: pathValue({ required: true, constants: ['default', 'yes', 'no', 'none'] }), default: null, scope: 'universal', cache: 'tools', stage: 'install',
    oldSections: ['Host'], defaultPaths: ['mkosi.tools'],
    help: 'A tree with the tools the build runs: a path, "default" to build one, or unset for the host tools.' }),
  // The default tools tree (ToolsTree=default): settings of the generated `tools` preset
  // (tools-tree.ts), set in the main image only. They reach a preset's image through that preset's
  // output (a graph edge), never directly: cache role none.
  s({ name: 'ToolsTreeDistribution', section: 'Build', kind: choice(DISTRIBUTIONS), default: TOOLS_TREE_DEFAULTS.distribution, scope: 'tools', cache: 'none', stage: 'none',
    help: 'The distribution of the default tools tree (kiln: debian; mkosi: the host\'s).' }),
  s({ name: 'ToolsTreeRelease', section: 'Build', kind: text(RELEASE), scope: 'tools', cache: 'none', stage: 'none',
    default: (c) => toolsTreeRelease(String(c.get('ToolsTreeDistribution'))),
    help: 'The release of the default tools tree (trixie for debian, else the distribution\'s default release).' }),
  s({ name: 'ToolsTreeMirror', section: 'Build', kind: text(URL), scope: 'tools', cache: 'none', stage: 'none',
    default: (c) => (c.get('Mirror') && c.get('Distribution') === c.get('ToolsTreeDistribution') ? (c.get('Mirror') as string) : null),
    help: 'The mirror of the default tools tree (default: Mirror= when the distributions are the same).' }),
  s({ name: 'ToolsTreeRepositories', section: 'Build', kind: stringList({ check: WORD('a repository or component name such as contrib') }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    help: 'Repositories or components to enable in the default tools tree.' }),
  s({ name: 'ToolsTreeSandboxTrees', section: 'Build', kind: treeList({ required: true }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    aliases: ['ToolsTreePackageManagerTrees'], help: 'Sandbox trees of the default tools tree.' }),
  s({ name: 'ToolsTreePackages', section: 'Build', kind: packageList({ sort: packageOrder }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    help: 'Packages added to the default tools tree.' }),
  s({ name: 'Incremental', section: 'Build', kind: choice(INCREMENTAL, booleanAliases('yes', 'no')),
    default: 'no', scope: 'universal', cache: 'none', stage: 'none', oldSections: ['Host', 'Output'],
    help: 'Cache the image after its packages and prepare scripts, and start from it when nothing before that changed (strict: fail instead of building without one).' }),
  s({ name: 'CacheDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'universal', cache: 'none', stage: 'none', oldSections: ['Output'],
    defaultPaths: ['mkosi.cache'], help: 'Where incremental layers are kept (default: the user\'s cache directory, ~/.cache/kiln/layers).' }),
  s({ name: 'CacheMaxSize', section: 'Build', kind: size(), default: 16 * 1024 ** 3, scope: 'universal', cache: 'none', stage: 'none',
    help: 'Incremental layers beyond this total size are evicted, least recently used first.' }),
  s({ name: 'CacheMaxAge', section: 'Build', kind: integer({ min: 0 }), default: 30, scope: 'universal', cache: 'none', stage: 'none',
    help: 'Incremental layers and unpacked tools trees (ToolsTree=default) unused for this many days are evicted (0: never by age).' }),
  s({ name: 'PackageCacheDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', oldSections: ['Output'],
    defaultPaths: ['mkosi.pkgcache'], help: "Where downloaded packages are kept across builds and presets (default: the user's cache directory)." }),
  s({ name: 'SandboxTrees', section: 'Build', kind: treeList({ required: true }), default: [], scope: 'universal', cache: 'path', stage: 'install',
    aliases: ['PackageManagerTrees'], oldSections: ['Distribution', 'Content'], defaultPaths: ['mkosi.sandbox', 'mkosi.sandbox.tar', 'mkosi.pkgmngr', 'mkosi.pkgmngr.tar'],
    help: "Trees overlaid on the package manager's view (repository files, keys, apt.conf.d, ...)." }),
  s({ name: 'WithNetwork', section: 'Build', kind: boolean(), default: false, scope: 'universal', cache: 'value', stage: 'install',
    help: 'Give build, post-installation and finalize scripts and package maintainer scripts the host\'s network (prepare scripts and downloads always have it, as in mkosi).' }),
  s({ name: 'Environment', section: 'Build', kind: environment(), default: {}, scope: 'local', cache: 'environment', stage: 'install', oldSections: ['Content'], match: 'Environment',
    help: 'Variables set for scripts: KEY=VALUE (quotes allowed), or KEY to pass one through from the environment.' }),

  // [Runtime] ([Host] before v25): how `kiln vm` boots the image; never part of the image.
  s({ name: 'RAM', section: 'Runtime', kind: size(), default: 2 * 1024 ** 3, scope: 'main', cache: 'none', stage: 'none',
    aliases: ['QemuMem'], oldSections: ['Host'], help: 'Memory of the virtual machine `kiln vm` starts.' }),
  s({ name: 'RuntimeSize', section: 'Runtime', kind: size(), default: null, scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    help: 'Grow the disk image to this size before booting it in `kiln vm`.' }),
  s({ name: 'CPUs', section: 'Runtime', kind: integer({ min: 0, max: 1024 }), default: 1, scope: 'main', cache: 'none', stage: 'none',
    aliases: ['QemuSmp'], oldSections: ['Host'], help: 'CPUs of the virtual machine `kiln vm` starts (0: as many as kiln may use).' }),
  s({ name: 'KVM', section: 'Runtime', kind: feature(), default: 'auto', scope: 'main', cache: 'none', stage: 'none',
    aliases: ['QemuKvm'], oldSections: ['Host'], help: '`kiln vm` with KVM (yes), without (no: TCG), or with KVM when a probe shows it works (auto).' }),
  s({ name: 'Firmware', section: 'Runtime', kind: choice(FIRMWARES), default: 'auto', scope: 'main', cache: 'none', stage: 'none',
    aliases: ['QemuFirmware'], oldSections: ['Host'], help: 'How `kiln vm` boots: uefi (OVMF), linux (direct kernel boot), linux-noinitrd, or auto (by the format).' }),
  s({ name: 'Linux', section: 'Runtime', kind: pathValue(), default: null, scope: 'main', cache: 'none', stage: 'none', aliases: ['QemuKernel'], oldSections: ['Host'],
    help: 'The kernel `kiln vm` boots directly: a kernel image, or a tree (another preset\'s directory output) whose newest installed kernel is taken.' }),
  s({ name: 'QemuArgs', section: 'Runtime', kind: spaceList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    help: 'Extra arguments of the qemu `kiln vm` runs.' }),
  s({ name: 'Credentials', section: 'Runtime', kind: credentialList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    defaultPaths: ['mkosi.credentials'],
    help: 'Credentials `kiln vm` passes to the guest (SMBIOS io.systemd.credential): NAME=VALUE words, or a file (named after it; run when executable, its output the value) or a directory of such files (mkosi.credentials/).' }),
  s({ name: 'KernelCommandLineExtra', section: 'Runtime', kind: spaceList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    help: 'Kernel command line words `kiln vm` adds at boot (-append, or SMBIOS io.systemd.stub.kernel-cmdline-extra for a UKI or disk).' }),
] as const;

export type AnySetting = (typeof SETTINGS)[number];

/** The zod model of a resolved preset: one key per setting. */
export const ConfigSchema = z.object(
  Object.fromEntries(
    SETTINGS.map((d) => [d.name, d.default === null || typeof d.default === 'function' ? d.kind.schema.nullable() : d.kind.schema]),
  ) as Record<string, z.ZodType>,
);

/** A setting's resolved value type: its kind's, or null as well when it has no fixed default. */
type ValueOf<D> = D extends { kind: Kind<infer T>; default: infer Def } ? (null extends Def ? T | null : Def extends (ctx: DefaultContext) => infer R ? R : T) : never;

/**
 * A resolved preset, one key per setting, typed from the table: `config.Pakages` or a string
 * where a list belongs is a compile error.
 */
export type SettingName = AnySetting['name'];
export type Config = { [K in SettingName]: ValueOf<Extract<AnySetting, { name: K }>> };

/** A setting's value by a name known only at run time (walks of the table); typed code reads config.Name. */
export function settingValue(config: Config, name: string): unknown {
  return (config as unknown as Record<string, unknown>)[name];
}

const BY_NAME = new Map<string, SettingDef>();
for (const d of SETTINGS as readonly SettingDef[]) {
  BY_NAME.set(d.name.toLowerCase(), d);
  for (const a of d.aliases ?? []) BY_NAME.set(a.toLowerCase(), d);
}

/** Looks a setting up by name or alias. mkosi's names are case-sensitive; kiln matches them exactly. */
export function findSetting(name: string): SettingDef | undefined {
  const d = BY_NAME.get(name.toLowerCase());
  if (!d) return undefined;
  return d.name === name || d.aliases?.includes(name) ? d : undefined;
}

/** A near miss for "did you mean", e.g. "Pakages" -> "Packages". */
export function suggestSetting(name: string): string | undefined {
  const exact = BY_NAME.get(name.toLowerCase());
  if (exact) return exact.name;
  let best: [number, string] | undefined;
  for (const d of SETTINGS as readonly SettingDef[]) {
    const dist = editDistance(name.toLowerCase(), d.name.toLowerCase());
    if (dist <= 2 && (!best || dist < best[0])) best = [dist, d.name];
  }
  return best?.[1];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** Settings a [Match] section can test, by match key (plus Image=, the preset's name, and Environment=). */
export const MATCH_KEYS: ReadonlyMap<string, SettingDef> = new Map(
  (SETTINGS as readonly SettingDef[]).filter((d) => d.match).map((d) => [d.match as string, d]),
);
