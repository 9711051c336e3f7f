// Lint: ESLint's recommended rules and typescript-eslint's, for the sources, tests, scripts
// and benches; layout is Prettier's (.prettierrc.json), so no rule here judges it. The type
// checker (`npm run typecheck`) covers what needs types.
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'src/**/*.generated.*', 'bench/results/']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {ecmaVersion: 2022, sourceType: 'module', globals: {...globals.node}},
    rules: {
      // unused arguments and caught errors named with a leading underscore are deliberate
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none'},
      ],
    },
  },
  prettier,
)
