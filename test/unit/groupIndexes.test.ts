import { describe, expect, it } from "vitest";
import { groupIndexes } from "../../src/groupIndexes.js";

describe("groupIndexes", () => {
  it("groups each item's index under its key, groups and indexes in the order first seen", () => {
    const g = groupIndexes(["b1", "a1", "b2", "c1", "a2"], (s) => s[0]!);
    expect([...g]).toEqual([
      ["b", [0, 2]],
      ["a", [1, 4]],
      ["c", [3]],
    ]);
  });

  it("gives an empty map for no items", () => {
    expect(groupIndexes([], () => "x").size).toBe(0);
  });
});
