/** Unit tests live next to each package in test/; e2e/ holds real-Nx suites (later issues). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/plugins', '<rootDir>/e2e'].filter((p) =>
    require('fs').existsSync(p.replace('<rootDir>', __dirname)),
  ),
  testMatch: ['**/test/**/*.test.ts'],
  // smol-toml is ESM-only: Node 20.19+ require()s it natively, jest needs it transformed.
  transform: { '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: ['/node_modules/(?!smol-toml/)'],
  moduleNameMapper: { '^@kiln/config$': '<rootDir>/libs/config/src/index.ts' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
