/**
 * THE settings table. One entry per setting; the INI and TOML readers, the zod model, the JSON
 * Schema, `kiln summary` and the Nx inputs are all derived from it. Adding a setting is adding an
 * entry here. Names, sections, types and defaults follow mkosi (mkosi/config.py, mkosi(1)).
 */
import { z } from 'zod';
// Runtime cycle-safe: formats/ imports only types from this file, and the default runs at read time.
import { buildableFormats, defaultCompression } from './formats';
import {
  boolean,
  choice,
  choiceList,
  credentialList,
  driveList,
  environment,
  feature,
  fileName,
  imagePathList,
  integer,
  keySource,
  keyValue,
  Kind,
  mode,
  moduleFilters,
  packageList,
  packageOrder,
  pathList,
  pathValue,
  quotedList,
  scriptList,
  sectorSize,
  size,
  spaceList,
  stringList,
  text,
  treeList,
  uuid,
  vsockCid,
} from './values';
import { architectureName, ARCHITECTURES, distributionFacts, DISTRIBUTIONS, buildable, hostArchitecture } from './distributions';
import { TOOLS_TREE_DEFAULTS, TOOLS_TREE_PROFILES, toolsTreeRelease } from './tools-tree';

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
  /**
   * Whether the engine acts on it: omitted, it does on every value; false, it ignores the
   * setting (a value other than the default is refused at build time when the setting can change
   * the image: unsupported.ts); `supports` says for which values it does (SecureBoot=yes is not).
   */
  engine?: false;
  /** The values the engine acts on, given the preset's other settings (see engine). */
  supports?(value: T, config: Readonly<Record<string, unknown>>): boolean;
  /** A secret (RootPassword=): summaries say only whether it is set, manifests keep a hash. */
  secret?: boolean;
  /** Its default file (mkosi.version, mkosi.seed) holds the value as text, rather than being the value as a path. */
  fileText?: boolean;
  /**
   * Scripts also see it in their environment ($IMAGE_VERSION): an incremental layer built with a
   * prepare script keys it, though the image itself reads it only later (stage output).
   */
  scriptEnv?: boolean;
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
/** mkosi's Firmware= values; `kiln vm` boots with auto, uefi, linux and linux-noinitrd. */
export const FIRMWARES = ['auto', 'uefi', 'linux', 'linux-noinitrd', 'uefi-secure-boot', 'bios'] as const;
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
/** mkosi 26's enumerations of the settings kiln reads (mkosi/config.py), in mkosi's words. */
export const BIOS_BOOTLOADERS = ['none', 'grub'] as const;
export const SHIM_BOOTLOADERS = ['none', 'signed', 'unsigned'] as const;
export const UKI_MODES = ['none', 'auto', 'signed', 'unsigned'] as const;
export const SSH_MODES = ['always', 'auto', 'runtime', 'never'] as const;
export const SIGN_TOOLS = ['auto', 'sbsign', 'systemd-sbsign'] as const;
export const MANIFEST_FORMATS = ['json', 'changelog'] as const;
export const CACHE_ONLY = ['always', 'auto', 'metadata', 'never'] as const;
export const BUILD_SOURCES_EPHEMERAL = ['yes', 'no', 'buildcache'] as const;
export const RUNTIME_NETWORKS = ['interface', 'user', 'none'] as const;
export const VMMS = ['qemu', 'vmspawn'] as const;
export const CONSOLE_MODES = ['interactive', 'read-only', 'native', 'gui'] as const;
/** mkosi's OutputFormat.extension(): the OutputExtension= default of each format. */
export const OUTPUT_EXTENSIONS: Readonly<Record<string, string>> = {
  confext: 'raw', cpio: 'cpio', directory: '', disk: 'raw', esp: 'raw', none: '', portable: 'raw', sysext: 'raw', tar: 'tar', uki: 'efi', oci: '', addon: 'efi',
};
/** Distributions whose repository keys mkosi fetches by default from an Ubuntu tools tree (RepositoryKeyFetch=). */
const KEY_FETCH_DISTRIBUTIONS = ['arch', 'fedora', 'centos', 'rhel', 'rhel-ubi', 'alma', 'rocky', 'opensuse', 'mageia', 'openmandriva', 'azure'];
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
  s({ name: 'Profiles', section: 'Config', kind: stringList({ words: 'refuse', pattern: /^(?!\.\.?$)[^/]+$/, hint: 'profile names without "/", not "." or ".."' }), default: [], scope: 'inherit', cache: 'scripts', stage: 'install',
    match: 'Profiles', aliases: ['Profile'], help: 'Profiles to enable: mkosi.profiles/NAME(.conf) is read for each, and [Match] Profiles= tests them.' }),
  s({ name: 'Dependencies', section: 'Config', kind: stringList(), default: null, scope: 'local', cache: 'value', stage: 'none',
    help: 'Presets to build before this one; the main image depends on every preset unless it says otherwise.' }),
  s({ name: 'MinimumVersion', section: 'Config', kind: text({ pattern: /^(commit:[0-9a-fA-F]+|[0-9A-Za-z][0-9A-Za-z.~^+_-]*)$/, hint: 'an mkosi version such as 25 or 25.3, or commit:HASH' }), default: null, scope: 'main', cache: 'none', stage: 'none',
    help: 'The oldest mkosi version the configuration needs; kiln reads it and checks nothing (it reads configurations as mkosi 26 does).' }),
  s({ name: 'ConfigureScripts', section: 'Config', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'install', engine: false,
    defaultPaths: ['mkosi.configure'], help: 'Scripts that rewrite the configuration (JSON in, JSON out) before the build; not run by kiln yet.' }),
  s({ name: 'PassEnvironment', section: 'Config', kind: spaceList(), default: [], scope: 'main', cache: 'value', stage: 'none',
    help: "Keys of the main image's Environment= that presets receive too." }),

  // [Distribution]
  s({ name: 'Distribution', section: 'Distribution', kind: choice(DISTRIBUTIONS),
    // mkosi defaults to the host's distribution; kiln never reads the host for a default (a preset
    // must be a pure function of its inputs), so the default is fixed.
    default: 'debian', scope: 'universal', cache: 'value', stage: 'install', specifier: 'd', match: 'Distribution',
    // The engine's installers (engine installers/index.ts).
    supports: buildable,
    help: 'The distribution to install.' }),
  s({ name: 'Release', section: 'Distribution', kind: text(RELEASE), scope: 'universal', cache: 'value', stage: 'install', specifier: 'r', match: 'Release',
    default: (c) => distributionFacts(String(c.get('Distribution')))?.release ?? null,
    help: 'The release of the distribution (bookworm, 41, 23.0, ...).' }),
  s({ name: 'Architecture', section: 'Distribution', kind: choice(ARCHITECTURES, { x86_64: 'x86-64', aarch64: 'arm64', amd64: 'x86-64' }),
    default: () => hostArchitecture(), scope: 'universal', cache: 'value', stage: 'install', specifier: 'a', match: 'Architecture',
    help: "The architecture to build for; defaults to the build machine's (and is then part of the cache key)." }),
  s({ name: 'Mirror', section: 'Distribution', kind: text(URL), default: null, scope: 'universal', cache: 'value', stage: 'install',
    help: "The distribution's mirror (a URL); the distribution's default when unset." }),
  s({ name: 'Snapshot', section: 'Distribution', kind: text({ check: WORD('a snapshot identifier') }), default: null, scope: 'universal', cache: 'value', stage: 'install', engine: false,
    fileText: true, defaultPaths: ['mkosi.snapshot'], help: "A snapshot of the distribution's repositories to install from; not supported by kiln yet." }),
  s({ name: 'LocalMirror', section: 'Distribution', kind: text(URL), default: null, scope: 'universal', cache: 'value', stage: 'install',
    help: 'A mirror used instead of all other repositories while building the image.' }),
  s({ name: 'RepositoryKeyCheck', section: 'Distribution', kind: boolean(), default: true, scope: 'multiversal', cache: 'value', stage: 'install',
    help: 'Verify repository signatures.' }),
  s({ name: 'RepositoryKeyFetch', section: 'Distribution', kind: boolean(), scope: 'universal', cache: 'value', stage: 'install',
    // mkosi looks at the host's tools when no default tools tree is used; kiln never reads the host
    // for a default, so it answers from ToolsTreeDistribution= as mkosi does for ToolsTree=default.
    default: (c) => c.get('ToolsTreeDistribution') === 'ubuntu' && KEY_FETCH_DISTRIBUTIONS.includes(String(c.get('Distribution'))),
    supports: (v) => !v, help: 'Fetch repository keys from the network (Arch and RPM distributions); kiln uses the keys of the tools tree or host only.' }),
  s({ name: 'Repositories', section: 'Distribution', kind: stringList({ words: 'refuse', check: WORD('a repository or component name such as contrib') }), default: [], scope: 'universal', cache: 'value', stage: 'install', match: 'Repositories',
    help: 'Extra repositories or components to enable (main, contrib, non-free-firmware, ...).' }),
  // Gentoo (kiln's own; mkosi has none of these).
  s({ name: 'Binhosts', section: 'Distribution', kind: stringList({ ...URL, words: 'refuse' }), default: [], scope: 'universal', cache: 'value', stage: 'install',
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
  s({ name: 'AcceptKeywords', section: 'Distribution', kind: stringList({ words: 'refuse', pattern: /^(\*\*|-?~?\*|-?~?[A-Za-z0-9][A-Za-z0-9_-]*)$/, hint: 'KEYWORDS tokens such as ~amd64, **, -*' }), default: [],
    scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo ACCEPT_KEYWORDS, added to the profile's (the architecture's stable keyword) as make.conf's are: ~amd64 accepts testing packages, ** any." }),
  s({ name: 'CollisionIgnore', section: 'Distribution', kind: stringList({ words: 'refuse' }), default: ['/lib/modules/*', '*.py[co]', '*$py.class'], scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo COLLISION_IGNORE: files (fnmatch patterns, or directories) a package may overwrite although another installed package owns them (portage's default)." }),
  s({ name: 'ConfigProtect', section: 'Distribution', kind: stringList({ words: 'refuse' }), default: ['/etc'], scope: 'universal', cache: 'value', stage: 'install',
    help: "Gentoo CONFIG_PROTECT: where a package's file that would replace a different existing one is installed as ._cfg0000_<name> beside it instead." }),
  s({ name: 'ConfigProtectMask', section: 'Distribution', kind: stringList({ words: 'refuse' }), default: ['/etc/env.d'], scope: 'universal', cache: 'value', stage: 'install',
    help: 'Gentoo CONFIG_PROTECT_MASK: exceptions to ConfigProtect=.' }),

  // [Output]
  s({ name: 'Format', section: 'Output', kind: choice(FORMATS), default: 'disk', scope: 'local', cache: 'value', stage: 'output', specifier: 't', match: 'Format', supports: (v) => (buildableFormats() as string[]).includes(v),
    help: 'The output format.' }),
  s({ name: 'ManifestFormat', section: 'Output', kind: choiceList(MANIFEST_FORMATS), default: [], scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: "mkosi's package manifests beside the output (json, changelog); kiln writes its own build manifest instead." }),
  s({ name: 'Output', section: 'Output', kind: text({ pattern: /^(?!\.\.?$)[^/]+$/, hint: 'a file name without "/"' }), scope: 'local', cache: 'value', stage: 'output', specifier: 'o',
    default: (c) => {
      const base = c.image === 'main' ? (c.get('ImageId') as string | null) ?? 'image' : c.image;
      const version = c.get('ImageVersion') as string | null;
      return version ? `${base}_${version}` : base;
    },
    help: 'The output name inside OutputDirectory=: ImageId= (or "image") for the main image, the preset name for presets, then "_" and ImageVersion= when set.' }),
  s({ name: 'OutputExtension', section: 'Output', kind: text({ pattern: /^[^/\s]+$/, hint: 'an extension without "/"' }), scope: 'local', cache: 'value', stage: 'output', engine: false,
    default: (c) => OUTPUT_EXTENSIONS[String(c.get('Format'))] ?? '', help: "The output file's extension (raw for disk images, efi for UKIs, ...); kiln names outputs by Format= only." }),
  s({ name: 'OutputDirectory', section: 'Output', kind: pathValue({ directory: true }), default: (c) => `${c.root}/mkosi.output`, scope: 'universal', cache: 'none', stage: 'none', specifier: 'O',
    defaultPaths: ['mkosi.output'],
    help: 'Where outputs are written. kiln defaults to mkosi.output/ even when it does not exist yet, so that Nx always knows where the outputs are.' }),
  s({ name: 'OutputMode', section: 'Output', kind: mode(), default: null, scope: 'universal', cache: 'value', stage: 'output', engine: false,
    help: 'The access mode of the output files (octal); not supported by kiln yet.' }),
  s({ name: 'ImageId', section: 'Output', kind: text({ pattern: /^[A-Za-z0-9_.+-]+$/, hint: 'letters, digits, "_", ".", "+" and "-"', check: fileName('ImageId=') }),
    default: null, scope: 'inherit', cache: 'value', stage: 'output', scriptEnv: true, specifier: 'i', match: 'ImageId', help: 'The image identifier (IMAGE_ID= in os-release).' }),
  s({ name: 'ImageVersion', section: 'Output', kind: text({ pattern: /^[A-Za-z0-9_.~+-]+$/, hint: 'a version such as 1.2.3: letters, digits, ".", "_", "~", "+" and "-"', check: fileName('ImageVersion=') }), default: null, scope: 'inherit', cache: 'value', stage: 'output', scriptEnv: true, fileText: true, specifier: 'v', match: 'ImageVersion',
    defaultPaths: ['mkosi.version'], help: 'The image version (IMAGE_VERSION= in os-release); mkosi.version supplies it when present: its text, or its output when it is executable (run in kiln\'s sandbox, in the config directory).' }),
  s({ name: 'CompressOutput', section: 'Output', kind: choice(COMPRESSIONS, { zst: 'zstd', gzip: 'gz', ...booleanAliases('zstd', 'none') }),
    default: (c) => defaultCompression(String(c.get('Format'))),
    scope: 'local', cache: 'value', stage: 'output',
    help: 'Compression of the output: zstd for tar, cpio, disk, uki, esp and addon by default (cached images stay small; for disk and esp the raw image is compressed, NAME.raw.zst, unlike mkosi: a cache stores a sparse image in full), gz for oci, none otherwise; yes means zstd. For uki it compresses the initrd inside.' }),
  s({ name: 'CompressLevel', section: 'Output', kind: integer({ min: 0, max: 22 }), default: 3, scope: 'inherit', cache: 'value', stage: 'output',
    help: 'The compression level.' }),
  s({ name: 'RepartDirectories', section: 'Output', kind: pathList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'output', defaultPaths: ['mkosi.repart'],
    help: 'systemd-repart partition definitions for disk images.' }),
  s({ name: 'SectorSize', section: 'Output', kind: sectorSize(), default: null, scope: 'inherit', cache: 'value', stage: 'output', engine: false,
    help: 'The sector size of the disk image (512 to 4096); kiln lets systemd-repart choose.' }),
  s({ name: 'Overlay', section: 'Output', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output',
    help: 'With BaseTrees=: the output holds only what the image adds or changes on top of its base trees (a system extension of a base image).' }),
  s({ name: 'Seed', section: 'Output', kind: text({ pattern: /^([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|random)$/, hint: 'a UUID or "random"' }),
    default: null, scope: 'local', cache: 'value', stage: 'output', fileText: true, defaultPaths: ['mkosi.seed'],
    help: 'The seed for systemd-repart (partition UUIDs). kiln derives a fixed one from the image name when unset, so disk images are reproducible.' }),
  s({ name: 'SplitArtifacts', section: 'Output', kind: stringList({ pattern: new RegExp(`^(${SPLIT_ARTIFACTS.join('|')}|yes|no|true|false|1|0|on|off)$`), hint: `${SPLIT_ARTIFACTS.join(', ')} (or a boolean, as older mkosi)` }),
    default: ['uki', 'kernel', 'initrd'], scope: 'local', cache: 'value', stage: 'output',
    help: 'Artifacts written beside a bootable or disk image (mkosi 26): uki (NAME.efi), kernel (NAME.vmlinuz), initrd (NAME.initrd), kernel-modules-initrd (NAME.kernel-modules-initrd), os-release (NAME.osrelease), tar (NAME.tar, compressed per CompressOutput=), and for Format=disk partitions (NAME.<type>.raw per partition, compressed as the disk) and roothash (NAME.roothash, with a verity partition); pcrs (needs a signed UKI) and repart-definitions (a directory) are not written, which the build says; the default is uki, kernel and initrd, as mkosi; yes means those and partitions, no those three.' }),
  s({ name: 'CleanScripts', section: 'Output', kind: scriptList(), default: [], scope: 'local', cache: 'none', stage: 'none', engine: false,
    defaultPaths: ['mkosi.clean', 'mkosi.clean.d'], help: "Scripts `mkosi clean` runs to remove a project's own outputs; kiln clean does not run them." }),

  // [Content]
  s({ name: 'Packages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'local', cache: 'value', stage: 'packages',
    help: 'Packages to install (kept sorted, as mkosi does).' }),
  s({ name: 'BuildPackages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'local', cache: 'value', stage: 'image',
    help: 'Packages installed for the build scripts only; they do not stay in the image.' }),
  s({ name: 'VolatilePackages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Packages installed after the incremental layer (never cached in it); not supported by kiln yet.' }),
  s({ name: 'PackageDirectories', section: 'Content', kind: pathList({ required: true }), default: [], scope: 'universal', cache: 'path', stage: 'install', engine: false,
    defaultPaths: ['mkosi.packages'], help: 'Directories of local package files made available as a repository; not supported by kiln yet.' }),
  s({ name: 'VolatilePackageDirectories', section: 'Content', kind: pathList({ required: true }), default: [], scope: 'universal', cache: 'path', stage: 'image', engine: false,
    help: 'Like PackageDirectories=, but only for VolatilePackages=; not supported by kiln yet.' }),
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
  s({ name: 'SyncScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'install', engine: false,
    defaultPaths: ['mkosi.sync', 'mkosi.sync.d'], help: 'Scripts run on the host before the build to update sources; not run by kiln yet.' }),
  s({ name: 'PrepareScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'install', aliases: ['PrepareScript'],
    defaultPaths: scriptPaths('mkosi.prepare'), help: 'Scripts run after packages are installed.' }),
  s({ name: 'BuildScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['BuildScript'],
    defaultPaths: scriptPaths('mkosi.build'), help: 'Scripts that build software into $DESTDIR.' }),
  s({ name: 'PostInstallationScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['PostInstallationScript'],
    defaultPaths: scriptPaths('mkosi.postinst'), help: 'Scripts run after the extra trees are copied.' }),
  s({ name: 'FinalizeScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'image', aliases: ['FinalizeScript'],
    defaultPaths: scriptPaths('mkosi.finalize'), help: 'Scripts run last, before the output is written.' }),
  s({ name: 'PostOutputScripts', section: 'Content', kind: scriptList(), default: [], scope: 'local', cache: 'script', stage: 'output', engine: false,
    defaultPaths: ['mkosi.postoutput', 'mkosi.postoutput.d'], help: 'Scripts run after the outputs are written; not run by kiln yet.' }),
  s({ name: 'Bootable', section: 'Content', kind: feature(), default: 'auto', scope: 'local', cache: 'value', stage: 'output', match: 'Bootable',
    help: 'Make a disk image bootable (auto: when a kernel and systemd-boot are available).' }),
  s({ name: 'Bootloader', section: 'Content', kind: choice(BOOTLOADERS), default: 'systemd-boot', scope: 'local', cache: 'value', stage: 'output',
    // The boot steps (engine outputs/kernel.ts decideBoot) install systemd-boot, a UKI or nothing; they
    // run for Format=disk and esp unless Bootable=no, and always for Format=uki.
    supports: (v, c) => ['systemd-boot', 'uki', 'none'].includes(v) || (c.Format !== 'uki' && (!['disk', 'esp'].includes(String(c.Format)) || c.Bootable === 'disabled')),
    help: 'The bootloader of a bootable image.' }),
  s({ name: 'BiosBootloader', section: 'Content', kind: choice(BIOS_BOOTLOADERS), default: 'none', scope: 'local', cache: 'value', stage: 'output', supports: (v) => v === 'none',
    help: 'The BIOS bootloader of a disk image (grub); kiln boots by UEFI only.' }),
  s({ name: 'ShimBootloader', section: 'Content', kind: choice(SHIM_BOOTLOADERS), default: 'none', scope: 'local', cache: 'value', stage: 'output', supports: (v) => v === 'none',
    help: 'Install shim in front of the bootloader (signed, unsigned); not supported by kiln yet.' }),
  s({ name: 'UnifiedKernelImages', section: 'Content', kind: choice(UKI_MODES, booleanAliases('signed', 'none')), default: 'auto', scope: 'local', cache: 'value', stage: 'output',
    supports: (v) => v === 'auto' || v === 'unsigned', help: 'Whether bootable images get UKIs (kiln: always, unsigned); none and signed are not supported by kiln yet.' }),
  s({ name: 'UnifiedKernelImageFormat', section: 'Content', kind: text({ pattern: /^[^/]+$/, hint: 'a file name pattern without "/"' }), default: null, scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: 'The file name of UKIs in the ESP (with &-specifiers); kiln names them itself.' }),
  s({ name: 'UnifiedKernelImageProfiles', section: 'Content', kind: pathList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'output', engine: false,
    help: 'Extra UKI profiles (files with a [UKIProfile] section); not supported by kiln yet.' }),
  s({ name: 'KernelModulesInitrd', section: 'Content', kind: boolean(), default: true, scope: 'local', cache: 'value', stage: 'output',
    help: "A bootable image's UKI gets an extra initrd with the image kernel's modules (after Initrds=)." }),
  s({ name: 'KernelModulesInitrdInclude', section: 'Content', kind: stringList({ words: 'refuse', pattern: /^[A-Za-z0-9_.*?\[\]^$|()+\/-]+$/, hint: 'module names, paths of module files or regular expressions over them' }), default: [], scope: 'local', cache: 'value', stage: 'output',
    help: `The modules of the kernel-modules initrd (regular expressions over module names), with their dependencies. Empty: kiln's set for a VM's root (${DEFAULT_INITRD_MODULES.join(' ')}); mkosi takes every module then, which makes a far larger initrd.` }),
  s({ name: 'KernelCommandLine', section: 'Content', kind: spaceList(), default: [], scope: 'local', cache: 'value', stage: 'output',
    help: 'The kernel command line (items split on spaces only).' }),
  s({ name: 'Initrds', section: 'Content', kind: pathList(), default: [], scope: 'local', cache: 'path', stage: 'output', readsOutputs: true,
    help: "Initrds to use, e.g. another preset's cpio output (%O/initrd)." }),
  s({ name: 'MicrocodeHost', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output', supports: (v) => !v,
    help: "Only the build host's CPU microcode in the UKI; kiln never builds for the host's CPU." }),
  // The default initrd's settings (scope initrd): generated.ts does not pass them to the
  // default-initrd preset yet, so they are the main image's values (cache value) that kiln cannot
  // honour; once it does, they reach the images through that preset's edge (cache none, no marker).
  s({ name: 'InitrdProfiles', section: 'Content', kind: stringList({ words: 'refuse', pattern: /^(?!\.\.?$)[^/]+$/, hint: 'profile names of the initrd configuration (mkosi-initrd has lvm, network, nfs, pkcs11, plymouth, raid)' }), default: [], scope: 'initrd', cache: 'value', stage: 'output', engine: false,
    help: "Profiles of the default initrd (lvm, network, nfs, ...); kiln's default initrd has none yet." }),
  s({ name: 'InitrdPackages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'initrd', cache: 'value', stage: 'output', engine: false,
    help: "Packages added to the default initrd; kiln's default initrd does not take them yet." }),
  s({ name: 'InitrdVolatilePackages', section: 'Content', kind: packageList({ sort: packageOrder }), default: [], scope: 'initrd', cache: 'value', stage: 'output', engine: false,
    help: "Volatile packages added to the default initrd; kiln's default initrd does not take them yet." }),
  s({ name: 'Devicetrees', section: 'Content', kind: stringList({ words: 'refuse' }), default: [], scope: 'local', cache: 'value', stage: 'output', engine: false, aliases: ['Devicetree'],
    help: 'Devicetree blobs (or globs) put into the UKI or boot entries; not supported by kiln yet.' }),
  s({ name: 'Splash', section: 'Content', kind: text({ pattern: /^\/.*$/, hint: 'an absolute path inside the image' }), default: null, scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: 'The boot splash of UKIs, a path inside the image; not supported by kiln yet.' }),
  s({ name: 'KernelModulesInclude', section: 'Content', kind: moduleFilters(), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Kernel modules kept in the image (regular expressions, default, host); kiln keeps all.' }),
  s({ name: 'KernelModulesExclude', section: 'Content', kind: moduleFilters(), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Kernel modules removed from the image (regular expressions); not supported by kiln yet.' }),
  s({ name: 'KernelModules', section: 'Content', kind: stringList({ words: 'refuse' }), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Kernel modules (by name) kept in the image with their dependencies; not supported by kiln yet.' }),
  s({ name: 'KernelModulesIncludeHost', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'image', supports: (v) => !v,
    help: "Keep the modules the build host has loaded; kiln never reads the host for the image." }),
  s({ name: 'KernelModulesInitrdExclude', section: 'Content', kind: moduleFilters(), default: [], scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: 'Modules left out of the kernel-modules initrd (regular expressions); not supported by kiln yet.' }),
  s({ name: 'KernelInitrdModules', section: 'Content', kind: stringList({ words: 'refuse' }), default: [], scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: 'Modules (by name) of the kernel-modules initrd, with their dependencies; not supported by kiln yet (use KernelModulesInitrdInclude=).' }),
  s({ name: 'KernelModulesInitrdIncludeHost', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output', supports: (v) => !v,
    help: "Put the modules the build host has loaded into the kernel-modules initrd; kiln never reads the host for the image." }),
  s({ name: 'FirmwareInclude', section: 'Content', kind: moduleFilters(), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Firmware files kept in the image (regular expressions); kiln keeps all.' }),
  s({ name: 'FirmwareExclude', section: 'Content', kind: moduleFilters(), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Firmware files removed from the image (regular expressions); not supported by kiln yet.' }),
  s({ name: 'FirmwareFiles', section: 'Content', kind: stringList({ words: 'refuse' }), default: [], scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'Firmware files (by name) kept in the image; not supported by kiln yet.' }),
  s({ name: 'Hostname', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9?]([A-Za-z0-9?-]{0,62})(\.[A-Za-z0-9?][A-Za-z0-9?-]{0,62})*$/, hint: 'a valid hostname, "?" standing for a machine ID digit', atBuild: true }),
    default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', help: "The image's /etc/hostname." }),
  s({ name: 'Locale', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, hint: 'a locale such as C.UTF-8 or en_US.UTF-8', atBuild: true }), default: null, scope: 'local', cache: 'value', stage: 'image', help: 'The system locale (LANG=).' }),
  s({ name: 'LocaleMessages', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, hint: 'a locale such as C.UTF-8 or en_US.UTF-8', atBuild: true }), default: null, scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: 'The locale of messages (LC_MESSAGES=); not supported by kiln yet.' }),
  s({ name: 'Keymap', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, hint: 'a keymap such as us or de-latin1', atBuild: true }), default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', engine: false,
    help: 'The console keymap (KEYMAP= in vconsole.conf); not supported by kiln yet.' }),
  s({ name: 'Timezone', section: 'Content', kind: text({ pattern: /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/, hint: 'a zone name such as Europe/Berlin', atBuild: true }),
    default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', help: 'The system timezone.' }),
  s({ name: 'MakeInitrd', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'image',
    help: 'Make the image usable as an initrd: /etc/initrd-release (a link to /etc/os-release), which makes systemd run as an initrd. (/init -> systemd is made in every image with systemd, as mkosi.)' }),
  s({ name: 'RootPassword', section: 'Content', kind: text(), default: null, scope: 'initrd-inherit', cache: 'value', stage: 'image', secret: true, fileText: true, defaultPaths: ['mkosi.rootpw'],
    help: 'The root password (or the text of mkosi.rootpw); "hashed:..." for a crypt(3) hash. The summary shows only whether it is set.' }),
  s({ name: 'RootShell', section: 'Content', kind: text({ pattern: /^\/[^\s:]*$/, hint: 'an absolute path inside the image such as /bin/bash', atBuild: true }), default: null, scope: 'local', cache: 'value', stage: 'image', engine: false,
    help: "root's login shell; not supported by kiln yet." }),
  s({ name: 'MachineId', section: 'Content', kind: uuid({ random: true }), default: null, scope: 'local', cache: 'value', stage: 'image', engine: false, fileText: true,
    defaultPaths: ['mkosi.machine-id'], help: "The image's /etc/machine-id (a UUID, or random); not supported by kiln yet." }),
  s({ name: 'Autologin', section: 'Content', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'image', supports: (v) => !v,
    help: 'Log in as root on the consoles without a password; not supported by kiln yet.' }),
  s({ name: 'Ssh', section: 'Content', kind: choice(SSH_MODES, booleanAliases('always', 'never')), default: 'auto', scope: 'local', cache: 'value', stage: 'image',
    supports: (v) => v !== 'always', help: "mkosi's sshd-over-VSock units in the image (always; auto when sshd is installed); kiln adds none, so always is not supported yet." }),
  s({ name: 'SELinuxRelabel', section: 'Content', kind: feature(), default: 'auto', scope: 'local', cache: 'value', stage: 'image', supports: (v) => v !== 'enabled',
    help: 'Relabel the image for SELinux (auto: when a policy is installed); kiln does not relabel yet.' }),

  // [Validation] (mkosi v25+): signing, verity, checksums
  s({ name: 'SecureBoot', section: 'Validation', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output', supports: (v) => !v,
    help: 'Sign the bootloader and UKIs for UEFI Secure Boot; not supported by kiln yet.' }),
  s({ name: 'SecureBootAutoEnroll', section: 'Validation', kind: boolean(), default: true, scope: 'local', cache: 'value', stage: 'output', supports: (_, c) => !c.SecureBoot,
    help: 'With SecureBoot=: enroll the keys in the ESP for systemd-boot to auto-enroll.' }),
  s({ name: 'SecureBootKey', section: 'Validation', kind: keyValue(), default: null, scope: 'universal', cache: 'path', stage: 'output', supports: (_, c) => !c.SecureBoot,
    defaultPaths: ['mkosi.key'], help: 'The Secure Boot signing key: a path, or a name for SecureBootKeySource=.' }),
  s({ name: 'SecureBootKeySource', section: 'Validation', kind: keySource(), default: 'file', scope: 'universal', cache: 'value', stage: 'output', supports: (_, c) => !c.SecureBoot,
    help: 'Where SecureBootKey= comes from: file, engine:NAME or provider:NAME.' }),
  s({ name: 'SecureBootCertificate', section: 'Validation', kind: keyValue(), default: null, scope: 'universal', cache: 'path', stage: 'output', supports: (_, c) => !c.SecureBoot,
    defaultPaths: ['mkosi.crt'], help: 'The X.509 certificate of SecureBootKey=.' }),
  s({ name: 'SecureBootCertificateSource', section: 'Validation', kind: keySource(['file', 'provider']), default: 'file', scope: 'universal', cache: 'value', stage: 'output', supports: (_, c) => !c.SecureBoot,
    help: 'Where SecureBootCertificate= comes from: file or provider:NAME.' }),
  s({ name: 'SecureBootSignTool', section: 'Validation', kind: choice(SIGN_TOOLS), default: 'auto', scope: 'local', cache: 'value', stage: 'output', supports: (_, c) => !c.SecureBoot,
    help: 'The tool that signs for Secure Boot (sbsign, systemd-sbsign, auto).' }),
  s({ name: 'Verity', section: 'Validation', kind: choice(VERITY, booleanAliases('signed', 'disabled')), default: 'auto', scope: 'local', cache: 'value', stage: 'output',
    help: 'dm-verity of sysext, confext and portable images: auto (signed when VerityKey= and VerityCertificate= are set, none otherwise), signed (required), hash (a hash partition, no signature), disabled.' }),
  s({ name: 'VerityKey', section: 'Validation', kind: keyValue(), default: null, scope: 'universal', cache: 'path', stage: 'output', defaultPaths: ['mkosi.key'],
    help: "The PEM private key signing the verity root hash (the image's verity signature partition); mkosi.key when present." }),
  s({ name: 'VerityKeySource', section: 'Validation', kind: keySource(), default: 'file', scope: 'universal', cache: 'value', stage: 'output', supports: (v) => v === 'file',
    help: 'Where VerityKey= comes from: file (kiln), or engine:NAME and provider:NAME (not supported by kiln yet).' }),
  s({ name: 'VerityCertificate', section: 'Validation', kind: keyValue(), default: null, scope: 'universal', cache: 'path', stage: 'output', defaultPaths: ['mkosi.crt'],
    help: 'The X.509 certificate (PEM) of VerityKey=, embedded in the verity signature; mkosi.crt when present.' }),

  s({ name: 'VerityCertificateSource', section: 'Validation', kind: keySource(['file', 'provider']), default: 'file', scope: 'universal', cache: 'value', stage: 'output', supports: (v) => v === 'file',
    help: 'Where VerityCertificate= comes from: file (kiln), or provider:NAME (not supported by kiln yet).' }),
  s({ name: 'SignExpectedPcr', section: 'Validation', kind: feature(), default: 'auto', scope: 'local', cache: 'value', stage: 'output', supports: (v) => v !== 'enabled',
    help: "Sign the expected PCR 11 values of UKIs (systemd-measure); kiln does not (auto: kiln's UKIs are unsigned)." }),
  s({ name: 'SignExpectedPcrKey', section: 'Validation', kind: keyValue(), default: null, scope: 'inherit', cache: 'path', stage: 'output', supports: (_, c) => c.SignExpectedPcr !== 'enabled',
    defaultPaths: ['mkosi.key'], help: 'The key that signs the expected PCR values.' }),
  s({ name: 'SignExpectedPcrKeySource', section: 'Validation', kind: keySource(), default: 'file', scope: 'inherit', cache: 'value', stage: 'output', supports: (_, c) => c.SignExpectedPcr !== 'enabled',
    help: 'Where SignExpectedPcrKey= comes from: file, engine:NAME or provider:NAME.' }),
  s({ name: 'SignExpectedPcrCertificate', section: 'Validation', kind: keyValue(), default: null, scope: 'inherit', cache: 'path', stage: 'output', supports: (_, c) => c.SignExpectedPcr !== 'enabled',
    defaultPaths: ['mkosi.crt'], help: 'The certificate of SignExpectedPcrKey=.' }),
  s({ name: 'SignExpectedPcrCertificateSource', section: 'Validation', kind: keySource(['file', 'provider']), default: 'file', scope: 'inherit', cache: 'value', stage: 'output', supports: (_, c) => c.SignExpectedPcr !== 'enabled',
    help: 'Where SignExpectedPcrCertificate= comes from: file or provider:NAME.' }),
  s({ name: 'Passphrase', section: 'Validation', kind: pathValue(), default: null, scope: 'local', cache: 'path', stage: 'output', engine: false, secret: true,
    defaultPaths: ['mkosi.passphrase'], help: 'A file with the passphrase that encrypts the root partition (LUKS); not supported by kiln yet.' }),
  s({ name: 'Checksum', section: 'Validation', kind: boolean(), default: (c) => Boolean(c.get('Sign')), scope: 'local', cache: 'value', stage: 'output', engine: false,
    help: 'Write SHA256SUMS of the outputs; not supported by kiln yet.' }),
  s({ name: 'Sign', section: 'Validation', kind: boolean(), default: false, scope: 'local', cache: 'value', stage: 'output', supports: (v) => !v,
    help: 'Sign SHA256SUMS with OpenPGP; not supported by kiln yet.' }),
  s({ name: 'Key', section: 'Validation', kind: text(), default: null, scope: 'local', cache: 'value', stage: 'output', supports: (_, c) => !c.Sign,
    help: 'The OpenPGP key (fingerprint or name) Sign= uses.' }),
  s({ name: 'OpenPGPTool', section: 'Validation', kind: text({ check: WORD('a program name such as gpg') }), default: 'gpg', scope: 'local', cache: 'value', stage: 'output', supports: (_, c) => !c.Sign,
    help: 'The OpenPGP program Sign= runs (gpg, sqop, ...).' }),

  // [Build] (v25 gathered these from [Output], [Host], [Content] and [Distribution])
  s({ name: 'ToolsTree', section: 'Build', kind: pathValue({ required: true, constants: ['default', 'yes', 'no', 'none'] }), default: null, scope: 'universal', cache: 'tools', stage: 'install',
    oldSections: ['Host'], defaultPaths: ['mkosi.tools'],
    help: 'A tree with the tools the build runs: a path, "default" to build one, or unset for the host tools.' }),
  // The default tools tree (ToolsTree=default): settings of the generated `tools` preset
  // (tools-tree.ts), set in the main image only. They reach a preset's image through that preset's
  // output (a graph edge), never directly: cache role none.
  s({ name: 'ToolsTreeDistribution', section: 'Build', kind: choice(DISTRIBUTIONS), default: TOOLS_TREE_DEFAULTS.distribution, scope: 'tools', cache: 'none', stage: 'none', match: 'ToolsTreeDistribution',
    help: 'The distribution of the default tools tree (kiln: debian; mkosi: the host\'s).' }),
  s({ name: 'ToolsTreeRelease', section: 'Build', kind: text(RELEASE), scope: 'tools', cache: 'none', stage: 'none', match: 'ToolsTreeRelease',
    default: (c) => toolsTreeRelease(String(c.get('ToolsTreeDistribution'))),
    help: 'The release of the default tools tree (trixie for debian, else the distribution\'s default release).' }),
  s({ name: 'ToolsTreeProfiles', section: 'Build', kind: stringList({ words: 'refuse', pattern: /^(?!\.\.?$)[^/]+$/, hint: 'profile names of the tools tree configuration (mkosi-tools has devel, misc, package-manager, runtime; a project may add its own)' }), default: [...TOOLS_TREE_PROFILES], scope: 'tools', cache: 'none', stage: 'none', engine: false,
    help: "Profiles of the default tools tree: package-manager adds dnf, zypper, pacman and their keyrings (mkosi's misc, runtime and devel add nothing to kiln's tree)." }),
  s({ name: 'ToolsTreeMirror', section: 'Build', kind: text(URL), scope: 'tools', cache: 'none', stage: 'none',
    default: (c) => (c.get('Mirror') && c.get('Distribution') === c.get('ToolsTreeDistribution') ? (c.get('Mirror') as string) : null),
    help: 'The mirror of the default tools tree (default: Mirror= when the distributions are the same).' }),
  s({ name: 'ToolsTreeRepositories', section: 'Build', kind: stringList({ words: 'refuse', check: WORD('a repository or component name such as contrib') }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    help: 'Repositories or components to enable in the default tools tree.' }),
  s({ name: 'ToolsTreeSandboxTrees', section: 'Build', kind: treeList({ required: true }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    aliases: ['ToolsTreePackageManagerTrees'], help: 'Sandbox trees of the default tools tree.' }),
  s({ name: 'ToolsTreePackages', section: 'Build', kind: packageList({ sort: packageOrder }), default: [], scope: 'tools', cache: 'none', stage: 'none',
    help: 'Packages added to the default tools tree.' }),
  s({ name: 'ToolsTreePackageDirectories', section: 'Build', kind: pathList({ required: true }), default: [], scope: 'tools', cache: 'none', stage: 'none', engine: false,
    help: 'Local package directories of the default tools tree; not supported by kiln yet.' }),
  s({ name: 'ToolsTreeCertificates', section: 'Build', kind: boolean(), default: true, scope: 'universal', cache: 'none', stage: 'none', engine: false,
    help: "Use the tools tree's CA certificates rather than the host's when downloading." }),
  s({ name: 'ExtraSearchPaths', section: 'Build', kind: pathList({ required: true }), default: [], scope: 'universal', cache: 'path', stage: 'install', engine: false,
    help: 'Directories searched for tools before PATH; not supported by kiln yet.' }),
  s({ name: 'Incremental', section: 'Build', kind: choice(INCREMENTAL, booleanAliases('yes', 'no')),
    default: 'no', scope: 'universal', cache: 'none', stage: 'none', oldSections: ['Host', 'Output'],
    help: 'Cache the image after its packages and prepare scripts, and start from it when nothing before that changed (strict: fail instead of building without one).' }),
  s({ name: 'CacheOnly', section: 'Build', kind: choice(CACHE_ONLY, { ...booleanAliases('always', 'auto'), none: 'auto' }), default: 'auto', scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: 'Build from cached packages and metadata only (always, metadata, never, auto); kiln ignores it.' }),
  s({ name: 'WorkspaceDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: 'Where mkosi puts its work directory; kiln works in .kiln-work under OutputDirectory=.' }),
  s({ name: 'CacheDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'universal', cache: 'none', stage: 'none', oldSections: ['Output'],
    defaultPaths: ['mkosi.cache'], help: 'Where incremental layers are kept (default: the user\'s cache directory, ~/.cache/kiln/layers).' }),
  s({ name: 'CacheMaxSize', section: 'Build', kind: size(), default: 16 * 1024 ** 3, scope: 'universal', cache: 'none', stage: 'none',
    help: 'Incremental layers beyond this total size are evicted, least recently used first.' }),
  s({ name: 'CacheMaxAge', section: 'Build', kind: integer({ min: 0 }), default: 30, scope: 'universal', cache: 'none', stage: 'none',
    help: 'Incremental layers and unpacked tools trees (ToolsTree=default) unused for this many days are evicted (0: never by age).' }),
  s({ name: 'CacheKey', section: 'Build', kind: text(), default: '&d~&r~&a~&I', scope: 'inherit', cache: 'none', stage: 'none', engine: false,
    help: "The name of mkosi's incremental cache; kiln keys its layers by their inputs." }),
  s({ name: 'PackageCacheDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', oldSections: ['Output'],
    defaultPaths: ['mkosi.pkgcache'], help: "Where downloaded packages are kept across builds and presets (default: the user's cache directory)." }),
  s({ name: 'BuildDirectory', section: 'Build', kind: pathValue({ directory: true }), default: null, scope: 'universal', cache: 'none', stage: 'none', engine: false,
    defaultPaths: ['mkosi.builddir'], help: 'A directory kept across builds for build scripts ($BUILDDIR); kiln gives build scripts none.' }),
  s({ name: 'BuildKey', section: 'Build', kind: text(), default: '&d~&r~&a', scope: 'inherit', cache: 'none', stage: 'none', engine: false,
    help: 'The subdirectory of BuildDirectory= used; kiln ignores it.' }),
  s({ name: 'UseSubvolumes', section: 'Build', kind: feature(), default: 'auto', scope: 'universal', cache: 'none', stage: 'none', engine: false,
    help: 'Use btrfs subvolumes for trees; kiln ignores it.' }),
  s({ name: 'RepartOffline', section: 'Build', kind: boolean(), default: true, scope: 'universal', cache: 'none', stage: 'none', engine: false,
    help: 'Build disk images without loop devices (kiln always does).' }),
  s({ name: 'History', section: 'Build', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: "Keep the last build's configuration for later mkosi commands; kiln ignores it." }),
  s({ name: 'BuildSources', section: 'Build', kind: treeList({ required: true, relativeTarget: true }), scope: 'multiversal', cache: 'scripts', stage: 'image', engine: false, match: 'BuildSources',
    default: (c) => [{ source: c.root, target: null }],
    help: 'Sources mounted for scripts ($SRCDIR); kiln mounts the project directory (the default) only.' }),
  s({ name: 'BuildSourcesEphemeral', section: 'Build', kind: choice(BUILD_SOURCES_EPHEMERAL, booleanAliases('yes', 'no')), default: 'no', scope: 'multiversal', cache: 'scripts', stage: 'image', engine: false,
    help: 'Whether scripts may change the sources (yes, buildcache: an overlay); kiln mounts them read-only.' }),
  s({ name: 'SandboxTrees', section: 'Build', kind: treeList({ required: true }), default: [], scope: 'universal', cache: 'path', stage: 'install',
    aliases: ['PackageManagerTrees'], oldSections: ['Distribution', 'Content'], defaultPaths: ['mkosi.sandbox', 'mkosi.sandbox.tar', 'mkosi.pkgmngr', 'mkosi.pkgmngr.tar'],
    help: "Trees overlaid on the package manager's view (repository files, keys, apt.conf.d, ...)." }),
  s({ name: 'WithNetwork', section: 'Build', kind: boolean(), default: false, scope: 'universal', cache: 'value', stage: 'install',
    help: 'Give build, post-installation and finalize scripts and package maintainer scripts the host\'s network (prepare scripts and downloads always have it, as in mkosi).' }),
  s({ name: 'WithTests', section: 'Build', kind: boolean(), default: true, scope: 'universal', cache: 'scripts', stage: 'install',
    help: 'Tell prepare and build scripts to run tests ($WITH_TESTS=1 or 0).' }),
  s({ name: 'Environment', section: 'Build', kind: environment(), default: {}, scope: 'local', cache: 'environment', stage: 'install', oldSections: ['Content'], match: 'Environment',
    help: 'Variables set for scripts: KEY=VALUE (quotes allowed), or KEY to pass one through from the environment.' }),

  s({ name: 'EnvironmentFiles', section: 'Build', kind: pathList({ required: true }), default: [], scope: 'local', cache: 'path', stage: 'install', engine: false,
    defaultPaths: ['mkosi.env'], help: 'Files of KEY=VALUE lines added to Environment=; not read by kiln yet.' }),
  s({ name: 'ProxyUrl', section: 'Build', kind: text({ pattern: URL.pattern, hint: URL.hint }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: "The proxy for downloads (mkosi defaults to the host's $https_proxy; kiln to none)." }),
  s({ name: 'ProxyExclude', section: 'Build', kind: stringList({ words: 'refuse' }), default: [], scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: 'Hosts reached without ProxyUrl=.' }),
  s({ name: 'ProxyPeerCertificate', section: 'Build', kind: pathValue({ required: true }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: "The CA certificate that verifies ProxyUrl= (mkosi defaults to the host's bundle)." }),
  s({ name: 'ProxyClientCertificate', section: 'Build', kind: pathValue({ required: true }), default: null, scope: 'multiversal', cache: 'none', stage: 'none', engine: false,
    help: 'The client certificate for ProxyUrl=.' }),
  s({ name: 'ProxyClientKey', section: 'Build', kind: pathValue({ required: true }), scope: 'multiversal', cache: 'none', stage: 'none', engine: false, secret: true,
    default: (c) => (c.get('ProxyClientCertificate') as string | null) ?? null, help: 'The key of ProxyClientCertificate= (default: that file).' }),

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
    aliases: ['QemuFirmware'], oldSections: ['Host'], supports: (v) => v !== 'uefi-secure-boot' && v !== 'bios', help: 'How `kiln vm` boots: uefi (OVMF), linux (direct kernel boot), linux-noinitrd, or auto (by the format).' }),
  s({ name: 'Linux', section: 'Runtime', kind: pathValue(), default: null, scope: 'main', cache: 'none', stage: 'none', aliases: ['QemuKernel'], oldSections: ['Host'],
    help: 'The kernel `kiln vm` boots directly: a kernel image, or a tree (another preset\'s directory output) whose newest installed kernel is taken.' }),
  s({ name: 'QemuArgs', section: 'Runtime', kind: quotedList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    help: 'Extra arguments of the qemu `kiln vm` runs.' }),
  s({ name: 'Credentials', section: 'Runtime', kind: credentialList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    defaultPaths: ['mkosi.credentials'],
    help: 'Credentials `kiln vm` passes to the guest (SMBIOS io.systemd.credential): NAME=VALUE words, or a file (named after it; run when executable, its output the value) or a directory of such files (mkosi.credentials/).' }),
  s({ name: 'KernelCommandLineExtra', section: 'Runtime', kind: spaceList(), default: [], scope: 'main', cache: 'none', stage: 'none', oldSections: ['Host'],
    help: 'Kernel command line words `kiln vm` adds at boot (-append, or SMBIOS io.systemd.stub.kernel-cmdline-extra for a UKI or disk).' }),
  s({ name: 'NSpawnSettings', section: 'Runtime', kind: pathValue({ required: true }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    defaultPaths: ['mkosi.nspawn'], help: 'A systemd-nspawn settings file for `mkosi boot`; kiln has no nspawn boot.' }),
  s({ name: 'Ephemeral', section: 'Runtime', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Boot a throw-away snapshot of the image; `kiln vm` ignores it.' }),
  s({ name: 'RuntimeTrees', section: 'Runtime', kind: treeList({ required: true, relativeTarget: true }), default: [], scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Host directories mounted into the booted machine (SOURCE[:TARGET]); `kiln vm` ignores them.' }),
  s({ name: 'RuntimeNetwork', section: 'Runtime', kind: choice(RUNTIME_NETWORKS), default: 'user', scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: "The booted machine's network (user, interface, none); `kiln vm` ignores it." }),
  s({ name: 'RuntimeBuildSources', section: 'Runtime', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Mount BuildSources= into the booted machine; `kiln vm` ignores it.' }),
  s({ name: 'BindUser', section: 'Runtime', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: "Bind the invoking user's home into the booted machine; `kiln vm` ignores it." }),
  s({ name: 'UnitProperties', section: 'Runtime', kind: quotedList(), default: [], scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'systemd unit properties of the machine scope; `kiln vm` ignores them.' }),
  s({ name: 'SshKey', section: 'Runtime', kind: pathValue({ required: true }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false, secret: true,
    defaultPaths: ['mkosi.key'], help: 'The private key `mkosi ssh` uses; kiln has no ssh command.' }),
  s({ name: 'SshCertificate', section: 'Runtime', kind: pathValue({ required: true }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    defaultPaths: ['mkosi.crt'], help: 'The certificate of SshKey=.' }),
  s({ name: 'VirtualMachineMonitor', section: 'Runtime', kind: choice(VMMS), default: 'qemu', scope: 'main', cache: 'none', stage: 'none', supports: (v) => v === 'qemu',
    help: 'The virtual machine monitor (qemu, vmspawn); `kiln vm` runs qemu.' }),
  s({ name: 'Machine', section: 'Runtime', kind: text({ check: WORD('a machine name') }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'The machine name registered with systemd-machined; `kiln vm` ignores it.' }),
  s({ name: 'ForwardJournal', section: 'Runtime', kind: pathValue(), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: "Where the booted machine's journal is forwarded to; `kiln vm` ignores it." }),
  s({ name: 'SysupdateDirectory', section: 'Runtime', kind: pathValue({ required: true }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    defaultPaths: ['mkosi.sysupdate'], help: 'sysupdate.d definitions for `mkosi sysupdate`; kiln has no sysupdate command.' }),
  s({ name: 'Console', section: 'Runtime', kind: choice(CONSOLE_MODES), default: 'native', scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: "How the booted machine's console is shown (native, interactive, read-only, gui); `kiln vm` uses the serial console." }),
  s({ name: 'MaxMem', section: 'Runtime', kind: size(), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'The most memory the machine can grow to (memory hotplug); `kiln vm` ignores it.' }),
  s({ name: 'CXL', section: 'Runtime', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Give the machine CXL memory; `kiln vm` ignores it.' }),
  s({ name: 'VSock', section: 'Runtime', kind: feature(), default: 'auto', scope: 'main', cache: 'none', stage: 'none', engine: false, aliases: ['QemuVsock'],
    help: 'Give the machine an AF_VSOCK device; `kiln vm` ignores it.' }),
  s({ name: 'VSockCID', section: 'Runtime', kind: vsockCid(), default: 'auto', scope: 'main', cache: 'none', stage: 'none', engine: false, aliases: ['QemuVsockConnectionId'],
    help: 'The AF_VSOCK connection ID (auto, hash, or a number); `kiln vm` ignores it.' }),
  s({ name: 'TPM', section: 'Runtime', kind: feature(), default: 'auto', scope: 'main', cache: 'none', stage: 'none', engine: false, aliases: ['QemuSwtpm'],
    help: 'Give the machine a software TPM (swtpm); `kiln vm` ignores it.' }),
  s({ name: 'Removable', section: 'Runtime', kind: boolean(), default: false, scope: 'main', cache: 'none', stage: 'none', engine: false, aliases: ['QemuRemovable'],
    help: 'Attach the image as a removable drive; `kiln vm` ignores it.' }),
  s({ name: 'FirmwareVariables', section: 'Runtime', kind: pathValue({ constants: ['custom', 'microsoft', 'microsoft-mok'] }), default: null, scope: 'main', cache: 'none', stage: 'none', engine: false,
    aliases: ['QemuFirmwareVariables'], help: 'The UEFI variables the machine starts with (a file, custom, microsoft, microsoft-mok); `kiln vm` uses empty ones.' }),
  s({ name: 'Drives', section: 'Runtime', kind: driveList(), default: [], scope: 'main', cache: 'none', stage: 'none', engine: false, aliases: ['QemuDrives'],
    help: 'Extra drives of the machine (ID:SIZE[:DIR[:OPTIONS[:FILE_ID[:FLAGS]]]]); `kiln vm` ignores them.' }),
  s({ name: 'Register', section: 'Runtime', kind: feature(), default: 'auto', scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Register the machine with systemd-machined; `kiln vm` ignores it.' }),
  s({ name: 'StorageTargetMode', section: 'Runtime', kind: feature(), default: 'auto', scope: 'main', cache: 'none', stage: 'none', engine: false,
    help: 'Expose the image as an NVMe-TCP target for `mkosi sandbox`; kiln ignores it.' }),
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
