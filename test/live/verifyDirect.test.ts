/**
 * Verify's pass 1 proves equal pairs with plain pipelined reads on direct connections
 * (src/migration/verify/verifyDirect.ts) and hands every other pair to the exact comparer. Proven
 * here on real servers: it calls equal exactly the pairs the exact comparer calls equal,
 * passes on everything else, reads nothing too big for one command, and its connection
 * authenticates as the run's does and comes back after being closed.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { KeySchema } from "../../src/migration/shared/keySchema.js";
import {
  comparerFor,
  type Comparer,
  type CompareOptions,
  type PairOutcome,
} from "../../src/migration/verify/verifyCompare.js";
import {
  directFirstComparer,
  directWorkspacesOf,
} from "../../src/migration/verify/verifyDirect.js";
import { workspacesOf } from "../../src/migration/shared/nodeReads.js";
import { commandBudget } from "../../src/redis/commandBudget.js";
import { connect } from "../../src/redis/connect.js";
import { directFor } from "../../src/redis/directReads.js";
import { parseRedisUrl } from "../../src/redis/redisUrl.js";
import type { RedisTarget } from "../../src/redis/target.js";
import { startRedisServer, type RedisServerHandle } from "../../tools/redisProcess.js";
import { uniquePrefix } from "../support/targets.js";

const WS = "ws-1";
const job = (id: string, extra: Record<string, string> = {}) => ({
  job_id: id,
  workspace_id: WS,
  status: "done",
  params: `{"document_id":"doc-${id}"}`,
  ...extra,
});
/** A value past hash-max-listpack-value: the hash is a hashtable, its order the table's. */
const LONG = "x".repeat(100);

/** Calls through to the exact comparer and records which keys it was asked about. */
function recording(exact: Comparer): { comparer: Comparer; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    comparer: async (keys) => {
      asked.push(...keys.map((k) => k.toString()));
      return exact(keys);
    },
  };
}

const kindOf = (o: PairOutcome) =>
  o.kind === "divergent"
    ? `divergent:${o.divergence.kinds.join(",")}`
    : o.kind === "unmigratable"
      ? `unmigratable:${o.reason}`
      : o.kind;

