/**
 * A TCP relay in front of a redis-server that lets the connection hand-shake through
 * (AUTH, HELLO, SELECT, INFO, CLIENT …) and, on the first command that is none of these,
 * holds that command back, runs `trip` (say, kill the server), then passes it on. A tool
 * that connected fine thus meets a Redis that stopped between its connect and its first
 * real command, at exactly that instant, however fast the tool is.
 */
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/** Commands a client sends while it connects (ioredis: AUTH, INFO ready check, SELECT). */
const HANDSHAKE = new Set(["auth", "hello", "select", "info", "client", "ping", "readonly"]);

export interface Tripwire {
  port: number;
  /** The name of the command that tripped it (lowercase), once it has. */
  readonly trippedBy: string | undefined;
  close(): Promise<void>;
}

/** RESP command names in a chunk of a client's stream (`*N\r\n$len\r\nNAME\r\n`). */
function commandNames(chunk: Buffer): string[] {
  const text = chunk.toString("latin1");
  return [...text.matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)].map((m) => m[1]!.toLowerCase());
}

export async function startTripwire(
  upstreamPort: number,
  trip: () => Promise<void>,
  upstreamHost = "127.0.0.1",
): Promise<Tripwire> {
  let trippedBy: string | undefined;
  let tripping: Promise<void> | undefined;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(upstreamPort, upstreamHost);
    sockets.add(down).add(up);
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
    up.on("data", (chunk: Buffer) => down.write(chunk));
    // Chunks wait in order behind a trip in progress.
    let chain = Promise.resolve();
    down.on("data", (chunk: Buffer) => {
      chain = chain.then(async () => {
        const first = commandNames(chunk).find((name) => !HANDSHAKE.has(name));
        if (first !== undefined && trippedBy === undefined) {
          trippedBy = first;
          tripping = trip();
        }
        if (tripping) await tripping;
        if (!up.destroyed) up.write(chunk);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get trippedBy() {
      return trippedBy;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
