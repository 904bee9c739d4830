/**
 * Three lanes, one jest project each (`npx jest --selectProjects unit`, or npm run test:unit|build|e2e):
 *
 *   unit   *.unit.test.ts under libs/, apps/, plugins/: seconds, no root, no network, no real
 *          builds, no fixture repositories (pure logic, parsing, in-process calls, short tools).
 *   build  every other *.test.ts under libs/, apps/, plugins/: real builds from the Debian mirror,
 *          fixture binhosts and mirrors, runs of the built CLI.
 *   e2e    e2e/**: real Nx in temporary workspaces.
 *
 * The lane follows from the path alone: a new test file without ".unit" runs in the build lane.
 * Name it <topic>.unit.test.ts when it needs none of the above. libs/engine/test/lanes.unit.test.ts
 * fails, naming the file, for a test jest would not find or a *.unit.test.ts that builds images,
 * runs the built CLI or serves fixture repositories.
 */
const fs = require('fs');
const path = require('path');

/**
 * ESM-only packages (smol-toml, execa and execa's dependencies...): Node 20.19+ require()s them
 * natively, but jest's module loader needs them transformed to CommonJS. Found by their
 * package.json rather than listed, so a dependency update cannot break the tests.
 */
function esmPackages() {
  const found = new Set();
  const scan = (dir) => {
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        scan(path.join(dir, name));
        continue;
      }
      const pkg = path.join(dir, name, 'package.json');
      try {
        const json = JSON.parse(fs.readFileSync(pkg, 'utf8'));
        if (json.type === 'module') found.add(json.name);
      } catch {
        // not a package
      }
    }
  };
  scan(path.join(__dirname, 'node_modules'));
  for (const group of ['libs', 'apps', 'plugins']) {
    for (const p of fs.existsSync(path.join(__dirname, group)) ? fs.readdirSync(path.join(__dirname, group)) : []) scan(path.join(__dirname, group, p, 'node_modules'));
  }
  return [...found].map((n) => n.replace(/[.+]/g, '\\$&'));
}

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages().join('|')})/)`],
  moduleNameMapper: {
    '^@kiln/(config|engine)$': '<rootDir>/libs/$1/src/index.ts',
    '^@kiln/(config|engine)/dist/(.*)$': '<rootDir>/libs/$1/src/$2',
    // unicorn-magic (under execa) exports only an "import" condition, which jest's resolver ignores.
    '^unicorn-magic$': '<rootDir>/node_modules/unicorn-magic/node.js',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

const packages = ['libs', 'apps', 'plugins'].filter((p) => fs.existsSync(path.join(__dirname, p))).map((p) => `<rootDir>/${p}`);

module.exports = {
  // Two test files at a time, on this project's 2-core machines (jest's default leaves one core
  // idle): most of a suite's time goes to single-threaded steps (dpkg, nx, qemu under TCG, a
  // mirror's answers). The suites are safe side by side: what they share (the package cache, the
  // test trees and layers) is locked or stored atomically by kiln, servers take free ports, and
  // no test reads another's files or the machine's load.
  maxWorkers: 2,
  // The longest files first (tools/test-sequencer.js), also in a fresh clone.
  testSequencer: path.join(__dirname, 'tools/test-sequencer.js'),
  projects: [
    { ...common, displayName: 'unit', roots: packages, testMatch: ['**/test/**/*.unit.test.ts'] },
    { ...common, displayName: 'build', roots: packages, testMatch: ['**/test/**/*.test.ts'], testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.unit\\.test\\.ts$'] },
    { ...common, displayName: 'e2e', roots: ['<rootDir>/e2e'], testMatch: ['**/test/**/*.test.ts'] },
  ],
};
