import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    // The browser client and its type tests are ES modules in TypeScript (.mts).
    filesTs: ['**/*.mts'],
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'test/.readme/**', 'test/screenshots/**']
  }),
  {
    // TypeBox's idiom names a schema and its Static type alike; tsc already rejects real redeclarations.
    files: ['**/*.ts', '**/*.mts'],
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  },
  {
    // Type tests declare values only to check their types.
    files: ['types/test/**/*.ts', 'types/test/**/*.mts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off', 'no-void': 'off' }
  },
  {
    // The layers (ARCHITECTURE.md): core/ (hub, history, publisher, the adapter seam, protocol,
    // errors, the config's types) imports nothing of lib/ outside core/; config, transports,
    // cluster and observe build on it. Public types (types/) and packages are allowed.
    files: ['lib/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: '^\\.\\./(?!\\.\\./types/)',
          message: 'lib/core/ imports nothing of lib/ outside core/ (see ARCHITECTURE.md, "Layers")'
        }]
      }]
    }
  }
]
