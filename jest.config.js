// Unit tests sit next to the code (*.spec.ts); integration and e2e tests under test/ use the real
// Postgres, Redis and S3-compatible server (see test/setup/).
const swc = JSON.parse(require('fs').readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const moduleNameMapper = {
  '^@deidflow/(config|database|dicom|queue|storage|common|jobs|core)$': '<rootDir>/libs/$1/src',
  '^@deidflow/(config|database|dicom|queue|storage|common|jobs|core)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
const base = {
  transform: {
    '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }],
    // NestJS 12 and some dependencies are ES modules only: see scripts/jest/esm-to-cjs.js.
    '/node_modules/.+\\.m?js$': '<rootDir>/scripts/jest/esm-to-cjs.js',
  },
  transformIgnorePatterns: [],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
};
module.exports = {
  // Integration tests upload every sample file through the real stack: well above Jest's 5 s default.
  testTimeout: 120_000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
