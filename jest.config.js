/** @type {import('jest').Config} */
const tsJest = [
  'ts-jest',
  {
    // Type checking is `tsc --noEmit` (npm test runs it first); here each file is only transpiled.
    isolatedModules: true,
    tsconfig: { module: 'commonjs', target: 'es2022', esModuleInterop: true, allowJs: true, sourceMap: true },
  },
];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': tsJest,
    // The CEL evaluator used to check CRD validation rules ships as ES modules only.
    '^.+/@marcbachmann/cel-js/.+\\.js$': tsJest,
  },
  transformIgnorePatterns: ['/node_modules/(?!@marcbachmann/cel-js/)'],
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  testTimeout: 60000,
};
