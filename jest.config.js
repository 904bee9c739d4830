/** Unit tests live next to each package in test/; e2e/ holds real-Nx suites. */
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

module.exports = {
  testEnvironment: 'node',
  roots: ['libs', 'apps', 'plugins', 'e2e'].filter((p) => fs.existsSync(path.join(__dirname, p))).map((p) => `<rootDir>/${p}`),
  testMatch: ['**/test/**/*.test.ts'],
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
