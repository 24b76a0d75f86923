/**
 * What a user of the package gets: `npm pack` from a clean copy of this checkout (no
 * dist/, so the tarball is whatever `prepack` builds), then `npm install -g` of that
 * tarball into a temporary prefix (dependencies from the registry, as a user's install),
 * and the installed `jobs-migrate` run from there against the test servers.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedOldJobs } from "../support/appTraffic.js";
import { jsonOf, prefixArgs, runCli } from "../support/cli.js";
import { keysUnder } from "../support/keys.js";
import { connect, targets, uniquePrefix, type Target } from "../support/targets.js";

const ROOT = resolve(import.meta.dirname, "../..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
/** Never in the copy: what a build or a test run leaves behind, and the git metadata. */
const NOT_IN_A_CLONE = new Set([
  ...["node_modules", "dist", ".git", "coverage", ".bench", ".demo", ".scratch"],
]);

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), "jm-pack-"));
const exe = join(work, "prefix", "bin", "jobs-migrate");
let packed: string[] = [];

beforeAll(async () => {
  const clone = join(work, "clone");
  cpSync(ROOT, clone, {
    recursive: true,
    filter: (src) => !NOT_IN_A_CLONE.has(relative(ROOT, src).split("/")[0]!),
  });
  // prepack needs the dev dependencies (tsc); installing them again would only be slower.
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
  const npm = { cwd: clone, env: npmEnv(), maxBuffer: 16 << 20 };
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], npm);
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  packed = info!.files.map((f) => f.path).sort();
  const tarball = join(work, info!.filename);
  await run("npm", ["install", "-g", tarball, "--prefix", join(work, "prefix"), "--no-audit"], {
    ...npm,
    cwd: work,
  });
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** npm as a user runs it: not the settings of an `npm test` this file may run under. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")),
  );
}

describe("npm pack", () => {
  it("ships only what the bin needs: the launcher, compiled src without maps, the Lua once, README, LICENSE, CHANGELOG", () => {
    const others = packed.filter((p) => !/^dist\/src\/.+\.(js|lua)$/.test(p));
    expect(others).toEqual([
      "CHANGELOG.md",
      "LICENSE",
      "README.md",
      "bin/jobs-migrate.js",
      "package.json",
    ]);
    expect(packed).toContain("dist/src/cli/main.js");
    const lua = packed.filter((p) => p.endsWith(".lua"));
    expect(lua).toContain("dist/src/redis/lua/copyIfAbsent-n.lua");
    expect(lua).toContain("dist/src/redis/lua/lib/jobKey.lua");
    expect(lua.every((p) => p.startsWith("dist/src/redis/lua/"))).toBe(true);
  });
});

describe("jobs-migrate installed globally from the tarball", () => {
  it("answers --version with the package's version and --help with every subcommand", async () => {
    const version = await runCli(["--version"], { exe });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(PKG.version);
    const help = await runCli(["--help"], { exe });
    expect(help.code).toBe(0);
    for (const sub of [
      "backfill",
      "verify",
      "cleanup",
      "restore",
      "accept",
      "flag",
      "ctl",
      "locks",
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${sub} `, "m"));
  });

  it.each(targets())("backfills on %s: every old job gets its new key", async (target: Target) => {
    const redis = connect(target);
    try {
      const p = uniquePrefix("pack");
      await seedOldJobs(redis, { oldPrefix: `${p}ai:jobs:`, count: 50, workspaces: 3 });
      const r = await runCli(["backfill", "--redis-url", target.url, ...prefixArgs(p), "--json"], {
        exe,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(jsonOf(r).counts.copied).toBe(50);
      expect(await keysUnder(redis, `${p}ai:job:`)).toHaveLength(50);
    } finally {
      redis.disconnect();
    }
  });
});
