import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Walk up from this file to the package root: the layout differs between tools/ and dist/. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above tools/bench");
    dir = up;
  }
  return dir;
}

export const PROJECT_ROOT = projectRoot();
/** BENCH_CLI points the benchmark at another build of the CLI (e.g. a release to compare). */
export const CLI_PATH = process.env["BENCH_CLI"] ?? join(PROJECT_ROOT, "bin", "jobs-migrate.js");
export const RESULTS_DIR = join(PROJECT_ROOT, ".bench");
