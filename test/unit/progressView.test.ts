import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createProgressView } from "../../src/cli/render/progressView.js";
import type { RunEvent } from "../../src/engine/events.js";

// Any escape sequence, and the SGR (colour/style) ones in particular: ESC [ … m.
const ESC = String.fromCharCode(0x1b);
const ANY_ESCAPE = new RegExp(ESC);
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`);

/** A stream that records what it is given: a cron log (isTTY false) or a fake terminal. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; output: string[] } {
  const output: string[] = [];
  const stream = {
    isTTY,
    columns: 120,
    write(chunk: string | Uint8Array) {
      output.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      return true;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, output };
}

function progress(processed: number, extra: Partial<RunEvent> = {}): RunEvent {
  return {
    type: "progress",
    processed,
    estimatedTotal: 1000,
    rate: 250,
    etaSeconds: (1000 - processed) / 250,
    counts: { copied: processed, unmigratable: 0 },
    throttled: false,
    done: false,
    ...extra,
  } as RunEvent;
}

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ backfill: .*\n$/;

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse("2025-10-17T12:00:00Z") });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("progress view on a non-terminal (cron)", () => {
  const view = (output?: { stream: NodeJS.WriteStream }) =>
    createProgressView({
      name: "backfill",
      stream: (output ?? fakeStream(false)).stream,
      intervalSeconds: 10,
      highlight: ["copied", "unmigratable"],
    });

  it("prints plain timestamped lines with figures, rate and ETA, and no escape codes", () => {
    const s = fakeStream(false);
    const v = view(s);
    v.listener(progress(200));
    v.stop();
    expect(s.output).toHaveLength(1);
    expect(s.output[0]).toMatch(LINE);
    expect(s.output[0]).toContain("200/~1,000 keys (20%), 250 keys/s, ETA 3s, copied 200");
    expect(s.output[0]).not.toContain("unmigratable"); // zero counters are left out
    expect(s.output.join("")).not.toMatch(ANY_ESCAPE);
  });

  it("prints at most one line per interval", () => {
    const s = fakeStream(false);
    const v = view(s);
    for (let i = 1; i <= 25; i++) {
      v.listener(progress(i * 10));
      vi.advanceTimersByTime(1000); // 25 events over 25 s: lines at 0 s, 10 s and 20 s
    }
    expect(s.output).toHaveLength(3);
    expect(s.output.map((l) => /: (\d+)\//.exec(l)?.[1])).toEqual(["10", "110", "210"]);
  });

  it("prints the last state on stop when the interval held it back", () => {
    const s = fakeStream(false);
    const v = view(s);
    v.listener(progress(100));
    vi.advanceTimersByTime(2000);
    v.listener(progress(1000, { done: true, estimatedTotal: 1000 }));
    v.stop();
    expect(s.output).toHaveLength(2);
    expect(s.output[1]).toContain("1,000/1,000 keys (100%)");
    expect(s.output[1]).not.toContain("ETA");
    v.stop(); // a second stop prints nothing more
    expect(s.output).toHaveLength(2);
  });

  it("prints no duplicate final line when the last state was already printed", () => {
    const s = fakeStream(false);
    const v = view(s);
    v.listener(progress(500));
    v.stop();
    expect(s.output).toHaveLength(1);
  });

  it("prints every log event at once as its own line, warnings marked", () => {
    const s = fakeStream(false);
    const v = view(s);
    v.listener(progress(10));
    v.listener({ type: "log", level: "info", message: "resuming from checkpoint" });
    v.listener({ type: "log", level: "warn", message: "SIGINT: finishing the current batch" });
    expect(s.output).toHaveLength(3);
    expect(s.output[1]).toMatch(/backfill: resuming from checkpoint\n$/);
    expect(s.output[2]).toMatch(/backfill: warning: SIGINT: finishing the current batch\n$/);
    for (const l of s.output) expect(l).toMatch(LINE);
    expect(s.output.join("")).not.toMatch(ANY_ESCAPE);
  });

  it("says when the run is throttled by --rate", () => {
    const s = fakeStream(false);
    view(s).listener(progress(10, { throttled: true }));
    expect(s.output[0]).toContain("throttled (--rate)");
  });
});

describe("progress view on a terminal", () => {
  function runBar(): string {
    const s = fakeStream(true);
    const v = createProgressView({
      name: "backfill",
      stream: s.stream,
      intervalSeconds: 10,
      highlight: ["copied"],
    });
    v.listener(progress(100, { throttled: true }));
    v.listener({ type: "log", level: "warn", message: "server busy" });
    vi.advanceTimersByTime(1000);
    v.listener(progress(1000, { done: true }));
    v.stop();
    return s.output.join("");
  }

  it("draws a bar with rate and ETA (control: colours are on without NO_COLOR)", () => {
    vi.stubEnv("NO_COLOR", "");
    const out = runBar();
    expect(out).toContain("1,000/1,000 keys");
    expect(out).toContain("keys/s");
    expect(out).toMatch(SGR);
  });

  it("writes no colour codes with NO_COLOR set (cursor control only)", () => {
    vi.stubEnv("NO_COLOR", "1");
    const out = runBar();
    expect(out).toContain("1,000/1,000 keys");
    expect(out).toContain("warning: server busy");
    expect(out).not.toMatch(SGR);
  });
});
