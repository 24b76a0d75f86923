import { describe, expect, it } from "vitest";
import { splitJoined } from "../../src/migration/cleanup/cleanupSingle.js";

const b = (s: string) => Buffer.from(s, "latin1");
const join = (items: string[]) => b(items.join("\0"));
const strings = (items: Buffer[] | null) => items?.map((x) => x.toString("latin1")) ?? null;

describe("splitJoined (items compareAndDelete-n.lua joins with zero bytes)", () => {
  it("gives back each item, empty ones and bytes above 0x7f included", () => {
    const items = ["job_id", "j1", "params", "\xff\xfe\x80", "result", "", "", "last"];
    expect(strings(splitJoined(join(items), items.length))).toEqual(items);
  });

  it("gives back an empty last item", () => {
    expect(strings(splitJoined(join(["status", ""]), 2))).toEqual(["status", ""]);
  });

  it("says it cannot split when an item holds a zero byte (more parts than items)", () => {
    expect(splitJoined(join(["f", "a\0b"]), 2)).toBeNull();
    expect(splitJoined(join(["f\0", "v", "g", "w"]), 4)).toBeNull();
  });

  it("says it cannot split when there are fewer parts than items", () => {
    expect(splitJoined(b("only"), 2)).toBeNull();
  });
});
