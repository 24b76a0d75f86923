import type { Redis } from "ioredis";
import { UsageError } from "../../../errors.js";

/**
 * Keyspace notifications follow needs: K (`__keyspace@<db>__:<key>` channels), h (hash
 * commands: the app's HSET) and g (generic: DEL, EXPIRE, RENAME …).
 */
export const NEEDED_FLAGS = "Khg";
const SETTING = "notify-keyspace-events";
/** What the alias A stands for (CONFIG GET reports A when all of them are on). */
const ALIAS_A = "g$lshzxetd";

/** The flags of NEEDED_FLAGS that `current` lacks ("" when it has them all). */
export function missingFlags(current: string): string {
  const has = (f: string) => current.includes(f) || (ALIAS_A.includes(f) && current.includes("A"));
  return [...NEEDED_FLAGS].filter((f) => !has(f)).join("");
}

const ASK = `ask for ${SETTING} to include "${NEEDED_FLAGS}" (e.g. CONFIG SET ${SETTING} ${NEEDED_FLAGS})`;

interface Changed {
  client: Redis;
  original: string;
  applied: string;
}

/**
 * The notify-keyspace-events setting of every node follow listens to. Changed only with
 * `enable` (--enable-notifications), said on the log, and put back by restore() unless
 * someone else changed it meanwhile.
 */
export class NotifySettings {
  private readonly changed = new Map<string, Changed>();

  constructor(
    private readonly enable: boolean,
    private readonly log: (level: "info" | "warn", message: string) => void,
  ) {}

  /**
   * Make sure the node emits the events follow needs: true when they were already on,
   * false when this call just turned them on (events before it were missed). Throws a
   * UsageError (exit 2) naming the setting when they are off and may not or cannot be set.
   */
  async ensure(client: Redis, address: string): Promise<boolean> {
    const current = await this.read(client, address);
    const missing = missingFlags(current);
    if (missing === "") return true;
    if (!this.enable)
      throw new UsageError(
        `keyspace notifications are off on ${address} (${SETTING} is "${current}", lacking "${missing}"): pass --enable-notifications (it changes the server's config, restored on exit) or ${ASK}`,
      );
    const wanted = current + missing;
    try {
      await client.call("CONFIG", "SET", SETTING, wanted);
    } catch (err) {
      if (!REFUSED.test(reason(err))) throw err;
      throw new UsageError(
        `cannot enable keyspace notifications on ${address}: CONFIG SET refused (${reason(err)}); ${ASK}, or grant this user +config|set`,
      );
    }
    const applied = await this.read(client, address);
    const before = this.changed.get(address);
    this.changed.set(address, { client, original: before?.original ?? current, applied });
    this.log(
      "info",
      `enabled keyspace notifications on ${address}: ${SETTING} "${current}" -> "${applied}" (restored on exit)`,
    );
    return false;
  }

  /** Put back every setting this process changed; one warning per node it could not. */
  async restore(): Promise<void> {
    for (const [address, c] of this.changed) {
      // A Cluster client drops its connections to nodes whose role changed: a fresh one.
      const client = c.client.status === "ready" ? c.client : c.client.duplicate();
      if (client !== c.client) client.on("error", () => undefined); // a dead node: said below
      try {
        const now = await this.read(client, address);
        if (now !== c.applied) {
          this.log(
            "warn",
            `${SETTING} on ${address} was changed by someone else meanwhile ("${now}"): left as it is`,
          );
          continue;
        }
        await client.call("CONFIG", "SET", SETTING, c.original);
        this.log("info", `restored ${SETTING} on ${address} to "${c.original}"`);
      } catch (err) {
        this.log(
          "warn",
          `could not restore ${SETTING} on ${address} to "${c.original}" (${reason(err)}): set it by hand`,
        );
      } finally {
        if (client !== c.client) client.disconnect();
      }
    }
    this.changed.clear();
  }

  private async read(client: Redis, address: string): Promise<string> {
    try {
      const reply = (await client.call("CONFIG", "GET", SETTING)) as string[];
      return String(reply[1] ?? "");
    } catch (err) {
      if (!REFUSED.test(reason(err))) throw err;
      throw new UsageError(
        `cannot read ${SETTING} on ${address} (${reason(err)}): grant this user +config|get, or run follow as a user that has it`,
      );
    }
  }
}

/** A refusal (ACL, a renamed or disabled CONFIG), not a server that is down or moving. */
const REFUSED = /^(NOPERM|ERR )|unknown command|unknown subcommand/;

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 160);
}
