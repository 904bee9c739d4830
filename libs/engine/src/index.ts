export { build, buildPlan, clean, lockProject, LockResult, buildPreset, defaultPackageCache, outputsExist, sourceDateEpoch, BuildOptions, PresetResult, DEFAULT_SOURCE_DATE_EPOCH } from './build';
export { BuildError } from './errors';
export { toolsIdentity } from './tools';
export { lockRequest, currentLock, resolveLock, writeLock, lockChanges, LockChange } from './lock';
export { requireTool, KNOWN_TOOLS, compareVersions, versionOf, type ToolRequirement, type ToolFound } from './tool-check';
export { resolveTools, toolsPresetOf, unpackedTools } from './tools-tree';
export { runVm, VM_FORMATS, VmOptions } from './vm';
export { runConfigScript } from './config-script';
export { NAMESPACE as SIGNING_NAMESPACE, signManifest, signatureProblem, verifyPresetOutputs } from './signing';
