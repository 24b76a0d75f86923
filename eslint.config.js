import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        URL: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  // The layers (README "Layout"): imports run one way, cli -> migration -> engine -> redis,
  // and no subcommand's room imports another's (shared parts live in migration/shared/).
  ...layer("src/redis/**", ["**/engine/**", "**/migration/**", "**/cli/**", "**/output/**"]),
  ...layer("src/engine/**", ["**/migration/**", "**/cli/**", "**/output/**"]),
  ...layer("src/output/**", ["**/migration/**", "**/cli/**", "**/engine/**"]),
  ...layer("src/migration/shared/**", [
    "../backfill/**",
    "../verify/**",
    "../cleanup/**",
    "../rollout/**",
    "**/cli/**",
  ]),
  ...["backfill", "verify", "cleanup", "rollout"].flatMap((room) =>
    layer(
      `src/migration/${room}/**`,
      ["backfill", "verify", "cleanup", "rollout"]
        .filter((other) => other !== room)
        .map((other) => `../${other}/**`)
        .concat(["**/cli/**"]),
    ),
  ),
);

/** `files` may not import modules matching `forbidden`. */
function layer(files, forbidden) {
  return [
    {
      files: [files],
      rules: {
        "no-restricted-imports": [
          "error",
          {
            patterns: [
              {
                group: forbidden,
                message:
                  "imports run cli -> migration -> engine -> redis, and subcommand folders do not import each other (README: Layout)",
              },
            ],
          },
        ],
      },
    },
  ];
}
