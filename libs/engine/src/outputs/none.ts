/**
 * Format=none: no image. The build's scripts may still leave files in $OUTPUTDIR; the build
 * publishes those as for any format.
 */
import type { Writer } from '.';

export const writeNone: Writer = async () => undefined;
