import type { Cluster, Redis, Result } from "ioredis";
import { luaFile } from "./luaFiles.js";

/**
 * Lua scripts, one per file in ./lua, named `verbNoun-<numKeys>.lua` ("n": variable).
 * Registered once per client with ioredis `defineCommand`, which sends EVALSHA and
 * falls back to EVAL on NOSCRIPT (e.g. after a server restart).
 */
const SCRIPTS = {
  copyIfAbsent: "copyIfAbsent-n.lua",
  dumpJobs: "dumpJobs-0.lua",
  dumpKeys: "dumpKeys-0.lua",
  restoreIfAbsent: "restoreIfAbsent-0.lua",
  unchangedSince: "unchangedSince-0.lua",
  replaceIfUnchanged: "replaceIfUnchanged-1.lua",
  verifyPairs: "verifyPairs-n.lua",
  readHashes: "readHashes-0.lua",
  workspaceOf: "workspaceOf-0.lua",
  partialCount: "partialCount-0.lua",
  countExisting: "countExisting-0.lua",
  repairPair: "repairPair-2.lua",
  compareAndDelete: "compareAndDelete-n.lua",
  deleteIfUnchanged: "deleteIfUnchanged-0.lua",
  restoreHash: "restoreHash-1.lua",
  reverseCopy: "reverseCopy-n.lua",
  extendLock: "extendLock-1.lua",
  releaseLock: "releaseLock-1.lua",
  takeoverLock: "takeoverLock-1.lua",
} as const;

type Arg = string | Buffer | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    copyIfAbsent(numKeys: number, ...args: Arg[]): Result<string, Context>;
    dumpJobsBuffer(...keys: Arg[]): Result<(Buffer | number | null)[], Context>;
    dumpKeysBuffer(...keys: Arg[]): Result<(Buffer | null)[], Context>;
    restoreIfAbsent(count: number, ...args: Arg[]): Result<string, Context>;
    unchangedSince(count: number, ...args: Arg[]): Result<string, Context>;
    verifyPairsBuffer(
      numKeys: number,
      ...args: Arg[]
    ): Result<[Buffer, (Buffer | number)[]], Context>;
    readHashesBuffer(...keys: Arg[]): Result<(Buffer | number)[], Context>;
    workspaceOfBuffer(...keys: Arg[]): Result<(Buffer | null)[], Context>;
    partialCount(...keys: Arg[]): Result<number, Context>;
    countExisting(...keys: Arg[]): Result<number, Context>;
    repairPair(oldKey: Arg, newKey: Arg): Result<number, Context>;
    compareAndDeleteBuffer(
      numKeys: number,
      ...args: Arg[]
    ): Result<[Buffer, (Buffer | number)[]], Context>;
    deleteIfUnchanged(count: number, ...args: Arg[]): Result<string, Context>;
    restoreHash(
      key: Arg,
      force: string,
      expireAtMs: number,
      ...pairs: Arg[]
    ): Result<number, Context>;
    reverseCopy(numKeys: number, ...args: Arg[]): Result<string, Context>;
    replaceIfUnchanged(key: Arg, expectedPairs: number, ...pairs: Arg[]): Result<number, Context>;
    extendLock(key: string, token: string, ttlMs: number): Result<number, Context>;
    releaseLock(key: string, token: string): Result<number, Context>;
    takeoverLock(key: string, stale: string, fresh: string, ttlMs: number): Result<number, Context>;
  }
}

const sources = new Map<string, string>();

/** Source of a script file (cached), for tests and the benchmark too. */
export function scriptSource(file: string): string {
  let lua = sources.get(file);
  if (lua === undefined) {
    // "#include lib/x.lua" pastes a shared snippet: Lua scripts in Redis cannot import.
    lua = luaFile(file).replace(/^#include (\S+)$/gm, (_m, lib: string) => luaFile(lib));
    sources.set(file, lua);
  }
  return lua;
}

function numberOfKeys(file: string): number | undefined {
  const m = /-(\d+|n)\.lua$/.exec(file);
  return m?.[1] === "n" || !m ? undefined : Number(m[1]);
}

/** Register every script on a client (and, on a Cluster, on each node it creates). */
export function defineScripts(client: Redis | Cluster): void {
  for (const [name, file] of Object.entries(SCRIPTS)) {
    const n = numberOfKeys(file);
    client.defineCommand(
      name,
      n === undefined ? { lua: scriptSource(file) } : { numberOfKeys: n, lua: scriptSource(file) },
    );
  }
}
