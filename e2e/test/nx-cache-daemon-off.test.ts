/**
 * The cache-correctness suite (nx-cache-suite.ts) with the Nx daemon off. Its layer directory is
 * its own: one test sets it aside to rebuild from scratch.
 */
import { testLayers } from '../../libs/engine/test/test-cache';
import { nxCacheSuite } from './nx-cache-suite';

jest.setTimeout(900_000);

describe('daemon off', () => nxCacheSuite(false, testLayers('nx-cache-daemon-off')));
