/** kiln's own version: part of every preset's cache key, since a new engine can build other bytes. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const version: string = require('../package.json').version;
