/**
 * @kiln/nx: add "@kiln/nx" to nx.json's plugins and every mkosi project (mkosi.conf) and
 * kiln.toml project in the workspace becomes Nx projects, one per preset, each with a cacheable
 * `image` target. See plugin.ts for the naming and inputs.
 */
export { createNodes, createNodesV2, createDependencies, name, KilnPluginOptions } from './plugin';
