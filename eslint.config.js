// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'docs/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // Every package but core and test-utils uses core's two public entries only: policy stays in core.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/core/**', 'packages/test-utils/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^@tokenkit/core/(?!adapter$)',
              message: 'Import only from @tokenkit/core or @tokenkit/core/adapter.',
            },
            { group: ['**/core/src/**', '../../core/**'], message: 'Packages may not reach into core internals.' },
          ],
        },
      ],
    },
  },
  {
    // Apps use packages as their users do: by package name, never by a path into another package's files
    // (a package's bench scripts are found by name too: apps/bench/src/child.ts packageDir).
    files: ['apps/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+packages/',
              message: 'Apps import packages by name (@tokenkit/<x>), never by a relative path into them.',
            },
          ],
        },
      ],
    },
  },
);
