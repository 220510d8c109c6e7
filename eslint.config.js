// Lint with type information: in a 2PC engine an unawaited promise is a lost acknowledgement,
// so no-floating-promises is an error, not a warning. Product code is held to typescript-eslint's
// strictTypeChecked; the tests and the function-length limit are staged in eslint.next.config.js.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** The code that runs in production: held to the strict rules. */
export const PRODUCT_TS = ["{coordinator,participant,shared,scripts}/**/*.ts"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".concord/**", "bench/results/**"] },
  // First, so that the project's own rule options below still win.
  { files: PRODUCT_TS, extends: [tseslint.configs.strictTypeChecked] },
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
    },
  },
  {
    files: PRODUCT_TS,
    rules: {
      // A number or bigint prints exactly in a template; what the rule is here for is the
      // undefined, object or any that prints as "undefined" or "[object Object]".
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
