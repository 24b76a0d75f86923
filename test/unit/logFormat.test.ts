import { describe, expect, it } from "vitest";
import { jsonLogLine, logFormatOf } from "../../src/cli/logFormat.js";
import { registerSecret } from "../../src/cli/secrets.js";

describe("--log-format", () => {
  it("is read before parsing: the last on the command line, else the environment", () => {
    expect(logFormatOf(["backfill"], undefined)).toBe("text");
    expect(logFormatOf(["backfill"], "json")).toBe("json");
    expect(logFormatOf(["backfill", "--log-format", "json"], undefined)).toBe("json");
    expect(logFormatOf(["backfill", "--log-format=json", "--log-format", "text"], "json")).toBe(
      "text",
    );
    // Unknown values are refused by the option parser (exit 2), in text meanwhile.
    expect(logFormatOf(["backfill", "--log-format", "xml"], undefined)).toBe("text");
  });

  it("writes one JSON object per line with time and level, every known secret replaced", () => {
    registerSecret("hunter2-secret");
    const line = jsonLogLine("warn", {
      message: "AUTH hunter2-secret failed",
      nested: { url: "redis://:hunter2-secret@h:1" },
      processed: 5,
    });
    expect(line.endsWith("\n")).toBe(true);
    expect(line.trim()).not.toContain("\n");
    expect(line).not.toContain("hunter2-secret");
    const o = JSON.parse(line) as Record<string, unknown>;
    expect(o).toMatchObject({
      level: "warn",
      message: "AUTH *** failed",
      nested: { url: "redis://:***@h:1" },
      processed: 5,
    });
    expect(Date.parse(String(o.time))).not.toBeNaN();
  });
});
