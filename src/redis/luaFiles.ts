import { readFileSync } from "node:fs";

/**
 * The text of one file under ./lua (`copyIfAbsent-n.lua`, `lib/jobKey.lua`). The
 * single-file build (scripts/bundle.mjs) replaces this module with one that holds every
 * file, so that the bundle reads no Lua from disk.
 */
export function luaFile(name: string): string {
  return readFileSync(new URL(`./lua/${name}`, import.meta.url), "utf8");
}
