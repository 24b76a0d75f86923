/**
 * The single-file build for containers (scripts/bundle.mjs): built where deploy/Dockerfile
 * copies it from, then copied alone into an empty directory (no node_modules, no dist/, no
 * Lua files anywhere it could look) and run there by plain `node`, through the whole demo.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDemo } from "../../tools/demo.js";
import { runCli } from "../support/cli.js";
import { expectTheDemoWalk } from "../support/demoWalk.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BUILT = join(ROOT, "dist", "bundle", "jobs-migrate.mjs");
const alone = mkdtempSync(join(tmpdir(), "jm-bundle-"));
const bundle = join(alone, "jobs-migrate.mjs");

beforeAll(async () => {
  await promisify(execFile)(process.execPath, [join(ROOT, "scripts", "bundle.mjs")], { cwd: ROOT });
  copyFileSync(BUILT, bundle);
});
afterAll(() => rmSync(alone, { recursive: true, force: true }));

describe("the single-file build", () => {
  it("is the file deploy/Dockerfile copies into the image", () => {
    const dockerfile = readFileSync(join(ROOT, "deploy", "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^COPY --from=build \/build\/dist\/bundle\/jobs-migrate\.mjs /m);
  });

  it("runs alone, its version the package's", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await runCli(["--version"], { exe: bundle });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  // The demo's walk on 2,000 jobs (the launcher's test runs it on the demo's 20,000).
  it("runs the whole demo (backfill, verify, repair, accept, flag, cleanup, restore) as the launcher does", async () => {
    expectTheDemoWalk(await runDemo({ print: false, bin: bundle, jobs: 2000 }), 2000);
  });
});
