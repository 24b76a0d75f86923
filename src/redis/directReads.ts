import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { Redis } from "ioredis";
import { encodeCommands, errorText, isErrorReply, replyEnd } from "./resp.js";

export type Command = readonly (string | Buffer)[];

interface Waiter {
  count: number;
  replies: Buffer[];
  resolve: (replies: Buffer[]) => void;
  reject: (err: Error) => void;
}

/** The name a direct connection gives itself (CLIENT LIST shows it). */
export const DIRECT_CLIENT_NAME = "jobs-migrate:direct-reads";

/**
 * A second connection to the server an ioredis client talks to, for read-only commands
 * sent pipelined and answered as raw RESP bytes (see resp.ts): no command object, promise
 * or decoded string per reply. ioredis parses ~30k HGETALL pairs a second per core; read
 * raw and compared as bytes, the same pairs cost the client a third of that.
 *
 * What the application feels: every command sent here is short (a caller bounds HGETALL
 * by HLEN first) and Redis reads a client's pipeline 16 KB at a time, serving its other
 * clients between reads, so a deep pipeline of short commands never holds the server the
 * way one long script does.
 *
 * It fails like the client it follows: a closed socket rejects every reply still owed with
 * "Connection closed …" (a topology error to the run, which rides it through).
 */
export class DirectConnection {
  private rest: Buffer | undefined;
  private readonly waiting: Waiter[] = [];
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    /** host:port, for messages. */
    readonly address: string,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) =>
      this.fail(new Error(`Connection closed to ${address}: ${err.message}`)),
    );
    socket.on("close", () => this.fail(new Error(`Connection closed to ${address}`)));
  }

  /** Opens a connection to `host:port` with the client's TLS, user, password and database. */
  static async open(
    host: string,
    port: number,
    o: {
      tls?: ConnectionOptions | undefined;
      username?: string | undefined;
      password?: string | undefined;
      db?: number | undefined;
      servername?: string | undefined;
    },
  ): Promise<DirectConnection> {
    const address = `${host}:${port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = o.tls
        ? tlsConnect(
            { ...o.tls, host, port, ...(o.servername ? { servername: o.servername } : {}) },
            () => resolve(s),
          )
        : netConnect({ host, port }, () => resolve(s));
      s.once("error", reject);
      s.setTimeout(5000, () => s.destroy(new Error("no answer within 5 s")));
    }).catch((err: unknown) => {
      throw new Error(
        `Connection closed to ${address}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    socket.setTimeout(0);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.unref(); // never what keeps the process alive
    const conn = new DirectConnection(socket, address);
    const hello: Command[] = [];
    if (o.password)
      hello.push(o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password]);
    if (o.db) hello.push(["SELECT", String(o.db)]);
    hello.push(["CLIENT", "SETNAME", DIRECT_CLIENT_NAME]);
    try {
      const replies = await conn.send(hello);
      // The name only helps CLIENT LIST readers: an ACL that refuses it refuses nothing else.
      for (const reply of replies.slice(0, -1)) {
        // The password never reaches a message: only the server's error text does.
        if (isErrorReply(reply))
          throw new Error(`${address} refused a direct connection: ${errorText(reply)}`);
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  /** Sends the commands in one write; resolves with their replies, in order, as raw RESP. */
  send(commands: readonly Command[]): Promise<Buffer[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (commands.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ count: commands.length, replies: [], resolve, reject });
      this.socket.write(encodeCommands(commands));
    });
  }

  close(): void {
    this.fail(new Error(`Connection closed to ${this.address} (closed by jobs-migrate)`));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  private onData(chunk: Buffer): void {
    const b = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    try {
      while (this.waiting.length > 0) {
        const end = replyEnd(b, at);
        if (end < 0) break;
        const w = this.waiting[0]!;
        w.replies.push(b.subarray(at, end));
        at = end;
        if (w.replies.length === w.count) {
          this.waiting.shift();
          w.resolve(w.replies);
        }
      }
    } catch (err) {
      return this.fail(
        new Error(`Connection closed to ${this.address}: ${(err as Error).message}`),
      );
    }
    this.rest = at < b.length ? b.subarray(at) : undefined;
  }
}

const opened = new WeakMap<Redis, Promise<DirectConnection>>();

/**
 * The direct connection beside `client`, to the server the client is connected to now: if
 * the client reconnected elsewhere (a failover behind Sentinel), the old one is closed and
 * a new one opened. Closed when the client ends.
 */
export async function directFor(client: Redis): Promise<DirectConnection> {
  if (client.status !== "ready") throw new Error(`Connection is closed (status ${client.status})`);
  const stream = client.stream as Socket | undefined;
  const host = stream?.remoteAddress ?? client.options.host ?? "127.0.0.1";
  const port = stream?.remotePort ?? client.options.port ?? 6379;
  const existing = opened.get(client);
  if (existing) {
    const conn = await existing.catch(() => undefined);
    if (conn?.alive && conn.address === `${host}:${port}`) return conn;
    conn?.close();
  }
  const o = client.options;
  const name = o.host && !isIP(o.host) ? o.host : undefined;
  const next = DirectConnection.open(host, port, {
    tls: o.tls,
    username: o.username,
    password: o.password,
    db: o.db,
    servername: o.tls?.servername ?? name,
  });
  opened.set(client, next);
  next.then(
    (conn) => client.once("end", () => conn.close()),
    () => opened.delete(client),
  );
  return next;
}
