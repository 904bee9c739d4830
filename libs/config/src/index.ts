export * from './errors';
export * from './settings';
export {
  ARCHITECTURES,
  Architecture,
  architectureName,
  defaultFilesystem,
  DISTRIBUTION_FACTS,
  DISTRIBUTIONS,
  DistributionFacts,
  distributionFacts,
  DistributionName,
  hostArchitecture,
  PACKAGE_MANAGERS,
  PackageManager,
  packageManagerOf,
  buildable,
  VERSION_SCHEMES,
  VersionScheme,
  versionSchemeOf,
} from './distributions';
export { compareDistributionVersions } from './distributions/versions';
export { rpmLayout, joinMirror, opensuseEssential, RPM_ESSENTIAL, type RpmLayout, type RpmRepository, type RpmKey } from './distributions/rpm-repositories';
export { compareDebianVersions } from './distributions/dpkg-version';
export { compareRpmVersions } from './distributions/rpm-version';
export { comparePacmanVersions } from './distributions/pacman-version';
export {
  compareParsedVersions as compareParsedGentooVersions,
  compareVersions as compareGentooVersions,
  isValidVersion as isValidGentooVersion,
  parseVersion as parseGentooVersion,
  SuffixKind as GentooSuffixKind,
  Version as GentooVersion,
} from './distributions/gentoo-version';
export * from './values';
export { parseIni } from './ini';
export { parseToml } from './toml';
export { conditionsHold, matchKeys } from './match';
export { expandSpecifiers, SPECIFIERS } from './specifiers';
export { loadProject, findConfigDir, Project, Preset, Syntax, LoadOptions, Override, COMMAND_LINE } from './project';
export { type ScriptRunner } from './file-values';
export { BUILTIN_CONFIGS, builtinConfigDir } from './builtin-configs';
export { outputPath, producerOf, readsOutput, settingPaths, type Edge, type OutputRead } from './graph';
export { summaryJson, summaryText, SummaryJson } from './summary';
export { checkBuildValues } from './list-items';
export { checkSupported, unsupportedSettings, ignoredRuntimeSettings, defaultValue, UnsupportedSetting } from './unsupported';
export { tomlJsonSchema } from './json-schema';
export { presetInputs, presetSettings, PresetInputs } from './inputs';
export { describeInputs, digestInputs, inputEntries, entryLine, checkoutOf, modePolicy, normalMode, DigestOptions, InputEntry, ModePolicy } from './input-digest';
export { projectFacts, isFactsError, digestCacheDir, ProjectFacts, PresetFacts, FactsError, FactsWarning } from './facts';
export { fingerprint, fingerprintLines, findPreset, FingerprintError, FingerprintOptions } from './fingerprint';
export { DEFAULT_INITRD_PRESET, TOOLS_OUTPUT, TOOLS_PRESET, TOOLS_TREE_DEFAULTS, TOOLS_TREE_PACKAGES, TOOLS_TREE_PROFILES, toolsTreePackages, toolsTreeProfileOf, toolsTreeRelease } from './tools-tree';
export { wantsDefaultInitrd, wantsToolsPreset, type GeneratedKind } from './generated';
export { hostToolVersions, HOST_TOOLS, HostTool, portageTools, PortageTools, SYSTEM_PATH, toolPath, toolsIdentity, ToolsIdentityOptions, toolSourceOf, ToolSource, toolsTreeIdentity, which } from './tools-identity';
export { outputNames, cachedOutputNames, imageOutputNames, manifestName, signatureName, compressionSuffix } from './outputs';
export { extensionVerity, extensionPartitionTypes, type ExtensionVerity } from './formats/extension';
export { splitArtifacts, unwrittenArtifacts, wantedArtifacts, splitDefinitions, partitionFiles, partitionTypeId } from './formats/split';
export { OUTPUT_FORMATS, formatOf, defaultCompression, buildableFormats, imageFiles, writesImage, publishesRoot, baseTreeFile, FormatName, Compression, OutputFile, OutputFormat } from './formats';
export { lockfilePath, readLockfile, formatLockfile, staleness, Lock, LockedPackage, LockedPackageSchema, LockedTool, LockedToolSchema, packageDigest, LockRequest, LOCK_VERSION } from './lockfile';
export {
  currentManifest,
  diffManifests,
  diffIsEmpty,
  explanationItems,
  formatExplanation,
  formatManifest,
  invalidManifestMessage,
  manifestPath,
  readManifest,
  rebuildReason,
  withLock,
  Manifest,
  ManifestDiff,
  ManifestOptions,
  ManifestRead,
  ManifestPackage,
  FileEntry,
  FileChangeKind,
  PackageChange,
  ExplanationItem,
  MANIFEST_VERSION,
  UNLOCKED_NOTE,
  fileHash,
} from './manifest';
export { checkPresetOutputs, compareOutputs, formatProblem, recordOutputs, OutputCheck, OutputProblem } from './output-check';
// kiln summary --json=mkosi: mkosi 26's --json summary shape.
export { mkosiSummaryJson, mkosiImageJson, mkosiField, MkosiSummaryJson } from './mkosi-json';
