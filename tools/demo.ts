/**
 * The demo behind `npm run demo`: a throw-away redis-server, seeded with jobs as the
 * application writes them, and the real CLI run against it through the whole migration
 * (backfill, verify, flag, cleanup, restore), output and all.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { startRedisServer } from "./redisProcess.js";

// tools/demo.ts runs from dist/tools/ (npm run demo) or from tools/ (the test).
const ROOT = fileURLToPath(
  new URL(import.meta.url.includes("/dist/") ? "../.." : "..", import.meta.url),
);
const BIN = join(ROOT, "bin", "jobs-migrate.js");
const JOBS = 20_000;

async function seed(redis: Redis, jobs: number): Promise<void> {
  const pipe = redis.pipeline();
  for (let i = 0; i < jobs; i++) {
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
    if (i < 500) {
      pipe.hset(`ai:job:${ws}:${job.job_id}`, job);
      if (i % 10 === 0) pipe.expire(`ai:job:${ws}:${job.job_id}`, 86_400);
    }
  }
  // Data the tool must report and leave alone.
  pipe.hset("ai:jobs:legacy-1", { job_id: "legacy-1", status: "completed" });
  pipe.hset("ai:jobs:bad-ws", { job_id: "bad-ws", workspace_id: "Team A" });
  pipe.set("ai:jobs:stray-string", "oops");
  pipe.rpush("ai:queue:pending", "job-1", "job-2");
  await pipe.exec();
}

/** One CLI run of the demo: its arguments, its exit status, and what it printed. */
export interface DemoStep {
  args: string[];
  status: number;
  stdout: string;
}

export interface DemoOptions {
  /** Print everything (npm run demo), or keep quiet and only return the steps (the test). */
  print?: boolean;
  /** The CLI that `node` runs: bin/jobs-migrate.js by default, or the single-file build. */
  bin?: string;
  /** Jobs to seed (20,000 by default; at least 500, the dual-written ones). */
  jobs?: number;
}

export async function runDemo(opts: DemoOptions = { print: true }): Promise<DemoStep[]> {
  const say = (text: string) => {
    if (opts.print !== false) console.log(text);
  };
  // The CLI reads .env from its working directory: run it in an empty one, so that a .env
  // in this checkout cannot change what the demo shows. The archive is written there too.
  const cwd = mkdtempSync(join(tmpdir(), "jobs-migrate-demo-"));
  const steps: DemoStep[] = [];
  const cli = (args: string[], env: Record<string, string> = {}): number => {
    const shown = Object.entries(env).map(([k, v]) => `${k}=${v} `);
    say(`\n$ ${shown.join("")}jobs-migrate ${args.join(" ")}`);
    const base = { ...process.env };
    delete base.AI_JOBS_NEW_SCHEMA; // the demo says when the flag is on
    const r = spawnSync(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd,
      env: { ...base, ...env },
      encoding: "utf8",
      // Progress and errors (stderr) as they happen; the result (stdout) kept for the test.
      stdio: ["ignore", "pipe", opts.print === false ? "pipe" : "inherit"],
    });
    if (opts.print !== false) process.stdout.write(r.stdout);
    const status = r.status ?? 1;
    steps.push({ args, status, stdout: r.stdout });
    return status;
  };
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  try {
    say(`demo: started a throw-away redis-server at ${server.url}`);
    const jobs = opts.jobs ?? JOBS;
    await seed(redis, jobs);
    say(
      `demo: seeded ${jobs} jobs under ai:jobs:* (500 already dual-written), 3 malformed keys, 1 queue`,
    );
    const url = ["--redis-url", server.url];

    let s = cli(["backfill", ...url, "--batch-size", "1000"]);
    say(`(exit status ${s}: 1 because 3 old keys cannot be migrated, as listed above)`);
    const ttls = [await redis.ttl("ai:jobs:job-1000"), await redis.ttl("ai:job:ws-4:job-1000")];
    say(
      `\ndemo: TTL kept by the copy: ai:jobs:job-1000 ${ttls[0]}s → ai:job:ws-4:job-1000 ${ttls[1]}s`,
    );

    // What the code review of the dual-write warns about: update_status writes the old key
    // and, when the new one is not found in time, silently skips it.
    await redis.hset(
      "ai:jobs:job-5",
      "status",
      "completed",
      "result",
      '{"ok":true,"token":"xoxb-demo-secret"}',
    );
    say("\ndemo: the application updated ai:jobs:job-5 and missed its new key (a dual-write bug)");
    s = cli(["verify", ...url]);
    say(`(exit status ${s}: 1, a confirmed divergence; secrets in values are redacted)`);
    s = cli(["verify", ...url, "--repair"]);
    say(`(exit status ${s}: the divergent pair is copied again from the old key)`);
    s = cli(["verify", ...url]);
    say(`(exit status ${s}: no divergence left; 1 only for the 3 unmigratable keys)`);
    s = cli([
      "accept",
      ...url,
      "--from-last",
      "verify",
      "--reason",
      "3 legacy jobs without a workspace: they stay old-only",
    ]);
    say(`(exit status ${s}: those exact 3 keys are accepted, with who, when, why and a digest)`);
    s = cli(["verify", ...url]);
    say(`(exit status ${s}: clean; the accepted keys are still listed, marked accepted)`);

    s = cli(["flag", ...url]);
    say(
      `(exit status ${s}: the flag is off, so reads still use the old keys; the next step is safe)`,
    );
    s = cli(["cleanup", ...url]);
    say(`(exit status ${s}: a dry run, nothing deleted; it lists what it keeps)`);
    s = cli(["cleanup", ...url, "--execute"]);
    say(`(exit status ${s}: refused: the flag is not on, so reads may still use the old keys)`);
    const on = { AI_JOBS_NEW_SCHEMA: "on" };
    s = cli(["cleanup", ...url, "--execute", "--archive", "archive.jsonl"], on);
    say(
      `(exit status ${s}: old keys deleted, each first written to archive.jsonl; the 3 accepted kept)`,
    );
    s = cli(["flag", ...url, "--count", "--require", "done"], on);
    say(`(exit status ${s}: done: only the 3 accepted old keys are left; the gate agrees)`);

    s = cli(["restore", ...url, "--from", "archive.jsonl"]);
    say(`(exit status ${s}: a rollback: every deleted old key is back, with its TTL)`);
    return steps;
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(cwd, { recursive: true, force: true });
    say("\ndemo: stopped the throw-away redis-server");
  }
}
