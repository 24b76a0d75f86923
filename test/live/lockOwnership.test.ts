/**
 * Lock ownership that survives containers (issue 15): a run restarted in the same pod has
 * the same host name and is pid 1 again; it must recognise its predecessor's dead lock
 * and take it over at once, not wait for it to expire (exit 4). And audit entries name
 * an actor, never "unknown@pod".
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RunLock, type LockOwner } from "../../src/engine/runLock.js";
import { LockHeldError } from "../../src/errors.js";
import { connect } from "../../src/redis/connect.js";
import { parseRedisUrl } from "../../src/redis/redisUrl.js";
import type { RedisTarget } from "../../src/redis/target.js";
import { jsonOf, runCli } from "../support/cli.js";
import { uniquePrefix } from "../support/targets.js";

describe("run locks on a restarted container", () => {
  let target: RedisTarget;
  let redis: Redis;
  beforeAll(async () => {
    target = await connect({ endpoint: parseRedisUrl(inject("redisSingleUrl")) });
    redis = target.client as Redis;
  });
  afterAll(async () => {
    await target.close();
  });

  const plant = async (key: string, owner: Partial<LockOwner>) => {
    const value = { runId: "before", host: hostname(), since: "2026-12-03T00:00:00Z", ...owner };
    await redis.set(key, JSON.stringify(value), "PX", 60_000);
  };
  const take = async (key: string) => {
    const lock = new RunLock(redis, key, RunLock.ownerFor("after"), 60_000);
    await lock.acquire("backfill");
    await lock.release();
    return lock.tookOverFrom?.runId;
  };

  it("takes over at once a lock held under its own pid by another process (same host, pid 1 again)", async () => {
    const key = `${uniquePrefix("lock")}backfill:lock`;
    await plant(key, { pid: process.pid, process: "the-process-before-the-restart" });
    expect(await take(key)).toBe("before");
    // A lock of an older version (no process token) under our pid is not ours either.
    await plant(key, { pid: process.pid });
    expect(await take(key)).toBe("before");
  });

  it("still refuses a live holder on this host, and takes over one from before a reboot", async () => {
    const key = `${uniquePrefix("lock")}backfill:lock`;
    // The parent of this process is alive.
    await plant(key, { pid: process.ppid, process: "a-live-process" });
    await expect(take(key)).rejects.toBeInstanceOf(LockHeldError);
    expect(existsSync("/proc/sys/kernel/random/boot_id")).toBe(true);
    await plant(key, { pid: process.ppid, process: "a-live-process", boot: "an-earlier-boot" });
    expect(await take(key)).toBe("before");
  });

  it("audit entries name --actor / JOBS_MIGRATE_ACTOR, else the OS user at the host, never unknown@", async () => {
    const p = uniquePrefix("actor");
    const args = ["flag", "set", "on", "--reason", "canary", "--flag-key", `${p}flag`];
    const url = ["--redis-url", inject("redisSingleUrl"), "--json"];
    const named = await runCli([...args, "--actor", "sre-bob", ...url]);
    expect(named.code, named.stderr).toBe(0);
    expect(jsonOf(named).who).toBe("sre-bob");
    const fromEnv = await runCli([...args, ...url], { env: { JOBS_MIGRATE_ACTOR: "sre-carol" } });
    expect(jsonOf(fromEnv).who).toBe("sre-carol");
    // A container: no USER, no LOGNAME.
    const bare = await runCli([...args, ...url], { env: { USER: "", LOGNAME: "" } });
    expect(String(jsonOf(bare).who)).not.toMatch(/^unknown@/);
    expect(String(jsonOf(bare).who)).toMatch(new RegExp(`${hostname()}$`));
    const audit = (await redis.lrange(`${p}flag:audit`, 0, -1)).map((l) => JSON.parse(l).who);
    expect(audit.slice(1).reverse()).toEqual(["sre-bob", "sre-carol"]);
  });
});
