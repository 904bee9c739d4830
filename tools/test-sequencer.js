/**
 * jest's order of test files: the longest first, so that the two workers do not end with one long
 * file running alone. jest orders by the durations of earlier runs, which it keeps per checkout
 * path, so a fresh clone (CI's) would fall back on file size, and the nx-cache suites, two tiny
 * files, would start last. Files jest has timed here keep jest's figure; others take the
 * seconds measured in a full run (tools/test-durations.json: rough, refresh it when a suite's cost
 * changes a lot); the rest, unit files, come last.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const SECONDS = require('./test-durations.json');

const root = path.resolve(__dirname, '..');

class LongestFirst extends Sequencer {
  sort(tests) {
    const estimate = (test) => this.time(test) ?? (SECONDS[path.relative(root, test.path)] ?? 0) * 1000;
    return [...tests].sort((a, b) => estimate(b) - estimate(a));
  }
}

module.exports = LongestFirst;
