/**
 * Where the tests keep what they build once per machine: under the user's cache, as kiln's own
 * caches (~/.cache/kiln, or $XDG_CACHE_HOME/kiln). No imports of the engine: e2e suites use it too.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export const cacheRoot = (): string => path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln');

/**
 * An Incremental=yes layer directory (CacheDirectory=) kept per machine, ~/.cache/kiln/test-layers/NAME,
 * for the suites that build the same presets again and again (the demo's, in e2e and here). A
 * layer is keyed by everything installed into it, so a kept one is reused only where it is exact
 * (and gives the same bytes as a build from scratch: layers.test.ts); entries are stored whole or
 * not at all, safe with concurrent jest workers, and kiln evicts those unused for CacheMaxAge=
 * days. A suite that empties or moves its directory gets a NAME of its own.
 */
export const testLayers = (name = 'shared'): string => path.join(cacheRoot(), 'test-layers', name);
