/** What the e2e suites share: the repository's nx binary and an Nx environment of a temp workspace. */
import * as path from 'node:path';

export const repo = path.resolve(__dirname, '../..');
export const nxBin = path.join(repo, 'node_modules/nx/dist/bin/nx.js');

/** No daemon, no cloud, no prompts; cache and workspace data inside the temp workspace. */
export function nxEnv(ws: string): Record<string, string | undefined> {
  return {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_INTERACTIVE: 'false',
    NX_CACHE_DIRECTORY: path.join(ws, '.nx-cache'),
    NX_WORKSPACE_DATA_DIRECTORY: path.join(ws, '.nx-data'),
  };
}
