/**
 * The runtime input's entry point. Nx runs it from the workspace root, where @kiln/nx is always
 * found (Nx loads the plugin from there); @kiln/cli is then found from here, wherever the package
 * manager put it (hoisted, nested under @kiln/nx, or in a pnpm store). Loads no Nx code.
 */
export { main } from '@kiln/cli/dist/digest';
