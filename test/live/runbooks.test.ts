/**
 * No runbook step can rot: every ```sh block of runbooks/*.md is run, command by command
 * and in document order, through `bash -c` with a `jobs-migrate` shim on PATH, REDIS_URL
 * set and a scratch working directory, against a redis-server (and a 3-master Cluster)
 * this file starts itself, seeded so that each runbook's steps make sense. Each command
 * must exit as its runbook says: 0, or N when its line ends with `# expect: exit N`.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { startRedisCluster, startRedisServer } from "../../tools/redisProcess.js";
import { AppQueue, seedOldJobs } from "../support/appTraffic.js";
import { BIN, runCli } from "../support/cli.js";

const DIR = resolve(import.meta.dirname, "../../runbooks");
/** The Redis key the runbooks keep the flag under. */
const FLAG_KEY = "config:AI_JOBS_NEW_SCHEMA";
/** Only ```sh blocks are commands; crontab lines, units, rules and outputs use the others. */
const LANGS = ["sh", "cron", "ini", "yaml", "json", "text"];
const INVOCATION = /(?<=^|[\s/])jobs-migrate (?:backfill|verify|cleanup|restore|flag)\b[^|;&]*/;

interface Step {
  line: number;
  section: string;
  command: string;
  exit: number;
}

interface Runbook {
  steps: Step[];
  sections: string[];
  /** Lines of ```yaml blocks (alert rules). */
  yaml: string[];
  /** `jobs-migrate …` invocations inside ```cron and ```ini blocks (not run, but checked). */
  scheduled: string[];
}

