import type { Redis } from "ioredis";

interface StashedCommand {
  command: { reject(err: Error): void };
}

interface Stash {
  length: number;
  shift(): StashedCommand | undefined;
}

/**
 * Settle the commands a connection had in flight when it dropped, once its client gives up
 * reconnecting, on this client and on every duplicate() of it.
 *
 * Why: ioredis 5 keeps such commands aside (`prevCommandQueue`) to send them again when the
 * client is ready again, and nothing settles them if it never is (redis/ioredis#2197): a
 * Redis killed between the tool's connect and a reply left the command pending forever, the
 * event loop ran dry, and Node ended the process with status 13 and not a word. Rejected
 * with ioredis' own "Connection is closed.", they fail like the rest of its queue (exit 3).
 * A client that reconnects in time is untouched: it sends them again, as before.
 */
export function settleStashedOnEnd<C extends Redis>(client: C): C {
  client.on("end", () => {
    const stash = (client as unknown as { prevCommandQueue?: Stash | null }).prevCommandQueue;
    if (!stash) return;
    for (let item = stash.shift(); item; item = stash.shift())
      item.command.reject(new Error("Connection is closed."));
  });
  const duplicate = client.duplicate.bind(client);
  client.duplicate = (override) => settleStashedOnEnd(duplicate(override));
  return client;
}
