import { Redis } from "ioredis";
import type { LatencyProbe } from "./latencyProbe.js";

export interface Endpoint {
  host: string;
  port: number;
}

/**
 * A benchmark target: one plain connection per master plus slot routing, so every method
 * (and the seeder) can pipeline per node without relying on a cluster client's batching.
 */
export interface Target {
  kind: "single" | "cluster";
  url: string;
  masters: Endpoint[];
  conns: Redis[];
  /** Connection of the master that owns `key` (always conns[0] on a single instance). */
  nodeFor(key: string): Redis;
  /** Index into masters/conns of the owner of `key`. */
  indexFor(key: string): number;
  close(): Promise<void>;
  /** --latency: the app-like probe every measured method runs beside (latencyProbe.ts). */
  latency?: LatencyProbe;
}

// CRC16/XMODEM, the hash Redis Cluster uses for key slots.
const CRC_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  CRC_TABLE[i] = c;
}

export function keySlot(key: string): number {
  let s = key;
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) s = key.slice(open + 1, close);
  }
  const bytes = Buffer.from(s);
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc & 0x3fff;
}

function connect(ep: Endpoint): Redis {
  return new Redis({ host: ep.host, port: ep.port, maxRetriesPerRequest: 1, lazyConnect: false });
}

export function singleTarget(url: string, ep: Endpoint): Target {
  const conn = connect(ep);
  return {
    kind: "single",
    url,
    masters: [ep],
    conns: [conn],
    nodeFor: () => conn,
    indexFor: () => 0,
    close: async () => void (await conn.quit().catch(() => conn.disconnect())),
  };
}

type SlotsReply = [number, number, [string, number, ...unknown[]], ...unknown[]][];

export async function clusterTarget(url: string, seed: Endpoint): Promise<Target> {
  const probe = connect(seed);
  const slots = (await probe.call("CLUSTER", "SLOTS")) as SlotsReply;
  probe.disconnect();
  const masters: Endpoint[] = [];
  const owner = new Uint8Array(16384);
  for (const [start, end, [host, port]] of slots) {
    let idx = masters.findIndex((m) => m.port === port && m.host === host);
    if (idx < 0) idx = masters.push({ host, port }) - 1;
    owner.fill(idx, start, end + 1);
  }
  const conns = masters.map(connect);
  const indexFor = (key: string) => owner[keySlot(key)]!;
  return {
    kind: "cluster",
    url,
    masters,
    conns,
    nodeFor: (key) => conns[indexFor(key)]!,
    indexFor,
    close: async () => {
      await Promise.all(conns.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
