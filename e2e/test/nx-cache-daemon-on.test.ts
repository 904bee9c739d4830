/**
 * The cache-correctness suite (nx-cache-suite.ts) with the Nx daemon on, the default for users.
 * Its layers are those the other suites building the demo's presets keep.
 */
import { testLayers } from '../../libs/engine/test/test-cache';
import { nxCacheSuite } from './nx-cache-suite';

jest.setTimeout(900_000);

describe('daemon on', () => nxCacheSuite(true, testLayers()));