/** Every command of every ```sh block (joined over trailing `\`), with its expected exit. */
function parseRunbook(file: string, text: string): Runbook {
  const rb: Runbook = { steps: [], sections: [], yaml: [], scheduled: [] };
  let [section, lang, pending, start] = ["", undefined as string | undefined, "", 0];
  text.split("\n").forEach((raw, i) => {
    const fence = /^\s*```(.*)$/.exec(raw);
    if (lang === undefined) {
      if (fence && !LANGS.includes(fence[1]!.trim()))
        throw new Error(`${file}:${i + 1}: a code block must say one of ${LANGS.join(", ")}`);
      if (fence) lang = fence[1]!.trim();
      else if (raw.startsWith("## ")) rb.sections.push((section = raw.slice(3).trim()));
      return;
    }
    if (fence) return void (lang = undefined);
    if (lang === "yaml") rb.yaml.push(raw);
    if (lang === "cron" || lang === "ini") rb.scheduled.push(...(INVOCATION.exec(raw) ?? []));
    const line = raw.trim();
    if (lang !== "sh" || (!pending && (line === "" || line.startsWith("#")))) return;
    if (!pending) start = i + 1;
    pending += `${line}\n`;
    if (line.endsWith("\\")) return;
    const exit = Number(/#\s*expect:\s*exit\s+(\d+)/.exec(line)?.[1] ?? 0);
    rb.steps.push({ line: start, section, command: pending.trim(), exit });
    pending = "";
  });
  if (lang !== undefined) throw new Error(`${file}: a code block is not closed`);
  return rb;
}

const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".md"))
  .sort();
const RUNBOOKS = new Map(
  FILES.map((f) => [f, parseRunbook(f, readFileSync(join(DIR, f), "utf8"))]),
);

// `jobs-migrate` on PATH, as an SRE has it after `npm install -g`.
const SHIM_DIR = mkdtempSync(join(tmpdir(), "jm-shim-"));
writeFileSync(
  join(SHIM_DIR, "jobs-migrate"),
  `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`,
);
chmodSync(join(SHIM_DIR, "jobs-migrate"), 0o755);
afterAll(() => rmSync(SHIM_DIR, { recursive: true, force: true }));

function sh(command: string, cwd: string, url: string) {
  const env = { PATH: `${SHIM_DIR}:${process.env.PATH}`, HOME: cwd, LANG: "C", REDIS_URL: url };
  const child = spawn("bash", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise<{ code: number | null; out: string }>((done) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, out });
    }),
  );
}

/** A runbook's Redis and working directory, and the application that writes to them. */
interface World {
  redis: Redis | Cluster;
  url: string;
  cwd: string;
  app: AppQueue;
}

const tool = async (w: World, ...args: string[]) => {
  const r = await runCli(args, { env: { REDIS_URL: w.url } });
  if (r.code !== 0)
    throw new Error(`set-up: jobs-migrate ${args.join(" ")}: ${r.code} ${r.stderr}`);
};
const job = (job_id: string, workspace_id: string) => ({
  ...{ job_id, workspace_id, action_provider: "slack", action_name: "chat.post" },
  ...{ params: '{"text":"hi"}', actor_id: "user-1" },
});

// The states the runbooks start from, each built by the tool itself from fresh data.
async function dualWriting(w: World): Promise<void> {
  await seedOldJobs(w.redis, { oldPrefix: "ai:jobs:", count: 120, workspaces: 4 });
  for (let n = 0; n < 8; n++) await w.app.enqueue(job(`live-${n}`, `ws-${n % 4}`));
}
async function backfilled(w: World): Promise<void> {
  await dualWriting(w);
  await tool(w, "backfill");
}
async function verified(w: World): Promise<void> {
  await backfilled(w);
  await tool(w, "verify", "--recheck-delay", "10");
}
async function readFlipped(w: World): Promise<void> {
  await verified(w);
  await w.redis.set(FLAG_KEY, "on");
  for (const n of [1, 2, 3]) await w.app.updateStatus(`job-${n}`, `ws-${n}`, "completed", "{}");
}
async function cleanedUp(w: World): Promise<void> {
  await readFlipped(w);
  const archive = join(w.cwd, "cleanup-archive-20251017T031500Z.jsonl");
  await tool(w, "cleanup", "--execute", "--flag-key", FLAG_KEY, "--archive", archive);
}
/** update_status with old-schema writes still on: partial old hashes where cleanup deleted. */
async function oldWritesOn(w: World): Promise<void> {
  for (const n of [4, 5, 6]) await w.app.updateStatus(`job-${n}`, `ws-${n % 4}`, "failed", "{}");
}

type Setup = (w: World) => Promise<void>;
/**
 * Per runbook and section ("" = the top): `start` builds the data its steps expect on a
 * fresh server (the runbook runs from there as a test of its own), `then` changes what the
 * steps before it left (e.g. the application misbehaving).
 */
const SCENARIOS: Record<string, Record<string, { start: Setup } | { then: Setup }>> = {
  "backfill.md": { "": { start: dualWriting } },
  "canary.md": { "": { start: backfilled } },
  "nightly.md": { "": { start: backfilled } },
  "read-flip.md": { "": { start: verified } },
  "cleanup.md": {
    "": { start: readFlipped },
    'When cleanup stops: "old-schema writes are still on"': { then: oldWritesOn },
  },
  "rollback.md": {
    "": { start: verified },
    "After the read flip, before cleanup": { start: readFlipped },
    "During or after cleanup": {
      async start(w) {
        await cleanedUp(w);
        await oldWritesOn(w);
        // Enqueued after old writes stopped: a new key only.
        for (const n of [1, 2]) await w.app.enqueue(job(`late-${n}`, "ws-1"));
        for (const n of [1, 2]) await w.redis.del(`ai:jobs:late-${n}`);
      },
    },
    "Restore from a cleanup archive": {
      async start(w) {
        await cleanedUp(w); // then the new keys of five jobs are lost
        for (const n of [0, 1, 2, 3, 4]) await w.redis.del(`ai:job:ws-${n % 4}:job-${n}`);
      },
    },
  },
};

/** A runbook cut where a section starts afresh: each part runs on its own server. */
function partsOf(file: string): { section: string; start: Setup; steps: Step[] }[] {
  const scenario = SCENARIOS[file] ?? {};
  const parts: { section: string; start: Setup; steps: Step[] }[] = [];
  for (const step of RUNBOOKS.get(file)!.steps) {
    const own = scenario[step.section];
    const starts = own && "start" in own && parts.at(-1)?.section !== step.section;
    if (parts.length === 0 || starts) {
      const first = scenario[parts.length ? step.section : ""];
      const start = first && "start" in first ? first.start : async () => undefined;
      parts.push({ section: parts.length ? step.section : "", start, steps: [] });
    }
    parts.at(-1)!.steps.push(step);
  }
  return parts;
}

it("every runbook has a scenario, and every scenario's section is in its runbook", () => {
  expect(Object.keys(SCENARIOS).sort()).toEqual(FILES);
  for (const [file, scenario] of Object.entries(SCENARIOS)) {
    expect(Object.keys(scenario)[0], file).toBe("");
    for (const section of Object.keys(scenario).filter(Boolean))
      expect(RUNBOOKS.get(file)!.sections, file).toContain(section);
  }
  for (const rb of RUNBOOKS.values()) expect(rb.steps.length).toBeGreaterThan(0);
});

it("the jobs-migrate lines of crontab entries and systemd units use only options the tool has", async () => {
  const lines = [...RUNBOOKS.values()].flatMap((rb) => rb.scheduled);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    const sub = line.split(" ")[1]!;
    const help = (await runCli([sub, "--help"])).stdout;
    for (const option of line.match(/ --[a-z-]+/g) ?? []) expect(help, line).toContain(option);
  }
});

// Longest first: the parts run concurrently, each on its own server.
const PARTS = FILES.flatMap((file) => partsOf(file).map((part) => ({ file, ...part }))).sort(
  (a, b) => b.steps.length - a.steps.length,
);

// One suite, so that the single-instance and the Cluster parts run side by side too.
describe.concurrent("runbooks", () => {
  for (const { file, section, start, steps } of PARTS)
    for (const topology of ["single", "cluster"])
      it(`${file}${section && ` from "${section}"`} on ${topology}: every sh step exits as it says`, async ({
        expect,
      }) => {
        const cluster = topology === "cluster" ? await startRedisCluster() : undefined;
        const server = cluster ?? (await startRedisServer());
        const redis = cluster ? new Cluster([cluster.nodes[0]!]) : new Redis(server.url);
        const cwd = mkdtempSync(join(tmpdir(), "jm-runbook-"));
        const app = new AppQueue({
          ...{ redis, oldPrefix: "ai:jobs:", newPrefix: "ai:job:" },
          ...{ queueKey: "ai:queue:pending", flagOn: true },
        });
        const world: World = { redis, url: server.url, cwd, app };
        try {
          await start(world);
          let current = section;
          for (const step of steps) {
            const then = SCENARIOS[file]?.[step.section];
            if (step.section !== current && then && "then" in then) await then.then(world);
            current = step.section;
            const r = await sh(step.command, cwd, server.url);
            const where = `runbooks/${file}:${step.line} (${topology}) \`${step.command}\``;
            expect(r.code, `${where} exited ${r.code}:\n${r.out.slice(-3000)}`).toBe(step.exit);
          }
          // The alert rules must name metrics that the runbook's own verify wrote.
          const metrics = new Set(
            RUNBOOKS.get(file)!
              .yaml.join("\n")
              .match(/\bjobs_migrate_\w+/g),
          );
          const prom = readdirSync(cwd).filter((f) => f.endsWith(".prom"));
          const text = prom.map((f) => readFileSync(join(cwd, f), "utf8")).join("");
          for (const name of metrics) expect(text, `${file}: ${name}`).toMatch(`# TYPE ${name} `);
        } finally {
          redis.disconnect();
          await server.stop();
          rmSync(cwd, { recursive: true, force: true });
        }
      });
});
