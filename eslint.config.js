import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'protocol/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The installed command's launcher: plain JavaScript for any Node.js.
    files: ['bin/**/*.js'],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // The house has no circles: a module never imports, through any chain, one that imports it.
    files: ['src/**/*.ts', 'node/**/*.ts', 'test/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': importX.flatConfigs.typescript.settings['import-x/extensions'],
      'import-x/parsers': importX.flatConfigs.typescript.settings['import-x/parsers'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // The core is pure and portable: it never reaches into the node shell or Node's I/O.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/node/**', '../node/*', '../../node/*'], message: 'src/ must not import from node/: imports point node/ -> src/ only.' },
          { group: ['node:*', 'fs', 'net', 'http', 'child_process', 'level', 'classic-level'], message: 'src/ is pure: pass I/O in from node/.' },
        ],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'src/ is pure: pass configuration in.' }],
    },
  },
);
