/**
 * Format=directory: the tree is the image root itself, renamed into place by the build, so only
 * its archive (NAME.tar.zst, what a cache keeps) is written here.
 */
import type { Writer } from '.';
import { writeTarFiles } from './tar';

export const writeDirectory: Writer = (ctx, files) => writeTarFiles(ctx, files.filter((f) => f.kind === 'file'));
