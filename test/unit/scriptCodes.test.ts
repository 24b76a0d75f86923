/**
 * Each batch script's result codes are declared once (src/migration/shared/scriptCodes.ts)
 * and must be exactly the codes the script's header says it returns.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decodeCodes,
  SCRIPT_CODES,
  type ScriptWithCodes,
} from "../../src/migration/shared/scriptCodes.js";

const LUA = join(import.meta.dirname, "../../src/redis/lua");

/** The one-character codes listed in the "Output" part of a script's header comment. */
function headerCodes(script: string): string[] {
  const file = readdirSync(LUA).find((f) => f.startsWith(`${script}-`) && f.endsWith(".lua"));
  if (!file) throw new Error(`no Lua file for ${script}`);
  const text = readFileSync(join(LUA, file), "utf8");
  const header = text.slice(text.indexOf("--[["), text.indexOf("]]"));
  const output = header.slice(header.indexOf("Output"));
  // A code opens a line or a column ("D" deleted), or follows ": " / ", " in a one-line list.
  const codes = [...output.matchAll(/(?:^\s*|\s{2,}|: |, )"(.)" /gm)].map((m) => m[1]!);
  return [...new Set(codes)].sort();
}

describe("script result codes", () => {
  for (const script of Object.keys(SCRIPT_CODES) as ScriptWithCodes[])
    it(`${script}: every code its header lists is decoded, and no other`, () => {
      expect(Object.keys(SCRIPT_CODES[script]).sort()).toEqual(headerCodes(script));
    });

  it("decodes each character, and fails loudly on a code the script does not have", () => {
    expect(decodeCodes("compareAndDelete", "DXO")).toEqual(["deleted", "differs", "oversized"]);
    expect(decodeCodes("copyIfAbsent", "X")).toEqual(["outsidePrefix"]);
    expect(() => decodeCodes("deleteIfUnchanged", "DX")).toThrow(
      'deleteIfUnchanged returned an unknown code "X"',
    );
  });
});
