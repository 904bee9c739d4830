/**
 * Format=none: the build runs (its scripts may still write files into $OUTPUTDIR) but publishes
 * no image and no manifest, so nothing can read its output and a build of another preset skips it.
 */
import type { OutputFormat } from './format';

export const none: OutputFormat = {
  name: 'none',
  buildable: true,
  image: false,
  compression: 'none',
  files: () => [],
};
