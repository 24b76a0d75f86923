import { describe, expect, it } from "vitest";
import {
  fromFlat,
  sameHash,
  toFlat,
  type HashBytes,
} from "../../src/migration/shared/hashFields.js";

const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a]);

function hash(entries: [string, Buffer | string][]): HashBytes {
  return new Map(entries.map(([f, v]) => [f, Buffer.isBuffer(v) ? v : Buffer.from(v)]));
}

describe("fromFlat / toFlat", () => {
  it("round-trips a hash with non-UTF-8 values byte for byte", () => {
    const flat = [
      Buffer.from("job_id"),
      Buffer.from("job-1"),
      Buffer.from("params"),
      binary,
      Buffer.from("result"),
      Buffer.alloc(0),
    ];
    const h = fromFlat(flat);
    expect(h.get("params")!.equals(binary)).toBe(true);
    expect(h.get("result")!.length).toBe(0);
    const back = toFlat(h);
    expect(back).toHaveLength(flat.length);
    back.forEach((part, i) => expect(part.equals(flat[i]!), `element ${i}`).toBe(true));
  });

  it("keeps binary field names intact (latin1 maps bytes 1:1)", () => {
    const name = Buffer.from([0x66, 0xe9, 0xff]);
    const h = fromFlat([name, Buffer.from("v")]);
    expect(toFlat(h)[0]!.equals(name)).toBe(true);
  });

  it("starts reading at the offset and ignores a dangling field without a value", () => {
    const h = fromFlat(
      [Buffer.from("hash"), Buffer.from("a"), Buffer.from("1"), Buffer.from("dangling")],
      1,
    );
    expect([...h.keys()]).toEqual(["a"]);
  });
});

describe("sameHash", () => {
  it("is true for the same fields and bytes in a different order", () => {
    const a = hash([
      ["status", "pending"],
      ["params", binary],
    ]);
    const b = hash([
      ["params", Buffer.from(binary)],
      ["status", "pending"],
    ]);
    expect(sameHash(a, b)).toBe(true);
  });

  it("is false when one byte of a value differs", () => {
    const other = Buffer.from(binary);
    other[2] = 0x01;
    expect(sameHash(hash([["params", binary]]), hash([["params", other]]))).toBe(false);
  });

  it("is false when a field is missing, extra or renamed, even with equal sizes", () => {
    const a = hash([
      ["status", "x"],
      ["result", ""],
    ]);
    expect(sameHash(a, hash([["status", "x"]]))).toBe(false);
    expect(sameHash(hash([["status", "x"]]), a)).toBe(false);
    expect(
      sameHash(
        a,
        hash([
          ["status", "x"],
          ["results", ""],
        ]),
      ),
    ).toBe(false);
  });

  it("compares raw bytes: latin1 é is not UTF-8 é, and an empty value is not a space", () => {
    const latin = Buffer.from([0xe9]);
    const utf8 = Buffer.from("é");
    expect(sameHash(hash([["f", latin]]), hash([["f", utf8]]))).toBe(false);
    expect(sameHash(hash([["f", ""]]), hash([["f", " "]]))).toBe(false);
  });
});
