export * from './errors';
export * from './settings';
export * from './values';
export { parseIni } from './ini';
export { parseToml } from './toml';
export { conditionsHold, matchKeys } from './match';
export { expandSpecifiers, SPECIFIERS } from './specifiers';
export { loadProject, findConfigDir, Project, Preset, Syntax, LoadOptions } from './project';
export { outputPath, readsOutput, Edge } from './graph';
export { summaryJson, summaryText, SummaryJson } from './summary';
export { tomlJsonSchema } from './json-schema';
export { presetInputs, presetSettings, PresetInputs } from './inputs';
export { describeInputs, digestInputs, inputEntries, entryLine, checkoutOf, modePolicy, normalMode, DigestOptions, InputEntry, ModePolicy } from './input-digest';
export { projectFacts, isFactsError, digestCacheDir, ProjectFacts, PresetFacts, FactsError, FactsWarning } from './facts';
export { fingerprint, fingerprintLines, findPreset, FingerprintError, FingerprintOptions } from './fingerprint';
export { hostToolVersions, HOST_TOOLS, SYSTEM_PATH, toolPath, which } from './tools-identity';
export { outputNames, cachedOutputNames, imageOutputNames, manifestName, compressionSuffix } from './outputs';
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
  compareDebianVersions,
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
} from './manifest';
