/**
 * The config reader's ScriptRunner (@kiln/config file-values.ts): an executable mkosi.version runs
 * in kiln's sandbox (@kiln/engine config-script.ts). The engine is loaded only when a project has
 * one, so that kiln-digest, which the Nx plugin runs on every hash, stays light.
 */
import type { ScriptRunner } from '@kiln/config';

export const runScript: ScriptRunner = (file, opts) =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('@kiln/engine/dist/config-script') as typeof import('@kiln/engine/dist/config-script')).runConfigScript(file, opts);
