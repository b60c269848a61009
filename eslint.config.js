// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'docs/**'] },
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
    // Adapters and the Redis store use only core's public entry: policy stays in core.
    files: ['packages/{axios,got,ky,apollo,redis}/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@tokenkit/core/*'], message: 'Import only from @tokenkit/core (its public entry).' },
            { group: ['**/core/src/**', '../../core/**'], message: 'Adapters may not reach into core internals.' },
          ],
        },
      ],
    },
  },
);