describe.each([
  ["single", "redisSingleUrl"],
  ["cluster", "redisClusterUrl"],
] as const)("verify's direct reads on %s", (_name, urlKey) => {
  let target: RedisTarget;
  beforeAll(async () => {
    target = await connect({ endpoint: parseRedisUrl(inject(urlKey)) });
  });
  afterAll(async () => {
    commandBudget.configure(1);
    await target.close();
  });

  const schemaFor = (p: string): KeySchema => ({
    oldPrefix: `${p}ai:jobs:`,
    newPrefix: `${p}ai:job:`,
  });
  const options = (schema: KeySchema, workspaces?: string[]): CompareOptions => ({
    schema,
    ttlToleranceMs: 5000,
    workspaces: workspaces ? new Set(workspaces) : undefined,
  });

  it("calls equal exactly what the exact comparer calls equal, and asks it about the rest", async () => {
    const p = uniquePrefix("direct");
    const schema = schemaFor(p);
    const r = target.client;
    const oldK = (id: string) => `${schema.oldPrefix}${id}`;
    const newK = (id: string) => `${schema.newPrefix}${WS}:${id}`;
    const pair = async (id: string, old: Record<string, string>, now = old) => {
      await r.hset(oldK(id), old);
      await r.hset(newK(id), now);
    };
    // Equal pairs.
    await pair("eq-small", job("eq-small"));
    await pair("eq-table", job("eq-table", { result: LONG }));
    const reversed = Object.fromEntries(Object.entries(job("eq-order")).reverse());
    await pair("eq-order", job("eq-order"), reversed);
    await pair("eq-ttl", job("eq-ttl"));
    await r.pexpire(oldK("eq-ttl"), 100_000);
    await r.pexpire(newK("eq-ttl"), 98_000);
    // Not equal, or not a pair at all.
    await pair("ttl-off", job("ttl-off"));
    await r.pexpire(newK("ttl-off"), 100_000);
    await pair("value", job("value"), job("value", { status: "failed" }));
    await pair("extra", job("extra"), job("extra", { note: "" }));
    await pair("missing-field", job("missing-field", { note: "" }), job("missing-field"));
    await r.hset(oldK("no-new"), job("no-new"));
    await r.hset(oldK("new-string"), job("new-string"));
    await r.set(newK("new-string"), "x");
    await r.set(oldK("old-string"), "x");
    await r.hset(oldK("no-ws"), { job_id: "no-ws", status: "done" });
    await r.hset(oldK("bad-id"), job("other-id"));
    const ids = [
      "eq-small", "eq-table", "eq-order", "eq-ttl", "ttl-off", "value", "extra",
      "missing-field", "no-new", "new-string", "old-string", "no-ws", "bad-id", "gone",
    ]; // prettier-ignore
    const keys = ids.map((id) => Buffer.from(oldK(id)));

    const exact = comparerFor(target, options(schema));
    const rec = recording(exact);
    const direct = await directFirstComparer(target, options(schema), rec.comparer)(keys);
    const truth = await exact(keys);
    expect(Object.fromEntries(ids.map((id, i) => [id, kindOf(direct[i]!)]))).toEqual(
      Object.fromEntries(ids.map((id, i) => [id, kindOf(truth[i]!)])),
    );
    const equal = ids.filter((_, i) => truth[i]!.kind === "equal");
    expect(equal).toEqual(["eq-small", "eq-table", "eq-order", "eq-ttl"]);
    // Proven directly: the exact comparer was asked about every other key, and only those.
    expect(rec.asked.sort()).toEqual(
      ids
        .filter((id) => !equal.includes(id))
        .map(oldK)
        .sort(),
    );
  });

  it("a workspace filter skips other workspaces' pairs without asking the exact comparer", async () => {
    const p = uniquePrefix("direct-ws");
    const schema = schemaFor(p);
    const r = target.client;
    await r.hset(`${schema.oldPrefix}a`, job("a"));
    await r.hset(`${schema.newPrefix}${WS}:a`, job("a"));
    await r.hset(`${schema.oldPrefix}b`, { ...job("b"), workspace_id: "ws-2" });
    const keys = ["a", "b"].map((id) => Buffer.from(`${schema.oldPrefix}${id}`));
    const rec = recording(comparerFor(target, options(schema, [WS])));
    const out = await directFirstComparer(target, options(schema, [WS]), rec.comparer)(keys);
    expect(out.map(kindOf)).toEqual(["equal", "skipped"]);
    expect(rec.asked).toEqual([]);
  });

  it("never HGETALLs a hash wider than the command budget allows: the exact comparer pages it", async () => {
    const p = uniquePrefix("direct-wide");
    const schema = schemaFor(p);
    const r = target.client;
    const wide = {
      ...job("wide"),
      ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, "v"])),
    };
    await r.hset(`${schema.oldPrefix}wide`, wide);
    await r.hset(`${schema.newPrefix}${WS}:wide`, wide);
    await r.hset(`${schema.oldPrefix}small`, job("small"));
    await r.hset(`${schema.newPrefix}${WS}:small`, job("small"));
    commandBudget.configure(0.005); // 10 fields at most in one HGETALL
    try {
      expect(commandBudget.maxHashFields).toBe(10);
      const keys = ["wide", "small"].map((id) => Buffer.from(`${schema.oldPrefix}${id}`));
      const rec = recording(comparerFor(target, options(schema)));
      const out = await directFirstComparer(target, options(schema), rec.comparer)(keys);
      expect(out.map(kindOf)).toEqual(["equal", "equal"]);
      expect(rec.asked).toEqual([`${schema.oldPrefix}wide`]);
    } finally {
      commandBudget.configure(1);
    }
  });

  it("the orphan pass's workspace reads give what the workspaceOf script gives", async () => {
    const p = uniquePrefix("direct-ws-of");
    const r = target.client;
    await r.hset(`${p}a`, job("a"));
    await r.hset(`${p}b`, { job_id: "b", status: "done" });
    await r.set(`${p}c`, "a string");
    await r.hset(`${p}d`, { workspace_id: Buffer.from([0xff, 0x00, 0x41]) });
    const keys = ["a", "b", "c", "d", "missing"].map((k) => Buffer.from(`${p}${k}`));
    const viaScript = await workspacesOf(target, keys);
    let fellBack = false;
    const direct = await directWorkspacesOf(target, keys, async (ks) => {
      fellBack = true;
      return workspacesOf(target, ks);
    });
    expect(fellBack).toBe(false);
    expect(direct).toEqual(viaScript);
    expect(direct.map((b) => b?.toString("latin1") ?? null)).toEqual([
      WS,
      null,
      null,
      "\xff\x00A",
      null,
    ]);
  });

  it("a direct connection closed under it is opened again on the next batch", async () => {
    const p = uniquePrefix("direct-reopen");
    const schema = schemaFor(p);
    const r = target.client;
    await r.hset(`${schema.oldPrefix}a`, job("a"));
    await r.hset(`${schema.newPrefix}${WS}:a`, job("a"));
    const keys = [Buffer.from(`${schema.oldPrefix}a`)];
    const rec = recording(comparerFor(target, options(schema)));
    const compare = directFirstComparer(target, options(schema), rec.comparer);
    expect((await compare(keys)).map(kindOf)).toEqual(["equal"]);
    for (const node of target.groupByNode(keys).keys()) (await directFor(node)).close();
    expect((await compare(keys)).map(kindOf)).toEqual(["equal"]);
    expect(rec.asked).toEqual([]);
  });
});

describe("verify's direct reads authenticate like the run", () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer({ extraArgs: ["--requirepass", "s3cret-pw"] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("with a password, with an ACL user and in another database; a refused one leaves all to the exact comparer", async () => {
    const admin = await connect({
      endpoint: parseRedisUrl(`redis://:s3cret-pw@127.0.0.1:${server.port}`),
    });
    await (admin.client as Redis).acl("SETUSER", "app", "on", ">app-pw", "~*", "+@all");
    await (admin.client as Redis).acl(
      "SETUSER",
      "nodirect",
      "on",
      ">nd-pw",
      "~*",
      "+@all",
      "-hlen",
    );
    const schema: KeySchema = { oldPrefix: "ai:jobs:", newPrefix: "ai:job:" };
    for (const [url, expectAsked] of [
      [`redis://:s3cret-pw@127.0.0.1:${server.port}`, false],
      [`redis://app:app-pw@127.0.0.1:${server.port}/2`, false],
      [`redis://nodirect:nd-pw@127.0.0.1:${server.port}`, true],
    ] as const) {
      const t = await connect({ endpoint: parseRedisUrl(url) });
      try {
        const r = t.client as Redis;
        await r.hset("ai:jobs:a", job("a"));
        await r.hset(`ai:job:${WS}:a`, job("a"));
        const o: CompareOptions = { schema, ttlToleranceMs: 5000, workspaces: undefined };
        const rec = recording(comparerFor(t, o));
        const out = await directFirstComparer(t, o, rec.comparer)([Buffer.from("ai:jobs:a")]);
        expect(out.map(kindOf), url).toEqual(["equal"]);
        // Without HLEN the direct path proves nothing: the exact comparer decides.
        expect(rec.asked.length > 0, url).toBe(expectAsked);
      } finally {
        await t.close();
      }
    }
    await admin.close();
  });
});
