// Lint rules, and the layering of docs/design.md as import rules: a back-edge is fixed by
// moving code, never by disabling the rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TEST_WHY = 'lib/ is the package: test support (the emulators under test/emulators) imports lib/, never the other way round';

/**
 * Imports a folder under lib/ may not make, with the reason shown to whoever tries. No file of
 * lib/ imports test/ (a later block's rule replaces an earlier one's, so every block says so).
 */
const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...forbidden.map((folder) => ({ group: [`**/${folder}`, `**/${folder}/**`], message: why })),
          { group: ['**/test/**'], message: TEST_WHY },
        ],
      },
    ],
  },
});

const ABOVE_CORE = ['constructs', 'cli', 'controller', 'testing', 'verify', 'migration', 'clients', 'analysis', 'files'];
const CORE_WHY = 'the pure core (policy, afm, k8s) imports nothing above it; see docs/design.md';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/cdktf.out/**', 'coverage/**', 'test/hostile/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Namespaces are how TypeScript declares Jest's global matcher types.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      eqeqeq: ['error', 'always'],
      // Validators of hostile input match control characters on purpose.
      'no-control-regex': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'export names explicitly, so the public API is what we decide' },
      ],
    },
  },
  layer(['lib/**', 'providers/**'], [], TEST_WHY),
  layer(['lib/policy/**'], ['afm', 'k8s', ...ABOVE_CORE], CORE_WHY),
  layer(['lib/afm/**', 'lib/k8s/**'], ABOVE_CORE, CORE_WHY),
  layer(['lib/util.ts'], ['policy', 'afm', 'k8s', ...ABOVE_CORE], 'util is the bottom layer'),
  layer(
    ['lib/constructs/**'],
    ['cli', 'controller', 'testing', 'verify', 'migration', 'clients', 'analysis', 'files'],
    'constructs build on the core only; see docs/design.md',
  ),
  layer(
    ['lib/clients/**', 'lib/files/**'],
    ['constructs', 'cli', 'controller', 'testing', 'verify', 'migration', 'analysis'],
    'shared support is used by the tools, never the other way round',
  ),
  layer(
    ['lib/analysis/**', 'lib/verify/**'],
    ['constructs', 'cli', 'controller', 'testing', 'migration'],
    'analysis and verification are shared by the CLI, the controller and testing; they import none of them',
  ),
  layer(
    ['lib/cli/**'],
    ['controller', 'testing'],
    'the CLI shares code with the controller and testing only through lib/clients, lib/analysis and lib/verify',
  ),
  layer(
    ['lib/controller/**'],
    ['cli', 'testing', 'constructs', 'migration'],
    'the controller shares code only through lib/clients, lib/verify and lib/flowlog',
  ),
  layer(
    ['lib/testing/**'],
    ['cli', 'controller', 'migration'],
    'testing shares code only through lib/analysis, lib/clients and lib/verify',
  ),
  layer(
    ['lib/flowlog/**'],
    ['constructs', 'cli', 'controller', 'testing'],
    'flow-log intake builds on the core and shared support; the CLI and the controller use it, not the other way round',
  ),
  layer(['lib/migration/**'], ['cli', 'controller', 'testing', 'constructs'], 'migration builds on the core and lib/files only'),
  {
    // Declaration files that add cdktf's Jest matcher types to the test program.
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/triple-slash-reference': 'off' },
  },
  {
    files: ['test/**', 'examples/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
