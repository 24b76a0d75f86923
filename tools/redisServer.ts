/**
 * Throwaway `redis-server` processes for the tests, the demo and the benchmark: each on a
 * free port of 127.0.0.1 (never 6379) with a fresh temp dir, and never left running.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as netConnect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface RedisServerOptions {
  /** AOF on, so that kill() + start() keeps the data. Otherwise nothing is written to disk. */
  persist?: boolean;
  /** Appended last, so they override the defaults (e.g. `["--maxmemory", "10mb"]`). */
  extraArgs?: string[];
  /** A fixed port; by default a free one is picked. */
  port?: number;
  /**
   * Run as a Redis Sentinel (`redis-server <conf> --sentinel`) with this config file, written
   * to `sentinel.conf` in the server's dir (Sentinel rewrites it as it learns the topology).
   */
  sentinelConfig?: string;
}

export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly dir: string;
  /** pid of the current process: it changes after start(). */
  readonly pid: number;
  /** SIGTERM, wait for the exit, remove the dir. Safe to call twice or after kill(). */
  stop(): Promise<void>;
  /** Stop the process (SIGKILL by default: a crash) and keep the dir, for restart tests. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same port and dir; resolves once it answers PING (AOF loaded). */
  start(): Promise<void>;
}

export const HOST = "127.0.0.1";
const NOT_FOUND =
  "redis-server not found: install it with `apt-get install redis-server` (Debian) — tests never skip";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

// What the exit hook must clean up if a caller crashed or forgot stop().
const liveChildren = new Set<ChildProcess>();
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

// Synchronous (kill, rmSync): it runs inside 'exit', where nothing can be awaited.
function killAllSync(): void {
  for (const child of liveChildren) child.kill("SIGKILL");
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Prepended: vitest's own 'exit' listener calls process.exit() again, which skips every
  // listener after it (a SIGTERM to vitest used to leak all servers).
  process.prependListener("exit", killAllSync);
  // A signal nobody handles ends the process without 'exit': clean up, then die of it as
  // if we had not listened; if someone else handles it, they decide.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.prependOnceListener(signal, () => {
      killAllSync();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** A port nobody listens on now (bind port 0, then release it); never 6379. */
export async function findFreePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.unref();
      probe.once("error", reject);
      probe.listen(0, HOST, () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    if (port !== 6379) return port;
  }
}

/** Start a redis-server and wait until it answers PING. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), "jobs-migrate-redis-"));
  ownedDirs.add(dir);
  const removeDir = async () => {
    await rm(dir, { recursive: true, force: true });
    ownedDirs.delete(dir);
  };
  // The readiness probe goes through this socket of our own: a PONG on the TCP port could
  // come from another server that won the port (this one then exits: Address already in use).
  const socket = join(dir, "redis.sock");
  const sentinelArgs: string[] = [];
  if (opts.sentinelConfig !== undefined) {
    const conf = join(dir, "sentinel.conf");
    await writeFile(conf, opts.sentinelConfig);
    sentinelArgs.push(conf, "--sentinel");
  }
  const argsFor = (port: number) => [
    ...sentinelArgs,
    ...["--port", String(port), "--bind", HOST, "--dir", dir, "--daemonize", "no"],
    ...["--unixsocket", socket, "--unixsocketperm", "700"],
    ...["--save", "", "--appendonly", opts.persist ? "yes" : "no", "--loglevel", "warning"],
    ...(opts.extraArgs ?? []),
  ];

  let port = opts.port ?? (await findFreePort());
  let child: ChildProcess;
  for (let attempt = 1; ; attempt++) {
    try {
      child = await launch(argsFor(port), port, socket);
      break;
    } catch (err) {
      // Another process may grab the port between findFreePort and bind: pick another.
      const clash = String(err).includes("Address already in use");
      if (!clash || opts.port !== undefined || attempt >= 3) {
        await removeDir();
        throw err;
      }
      port = await findFreePort();
    }
  }

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    get pid() {
      return child.pid ?? -1;
    },
    async stop() {
      await terminate(child, "SIGTERM");
      await removeDir();
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      await terminate(child, signal);
    },
    async start() {
      if (isRunning(child)) throw new Error(`redis-server on port ${port} is already running`);
      child = await launch(argsFor(port), port, socket);
    },
  };
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Spawn and wait for PONG on its unix socket, which the server creates only once it holds
 * its TCP port; on any failure the process is gone before this rejects.
 */
async function launch(args: string[], port: number, socket: string): Promise<ChildProcess> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let failure: Error | undefined;
  // The pipes must be drained or a chatty server would block on a full pipe.
  const keepTail = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on("data", keepTail);
  child.stderr?.on("data", keepTail);
  child.once("error", (err: NodeJS.ErrnoException) => {
    failure = err.code === "ENOENT" ? new Error(NOT_FOUND) : err;
  });
  child.once("exit", (code, signal) => {
    liveChildren.delete(child);
    failure ??= new Error(`redis-server on port ${port} exited (${signal ?? code}):\n${output}`);
  });
  if (child.pid !== undefined) liveChildren.add(child);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await answersPing(socket))) {
    if (failure === undefined && Date.now() > deadline) {
      failure = new Error(`redis-server on port ${port} did not answer PING:\n${output}`);
    }
    if (failure !== undefined) {
      await terminate(child, "SIGKILL");
      throw failure;
    }
    await sleep(25);
  }
  return child;
}

/**
 * true for +PONG, or -NOAUTH from a server with requirepass (it is up and answering);
 * a server still loading its AOF answers -LOADING, which is not ready.
 */
function answersPing(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ path });
    let reply = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG") || reply.startsWith("-NOAUTH"));
    });
  });
}

/** Signal the process and wait for its exit, escalating to SIGKILL if it hangs. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const escalate = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(escalate);
}
