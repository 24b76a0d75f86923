/**
 * The demo behind `npm run demo`: a throw-away redis-server, seeded with jobs as the
 * application writes them, and the real CLI run against it, output and all.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { startRedisServer } from "./redisProcess.js";

const BIN = fileURLToPath(new URL("../../bin/jobs-migrate.js", import.meta.url));
const JOBS = 20_000;

async function seed(redis: Redis): Promise<void> {
  const pipe = redis.pipeline();
  for (let i = 0; i < JOBS; i++) {
    const ws = `ws-${i % 12}`;
    const job = {
      job_id: `job-${i}`,
      status: i % 3 === 0 ? "completed" : "pending",
      action_provider: "slack",
      action_name: "chat.post",
      params: JSON.stringify({
        channel: `#c${i % 40}`,
        text: `hello ${i}`,
        token: "xoxb-demo-secret",
      }),
      workspace_id: ws,
      actor_id: `user-${i % 97}`,
      result: i % 3 === 0 ? '{"ok":true}' : "",
      enqueued_at: new Date(Date.now() - i * 1000).toISOString(),
    };
    pipe.hset(`ai:jobs:${job.job_id}`, job);
    if (i % 10 === 0) pipe.expire(`ai:jobs:${job.job_id}`, 86_400);
    // The application's dual-write (flag on) already wrote the newest jobs twice.
    if (i < 500) pipe.hset(`ai:job:${ws}:${job.job_id}`, job);
  }
  // Data the tool must report and leave alone.
  pipe.hset("ai:jobs:legacy-1", { job_id: "legacy-1", status: "completed" });
  pipe.hset("ai:jobs:bad-ws", { job_id: "bad-ws", workspace_id: "Team A" });
  pipe.set("ai:jobs:stray-string", "oops");
  pipe.rpush("ai:queue:pending", "job-1", "job-2");
  await pipe.exec();
}

function cli(args: string[]): number {
  console.log(`\n$ jobs-migrate ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: "inherit" });
  return r.status ?? 1;
}

export async function runDemo(): Promise<number> {
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  try {
    console.log(`demo: started a throw-away redis-server at ${server.url}`);
    await seed(redis);
    console.log(
      `demo: seeded ${JOBS} jobs under ai:jobs:* (500 already dual-written), 3 malformed keys, 1 queue`,
    );
    const url = ["--redis-url", server.url];
    const first = cli(["backfill", ...url, "--batch-size", "1000"]);
    console.log(`(exit status ${first}: 1 because 3 old keys cannot be migrated, as listed above)`);
    const [oldHash, newHash] = await Promise.all([
      redis.hgetall("ai:jobs:job-7"),
      redis.hgetall("ai:job:ws-7:job-7"),
    ]);
    console.log("\ndemo: one pair after the backfill:");
    console.log(`  ai:jobs:job-7     ${JSON.stringify(oldHash).slice(0, 110)}…`);
    console.log(`  ai:job:ws-7:job-7 ${JSON.stringify(newHash).slice(0, 110)}…`);
    const ttls = [await redis.ttl("ai:jobs:job-1000"), await redis.ttl("ai:job:ws-4:job-1000")];
    console.log(
      `  TTL kept by the copy: ai:jobs:job-1000 ${ttls[0]}s → ai:job:ws-4:job-1000 ${ttls[1]}s`,
    );
    const second = cli(["backfill", ...url, "--json"]);
    console.log(
      `(exit status ${second}: a second run copies nothing; everything is already present)`,
    );
    return 0;
  } finally {
    redis.disconnect();
    await server.stop();
    console.log("\ndemo: stopped the throw-away redis-server");
  }
}
