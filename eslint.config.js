// Lint with type information: in a 2PC engine an unawaited promise is a lost acknowledgement,
// so no-floating-promises is an error, not a warning. Everything is held to typescript-eslint's
// strictTypeChecked, and product functions to 70 lines.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".concord/**", "bench/results/**"] },
  // First, so that the project's own rule options below still win.
  { files: ["**/*.ts"], extends: [tseslint.configs.strictTypeChecked] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": [
        "error",
        { checksVoidReturn: { arguments: false } },
      ],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      // A number or bigint prints exactly in a template; what the rule is here for is the
      // undefined, object or any that prints as "undefined" or "[object Object]".
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    files: ["{coordinator,participant,shared,scripts}/**/*.{ts,mjs}"],
    rules: {
      // A 2PC step that does not fit on a screen hides the order of its writes. Blank lines
      // and comments are not counted: a comment that says why never pushes a function over.
      "max-lines-per-function": ["error", { max: 70, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
