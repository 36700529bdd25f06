// Unit tests sit next to the code (*.spec.ts); integration and e2e tests under test/ use the real
// Postgres, Redis and S3-compatible server (see test/setup/).
const swc = JSON.parse(require('fs').readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const moduleNameMapper = {
  '^@deidflow/(config|database|dicom|queue|storage|common|jobs|core)$': '<rootDir>/libs/$1/src',
  '^@deidflow/(config|database|dicom|queue|storage|common|jobs|core)/(.*)$': '<rootDir>/libs/$1/src/$2',
};
const base = {
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
};
module.exports = {
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
