/** Unit tests live next to each package in test/; e2e/ holds real-Nx suites (later issues). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/plugins', '<rootDir>/e2e'].filter((p) =>
    require('fs').existsSync(p.replace('<rootDir>', __dirname)),
  ),
  testMatch: ['**/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleNameMapper: { '^@kiln/config$': '<rootDir>/libs/config/src/index.ts' },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
