/**
 * Load put on a server from the side, and what the tool sends it, for throttling tests:
 * a server kept busy (every PING slow), a server flooded with cheap commands (ops/s), a
 * replica that stops reading its stream, and the SCAN COUNT of each batch as MONITOR sees it.
 */
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import type { RedisClient } from "./targets.js";

/** Spins for ARGV[1] ms: a server runs one script at a time and serves nobody meanwhile. */
const SPIN_LUA =
  "local s=redis.call('TIME') repeat local t=redis.call('TIME') until (t[1]-s[1])*1e6+t[2]-s[2] >= tonumber(ARGV[1])*1000";

/** Block a server (a replica too: it stops reading and acknowledging its stream) for `ms`. */
export async function stall(client: Redis, ms: number): Promise<void> {
  await client.eval(SPIN_LUA, 0, ms);
}

/**
 * Keep a server busy with 300 ms scripts from two connections started 150 ms apart, until
 * the returned stop() is called. While one script runs the other is already queued, so a
 * PING always shares an event-loop turn with a script and its reply waits; with a single
 * connection a PING sent right after a reply often slips into the gap, fast.
 */
export function keepBusy(host: string, port: number): () => Promise<void> {
  let busy = true;
  const loop = async (delay: number) => {
    // No retries: once the server is gone (a failed test stopped it) the loop just ends.
    const c = new Redis({ host, port, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on("error", () => undefined);
    await sleep(delay);
    while (busy) await stall(c, 300).catch(() => (busy = false));
    c.disconnect();
  };
  const loops = Promise.all([loop(0), loop(150)]);
  return () => ((busy = false), loops.then(() => undefined));
}

/**
 * Flood a server with pipelines of 500 PINGs from one connection until the returned stop()
 * is called: some 300,000 commands a second on a 2-core machine (instantaneous_ops_per_sec),
 * each one cheap, so every other client is still served promptly.
 */
export function floodWithPings(host: string, port: number): () => Promise<void> {
  let flooding = true;
  // No retries: once the server is gone (a failed test stopped it) the loop just ends.
  const c = new Redis({ host, port, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on("error", () => undefined);
  const loop = (async () => {
    while (flooding) {
      const pipeline = c.pipeline();
      for (let i = 0; i < 500; i++) pipeline.ping();
      const replies = await pipeline.exec().catch(() => null);
      if (!replies || replies.some(([err]) => err)) flooding = false;
    }
    c.disconnect();
  })();
  return () => ((flooding = false), loop);
}

/**
 * The COUNT of every SCAN MATCH `match` sent to any master, as MONITOR sees it; stop() it.
 * MONITOR is read from a plain socket: ioredis's monitor() can take the first monitored
 * line for a reply to a command (it enters monitoring mode a microtask after MONITOR's OK,
 * and both may arrive in one read on a busy server: "Command queue state error").
 */
export async function watchScanCounts(redis: RedisClient, match: string) {
  const masters = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const counts: number[] = [];
  const sockets = await Promise.all(
    masters.map((m) =>
      monitor(m.options, (args) => {
        if (args[0]?.toLowerCase() === "scan" && args[3] === match) counts.push(Number(args[5]));
      }),
    ),
  );
  return { counts, stop: () => sockets.forEach((s) => s.destroy()) };
}

interface NodeAddress {
  host?: string;
  port?: number;
  username?: string | null;
  password?: string | null;
}

/** Open a MONITOR socket; resolves once the server said OK, so nothing sent later is missed. */
function monitor(node: NodeAddress, onCommand: (args: string[]) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(node.port ?? 6379, node.host ?? "127.0.0.1");
    let pending = "";
    let ready = false;
    let oks = node.password ? 2 : 1; // AUTH's, then MONITOR's
    socket.setEncoding("latin1");
    socket.on("error", (e) => (ready ? undefined : reject(e)));
    socket.on("connect", () => {
      const auth = node.password ? [node.username ?? "default", node.password] : [];
      if (auth.length) socket.write(resp(["AUTH", ...auth]));
      socket.write(resp(["MONITOR"]));
    });
    socket.on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\r\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("-")) return reject(new Error(line.slice(1)));
        if (ready) onCommand(monitoredArgs(line));
        else if (line === "+OK" && --oks === 0) {
          ready = true;
          resolve(socket);
        }
      }
    });
  });
}

function resp(args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");
}

/** `+1700000000.1 [0 127.0.0.1:5000] "scan" "0" "MATCH" "p:*"` → ["scan", "0", "MATCH", "p:*"]. */
function monitoredArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"));
}
